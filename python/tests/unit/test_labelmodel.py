"""PatternLabelModel must reproduce LabelModel fitted on the expanded vote matrix exactly."""

from __future__ import annotations

import numpy as np
import pytest
from snorkel.labeling.model import LabelModel

from flywheel.errors import FlywheelError
from flywheel.labelmodel import PatternLabelModel

# (accuracy when voting, coverage) per LF: strong/weak, dense/sparse, one near-random.
LF_SPECS = [
    (0.92, 0.30),
    (0.85, 0.55),
    (0.80, 0.10),
    (0.75, 0.70),
    (0.70, 0.05),
    (0.65, 0.40),
    (0.55, 0.25),
    (0.90, 0.02),
]


def make_votes(n: int, seed: int = 0, p_good: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Return a sparse ``[n, m]`` vote matrix in {-1, 0, 1} and the truth it was drawn from."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < p_good).astype(np.int64)
    cols = []
    for acc, cov in LF_SPECS:
        votes_ = rng.random(n) < cov
        correct = rng.random(n) < acc
        vote = np.where(correct, y, 1 - y)
        cols.append(np.where(votes_, vote, -1))
    return np.column_stack(cols), y


SETTINGS = {"seed": 123, "n_epochs": 500, "lr": 0.01, "l2": 0.0}


@pytest.fixture(scope="module")
def votes() -> tuple[np.ndarray, np.ndarray]:
    return make_votes(100_000)


def _fit_both(L: np.ndarray, **extra):
    full = LabelModel(cardinality=2, verbose=False)
    full.fit(L, progress_bar=False, **SETTINGS, **extra)
    patterns, inverse, counts = np.unique(L, axis=0, return_inverse=True, return_counts=True)
    pm = PatternLabelModel(cardinality=2).fit_patterns(patterns, counts, **SETTINGS, **extra)
    return full, pm, patterns, inverse.reshape(-1)


def test_pattern_fit_equals_full_fit(votes):
    L, y = votes
    full, pm, patterns, inverse = _fit_both(L)
    assert patterns.shape[0] < L.shape[0] // 20  # the point: far fewer patterns than rows
    assert pm.n == L.shape[0]  # mu_eps clamp saw the full row count

    p_full = full.predict_proba(L)
    p_pat = pm.predict_proba_patterns(patterns)[inverse]
    max_diff = float(np.abs(p_full - p_pat).max())
    print(f"max abs diff of predict_proba: {max_diff:.3e}")
    assert max_diff <= 1e-9

    np.testing.assert_array_equal(full.O.numpy(), pm.O.numpy())
    np.testing.assert_array_equal(full.mu.detach().numpy(), pm.mu.detach().numpy())
    np.testing.assert_array_equal(full.coverage, pm.coverage)
    np.testing.assert_array_equal(full.get_weights(), pm.get_weights())
    np.testing.assert_array_equal(full.get_conditional_probs(), pm.get_conditional_probs())

    # And it is a useful model (about 4% of rows get no vote at all and are coin flips).
    assert np.mean((p_pat[:, 1] > 0.5) == y) > 0.78


def test_chunked_O_matches(votes):
    L, _ = votes
    patterns, counts = np.unique(L, axis=0, return_counts=True)
    one = PatternLabelModel().fit_patterns(patterns, counts, **SETTINGS)
    chunked = PatternLabelModel(chunk_patterns=7).fit_patterns(patterns, counts, **SETTINGS)
    np.testing.assert_array_equal(one.O.numpy(), chunked.O.numpy())
    np.testing.assert_array_equal(
        one.predict_proba_patterns(patterns), chunked.predict_proba_patterns(patterns)
    )


def test_class_balance_is_passed(votes):
    L, _ = votes
    L = L[:20_000]
    full, pm, patterns, inverse = _fit_both(L, class_balance=[0.3, 0.7])
    np.testing.assert_array_equal(pm.p, np.array([0.3, 0.7]))
    p_pat = pm.predict_proba_patterns(patterns)[inverse]
    assert np.abs(full.predict_proba(L) - p_pat).max() <= 1e-9
    # The prior moves the all-abstain pattern's probability to the prior itself.
    abstain = np.all(patterns == -1, axis=1)
    np.testing.assert_allclose(pm.predict_proba_patterns(patterns[abstain])[0], [0.3, 0.7])


def test_final_loss_is_finite(votes):
    L, _ = votes
    patterns, counts = np.unique(L[:5_000], axis=0, return_counts=True)
    pm = PatternLabelModel().fit_patterns(patterns, counts, seed=1, n_epochs=50)
    assert np.isfinite(pm.final_loss()) and pm.final_loss() >= 0


def test_fewer_than_three_lfs_rejected():
    patterns = np.array([[1, 0], [0, -1]])
    with pytest.raises(FlywheelError, match="at least 3 labeling functions"):
        PatternLabelModel().fit_patterns(patterns, np.array([3, 4]), seed=1)


@pytest.mark.parametrize(
    ("patterns", "counts", "match"),
    [
        (np.array([[1, 0, 2]]), np.array([1]), "LF votes must be in"),
        (np.array([[1, 0, 255]]), np.array([1]), "LF votes must be in"),  # no int8 wrap-around
        (np.array([[1.0, 0.5, -1.0]]), np.array([1]), "must be integers"),
        (np.array([[1, 0, -1]]), np.array([0]), "counts must be positive"),
        (np.array([[1, 0, -1]]), np.array([1, 2]), "one entry per pattern"),
    ],
)
def test_bad_inputs_rejected(patterns, counts, match):
    with pytest.raises(FlywheelError, match=match):
        PatternLabelModel().fit_patterns(patterns, counts, seed=1)


def test_chunked_predict_equals_unchunked(votes):
    L, _ = votes
    patterns, counts = np.unique(L, axis=0, return_counts=True)
    pm = PatternLabelModel(chunk_patterns=5).fit_patterns(patterns, counts, **SETTINGS)
    chunked = pm.predict_proba_patterns(patterns)
    assert pm.n == L.shape[0]  # predicting does not change the fitted row count
    whole = LabelModel.predict_proba(pm, patterns)  # the parent, in one block
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)
    assert pm.predict_proba_patterns(patterns[:0]).shape == (0, 2)


def test_chunk_size_must_be_positive():
    with pytest.raises(FlywheelError, match="chunk_patterns must be at least 1"):
        PatternLabelModel(chunk_patterns=0)
