"""Label quality against a known truth: accuracy, ROC AUC and Brier score of P(good).

Every metric takes P(good) per row, the 0/1 (or boolean) truth per row, and optionally a
``sample_weight`` per row: a count when each row stands for several outputs (the label job
scores one row per distinct vote pattern and rating). Rows with NaN P(good) have no label;
they count as a tie (see :func:`accuracy`). Accuracy and AUC are scikit-learn's.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, roc_auc_score

#: the P(good) of a tie, and of a row with no label (NaN)
TIE = 0.5


def _prepare(
    p_good: npt.ArrayLike, is_good: npt.ArrayLike, sample_weight: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    p = np.asarray(p_good, dtype=float).ravel()
    y = np.asarray(is_good, dtype=bool).ravel()
    w = np.ones(p.size) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if not p.size == y.size == w.size:
        raise ValueError(f"lengths differ: p_good {p.size}, is_good {y.size}, weight {w.size}")
    return p, y, w


def accuracy(
    p_good: npt.ArrayLike, is_good: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> float:
    """Accuracy of thresholding ``p_good`` at 0.5, counting a tie as half right.

    A tie (p = 0.5, e.g. a majority vote split evenly) is what a fair coin would decide, so it
    scores 0.5 in expectation rather than always siding with one class. NaN (no label) counts
    as a tie.

    Parameters
    ----------
    p_good
        P(good) per row; NaN for no label.
    is_good
        The truth per row (boolean or 0/1).
    sample_weight
        Weight (e.g. a count of outputs) per row; default 1 each.

    Returns
    -------
    float
        The weighted share right; NaN when there are no rows (or no weight).
    """
    p, y, w = _prepare(p_good, is_good, sample_weight)
    total = float(w.sum())
    if p.size == 0 or total == 0:
        return float("nan")
    tie = np.isnan(p) | (p == TIE)
    decided = ~tie
    right = 0.0
    if decided.any():
        right = float(
            accuracy_score(y[decided], p[decided] > TIE, normalize=False, sample_weight=w[decided])
        )
    return (right + TIE * float(w[tie].sum())) / total


def auc(
    p_good: npt.ArrayLike, is_good: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> float:
    """ROC AUC of ``p_good`` as a score for ``is_good`` (tied scores count half).

    Parameters
    ----------
    p_good
        P(good) per row; NaN (no label) scores as a tie, 0.5.
    is_good
        The truth per row (boolean or 0/1).
    sample_weight
        Weight (e.g. a count of outputs) per row; default 1 each.

    Returns
    -------
    float
        The weighted ROC AUC; NaN unless both classes have positive weight.
    """
    p, y, w = _prepare(p_good, is_good, sample_weight)
    if p.size == 0 or float(w[y].sum()) <= 0 or float(w[~y].sum()) <= 0:
        return float("nan")
    p = np.where(np.isnan(p), TIE, p)
    return float(roc_auc_score(y, p, sample_weight=sample_weight if sample_weight is None else w))


def brier(
    p_good: npt.ArrayLike, is_good: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> float:
    """Brier score (mean squared error of ``p_good`` against 0/1 truth); lower is better.

    Parameters
    ----------
    p_good
        P(good) per row; NaN (no label) scores as a tie, 0.5.
    is_good
        The truth per row (boolean or 0/1).
    sample_weight
        Weight (e.g. a count of outputs) per row; default 1 each.

    Returns
    -------
    float
        The weighted mean squared error; NaN when there are no rows (or no weight).
    """
    p, y, w = _prepare(p_good, is_good, sample_weight)
    if p.size == 0 or math.fsum(w) == 0:
        return float("nan")
    error = (np.where(np.isnan(p), TIE, p) - y.astype(float)) ** 2
    # exactly rounded sums: the same score whatever order the rows come in
    return math.fsum(w * error) / math.fsum(w)
