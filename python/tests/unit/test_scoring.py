"""The label models as additive scoring weights (label_job/scoring.py) and their tables."""

from __future__ import annotations

import itertools
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from flywheel.dawid_skene import fit_dawid_skene, majority_p_good, predict_p_good
from flywheel.label_job import LabelJobConfig, run_label_job, scoring
from flywheel.labelmodel import PatternLabelModel

LFS = ["lf_a_0", "lf_a_1", "lf_a_2", "lf_a_3"]


def _votes(n: int = 4000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``[n, 4]`` votes of one-polarity and two-polarity LFs, and the true labels."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int64)
    votes = np.full((n, len(LFS)), -1, dtype=np.int64)
    for j, (acc, cov) in enumerate([(0.9, 0.5), (0.8, 0.6), (0.75, 0.4), (0.7, 0.7)]):
        vote = np.where(rng.random(n) < acc, y, 1 - y)
        votes[:, j] = np.where(rng.random(n) < cov, vote, -1)
    votes[:, 3] = np.where(votes[:, 3] == 0, 0, -1)  # one polarity: only ever votes bad
    return votes, y


def _patterns(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    patterns, counts = np.unique(votes, axis=0, return_counts=True)
    return patterns, counts


def _weights(cprobs: np.ndarray) -> pd.DataFrame:
    """A weight frame as fit.py builds it, from ``[m, 3, 2]`` ``P(outcome | Y)``."""
    return pd.DataFrame(
        {
            "lf_name": LFS[: len(cprobs)],
            "p_good_vote_given_good": cprobs[:, 2, 1],
            "p_bad_vote_given_bad": cprobs[:, 1, 0],
            "p_good_vote_given_bad": cprobs[:, 2, 0],
            "p_bad_vote_given_good": cprobs[:, 1, 1],
            "p_abstain_given_good": cprobs[:, 0, 1],
            "p_abstain_given_bad": cprobs[:, 0, 0],
        }
    )


ALL_PATTERNS = np.array(list(itertools.product([-1, 0, 1], repeat=len(LFS))))
"""Every vote pattern of four LFs, most of them never seen in a fit."""


@pytest.mark.parametrize("prior", [0.5, 0.3])
def test_snorkel_weights_reproduce_predict_proba_on_every_pattern(prior: float) -> None:
    patterns, counts = _patterns(_votes()[0])
    model = PatternLabelModel(cardinality=2)
    model.fit_patterns(patterns, counts, class_balance=[1 - prior, prior], seed=1, n_epochs=200)
    weights = scoring.scoring_of("snorkel", prior, _weights(model.get_conditional_probs()))
    assert weights is not None
    want = model.predict_proba_patterns(ALL_PATTERNS)[:, 1]
    got = scoring.p_good(weights, ALL_PATTERNS)
    assert np.abs(got - want).max() < 1e-15  # measured 1.1e-16: Snorkel's float32 logs
    assert np.all(weights.log_lr[:, 0] == 0)  # predict_proba skips abstentions
    assert weights.prior_log_odds == pytest.approx(np.log(prior / (1 - prior)), abs=1e-15)
    assert np.all(np.isfinite(weights.log_lr))
    # the one-polarity LF: P(vote good | Y) is at the clamp under both classes, ratio 1
    assert weights.log_lr[3, 2] == 0


def test_snorkel_needs_the_exact_conditional_probabilities() -> None:
    """P(vote good | bad) rebuilt as 1 - the other two float32 cells would move P(good)."""
    patterns, counts = _patterns(_votes()[0])
    model = PatternLabelModel(cardinality=2)
    model.fit_patterns(patterns, counts, class_balance=[0.5, 0.5], seed=1, n_epochs=200)
    cprobs = model.get_conditional_probs()
    rebuilt = cprobs.copy()
    rebuilt[:, 2, 0] = 1 - cprobs[:, 1, 0] - cprobs[:, 0, 0]
    rebuilt[:, 1, 1] = 1 - cprobs[:, 2, 1] - cprobs[:, 0, 1]
    want = model.predict_proba_patterns(ALL_PATTERNS)[:, 1]
    exact = scoring.scoring_of("snorkel", 0.5, _weights(cprobs))
    lossy = scoring.scoring_of("snorkel", 0.5, _weights(rebuilt))
    assert exact is not None and lossy is not None
    assert np.abs(scoring.p_good(exact, ALL_PATTERNS) - want).max() < 1e-15
    assert np.abs(scoring.p_good(lossy, ALL_PATTERNS) - want).max() > 1e-9


def test_dawid_skene_weights_reproduce_its_posterior_and_count_abstaining() -> None:
    patterns, counts = _patterns(_votes()[0])
    ds = fit_dawid_skene(patterns, counts)
    weights = scoring.scoring_of("dawid-skene", ds.prior_good, _weights(ds.confusion))
    assert weights is not None
    assert np.abs(scoring.p_good(weights, patterns) - ds.p_good).max() < 1e-12
    want = predict_p_good(ALL_PATTERNS, ds.prior_good, ds.confusion)
    assert np.abs(scoring.p_good(weights, ALL_PATTERNS) - want).max() < 1e-12
    # abstaining is an outcome: its ratio is P(abstain | good) / P(abstain | bad)
    np.testing.assert_allclose(
        weights.log_lr[:, 0], np.log(ds.confusion[:, 0, 1] / ds.confusion[:, 0, 0]), rtol=1e-12
    )
    assert np.all(weights.log_lr[:, 0] != 0)


def test_zero_probabilities_give_finite_weights_and_the_limit_probability() -> None:
    """Dawid-Skene without smoothing learns exact zeros: weights stay finite, P(good) is the
    model's 0 or 1 (up to ~1e-300), and an outcome impossible under both classes is 0."""
    ratio = scoring.log_ratio(
        np.array([0.0, 0.5, 0.0, np.nan, 0.2]),
        np.array([0.5, 0.0, 0.0, 0.5, 0.2]),
        np.float64,
    )
    assert np.all(np.isfinite(ratio))
    assert ratio[0] < -700 and ratio[1] > 700 and ratio[2] == 0 and ratio[3] == 0
    assert ratio[4] == 0
    f32 = scoring.log_ratio(np.array([0.0]), np.array([0.5]), np.float32)
    assert np.isfinite(f32[0]) and f32[0] < -80

    confusion = np.array(
        [
            [[0.5, 0.5], [0.5, 0.0], [0.0, 0.5]],  # never wrong: a vote decides the class
            [[0.6, 0.6], [0.3, 0.1], [0.1, 0.3]],
            [[1.0, 0.0], [0.0, 0.5], [0.0, 0.5]],  # always abstains on bad outputs
        ]
    )
    frame = _weights(confusion)
    weights = scoring.scoring_of("dawid-skene", 0.4, frame)
    assert weights is not None and np.all(np.isfinite(weights.log_lr))
    patterns = np.array(list(itertools.product([-1, 0, 1], repeat=3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = scoring.p_good(weights, patterns)
    assert np.all((got >= 0) & (got <= 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = predict_p_good(patterns, 0.4, confusion)
    defined = ~np.isnan(exact)
    assert np.abs(got[defined] - exact[defined]).max() < 1e-300
    # the two zero likelihoods cancel (0/0 for the exact model): no evidence either way
    conflict = (patterns[:, 0] == 0) & (patterns[:, 2] != -1)
    assert np.all(np.isnan(exact[conflict]))
    assert np.all(np.isfinite(got[conflict]))


def test_majority_names_its_lfs_without_ratios_and_has_a_null_prior() -> None:
    frame = _weights(np.full((len(LFS), 3, 2), np.nan))
    assert scoring.scoring_of("majority", float("nan"), frame) is None
    rows = scoring.weight_rows("run", "task", "majority", tuple(LFS), None)
    assert list(rows["lf_name"]) == list(LFS)  # which LFs the majority counts
    assert rows[["log_lr_abstain", "log_lr_vote_bad", "log_lr_vote_good"]].isna().all().all()
    assert list(rows.columns) == [name for name, _ in scoring.SCORING_WEIGHTS_COLUMNS]
    assert scoring.weight_rows("run", "task", "majority", (), None).empty
    prior = scoring.prior_row("run", "task", "majority", None)
    assert np.isnan(prior["prior_good"]) and np.isnan(prior["prior_log_odds"])


def test_nan_probabilities_carry_no_evidence() -> None:
    cprobs = np.full((2, 3, 2), 0.5)
    cprobs[1] = np.nan  # e.g. an LF whose probabilities are NULL
    weights = scoring.scoring_of("dawid-skene", 0.5, _weights(cprobs))
    assert weights is not None
    assert np.all(weights.log_lr[1] == 0)


def test_sigmoid_never_overflows() -> None:
    x = np.array([-1e4, -745.0, -30.0, 0.0, 30.0, 745.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = scoring.sigmoid(x)
    assert p[0] == 0.0 and p[-1] == 1.0 and p[3] == 0.5
    np.testing.assert_allclose(p + scoring.sigmoid(-x), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(p[2], 1 / (1 + np.exp(30.0)), rtol=1e-15)


def test_votes_must_match_the_lfs() -> None:
    weights = scoring.scoring_of("dawid-skene", 0.5, _weights(np.full((2, 3, 2), 0.5)))
    assert weights is not None
    with pytest.raises(ValueError, match=r"\[p, 2\]"):
        scoring.p_good(weights, np.zeros((3, 3), dtype=np.int64))


# --- the tables, written by the label job -----------------------------------------------


def _warehouse(tasks: dict[str, int]) -> duckdb.DuckDBPyConnection:
    """A votes table with one task per entry (its LFs named ``lf_<task>_<j>``) and a registry."""
    con = duckdb.connect()
    frames = []
    for i, (task, n) in enumerate(tasks.items()):
        votes, _ = _votes(n, seed=10 + i)
        frame = pd.DataFrame({"output_id": [f"{task}-{k}" for k in range(n)], "label_task": task})
        for other in tasks:
            for j in range(len(LFS)):
                frame[f"lf_{other}_{j}"] = votes[:, j] if other == task else -1
        frame["p_good_majority"] = majority_p_good(votes)
        frame.loc[(votes == -1).all(axis=1), "p_good_majority"] = np.nan
        frames.append(frame)
    con.register("votes_df", pd.concat(frames, ignore_index=True))
    con.execute(
        "create table fct_lf_votes as select *, null::integer as explicit_label from votes_df"
    )
    con.unregister("votes_df")
    registry = [(f"lf_{t}_{j}", t) for t in tasks for j in range(len(LFS))]
    con.execute("create table lf_registry (lf_name varchar, label_task varchar)")
    con.executemany("insert into lf_registry values (?, ?)", registry)
    return con


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    return con.execute(f"select * from {table} order by all").df()


def test_job_writes_priors_and_weights_that_score_its_patterns() -> None:
    con = _warehouse({"alpha": 3000, "beta": 2000})
    runs = run_label_job(con, LabelJobConfig(n_epochs=100))
    priors = _rows(con, "label_model_priors")
    assert list(priors.columns) == [name for name, _ in scoring.PRIORS_COLUMNS]
    assert priors["label_task"].tolist() == ["alpha", "beta"]
    assert (priors["run_id"] == runs[0].run_id).all() and (priors["prior_good"] == 0.5).all()
    assert (priors["label_model"] == "snorkel").all() and (priors["prior_log_odds"] == 0).all()
    weights = _rows(con, "label_model_scoring_weights")
    assert list(weights.columns) == [name for name, _ in scoring.SCORING_WEIGHTS_COLUMNS]
    assert len(weights) == 8 and (weights["log_lr_abstain"] == 0).all()
    assert np.isfinite(weights[["log_lr_vote_bad", "log_lr_vote_good"]].to_numpy()).all()
    # The weights, summed in SQL, give the job's own P(good) of every pattern.
    for task in ("alpha", "beta"):
        lfs = [f"lf_{task}_{j}" for j in range(len(LFS))]
        terms = " + ".join(
            f"case p.{lf} when 1 then w{j}.log_lr_vote_good when 0 then w{j}.log_lr_vote_bad "
            f"else w{j}.log_lr_abstain end"
            for j, lf in enumerate(lfs)
        )
        joins = " ".join(
            f"join label_model_scoring_weights w{j} on w{j}.label_task = p.label_task "
            f"and w{j}.lf_name = '{lf}'"
            for j, lf in enumerate(lfs)
        )
        (diff,) = con.execute(
            f"select max(abs(1 / (1 + exp(-(pr.prior_log_odds + {terms}))) - p.p_good)) "
            f"from label_model_patterns p join label_model_priors pr using (label_task) {joins} "
            "where p.label_task = ?",
            [task],
        ).fetchone()
        assert diff < 1e-12


def test_refit_replaces_the_tasks_rows_and_majority_writes_no_ratios() -> None:
    con = _warehouse({"alpha": 3000, "beta": 2000})
    first = run_label_job(con, LabelJobConfig(n_epochs=100))[0].run_id
    second = run_label_job(con, LabelJobConfig(model="majority", tasks=("beta",)))[0].run_id
    priors = _rows(con, "label_model_priors").set_index("label_task")
    assert priors.loc["alpha", "run_id"] == first and priors.loc["beta", "run_id"] == second
    assert priors.loc["beta", "label_model"] == "majority"
    assert pd.isna(priors.loc["beta", "prior_good"]) and pd.isna(
        priors.loc["beta", "prior_log_odds"]
    )
    weights = _rows(con, "label_model_scoring_weights")
    assert set(weights["run_id"]) == {first, second}
    majority = weights[weights["label_task"] == "beta"]
    assert len(majority) == 4 and (majority["label_model"] == "majority").all()
    assert majority["log_lr_abstain"].isna().all()  # which LFs count, no ratios
    third = run_label_job(con, LabelJobConfig(model="dawid-skene", tasks=("beta",)))[0].run_id
    weights = _rows(con, "label_model_scoring_weights")
    beta = weights[weights["label_task"] == "beta"]
    assert len(beta) == 4 and set(beta["run_id"]) == {third}
    assert (beta["label_model"] == "dawid-skene").all() and (beta["log_lr_abstain"] != 0).all()


def test_a_changed_lf_set_drops_the_scoring_rows_of_tasks_not_refitted() -> None:
    con = _warehouse({"alpha": 3000, "beta": 2000})
    run_label_job(con, LabelJobConfig(n_epochs=100))
    con.execute("alter table fct_lf_votes add column lf_alpha_9 integer default -1")
    con.execute("insert into lf_registry values ('lf_alpha_9', 'alpha')")
    run_label_job(con, LabelJobConfig(n_epochs=100, tasks=("alpha",)))
    for table in ("label_model_priors", "label_model_scoring_weights", "label_model_patterns"):
        assert set(_rows(con, table)["label_task"]) == {"alpha"}, table
