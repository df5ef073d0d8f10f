"""Dawid-Skene EM from vote patterns: exact against row-level EM, monotone, and it learns."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel.dawid_skene import (
    DawidSkeneFit,
    fit_dawid_skene,
    majority_p_good,
    predict_p_good,
)
from flywheel.errors import FlywheelError
from flywheel.labelmodel import PatternLabelModel

# Two-polarity LFs as (accuracy when voting, coverage); one-polarity LFs as
# (P(fires | good), P(fires | bad), vote): flywheel's LFs are of the second kind.
TWO_POLARITY = [(0.85, 0.6), (0.8, 0.5), (0.75, 0.7), (0.9, 0.3), (0.7, 0.6)]
ONE_POLARITY = [(0.5, 0.05, 1), (0.05, 0.4, 0)]


def simulate(
    n: int,
    prior: float,
    seed: int,
    two_polarity: list[tuple[float, float]] = TWO_POLARITY,
    one_polarity: list[tuple[float, float, int]] = ONE_POLARITY,
) -> tuple[np.ndarray, np.ndarray]:
    """Return an ``[n, m]`` int8 vote matrix and the truth (1 good) it was drawn from."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior).astype(np.int8)
    cols = []
    for acc, cov in two_polarity:
        vote = np.where(rng.random(n) < acc, y, 1 - y)
        cols.append(np.where(rng.random(n) < cov, vote, -1))
    for fires_good, fires_bad, vote in one_polarity:
        cols.append(np.where(rng.random(n) < np.where(y == 1, fires_good, fires_bad), vote, -1))
    return np.column_stack(cols).astype(np.int8), y


def patterns_of(L: np.ndarray, *per_row: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct rows of ``L``, their counts, each row's pattern, and per-pattern sums."""
    pats, inverse, counts = np.unique(L, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    sums = [np.bincount(inverse, weights=x, minlength=len(pats)).astype(np.int64) for x in per_row]
    return (pats, counts, inverse, *sums)


def reference_em(
    L: np.ndarray, y_gold: np.ndarray, smoothing: float, n_iter: int
) -> tuple[np.ndarray, float, np.ndarray, list[float]]:
    """Textbook Dawid-Skene EM, one row per output (``y_gold``: -1 unknown, else the class).

    Written independently of the module: one-hot ``[n, m, 3]`` outcomes, a product over LFs
    per row, explicit sums over rows.
    """
    n, m = L.shape
    onehot = np.stack([L == -1, L == 0, L == 1], axis=2).astype(np.float64)  # [n, m, 3]
    good = (L == 1).sum(axis=1)
    voted = (L != -1).sum(axis=1)
    q = np.where(voted > 0, good / np.maximum(voted, 1), 0.5)
    q = np.where(y_gold >= 0, y_gold, q)
    lls = []
    for it in range(n_iter + 1):
        resp = np.column_stack([1 - q, q])  # [n, 2]
        prior = (resp.sum(axis=0) + smoothing) / (n + 2 * smoothing)
        conf = np.einsum("nmk,ny->mky", onehot, resp) + smoothing
        conf /= conf.sum(axis=1, keepdims=True)
        lik = prior[None, :] * np.prod(np.einsum("nmk,mky->nmy", onehot, conf), axis=1)
        known = y_gold >= 0
        lls.append(
            float(
                np.log(lik[~known].sum(axis=1)).sum()
                + np.log(lik[known, y_gold[known].astype(int)]).sum()
            )
        )
        if it == n_iter:
            break
        q = np.where(known, y_gold, lik[:, 1] / lik.sum(axis=1))
    return lik[:, 1] / lik.sum(axis=1), float(prior[1]), conf, lls


def test_pattern_fit_equals_row_level_em_on_the_expanded_matrix():
    L, y = simulate(20_000, 0.3, seed=1)
    pats, counts, inverse = patterns_of(L)
    assert len(pats) < 1_000  # under a thousand patterns stand for 20,000 rows
    settings = {"smoothing": 1.0, "tol": 0.0, "max_iter": 40}  # the same 40 iterations
    by_pattern = fit_dawid_skene(pats, counts, **settings)
    by_row = fit_dawid_skene(L, np.ones(len(L), dtype=np.int64), **settings)
    p_ref, prior_ref, conf_ref, lls_ref = reference_em(L, np.full(len(L), -1), 1.0, 40)
    for other_p, other_prior, other_conf, other_lls in [
        (by_row.p_good, by_row.prior_good, by_row.confusion, by_row.log_likelihood),
        (p_ref, prior_ref, conf_ref, np.array(lls_ref)),
    ]:
        assert np.abs(by_pattern.p_good[inverse] - other_p).max() < 1e-12
        assert abs(by_pattern.prior_good - other_prior) < 1e-12
        assert np.abs(by_pattern.confusion - other_conf).max() < 1e-12
        np.testing.assert_allclose(by_pattern.log_likelihood, other_lls, rtol=1e-12, atol=0)
    # Converged fits agree too (the stopping rule sees the same parameters).
    a, b = fit_dawid_skene(pats, counts), fit_dawid_skene(L, np.ones(len(L), dtype=np.int64))
    assert a.n_iter == b.n_iter and a.converged and b.converged
    assert np.abs(a.p_good[inverse] - b.p_good).max() < 1e-12


def test_pattern_fit_with_gold_equals_row_level_em():
    L, y = simulate(20_000, 0.3, seed=2)
    rng = np.random.default_rng(3)
    is_gold = rng.random(len(y)) < 0.05
    pats, counts, inverse, gold_good, gold_bad = patterns_of(
        L, is_gold & (y == 1), is_gold & (y == 0)
    )
    fit = fit_dawid_skene(  # the reference starts from the majority vote only
        pats, counts, gold_good=gold_good, gold_bad=gold_bad, tol=0.0, max_iter=30,
        gold_start=False,
    )  # fmt: skip
    p_ref, prior_ref, conf_ref, lls_ref = reference_em(L, np.where(is_gold, y, -1), 1.0, 30)
    assert np.abs(fit.p_good[inverse] - p_ref).max() < 1e-12
    assert abs(fit.prior_good - prior_ref) < 1e-12
    assert np.abs(fit.confusion - conf_ref).max() < 1e-12
    np.testing.assert_allclose(fit.log_likelihood, lls_ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("smoothing", [0.0, 1.0, 10.0])
@pytest.mark.parametrize("gold_share", [0.0, 0.05])
def test_em_never_decreases_its_objective(smoothing, gold_share):
    L, y = simulate(30_000, 0.2, seed=4)
    is_gold = np.random.default_rng(5).random(len(y)) < gold_share
    pats, counts, _, gold_good, gold_bad = patterns_of(L, is_gold & (y == 1), is_gold & (y == 0))
    fit = fit_dawid_skene(
        pats, counts, gold_good=gold_good, gold_bad=gold_bad, smoothing=smoothing, tol=1e-12
    )
    assert len(fit.objective) == len(fit.log_likelihood) == fit.n_iter + 1 > 10
    steps = np.diff(fit.objective)
    assert steps.min() >= -1e-9 * abs(fit.objective[-1]), steps.min()
    if smoothing == 0.0:  # unpenalised: the objective is the log-likelihood
        np.testing.assert_array_equal(fit.objective, fit.log_likelihood)
    assert fit.converged


def test_em_recovers_a_skewed_prior_that_uniform_snorkel_misses():
    L, y = simulate(200_000, 0.15, seed=6)
    pats, counts, inverse = patterns_of(L)
    fit = fit_dawid_skene(pats, counts)
    assert fit.converged
    assert abs(fit.prior_good - 0.15) < 0.03, fit.prior_good
    assert abs(fit.prior_good - y.mean()) < 0.01
    # At the fixed point the mean posterior is the learned prior (up to the pseudo-counts).
    assert float(fit.p_good @ counts / counts.sum()) == pytest.approx(fit.prior_good, abs=1e-5)
    snorkel = PatternLabelModel().fit_patterns(pats, counts, class_balance=[0.5, 0.5], seed=123)
    p_snorkel = snorkel.predict_proba_patterns(pats)[:, 1]
    ds_share = float(fit.p_good @ counts / counts.sum())
    snorkel_share = float(p_snorkel @ counts / counts.sum())
    assert abs(ds_share - 0.15) < abs(snorkel_share - 0.15)  # reported, not the point
    accuracy = ((fit.p_good[inverse] > 0.5) == y).mean()
    assert accuracy > ((majority_p_good(pats)[inverse] > 0.5) == y).mean()


def test_smoothing_keeps_a_perfect_lf_below_certainty():
    # lf 0 is never wrong: unsmoothed EM calls it infallible (a "100%" accuracy, posteriors
    # within 1e-9 of certainty), one pseudo-count per cell does not.
    L, _ = simulate(10_000, 0.4, seed=7, two_polarity=[(1.0, 0.5), *TWO_POLARITY[:3]])
    pats, counts, _ = patterns_of(L)
    raw = fit_dawid_skene(pats, counts, smoothing=0.0)
    smoothed = fit_dawid_skene(pats, counts)
    assert raw.learned_accuracy()[0] > 1 - 1e-6 and raw.confusion.min() == 0.0
    assert raw.p_good.max() > 1 - 1e-9
    assert 0.99 < smoothed.learned_accuracy()[0] < 0.999
    assert smoothed.confusion.min() > 1e-4 and smoothed.confusion.max() < 1.0
    assert (smoothed.p_good > 1e-6).all() and (smoothed.p_good < 1 - 1e-6).all()
    np.testing.assert_allclose(smoothed.confusion.sum(axis=1), 1.0, rtol=1e-12)


ANTI = [(0.25, 0.8), (0.25, 0.8), (0.85, 0.8), (0.3, 0.7)]
"""Three of four LFs worse than chance: unsupervised EM settles in the flipped mode."""


def test_gold_labels_pull_a_flipped_fit_towards_the_truth():
    L, y = simulate(20_000, 0.3, seed=3, two_polarity=ANTI, one_polarity=[])
    true_accuracy = np.array([a for a, _ in ANTI])
    draw = np.random.default_rng(5).random(len(y))
    errors: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    fits = {}
    for share in (0.0, 0.002, 0.02, 0.05, 0.1):
        is_gold = draw < share
        pats, counts, _, gold_good, gold_bad = patterns_of(
            L, is_gold & (y == 1), is_gold & (y == 0)
        )
        for gold_start in (False, True):
            fit = fit_dawid_skene(
                pats, counts, gold_good=gold_good, gold_bad=gold_bad, gold_start=gold_start
            )
            fits[share, gold_start] = fit
            errors[gold_start].append(
                (abs(fit.prior_good - 0.3), np.abs(fit.learned_accuracy() - true_accuracy).max())
            )
    # Unsupervised, EM settles in the flipped mode (prior ~0.7), whatever the options.
    assert errors[False][0] == errors[True][0]
    assert errors[False][0][0] > 0.3 and errors[False][0][1] > 0.5
    # From the majority vote only, the gold pulls it back slowly: 10% gold for the truth.
    prior_errors, accuracy_errors = zip(*errors[False], strict=True)
    assert list(prior_errors) == sorted(prior_errors, reverse=True)  # more gold, closer
    assert list(accuracy_errors) == sorted(accuracy_errors, reverse=True)
    assert prior_errors[-1] < 0.03 and accuracy_errors[-1] < 0.05  # 10% gold: the truth
    assert prior_errors[-2] > 0.1  # 5%: still far
    # Also starting from the gold outputs (the default), 0.2% gold (~40 outputs) is enough:
    # that run's penalised likelihood is higher, so it is the one kept.
    for prior_error, accuracy_error in errors[True][1:]:
        assert prior_error < 0.01 and accuracy_error < 0.01
    for share in (0.002, 0.02, 0.05):
        assert fits[share, True].objective[-1] > fits[share, False].objective[-1]


def test_majority_is_the_share_of_good_votes_and_a_coin_flip_without_votes():
    votes = np.array([[1, 1, 0], [1, 0, -1], [-1, -1, -1], [0, 0, -1], [1, -1, -1]])
    np.testing.assert_array_equal(majority_p_good(votes), [2 / 3, 0.5, 0.5, 0.0, 1.0])


def test_fit_is_deterministic_and_starts_from_the_majority_vote():
    L, _ = simulate(5_000, 0.3, seed=8)
    pats, counts, _ = patterns_of(L)
    a, b = fit_dawid_skene(pats, counts), fit_dawid_skene(pats, counts)
    for field in ("p_good", "confusion", "coverage", "log_likelihood", "objective"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.prior_good == b.prior_good and a.n_iter == b.n_iter
    # max_iter=0: only the M-step from the majority vote.
    start = fit_dawid_skene(pats, counts, max_iter=0)
    assert start.n_iter == 0 and not start.converged and len(start.log_likelihood) == 1
    q = majority_p_good(pats)
    assert start.prior_good == pytest.approx((q @ counts + 1) / (counts.sum() + 2), abs=1e-12)
    # Row order does not matter (beyond summation order).
    order = np.random.default_rng(0).permutation(len(pats))
    shuffled = fit_dawid_skene(pats[order], counts[order])
    assert np.abs(shuffled.p_good - a.p_good[order]).max() < 1e-12


def test_fit_reports_coverage_and_predicts_its_own_posteriors():
    L, _ = simulate(5_000, 0.3, seed=9)
    pats, counts, _ = patterns_of(L)
    fit = fit_dawid_skene(pats, counts)
    assert isinstance(fit, DawidSkeneFit) and fit.n_rows == 5_000
    np.testing.assert_allclose(fit.coverage, (L != -1).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        predict_p_good(pats, fit.prior_good, fit.confusion), fit.p_good, rtol=1e-12
    )
    assert fit.mean_negative_log_likelihood() == pytest.approx(-fit.log_likelihood[-1] / 5_000)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patterns": np.array([1, 0, -1])}, "2-D matrix"),
        ({"patterns": np.array([[2, 0, 1]])}, r"in \{-1, 0, 1\}"),
        ({"patterns": np.array([[0.5, 0, 1]])}, "must be integers"),
        ({"counts": np.array([1, 2])}, "one entry per pattern"),
        ({"counts": np.array([0])}, "positive integers"),
        ({"gold_good": np.array([3])}, "more gold labels than outputs"),
        ({"gold_bad": np.array([-1])}, "non-negative integers"),
        ({"smoothing": -1.0}, "smoothing"),
        ({"tol": float("nan")}, "tol"),
        ({"max_iter": -1}, "max_iter"),
    ],
)
def test_malformed_inputs_raise(kwargs, match):
    args = {"patterns": np.array([[1, 0, -1]]), "counts": np.array([2]), **kwargs}
    with pytest.raises(FlywheelError, match=match):
        fit_dawid_skene(**args)
