"""The label job with a gold set (golden_label), --model auto, and LFs left out of the fit."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd
import pytest

from flywheel import cli
from flywheel.dawid_skene import fit_dawid_skene
from flywheel.errors import FlywheelError
from flywheel.label_job import LabelJobConfig, run_label_job, select, votes
from flywheel.label_job.select import Gold

# lf_flip points the wrong way: right 25% of the time, and the LF with the most votes.
SPECS = {
    "lf_a": (0.85, 0.6),
    "lf_b": (0.8, 0.5),
    "lf_c": (0.75, 0.4),
    "lf_d": (0.9, 0.2),
    "lf_flip": (0.25, 0.7),
}
LFS = list(SPECS)
CFG = LabelJobConfig(gold_column=None, majority_column=None, model="snorkel")


def build_votes(
    n: int = 6000, prior: float = 0.1, n_gold: int = 300, seed: int = 3, specs=SPECS
) -> pd.DataFrame:
    """One task ``t`` with ``prior`` good outputs, LFs of (accuracy, coverage), and a random
    gold set of ``n_gold`` outputs labelled with the truth."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior).astype(int)
    frame = pd.DataFrame({"output_id": [f"o{i}" for i in range(n)], "label_task": "t"})
    frame["true_label"] = y
    for name, (acc, cov) in specs.items():
        vote = np.where(rng.random(n) < acc, y, 1 - y)
        frame[name] = np.where(rng.random(n) < cov, vote, -1)
    is_gold = np.zeros(n, dtype=bool)
    is_gold[rng.choice(n, n_gold, replace=False)] = True
    frame["golden_label"] = pd.array(np.where(is_gold, y, 0), dtype="Int64")
    frame.loc[~is_gold, "golden_label"] = pd.NA
    return frame


def make_warehouse(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    con.register("frame", frame)
    casts = ", ".join(
        f'"{c}"::INTEGER as "{c}"' if c.startswith("lf_") or c == "golden_label" else f'"{c}"'
        for c in frame.columns
    )
    con.execute(f"create or replace table fct_lf_votes as select {casts} from frame")
    con.unregister("frame")
    lfs = [c for c in frame.columns if c.startswith("lf_")]
    con.execute("create or replace table lf_registry (lf_name varchar, label_task varchar)")
    con.executemany("insert into lf_registry values (?, 't')", [(lf,) for lf in lfs])


@pytest.fixture
def con():
    connection = duckdb.connect()
    make_warehouse(connection, build_votes())
    yield connection
    connection.close()


def weights(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.Series:
    return (
        con.execute(
            "select lf_name, learned_accuracy from label_model_lf_weights where run_id = ?",
            [run_id],
        )
        .df()
        .set_index("lf_name")["learned_accuracy"]
    )


def mean_p_good(con: duckdb.DuckDBPyConnection) -> float:
    return float(
        con.execute("select sum(n_outputs * p_good) / sum(n_outputs) from label_model_patterns")
        .fetchall()[0][0]
    )  # fmt: skip


def snapshot(con: duckdb.DuckDBPyConnection, run_id: str) -> list[pd.DataFrame]:
    return [
        con.execute(
            "select * exclude (run_id, fitted_at) from label_model_runs where run_id = ?",
            [run_id],
        ).df(),
        con.execute(
            "select * exclude (run_id) from label_model_lf_weights where run_id = ? order by all",
            [run_id],
        ).df(),
        con.execute("select * exclude (run_id) from label_model_patterns order by all").df(),
    ]


# --- gold counts ------------------------------------------------------------------------


def test_gold_counts_per_pattern_in_the_one_group_by(con):
    config = votes.without_absent_gold(CFG, {"golden_label": "INTEGER"})
    data = votes.fetch_patterns(con, config, LFS, None)
    got = pd.DataFrame({k: data[k] for k in [*LFS, "n_outputs", "n_golden_good", "n_golden_bad"]})
    frame = build_votes()
    expected = (
        frame.assign(good=frame["golden_label"].eq(1), bad=frame["golden_label"].eq(0))
        .groupby(LFS)
        .agg(n_outputs=("output_id", "size"), n_golden_good=("good", "sum"),
             n_golden_bad=("bad", "sum"))
        .reset_index()
    )  # fmt: skip
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["n_golden_good"].sum() + got["n_golden_bad"].sum() == 300
    assert (data["n_rated_good"] == 0).all()  # the ratings are a separate source
    no_gold = votes.fetch_patterns(con, replace(config, golden_column=None), LFS, None)
    assert (no_gold["n_golden_good"] == 0).all() and (no_gold["n_golden_bad"] == 0).all()


def test_absent_gold_column_is_the_old_behaviour(con):
    con.execute("alter table fct_lf_votes drop column golden_label")
    (run,) = run_label_job(con, CFG)  # the default golden_label is simply absent
    assert (run.n_golden, run.model_selected_by, run.label_model) == (0, "config", "snorkel")
    assert run.golden_log_loss is None and run.golden_candidate_losses is None
    default = snapshot(con, run.run_id)
    (run,) = run_label_job(con, replace(CFG, golden_column=None))
    for a, b in zip(default, snapshot(con, run.run_id), strict=True):
        pd.testing.assert_frame_equal(a, b)
    # auto without gold: the documented default, exactly the labels of --model snorkel.
    (auto,) = run_label_job(con, replace(CFG, model="auto"))
    assert select.AUTO_DEFAULT_WITHOUT_GOLD == "snorkel"
    assert (auto.label_model, auto.model_selected_by, auto.n_epochs) == ("snorkel", "default", 500)
    auto_snap = snapshot(con, auto.run_id)
    pd.testing.assert_frame_equal(default[2], auto_snap[2])
    pd.testing.assert_frame_equal(default[1], auto_snap[1])
    # A gold column the user named must exist.
    with pytest.raises(FlywheelError, match="column 'my_gold' not found .* --golden-column"):
        run_label_job(con, replace(CFG, golden_column="my_gold"))


def test_gold_column_errors(con):
    con.execute("update fct_lf_votes set golden_label = 2 where output_id = 'o1'")
    with pytest.raises(
        FlywheelError,
        match=r"gold column golden_label .* outside 1 \(good\) / 0 \(bad\) / NULL \(found 0..2\)",
    ):
        run_label_job(con, CFG)
    with pytest.raises(FlywheelError, match="both the gold set .* and the explicit ratings"):
        run_label_job(con, replace(CFG, gold_column="golden_label"))
    con.execute("alter table fct_lf_votes alter golden_label type varchar")
    with pytest.raises(FlywheelError, match="gold column golden_label .* has type VARCHAR"):
        run_label_job(con, CFG)


# --- the models with gold -------------------------------------------------------------------


def test_dawid_skene_with_gold_learns_the_prior_uniform_snorkel_does_not(con):
    truth = float(con.execute("select avg(true_label) from fct_lf_votes").fetchall()[0][0])
    assert abs(truth - 0.1) < 0.02
    (ds,) = run_label_job(con, replace(CFG, model="dawid-skene"))
    assert ds.class_balance_source == "learned" and ds.n_golden == 300
    assert abs(ds.class_balance_good - truth) < 0.05
    assert abs(mean_p_good(con) - truth) < 0.05
    (snorkel,) = run_label_job(con, CFG)
    assert snorkel.class_balance_good == 0.5
    assert abs(mean_p_good(con) - truth) > 0.3  # uniform: about half the outputs good
    # The clamped fit is the module's, with the pattern gold counts.
    data = votes.fetch_patterns(
        con, votes.without_absent_gold(CFG, {"golden_label": ""}), LFS, None
    )
    L = np.column_stack([data[c] for c in LFS])
    fit = fit_dawid_skene(
        L, data["n_outputs"], gold_good=data["n_golden_good"], gold_bad=data["n_golden_bad"]
    )
    assert fit.prior_good == ds.class_balance_good


def test_a_wrong_way_lf_is_learned_wrong_with_gold():
    # lf_flip casts most votes and is right 20% of the time: from the votes alone,
    # Dawid-Skene settles where it is right; with 200 gold outputs it is learned below 0.5.
    specs = {"lf_a": (0.8, 0.3), "lf_b": (0.75, 0.3), "lf_c": (0.7, 0.3), "lf_flip": (0.2, 0.95)}
    with duckdb.connect() as connection:
        make_warehouse(connection, build_votes(prior=0.4, n_gold=200, seed=1, specs=specs))
        (blind,) = run_label_job(connection, replace(CFG, model="dawid-skene", golden_column=None))
        assert weights(connection, blind.run_id)["lf_flip"] > 0.7
        (gold,) = run_label_job(connection, replace(CFG, model="dawid-skene"))
        learned = weights(connection, gold.run_id)
        assert learned["lf_flip"] < 0.3 and (learned.drop("lf_flip") > 0.6).all()
        (auto,) = run_label_job(connection, replace(CFG, model="auto"))
        assert auto.label_model == "dawid-skene"
        assert weights(connection, auto.run_id)["lf_flip"] < 0.5
        assert auto.golden_accuracy > 0.75


def test_auto_picks_by_out_of_fold_gold_log_loss_deterministically(con):
    (auto,) = run_label_job(con, replace(CFG, model="auto"))
    losses = json.loads(auto.golden_candidate_losses)
    # With gold the prior is estimated: no uniform Snorkel (test_label_job_golden_prior.py).
    assert list(losses) == [
        "snorkel@50/golden-prior", "snorkel@100/golden-prior", "snorkel@200/golden-prior",
        "snorkel@500/golden-prior", "snorkel@1000/golden-prior",
        "dawid-skene", "dawid-skene/golden-prior", "majority",
    ]  # fmt: skip
    best = min(losses, key=losses.__getitem__)
    assert best == "dawid-skene" == auto.label_model
    assert auto.model_selected_by == "golden log-loss" and auto.n_golden == 300
    assert auto.golden_log_loss == pytest.approx(losses[best], abs=1e-6)
    assert 0 < auto.golden_log_loss < losses["snorkel@500/golden-prior"]
    assert auto.golden_auc > 0.9
    stored = con.execute(
        "select label_model, model_selected_by, n_golden, golden_log_loss, "
        "golden_candidate_losses from label_model_runs"
    ).fetchall()
    assert stored == [
        ("dawid-skene", "golden log-loss", 300, auto.golden_log_loss, auto.golden_candidate_losses)
    ]
    # The recorded loss is out of fold: each fold scored by a fit that did not clamp it,
    # worse than scoring the clamped fit on its own gold.
    data = votes.fetch_patterns(
        con, votes.without_absent_gold(CFG, {"golden_label": ""}), LFS, None
    )
    L = np.column_stack([data[c] for c in LFS])
    gold = Gold(data["n_golden_good"].astype(float), data["n_golden_bad"].astype(float))
    total = 0.0
    held_out = select.folds(gold, seed=123)
    assert len(held_out) == select.N_FOLDS
    for held in held_out:
        train = gold.without(held)
        p = fit_dawid_skene(L, data["n_outputs"], gold_good=train.good, gold_bad=train.bad).p_good
        p = np.clip(p, select.LOG_LOSS_EPS, 1 - select.LOG_LOSS_EPS)
        total -= float(held.good @ np.log(p) + held.bad @ np.log(1 - p))
    assert auto.golden_log_loss == pytest.approx(total / 300, rel=1e-12)
    p_all = fit_dawid_skene(L, data["n_outputs"], gold_good=gold.good, gold_bad=gold.bad).p_good
    in_sample = select.log_loss(
        np.concatenate([p_all, p_all]),
        np.r_[np.ones(len(p_all)), np.zeros(len(p_all))],
        np.concatenate([gold.good, gold.bad]),
    )
    assert in_sample < auto.golden_log_loss
    # Two runs are identical; so is the chosen model's own run with --model dawid-skene.
    first = snapshot(con, auto.run_id)
    (again,) = run_label_job(con, replace(CFG, model="auto"))
    for a, b in zip(first, snapshot(con, again.run_id), strict=True):
        pd.testing.assert_frame_equal(a, b)
    (ds,) = run_label_job(con, replace(CFG, model="dawid-skene"))
    assert ds.golden_log_loss == auto.golden_log_loss and ds.model_selected_by == "config"
    pd.testing.assert_frame_equal(first[2], snapshot(con, ds.run_id)[2])


@dataclass(frozen=True)
class FakeFit:
    p_good: np.ndarray


def test_choose_scores_gold_trained_models_out_of_fold_and_breaks_ties_in_order():
    # Two patterns with mixed gold. The fake Dawid-Skene returns each pattern's share of good
    # among the gold it clamped: the best possible on its own gold, worse on held-out gold.
    gold = Gold(np.array([6.0, 1.0]), np.array([2.0, 4.0]))
    y, w = np.r_[1, 1, 0, 0].astype(bool), np.r_[gold.good, gold.bad]
    calls: list[tuple[str, float | None]] = []
    snorkel_p = np.array([0.74, 0.21])  # snorkel@200 and @500 tie: the first wins

    def fit(candidate: select.Candidate, clamped: Gold | None) -> FakeFit:
        calls.append((candidate.name, None if clamped is None else float(clamped.n)))
        if candidate.model == "dawid-skene":
            assert clamped is not None
            return FakeFit(clamped.good / (clamped.good + clamped.bad))
        if candidate.name in ("snorkel@200", "snorkel@500"):
            return FakeFit(snorkel_p)
        return FakeFit(np.array([0.6, 0.4]))

    # a configured prior (a number): Snorkel with it is compared beside the gold-prior one
    chosen = select.choose(replace(CFG, model="auto", class_balance=0.5), fit, gold)
    snorkel_loss = select.log_loss(np.r_[snorkel_p, snorkel_p], y, w)
    in_sample_ds = select.log_loss(np.r_[6 / 8, 1 / 5, 6 / 8, 1 / 5], y, w)
    assert in_sample_ds < snorkel_loss < chosen.candidate_losses["dawid-skene"]
    assert chosen.candidate == select.Candidate("snorkel", 200)
    assert chosen.selected_by == "golden log-loss"
    assert chosen.score is not None and not chosen.score.out_of_fold
    assert chosen.score.log_loss == snorkel_loss == chosen.candidate_losses["snorkel@500"]
    # Snorkel and majority never see the gold; Dawid-Skene: 5 folds of 13 gold, and not all
    # of it: it was not chosen (nor were the gold-prior candidates, scored the same way).
    assert [c for c in calls if c[0] != "dawid-skene" and "golden-prior" not in c[0]] == [
        (name, None) for name in ["majority", "snorkel@50", "snorkel@100", "snorkel@200",
                                  "snorkel@500", "snorkel@1000"]
    ]  # fmt: skip
    assert [c[1] for c in calls if c[0] == "dawid-skene"] == [10.0, 10.0, 10.0, 11.0, 11.0]
    assert {c[1] for c in calls if "golden-prior" in c[0]} == {10.0, 11.0}
    # An explicit model is fitted as configured and scored the same way.
    calls.clear()
    explicit = select.choose(replace(CFG, model="dawid-skene"), fit, gold)
    assert [c[1] for c in calls] == [10.0, 10.0, 10.0, 11.0, 11.0, 13.0]  # then on all of it
    assert explicit.selected_by == "config" and explicit.losses_json() is None
    assert explicit.score is not None and explicit.score.out_of_fold
    assert explicit.score.log_loss == chosen.candidate_losses["dawid-skene"]


def test_folds_partition_the_gold_stratified_and_deterministic():
    gold = Gold(np.array([3.0, 0, 7, 1]), np.array([10.0, 4, 0, 5]))
    folds = select.folds(gold, seed=1)
    assert len(folds) == 5
    np.testing.assert_array_equal(sum(f.good for f in folds), gold.good)
    np.testing.assert_array_equal(sum(f.bad for f in folds), gold.bad)
    assert sorted(int(f.good.sum()) for f in folds) == [2, 2, 2, 2, 3]
    assert sorted(int(f.bad.sum()) for f in folds) == [3, 4, 4, 4, 4]
    again = select.folds(gold, seed=1)
    assert all(
        (a.good == b.good).all() and (a.bad == b.bad).all()
        for a, b in zip(folds, again, strict=True)
    )
    assert len(select.folds(Gold(np.array([1.0]), np.array([1.0])), seed=1)) == 2


def test_log_loss_clips_probabilities():
    eps = select.LOG_LOSS_EPS
    y = np.array([True, False])
    assert select.log_loss(np.array([0.0, 1.0]), y, np.ones(2)) == pytest.approx(-np.log(eps))
    assert select.log_loss(np.array([1.0, 0.0]), y, np.ones(2)) == pytest.approx(-np.log1p(-eps))
    assert select.log_loss(np.array([np.nan]), y[:1], np.ones(1)) == pytest.approx(np.log(2))


# --- leaving LFs out --------------------------------------------------------------------------


def test_excluded_lfs_are_not_fitted_and_are_recorded(con):
    (run,) = run_label_job(con, replace(CFG, exclude_lfs=("lf_flip",)))
    assert run.lf_columns == ("lf_a", "lf_b", "lf_c", "lf_d") and run.n_lfs == 4
    assert run.excluded_lfs == "lf_flip"
    assert set(weights(con, run.run_id).index) == {"lf_a", "lf_b", "lf_c", "lf_d"}
    stored = con.execute("select lf_columns, excluded_lfs from label_model_runs").fetchall()
    assert stored == [("lf_a,lf_b,lf_c,lf_d", "lf_flip")]
    # The patterns keep every LF column (outputs join on them) and ignore the excluded one.
    patterns = con.execute("select * from label_model_patterns").df()
    assert "lf_flip" in patterns.columns
    assert (patterns.groupby(["lf_a", "lf_b", "lf_c", "lf_d"])["p_good"].nunique() == 1).all()
    # The registry's in_label_model = false rows are left out too; NULL means in.
    con.execute("alter table lf_registry add column in_label_model boolean")
    con.execute("update lf_registry set in_label_model = lf_name <> 'lf_d'")
    con.execute("update lf_registry set in_label_model = null where lf_name = 'lf_a'")
    (run,) = run_label_job(con, replace(CFG, exclude_lfs=("lf_flip",)))
    assert run.lf_columns == ("lf_a", "lf_b", "lf_c") and run.excluded_lfs == "lf_d,lf_flip"


def test_exclude_flagged_reads_lf_validation(con):
    with pytest.raises(FlywheelError, match=r"main.lf_validation not found: run `dbt build` first"):
        run_label_job(con, replace(CFG, exclude_flagged=True))
    con.execute(
        "create table lf_validation as select * from (values ('t', 'lf_flip', true, "
        "'wrong direction'), ('t', 'lf_a', false, null), ('other', 'lf_b', true, 'chance')) "
        "v(label_task, lf_name, is_flagged, flag)"
    )
    (run,) = run_label_job(con, replace(CFG, exclude_flagged=True))
    assert run.excluded_lfs == "lf_flip" and "lf_b" in run.lf_columns
    (run,) = run_label_job(con, CFG)  # not asked: nothing left out
    assert run.excluded_lfs == "" and run.n_lfs == 5


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (
            replace(CFG, exclude_lfs=("lf_nope",)),
            "unknown LF\\(s\\) to exclude: lf_nope; the LFs of main.fct_lf_votes are lf_a, "
            "lf_b, lf_c, lf_d, lf_flip",
        ),
        (
            replace(CFG, exclude_lfs=("lf_a", "lf_b", "lf_c")),
            "task 't' has 2 LFs left after leaving out lf_a, lf_b, lf_c \\(excluded\\), the "
            "label model needs at least 3: exclude fewer",
        ),
    ],
)
def test_exclusion_errors_are_one_line_and_write_nothing(con, config, match):
    with pytest.raises(FlywheelError, match=match) as error:
        run_label_job(con, config)
    assert "\n" not in str(error.value)
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert "label_model_runs" not in tables


def test_old_runs_table_gains_the_gold_columns(con):
    run_label_job(con, CFG)
    con.execute("alter table label_model_runs drop column golden_log_loss")
    con.execute("alter table label_model_runs drop column excluded_lfs")
    run_label_job(con, replace(CFG, model="auto"))
    stored = con.execute(
        "select label_model, golden_log_loss is null, excluded_lfs from label_model_runs "
        "order by golden_log_loss nulls first"
    ).fetchall()
    assert stored == [("snorkel", True, None), ("dawid-skene", False, "")]


# --- the command line -------------------------------------------------------------------


def test_cli_gold_and_exclusion_options_map_to_the_config(capsys):
    def config(command: str, *argv: str) -> LabelJobConfig:
        return cli._label_config(cli.build_parser().parse_args([command, *argv]), "main")

    default = config("label")
    assert (default.golden_column, default.exclude_lfs, default.exclude_flagged) == (
        "golden_label", (), False,
    )  # fmt: skip
    for command in ("label", "run"):
        custom = config(
            command, "--model", "auto", "--golden-column", "gold", "--exclude-lf", "lf_a",
            "--exclude-lf", "lf_b", "--exclude-flagged",
        )  # fmt: skip
        assert custom.model == "auto" and custom.golden_column == "gold"
        assert custom.exclude_lfs == ("lf_a", "lf_b") and custom.exclude_flagged
    assert config("label", "--golden-column", "").golden_column is None
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["label", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # wherever argparse wraps
    assert "orauto(pertask,thelowestout-of-foldlog-lossonthegoldset" in help_text
    assert "--exclude-lfNAME" in help_text and "--exclude-flagged" in help_text
