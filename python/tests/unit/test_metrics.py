"""flywheel.metrics: the tie rule, NaN as no label, and count weights equal repeated rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flywheel.metrics import accuracy, auc, brier


def test_accuracy_counts_a_tie_and_no_label_as_half_right() -> None:
    p = [0.9, 0.2, 0.5, float("nan"), 0.7]
    y = [1, 0, 1, 0, 0]
    # right, right, half, half, wrong
    assert accuracy(p, y) == pytest.approx(3 / 5)
    assert accuracy([0.5, 0.5], [True, False]) == 0.5


def test_auc_ranks_and_scores_no_label_as_a_tie() -> None:
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # NaN scores 0.5: above 0.4, below 0.6, level with 0.5
    assert auc([0.6, float("nan")], [1, 0]) == 1.0
    assert auc([0.4, float("nan")], [0, 1]) == 1.0
    assert auc([0.5, float("nan")], [0, 1]) == 0.5
    assert math.isnan(auc([0.2, 0.7], [1, 1]))
    assert math.isnan(auc([0.2, 0.7], [1, 0], sample_weight=[1, 0]))


@pytest.mark.parametrize("metric", [accuracy, auc, brier])
def test_count_weights_equal_repeating_rows(metric) -> None:
    rng = np.random.default_rng(3)
    p = np.round(rng.random(200), 1)
    p[::17] = np.nan
    y = rng.random(200) < 0.6
    counts = rng.integers(0, 4, 200)
    weighted = metric(p, y, sample_weight=counts)
    repeated = metric(np.repeat(p, counts), np.repeat(y, counts))
    assert weighted == pytest.approx(repeated, abs=1e-12)
    assert weighted != pytest.approx(metric(p, y), abs=1e-6)


def test_empty_and_mismatched_inputs() -> None:
    for metric in (accuracy, auc, brier):
        assert math.isnan(metric([], []))
    with pytest.raises(ValueError, match="lengths differ"):
        accuracy([0.1, 0.2], [1])
    assert brier([1.0, 0.0], [1, 1]) == 0.5
