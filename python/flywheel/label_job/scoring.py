"""A fitted label model as additive scoring weights, so that SQL can score any vote pattern.

Snorkel's ``LabelModel`` and Dawid-Skene both take the LFs to be independent given the class,
so for an output with votes ``v_1 .. v_m``

    log-odds(good | votes) = logit P(good) + sum_j log P(v_j | good) / P(v_j | bad)
    P(good | votes)        = sigmoid(log-odds)

One number per task (the prior's log-odds) and one per LF and outcome (its log-likelihood
ratio) score every pattern, seen by the fit or not. The label job writes them as
``label_model_priors`` and ``label_model_scoring_weights``; ``probabilistic_labels`` sums them
in SQL, and the job's own per-pattern ``p_good`` (``label_model_patterns``) is computed here,
by the same formula from the same numbers, so there is one definition of a label.

What an outcome contributes depends on the model:

* ``'snorkel'``: ``LabelModel.predict_proba`` multiplies the learned ``P(vote | Y)`` of the
  votes cast and skips abstentions, so abstaining contributes 0. Its parameters ``mu`` are
  float32, clamped to ``[mu_eps, 1 - mu_eps]`` after training (no zero, so the ratios are
  finite), and it takes their log in float32: so do we, which reproduces its probabilities to
  float64 rounding (a float64 log would move them by up to ~1e-7).
* ``'dawid-skene'``: abstaining is an outcome like the two votes, with ratio
  ``P(abstain | good) / P(abstain | bad)``; logs in float64.
* ``'majority'``: not a sum of weights. Its rows name the LFs of the fit with NULL ratios,
  and no prior (NULL): SQL takes the share of good votes among those LFs' votes, 0.5 when
  none of them voted, as the job does (LFs left out of the fit do not count).

A probability of 0 (Dawid-Skene without smoothing) is floored at the smallest normal float
before its log, so every weight is finite and a zero likelihood gives a P(good) of 0 or 1 up
to ~1e-300; an undefined ratio (both probabilities 0 or NaN: an outcome the fit never saw)
is 0, no evidence. The sigmoid is evaluated in its overflow-free form on both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

SCORING_WEIGHTS_TABLE = "label_model_scoring_weights"
PRIORS_TABLE = "label_model_priors"

SUMMED_MODELS = ("snorkel", "dawid-skene")
"""Label models scored as a prior plus a sum of per-LF weights (the others: majority vote)."""

OUTCOMES = ("abstain", "vote_bad", "vote_good")
"""An LF's outcomes, in the order of :attr:`Scoring.log_lr`'s columns: the vote plus one."""

SCORING_WEIGHTS_COLUMNS = [
    ("run_id", "VARCHAR"), ("label_task", "VARCHAR"), ("label_model", "VARCHAR"),
    ("lf_name", "VARCHAR"), ("log_lr_abstain", "DOUBLE"), ("log_lr_vote_bad", "DOUBLE"),
    ("log_lr_vote_good", "DOUBLE"),
]  # fmt: skip
PRIORS_COLUMNS = [
    ("run_id", "VARCHAR"), ("label_task", "VARCHAR"), ("label_model", "VARCHAR"),
    ("prior_good", "DOUBLE"), ("prior_log_odds", "DOUBLE"),
]  # fmt: skip

# P(outcome | class) columns of label_model_lf_weights, per outcome: (given good, given bad)
_PROBABILITY_COLUMNS = {
    "abstain": ("p_abstain_given_good", "p_abstain_given_bad"),
    "vote_bad": ("p_bad_vote_given_good", "p_bad_vote_given_bad"),
    "vote_good": ("p_good_vote_given_good", "p_good_vote_given_bad"),
}


@dataclass(frozen=True)
class Scoring:
    """One task's fitted label model as a prior log-odds and per-LF log-likelihood ratios.

    Attributes
    ----------
    label_model
        ``'snorkel'`` or ``'dawid-skene'``.
    prior_good
        The class prior ``P(good)`` the model scores with.
    prior_log_odds
        ``log P(good) - log P(bad)``, finite.
    lf_names
        The task's LFs, in the order of ``log_lr``'s rows.
    log_lr
        ``[m, 3]`` ``log P(outcome | good) - log P(outcome | bad)`` per LF and outcome
        (:data:`OUTCOMES`: abstain, vote bad, vote good), finite; the abstain column is 0
        for Snorkel.
    """

    label_model: str
    prior_good: float
    prior_log_odds: float
    lf_names: tuple[str, ...]
    log_lr: np.ndarray


def scoring_of(label_model: str, prior_good: float, weights: pd.DataFrame) -> Scoring | None:
    """Return a fit's scoring weights, or None for a model that is not a sum of weights.

    Parameters
    ----------
    label_model
        The model fitted (``TaskRun.label_model``).
    prior_good
        Its class prior ``P(good)`` (``TaskRun.class_balance_good``).
    weights
        Its ``label_model_lf_weights`` rows: ``lf_name`` and the six ``P(outcome | class)``
        columns (``p_good_vote_given_good``, ``p_good_vote_given_bad``, ...).

    Returns
    -------
    Scoring | None
        None for ``'majority'`` (and any model outside :data:`SUMMED_MODELS`).
    """
    if label_model not in SUMMED_MODELS:
        return None
    dtype = np.float32 if label_model == "snorkel" else np.float64
    log_lr = np.zeros((len(weights), len(OUTCOMES)), dtype=np.float64)
    for k, outcome in enumerate(OUTCOMES):
        if label_model == "snorkel" and outcome == "abstain":
            continue  # predict_proba skips abstentions
        given_good, given_bad = _PROBABILITY_COLUMNS[outcome]
        log_lr[:, k] = log_ratio(_values(weights[given_good]), _values(weights[given_bad]), dtype)
    prior = float(prior_good)
    prior_log_odds = float(log_ratio(np.array([prior]), np.array([1.0 - prior]), np.float64)[0])
    return Scoring(
        label_model=label_model,
        prior_good=prior,
        prior_log_odds=prior_log_odds,
        lf_names=tuple(str(name) for name in weights["lf_name"]),
        log_lr=log_lr,
    )


def log_ratio(numerator: np.ndarray, denominator: np.ndarray, dtype: type) -> np.ndarray:
    """Return ``log(numerator) - log(denominator)``, finite, as float64.

    Parameters
    ----------
    numerator, denominator
        Probabilities, same shape.
    dtype
        The float type the logs are taken in (``np.float32`` to match Snorkel).

    Returns
    -------
    np.ndarray
        The log ratio; each probability is floored at ``dtype``'s smallest normal number, and
        the ratio is 0 where either is NaN.
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    undefined = np.isnan(num) | np.isnan(den)
    ratio = _log(np.where(undefined, 1.0, num), dtype) - _log(np.where(undefined, 1.0, den), dtype)
    return np.asarray(np.where(undefined, 0.0, ratio), dtype=np.float64)


def _log(p: np.ndarray, dtype: type) -> np.ndarray:
    """``log(max(p, tiny))`` computed in ``dtype`` (``p`` cast to it), returned as float64."""
    q: np.ndarray = np.asarray(p).astype(dtype)
    return np.asarray(np.log(np.maximum(q, np.finfo(dtype).tiny)), dtype=np.float64)


def sigmoid(log_odds: np.ndarray) -> np.ndarray:
    """Return ``1 / (1 + exp(-x))`` without overflow (the form ``probabilistic_labels`` uses)."""
    x = np.asarray(log_odds, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.asarray(np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), dtype=np.float64)


def log_odds(scoring: Scoring, votes: np.ndarray) -> np.ndarray:
    """Return ``log P(good | votes) - log P(bad | votes)`` per pattern.

    Parameters
    ----------
    scoring
        The task's weights.
    votes
        ``[p, m]`` votes in {-1, 0, 1}, columns in ``scoring.lf_names`` order.

    Returns
    -------
    np.ndarray
        ``[p]`` log-odds: the prior's plus each LF's ratio for its outcome.
    """
    L = np.asarray(votes)
    if L.ndim != 2 or L.shape[1] != len(scoring.lf_names):
        raise ValueError(f"votes must be [p, {len(scoring.lf_names)}], got shape {L.shape}")
    total = np.full(L.shape[0], scoring.prior_log_odds, dtype=np.float64)
    for j in range(L.shape[1]):  # a column at a time: no [p, m] temporaries
        total += scoring.log_lr[j][L[:, j].astype(np.int64) + 1]
    return total


def p_good(scoring: Scoring, votes: np.ndarray) -> np.ndarray:
    """Return ``P(good | votes)`` per pattern: :func:`sigmoid` of :func:`log_odds`."""
    return sigmoid(log_odds(scoring, votes))


def weight_rows(
    run_id: str,
    label_task: str,
    label_model: str,
    lf_names: tuple[str, ...],
    scoring: Scoring | None,
) -> pd.DataFrame:
    """Return the ``label_model_scoring_weights`` rows of one fit: one per fitted LF (for
    majority, with NULL ratios: the rows say which LFs the majority counts)."""
    names = list(lf_names if scoring is None else scoring.lf_names)
    if not names:
        return _empty(SCORING_WEIGHTS_COLUMNS)
    frame = pd.DataFrame(
        {"run_id": run_id, "label_task": label_task, "label_model": label_model, "lf_name": names},
        columns=[name for name, _ in SCORING_WEIGHTS_COLUMNS[:4]],
    )
    for k, outcome in enumerate(OUTCOMES):
        frame[f"log_lr_{outcome}"] = np.nan if scoring is None else scoring.log_lr[:, k]
    return frame


def prior_row(
    run_id: str, label_task: str, label_model: str, scoring: Scoring | None
) -> dict[str, object]:
    """Return the ``label_model_priors`` row of one fit (NaN prior for majority: NULL)."""
    return {
        "run_id": run_id,
        "label_task": label_task,
        "label_model": label_model,
        "prior_good": math.nan if scoring is None else scoring.prior_good,
        "prior_log_odds": math.nan if scoring is None else scoring.prior_log_odds,
    }


def _values(column: pd.Series) -> np.ndarray:
    """A probability column as float64, NULL as NaN."""
    return np.asarray(pd.to_numeric(column, errors="coerce").astype("float64"), dtype=np.float64)


def _empty(columns: list[tuple[str, str]]) -> pd.DataFrame:
    kinds = {"VARCHAR": "object", "DOUBLE": "float64"}
    return pd.DataFrame({name: pd.Series(dtype=kinds[dtype]) for name, dtype in columns})
