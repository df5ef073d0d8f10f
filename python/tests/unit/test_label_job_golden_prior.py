"""class_balance='golden': the class prior estimated from the gold set, and auto's gold-prior
candidates (scored out of fold: their prior has seen the gold labels)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd
import pytest
from test_label_job_gold import CFG, LFS, build_votes, make_warehouse, snapshot

from flywheel import cli
from flywheel.dawid_skene import fit_dawid_skene, predict_p_good
from flywheel.errors import FlywheelError
from flywheel.label_job import LabelJobConfig, run_label_job, select, votes
from flywheel.label_job.fit import _Snapshots, golden_class_balance
from flywheel.label_job.select import Candidate, Gold
from flywheel.labelmodel import PatternLabelModel


def correlated_votes(n: int = 20000, prior: float = 0.1, n_gold: int = 200, seed: int = 5):
    """A task whose LFs are NOT conditionally independent: three LFs read one signal that
    fires on 80% of good outputs and on 25% of bad ones, so Dawid-Skene (and Snorkel) count
    one piece of evidence three times; a uniform gold sample of ``n_gold`` outputs."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior).astype(int)
    frame = pd.DataFrame({"output_id": [f"o{i}" for i in range(n)], "label_task": "t"})
    frame["true_label"] = y
    looks_good = np.where(y == 1, rng.random(n) < 0.8, rng.random(n) < 0.25)
    for k in range(3):
        frame[f"lf_look{k}"] = np.where(looks_good & (rng.random(n) < 0.9), 1, -1)
    for name, acc, cov in (("lf_p", 0.85, 0.5), ("lf_q", 0.75, 0.4)):
        frame[name] = np.where(rng.random(n) < cov, np.where(rng.random(n) < acc, y, 1 - y), -1)
    is_gold = np.zeros(n, dtype=bool)
    is_gold[rng.choice(n, n_gold, replace=False)] = True
    frame["golden_label"] = pd.array(np.where(is_gold, y, 0), dtype="Int64")
    frame.loc[~is_gold, "golden_label"] = pd.NA
    return frame


@pytest.fixture
def con():
    connection = duckdb.connect()
    make_warehouse(connection, build_votes())
    yield connection
    connection.close()


def pattern_data(con: duckdb.DuckDBPyConnection, lfs: list[str]) -> tuple[np.ndarray, dict]:
    data = votes.fetch_patterns(
        con, votes.without_absent_gold(CFG, {"golden_label": ""}), lfs, None
    )
    return np.column_stack([data[c] for c in lfs]), data


# --- the estimate -------------------------------------------------------------------------


def test_golden_class_balance_is_the_jeffreys_estimate_and_is_recorded(con):
    n_good, n_gold = con.execute(
        "select count(*) filter (golden_label = 1), count(golden_label) from fct_lf_votes"
    ).fetchone()
    assert n_gold == 300 and 15 < n_good < 45
    expected = (n_good + 0.5) / (n_gold + 1)
    assert golden_class_balance(
        Gold(np.array([n_good, 0.0]), np.array([0.0, n_gold - n_good]))
    ) == (expected)
    assert golden_class_balance(Gold(np.zeros(2), np.zeros(2))) == 0.5
    (snorkel,) = run_label_job(con, replace(CFG, class_balance="golden"))
    (ds,) = run_label_job(con, replace(CFG, model="dawid-skene", class_balance="golden"))
    for run in (snorkel, ds):
        assert (run.class_balance_good, run.class_balance_source) == (expected, "golden")
    stored = con.execute(
        "select label_model, class_balance_good, class_balance_source, model_selected_by "
        "from label_model_runs order by label_model desc"
    ).fetchall()
    assert stored == [
        ("snorkel", expected, "golden", "config"),
        ("dawid-skene", expected, "golden", "config"),
    ]
    # Dawid-Skene's fit is the module's with the prior fixed and the gold clamped.
    L, data = pattern_data(con, LFS)
    fit = fit_dawid_skene(
        L, data["n_outputs"], gold_good=data["n_golden_good"], gold_bad=data["n_golden_bad"],
        prior_good=expected,
    )  # fmt: skip
    got = con.execute("select p_good from label_model_patterns order by all").df()["p_good"]
    np.testing.assert_array_equal(np.sort(fit.p_good), got.to_numpy())


def test_dawid_skene_with_a_fixed_prior_keeps_it_and_its_objective_never_decreases():
    frame = build_votes(n_gold=200)
    L = frame[LFS].to_numpy()
    counts = np.ones(len(L))
    gold = frame["golden_label"]
    gold_good = gold.eq(1).fillna(False).to_numpy(float)
    gold_bad = gold.eq(0).fillna(False).to_numpy(float)
    learned = fit_dawid_skene(L, counts, gold_good=gold_good, gold_bad=gold_bad)
    for kwargs in ({}, {"gold_good": gold_good, "gold_bad": gold_bad}, {"smoothing": 0.0}):
        fit = fit_dawid_skene(L, counts, prior_good=0.3, **kwargs)
        assert fit.prior_good == 0.3  # exactly
        assert fit.converged and fit.n_iter > 2
        steps = np.diff(fit.objective)
        assert (steps >= -1e-9 * np.abs(fit.objective[1:])).all()
        np.testing.assert_array_equal(fit.p_good, predict_p_good(L, 0.3, fit.confusion))
        assert fit.confusion.sum(axis=1) == pytest.approx(np.ones((len(LFS), 2)))
    assert abs(learned.prior_good - 0.3) > 0.1  # the prior really was held, not learned
    # The fixed prior's log-likelihood is that of the data at the fit's parameters.
    fit = fit_dawid_skene(L, counts, prior_good=0.3, smoothing=0.0)
    assert fit.objective[-1] == fit.log_likelihood[-1]
    with pytest.raises(FlywheelError, match=r"prior_good must be a number in \(0, 1\), got 1.0"):
        fit_dawid_skene(L, counts, prior_good=1.0)


# --- auto ---------------------------------------------------------------------------------


def test_auto_gets_the_prior_right_when_the_lfs_are_correlated():
    frame = correlated_votes()
    lfs = [c for c in frame.columns if c.startswith("lf_")]
    truth = float(frame["true_label"].mean())
    assert abs(truth - 0.1) < 0.01
    with duckdb.connect() as connection:
        make_warehouse(connection, frame)
        _, data = pattern_data(connection, lfs)
        assert len(data["n_outputs"]) < 100  # a task of ~100 patterns
        (ds,) = run_label_job(connection, replace(CFG, model="dawid-skene"))
        assert ds.class_balance_good - truth > 0.15  # the learned prior is biased
        (auto,) = run_label_job(connection, replace(CFG, model="auto"))
        losses = json.loads(auto.golden_candidate_losses)
        assert list(losses) == [  # with gold the prior is estimated: no uniform Snorkel
            "snorkel@50/golden-prior", "snorkel@100/golden-prior", "snorkel@200/golden-prior",
            "snorkel@500/golden-prior", "snorkel@1000/golden-prior",
            "dawid-skene", "dawid-skene/golden-prior", "majority",
        ]  # fmt: skip
        assert min(losses, key=losses.__getitem__) == "snorkel@50/golden-prior"
        assert (auto.label_model, auto.n_epochs, auto.class_balance_source) == (
            "snorkel", 50, "golden",
        )  # fmt: skip
        assert abs(auto.class_balance_good - truth) < 0.05
        assert auto.golden_log_loss == pytest.approx(losses["snorkel@50/golden-prior"], abs=1e-6)
        # Deterministic: a second run writes the same tables.
        first = snapshot(connection, auto.run_id)
        (again,) = run_label_job(connection, replace(CFG, model="auto"))
        for a, b in zip(first, snapshot(connection, again.run_id), strict=True):
            pd.testing.assert_frame_equal(a, b)
        # class_balance='golden' compares the same candidates, with the same losses.
        (golden,) = run_label_job(connection, replace(CFG, model="auto", class_balance="golden"))
        assert json.loads(golden.golden_candidate_losses) == losses


def test_golden_prior_dawid_skene_is_scored_out_of_fold_by_hand(con):
    (auto,) = run_label_job(con, replace(CFG, model="auto"))
    recorded = json.loads(auto.golden_candidate_losses)["dawid-skene/golden-prior"]
    L, data = pattern_data(con, LFS)
    gold = Gold(data["n_golden_good"].astype(float), data["n_golden_bad"].astype(float))
    total = 0.0
    for held in select.folds(gold, seed=123):
        train = gold.without(held)
        prior = (train.good.sum() + 0.5) / (train.n + 1)  # the other folds' gold only
        p = fit_dawid_skene(
            L, data["n_outputs"], gold_good=train.good, gold_bad=train.bad, prior_good=prior
        ).p_good
        p = np.clip(p, select.LOG_LOSS_EPS, 1 - select.LOG_LOSS_EPS)
        total -= float(held.good @ np.log(p) + held.bad @ np.log(1 - p))
    assert recorded == round(total / gold.n, 6)
    p_all = fit_dawid_skene(
        L, data["n_outputs"], gold_good=gold.good, gold_bad=gold.bad,
        prior_good=golden_class_balance(gold),
    ).p_good  # fmt: skip
    in_sample = select.log_loss(
        np.r_[p_all, p_all], np.r_[np.ones(len(p_all)), np.zeros(len(p_all))],
        np.r_[gold.good, gold.bad],
    )  # fmt: skip
    assert in_sample < total / gold.n
    assert abs(in_sample - recorded) > 1e-4


@dataclass(frozen=True)
class FakeFit:
    p_good: np.ndarray


def test_golden_prior_snorkel_is_scored_out_of_fold_with_each_folds_prior():
    # The fake Snorkel with the gold prior predicts its prior for every pattern: its score is
    # then exactly the log-loss of each fold's gold under the other folds' estimate.
    gold = Gold(np.array([6.0, 1.0]), np.array([2.0, 4.0]))
    calls: list[tuple[str, float | None]] = []

    def fit(candidate: Candidate, clamped: Gold | None) -> FakeFit:
        calls.append((candidate.name, None if clamped is None else float(clamped.n)))
        if candidate.golden_prior:
            assert clamped is not None
            return FakeFit(np.full(2, golden_class_balance(clamped)))
        return FakeFit(np.array([0.2, 0.2]))  # worse than any gold prior

    config = replace(CFG, model="auto", n_epochs=200)
    chosen = select.choose(config, fit, gold)
    expected = 0.0
    for held in select.folds(gold, seed=config.seed):
        p = golden_class_balance(gold.without(held))
        expected -= held.good.sum() * np.log(p) + held.bad.sum() * np.log(1 - p)
    expected /= gold.n
    in_sample = golden_class_balance(gold)
    in_sample_loss = -(7 * np.log(in_sample) + 6 * np.log(1 - in_sample)) / 13
    for e in select.SNORKEL_EPOCHS:
        assert chosen.candidate_losses[f"snorkel@{e}/golden-prior"] == pytest.approx(expected)
    assert in_sample_loss < expected
    # Scored on 5 folds (10 or 11 gold each); only the chosen one is refitted on all 13.
    assert chosen.candidate == Candidate("snorkel", 50, golden_prior=True)
    assert [n for name, n in calls if name == "snorkel@50/golden-prior"] == [
        10.0, 10.0, 10.0, 11.0, 11.0, 13.0,
    ]  # fmt: skip
    assert [n for name, n in calls if name == "snorkel@100/golden-prior"] == [10, 10, 10, 11, 11]
    assert [n for name, n in calls if "golden" not in name and name != "dawid-skene"] == [None]
    assert chosen.score is not None and chosen.score.out_of_fold
    # --model snorkel --class-balance golden is scored the same way.
    explicit = select.choose(replace(config, model="snorkel", class_balance="golden"), fit, gold)
    assert explicit.candidate.name == "snorkel@200/golden-prior"
    assert explicit.score is not None and explicit.score.out_of_fold
    assert explicit.score.log_loss == pytest.approx(expected)


def test_one_snorkel_run_gives_every_epoch_counts_fit_exactly():
    rng = np.random.default_rng(0)
    L = np.unique(rng.integers(-1, 2, size=(100, 5)), axis=0)
    counts = rng.integers(1, 200, size=len(L))
    run = _Snapshots([50, 200, 300], chunk_patterns=1000)
    run.fit_patterns(L, counts, class_balance=[0.9, 0.1], seed=7, n_epochs=300, lr=0.01)
    for e in (50, 200, 300):
        direct = PatternLabelModel(cardinality=2)
        direct.fit_patterns(L, counts, class_balance=[0.9, 0.1], seed=7, n_epochs=e, lr=0.01)
        snap = run.at(e)
        np.testing.assert_array_equal(snap.mu.detach().numpy(), direct.mu.detach().numpy())
        np.testing.assert_array_equal(
            snap.predict_proba_patterns(L), direct.predict_proba_patterns(L)
        )
        assert snap.final_loss() == direct.final_loss()


# --- errors and the command line ----------------------------------------------------------


def test_golden_class_balance_without_gold_is_a_one_line_error(con):
    for config in (
        replace(CFG, class_balance="golden", golden_column=None),
        replace(CFG, model="dawid-skene", class_balance="golden", golden_column=None),
        replace(CFG, model="auto", class_balance="golden", golden_column=None),
    ):
        with pytest.raises(
            FlywheelError,
            match=r"class balance 'golden' needs gold outputs, task 't' has none: label a "
            r"uniform sample of its outputs or use --class-balance uniform",
        ) as error:
            run_label_job(con, config)
        assert "\n" not in str(error.value)
    con.execute("update fct_lf_votes set golden_label = null")
    with pytest.raises(FlywheelError, match="task 't' has none in golden_label: label"):
        run_label_job(con, replace(CFG, class_balance="golden"))
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert "label_model_runs" not in tables
    with pytest.raises(FlywheelError, match="the majority model has no prior"):
        run_label_job(con, replace(CFG, model="majority", class_balance="golden"))
    with pytest.raises(FlywheelError, match="'ratings', 'golden' or a number"):
        run_label_job(con, replace(CFG, class_balance="gold"))


def test_cli_class_balance_golden():
    args = cli.build_parser().parse_args(["label", "--class-balance", "golden"])
    config: LabelJobConfig = cli._label_config(args, "main")
    assert config.class_balance == "golden"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["label", "--class-balance", "gold"])
