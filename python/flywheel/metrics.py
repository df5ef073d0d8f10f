"""Label quality against a known truth: accuracy and ROC AUC of probabilistic labels."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def accuracy(p_good: np.ndarray, is_good: np.ndarray) -> float:
    """Accuracy of thresholding ``p_good`` at 0.5, counting an exact tie as half right.

    A tie (p = 0.5, e.g. a majority vote split evenly) is what a fair coin would decide, so it
    scores 0.5 in expectation rather than always siding with one class.
    """
    p = np.asarray(p_good, dtype=float)
    y = np.asarray(is_good, dtype=bool)
    if p.size == 0:
        return float("nan")
    score = np.where(p == 0.5, 0.5, (p > 0.5) == y)
    return float(score.mean())


def auc(p_good: np.ndarray, is_good: np.ndarray) -> float:
    """ROC AUC of ``p_good`` as a score for ``is_good``; NaN when only one class is present."""
    y = np.asarray(is_good, dtype=bool)
    if y.size == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p_good, dtype=float)))


def brier(p_good: np.ndarray, is_good: np.ndarray) -> float:
    """Brier score (mean squared error of ``p_good`` against 0/1 truth); lower is better."""
    p = np.asarray(p_good, dtype=float)
    if p.size == 0:
        return float("nan")
    return float(np.mean((p - np.asarray(is_good, dtype=float)) ** 2))
