"""Dawid-Skene EM for binary labels, fitted exactly from distinct vote patterns and counts.

The model (Dawid & Skene, 1979) has a latent class ``Y`` in {bad, good} with prior
``P(Y = good)`` and, for every labeling function (LF) ``j``, a confusion table
``P(outcome_j | Y)`` over its three outcomes: abstain, vote bad, vote good. LFs are
independent given ``Y``. EM alternates

* an E-step: ``P(Y | votes)`` for every distinct pattern (all outputs sharing a pattern share
  the posterior), and
* an M-step: prior and confusion tables from the *count-weighted* posteriors.

Every sum of the M-step and of the log-likelihood is over outputs, and the outputs of a
pattern contribute identical terms, so weighting each pattern by its count gives the same
iterates as EM on the expanded ``[n, m]`` matrix, up to floating-point summation order
(``tests/unit/test_dawid_skene.py`` checks ~1e-12 on 20,000 rows).

Abstaining is modelled as an outcome of its own, not excluded. flywheel's LFs have one
polarity each (``lf_code_reverted`` only ever votes bad): what such an LF says is *whether it
fires*, and the information is in ``P(fires | good)`` against ``P(fires | bad)``. Excluding
abstentions (confusion over the votes cast, coverage apart and the same for both classes)
would give a one-polarity LF the same "vote bad" rate, 1, under both classes: no information
at all. With abstain as an outcome the model also learns when an LF's coverage depends on
the class, and its tables are those Snorkel reports (``P(abstain | class)``).

``smoothing`` adds pseudo-counts to every cell of every confusion table and to the prior
(a symmetric Dirichlet MAP estimate), so no learned probability or accuracy is exactly 0 or
1: an LF that was never seen to err is not declared infallible. EM then climbs the penalised
log-likelihood (``objective``), which is non-decreasing from iteration to iteration; with
``smoothing=0`` it is the log-likelihood itself.

The prior can also be *fixed* (``prior_good``): the M-step then updates the confusion tables
only. EM is still EM (the M-step maximises the expected penalised log-likelihood over the
parameters that are free), so the objective stays non-decreasing; it has no pseudo-counts for
the prior, which is not estimated. This is how a prior estimated elsewhere (from a uniform
gold sample: ``class_balance='golden'`` of the label job) replaces the learned one, which LFs
that are not conditionally independent given the class bias.

Optional gold labels (per-pattern counts of outputs known good or bad) are clamped: those
outputs' posteriors are fixed at their label in every M-step and they enter the likelihood
with their class known. The returned ``p_good`` is still the posterior given the votes alone,
since it labels every output of the pattern.

The likelihood has a mode per way the LFs can be "mostly right", and EM climbs to the one its
start leads to. The default start is the majority vote; when LFs that point the wrong way
hold most of the votes, that start leads to the mode in which they are right. With gold
labels EM is also run from the estimates of the gold outputs alone, and the run with the
higher penalised log-likelihood (gold terms included) is kept: on a synthetic task where two
wrong-way LFs cast most votes, 200 gold outputs among 6,000 then recover every LF's side
(the majority start alone keeps them flipped).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from flywheel.errors import FlywheelError

DEFAULT_SMOOTHING = 1.0
"""Pseudo-counts added to every confusion-table cell and to each class of the prior."""

DEFAULT_TOL = 1e-8
"""EM stops when no parameter (prior, confusion cell) moves by more than this."""

DEFAULT_MAX_ITER = 1000
"""EM stops after this many iterations even if it has not converged."""

N_OUTCOMES = 3
"""Outcomes of an LF: 0 abstain, 1 vote bad (0), 2 vote good (1): the vote plus one."""


@dataclass(frozen=True)
class DawidSkeneFit:
    """A fitted Dawid-Skene model and the trace of its EM.

    Attributes
    ----------
    p_good
        ``[p]`` posterior ``P(Y = good | votes)`` per pattern, at the final parameters.
    prior_good
        Learned ``P(Y = good)``, or the fixed one if it was given.
    confusion
        ``[m, 3, 2]`` ``P(outcome | Y)``: ``confusion[j, k, y]`` for outcome ``k`` (0 abstain,
        1 vote bad, 2 vote good) of LF ``j`` given class ``y`` (0 bad, 1 good): the layout
        of Snorkel's ``LabelModel.get_conditional_probs``. Each ``[j, :, y]`` sums to 1.
    coverage
        ``[m]`` share of outputs (count-weighted) on which each LF voted.
    log_likelihood
        Log-likelihood of the data (votes, and gold labels if given) at the parameters of
        every iteration, the initial M-step's first and the final parameters' last.
    objective
        The penalised log-likelihood EM maximises at the same parameters (log-likelihood
        plus the smoothing pseudo-counts' log-prior, the class prior's only when it is
        learned): non-decreasing.
    n_iter
        EM iterations (E-step then M-step) after the initial M-step.
    converged
        Whether the parameters moved by at most ``tol`` in the last iteration.
    n_rows
        Outputs fitted on (the sum of the counts).
    """

    p_good: np.ndarray
    prior_good: float
    confusion: np.ndarray
    coverage: np.ndarray
    log_likelihood: np.ndarray
    objective: np.ndarray
    n_iter: int
    converged: bool
    n_rows: int

    def learned_accuracy(self) -> np.ndarray:
        """Return each LF's ``P(vote = Y | it voted)`` under the model.

        Returns
        -------
        np.ndarray
            ``[m]`` accuracies, ``sum_y P(vote y | y) P(y) / sum_y P(voted | y) P(y)``;
            strictly inside (0, 1) when ``smoothing > 0``.
        """
        prior = np.array([1.0 - self.prior_good, self.prior_good])
        correct = self.confusion[:, 1, 0] * prior[0] + self.confusion[:, 2, 1] * prior[1]
        voted = (1.0 - self.confusion[:, 0, :]) @ prior
        return np.asarray(correct / voted, dtype=np.float64)

    def mean_negative_log_likelihood(self) -> float:
        """Return the final negative log-likelihood per output (a training loss).

        Returns
        -------
        float
            ``-log_likelihood[-1] / n_rows``.
        """
        return float(-self.log_likelihood[-1] / self.n_rows)


def majority_p_good(patterns: np.ndarray) -> np.ndarray:
    """Return the majority vote of each pattern as a probability.

    Parameters
    ----------
    patterns
        ``[p, m]`` votes in {-1 (abstain), 0 (bad), 1 (good)}.

    Returns
    -------
    np.ndarray
        ``[p]`` share of the non-abstaining votes that are good; 0.5 where no LF voted.
        Thresholded at 0.5, a tie and a pattern without votes are both a coin flip.
    """
    L = _check_votes(patterns)
    good = np.zeros(L.shape[0], dtype=np.float64)
    voted = np.zeros(L.shape[0], dtype=np.float64)
    for j in range(L.shape[1]):  # a column at a time: no [p, m] temporaries
        good += L[:, j] == 1
        voted += L[:, j] != -1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(voted > 0, good / voted, 0.5)


def predict_p_good(patterns: np.ndarray, prior_good: float, confusion: np.ndarray) -> np.ndarray:
    """Return ``P(Y = good | votes)`` for each pattern under given parameters.

    Parameters
    ----------
    patterns
        ``[p, m]`` votes in {-1, 0, 1}.
    prior_good
        ``P(Y = good)`` in (0, 1).
    confusion
        ``[m, 3, 2]`` ``P(outcome | Y)`` as in :class:`DawidSkeneFit`, all positive.

    Returns
    -------
    np.ndarray
        ``[p]`` posteriors.
    """
    L = _check_votes(patterns)
    joint = _log_joint(L + 1, np.log([1.0 - prior_good, prior_good]), np.log(confusion))
    return _posterior_good(joint)


def fit_dawid_skene(
    patterns: np.ndarray,
    counts: np.ndarray,
    *,
    gold_good: np.ndarray | None = None,
    gold_bad: np.ndarray | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    gold_start: bool = True,
    prior_good: float | None = None,
) -> DawidSkeneFit:
    """Fit Dawid-Skene by EM on distinct vote patterns weighted by their counts.

    Parameters
    ----------
    patterns
        ``[p, m]`` integer votes in {-1 (abstain), 0 (bad), 1 (good)}. Rows need not be
        unique: duplicates add their counts.
    counts
        ``[p]`` positive integers: outputs per pattern.
    gold_good, gold_bad
        Optional ``[p]`` non-negative integers: outputs of each pattern known to be good /
        bad (at most ``counts`` together). Clamped: their class is fixed at its label.
    smoothing
        Pseudo-counts (>= 0) added to every confusion cell and (unless it is fixed) each
        class of the prior.
    tol
        Stop when no parameter changes by more than this in an iteration.
    max_iter
        Most EM iterations.
    gold_start
        With gold labels, also run EM from the gold outputs' estimates (see the module
        notes) and keep the run with the higher final objective. False: the majority start
        only. Without gold labels there is one start.
    prior_good
        A fixed ``P(Y = good)`` in (0, 1): EM learns the confusion tables only and the prior
        stays exactly this (no pseudo-counts for it). None: the prior is learned.

    Returns
    -------
    DawidSkeneFit
        Posteriors, prior, confusion tables and the EM trace.

    Raises
    ------
    FlywheelError
        Malformed inputs or settings.

    Notes
    -----
    Deterministic: EM starts with an M-step from the majority vote (:func:`majority_p_good`,
    gold outputs at their label), which also picks the mode in which the LFs are better than
    chance (the model is symmetric under swapping the classes). With gold labels and
    ``gold_start``, a second run starts with an M-step from the gold outputs alone; the
    majority run is kept unless the gold run's final objective is strictly higher.
    """
    L, w = _check_patterns(patterns, counts)
    gg, gb = _check_gold(gold_good, gold_bad, w)
    _check_settings(smoothing, tol, max_iter)
    fixed = _check_prior(prior_good)
    outcome = (L + 1).astype(np.int8)
    unlabeled = w - gg - gb
    start = _m_step(outcome, majority_p_good(L), unlabeled, gg, gb, smoothing, fixed)
    fit = _em(L, outcome, w, start, (unlabeled, gg, gb), smoothing, tol, max_iter, fixed)
    if gold_start and (gg.sum() + gb.sum()) > 0:
        # At least one pseudo-count in this first M-step only: with smoothing=0, a cell no
        # gold output fills would be log 0 and every posterior NaN.
        nobody = np.zeros_like(w)
        from_gold = _m_step(
            outcome, nobody, nobody, gg, gb, max(smoothing, DEFAULT_SMOOTHING), fixed
        )
        other = _em(L, outcome, w, from_gold, (unlabeled, gg, gb), smoothing, tol, max_iter, fixed)
        if other.objective[-1] > fit.objective[-1]:
            fit = other
    if prior_good is not None:  # exactly the value given, not exp(log(p))
        fit = replace(fit, prior_good=float(prior_good))
    return fit


def _em(
    L: np.ndarray,
    outcome: np.ndarray,
    w: np.ndarray,
    start: tuple[np.ndarray, np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    smoothing: float,
    tol: float,
    max_iter: int,
    fixed_prior: np.ndarray | None,
) -> DawidSkeneFit:
    """EM from the parameters of a first M-step; ``weights``: unlabeled, gold good, gold bad;
    ``fixed_prior``: the log prior ``[2]`` kept fixed (None: learned)."""
    unlabeled, gg, gb = weights
    log_prior, log_conf = start
    lls: list[float] = []
    objectives: list[float] = []
    converged, n_iter = False, 0
    while True:
        joint = _log_joint(outcome, log_prior, log_conf)
        ll = _log_likelihood(joint, unlabeled, gg, gb)
        lls.append(ll)
        # A fixed prior is not estimated: no pseudo-counts (a constant) in its objective.
        prior_penalty = 0.0 if fixed_prior is not None else float(log_prior.sum())
        penalty = smoothing * (float(log_conf.sum()) + prior_penalty) if smoothing > 0 else 0.0
        objectives.append(ll + penalty)
        if converged or n_iter == max_iter:
            break
        q_good = _posterior_good(joint)
        new_prior, new_conf = _m_step(outcome, q_good, unlabeled, gg, gb, smoothing, fixed_prior)
        change = max(
            float(np.abs(np.exp(new_prior) - np.exp(log_prior)).max()),
            float(np.abs(np.exp(new_conf) - np.exp(log_conf)).max()),
        )
        log_prior, log_conf = new_prior, new_conf
        n_iter += 1
        converged = change <= tol
    voted = np.array([w[L[:, j] != -1].sum() for j in range(L.shape[1])], dtype=np.float64)
    return DawidSkeneFit(
        p_good=_posterior_good(joint),
        prior_good=float(np.exp(log_prior[1])),
        confusion=np.exp(log_conf),
        coverage=voted / w.sum(),
        log_likelihood=np.array(lls),
        objective=np.array(objectives),
        n_iter=n_iter,
        converged=converged,
        n_rows=int(w.sum()),
    )


# --- the two steps ---------------------------------------------------------------------


def _log_joint(outcome: np.ndarray, log_prior: np.ndarray, log_conf: np.ndarray) -> np.ndarray:
    """``[p, 2]`` ``log P(votes, Y = y)`` per pattern, one LF column at a time."""
    joint = np.tile(log_prior, (outcome.shape[0], 1))
    for j in range(outcome.shape[1]):
        joint += log_conf[j][outcome[:, j]]  # [3, 2] rows picked by the outcomes: [p, 2]
    return joint


def _posterior_good(joint: np.ndarray) -> np.ndarray:
    """``P(Y = good | votes)`` from ``log P(votes, Y)``, without overflow."""
    return np.asarray(1.0 / (1.0 + np.exp(joint[:, 0] - joint[:, 1])), dtype=np.float64)


def _log_likelihood(
    joint: np.ndarray, unlabeled: np.ndarray, gold_good: np.ndarray, gold_bad: np.ndarray
) -> float:
    """Count-weighted log-likelihood: votes only for unlabeled outputs, votes and class for
    gold ones."""
    log_votes = np.logaddexp(joint[:, 0], joint[:, 1])
    return _dot(unlabeled, log_votes) + _dot(gold_good, joint[:, 1]) + _dot(gold_bad, joint[:, 0])


def _dot(weights: np.ndarray, values: np.ndarray) -> float:
    """``weights @ values`` where a zero weight drops its term (even a ``-inf`` one)."""
    return float(np.where(weights > 0, weights * np.where(weights > 0, values, 0.0), 0.0).sum())


def _m_step(
    outcome: np.ndarray,
    q_good: np.ndarray,
    unlabeled: np.ndarray,
    gold_good: np.ndarray,
    gold_bad: np.ndarray,
    smoothing: float,
    fixed_prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Log prior ``[2]`` and log confusion ``[m, 3, 2]`` from count-weighted posteriors;
    the log prior is ``fixed_prior`` when given (only the confusion tables are updated)."""
    weight = np.column_stack(
        [gold_bad + unlabeled * (1.0 - q_good), gold_good + unlabeled * q_good]
    )
    if fixed_prior is not None:
        log_prior = fixed_prior
    else:
        total = weight.sum(axis=0)
        log_prior = np.log((total + smoothing) / (total.sum() + 2.0 * smoothing))
    m = outcome.shape[1]
    cells = np.empty((m, N_OUTCOMES, 2))
    for j in range(m):
        for y in (0, 1):
            cells[j, :, y] = np.bincount(outcome[:, j], weights=weight[:, y], minlength=N_OUTCOMES)
    cells += smoothing
    with np.errstate(divide="ignore", invalid="ignore"):  # smoothing=0: empty cells are -inf
        return log_prior, np.log(cells / cells.sum(axis=1, keepdims=True))


# --- input checks ----------------------------------------------------------------------


def _check_votes(patterns: np.ndarray) -> np.ndarray:
    """Votes as int8 ``[p, m]``, checked to be integers in {-1, 0, 1}."""
    L = np.asarray(patterns)
    if L.ndim != 2:
        raise FlywheelError(f"vote patterns must be a 2-D matrix, got shape {L.shape}")
    if L.size and not np.issubdtype(L.dtype, np.integer) and not np.all(np.mod(L, 1) == 0):
        raise FlywheelError("vote patterns must be integers")
    if L.size and (L.min() < -1 or L.max() > 1):
        raise FlywheelError(f"LF votes must be in {{-1, 0, 1}}, found {L.min()}..{L.max()}")
    return L.astype(np.int8, copy=False)


def _check_patterns(patterns: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Votes (int8) and counts (float64 of positive integers), with matching shapes."""
    L = _check_votes(patterns)
    w = np.asarray(counts)
    if w.shape != (L.shape[0],):
        raise FlywheelError(
            f"counts must have one entry per pattern ({L.shape[0]}), got shape {w.shape}"
        )
    if L.shape[0] == 0 or L.shape[1] == 0:
        raise FlywheelError(f"no vote patterns or no LFs to fit on (shape {L.shape})")
    if not np.all(np.mod(w, 1) == 0) or w.min() <= 0:
        raise FlywheelError("pattern counts must be positive integers")
    return L, w.astype(np.float64)


def _check_gold(
    gold_good: np.ndarray | None, gold_bad: np.ndarray | None, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gold counts as float64 ``[p]`` (zeros when not given), at most the pattern counts."""
    out = []
    for name, gold in (("gold_good", gold_good), ("gold_bad", gold_bad)):
        g = np.zeros_like(counts) if gold is None else np.asarray(gold)
        if g.shape != counts.shape:
            raise FlywheelError(f"{name} must have one entry per pattern, got shape {g.shape}")
        if not np.all(np.mod(g, 1) == 0) or (g.size and g.min() < 0):
            raise FlywheelError(f"{name} must be non-negative integers")
        out.append(g.astype(np.float64))
    if np.any(out[0] + out[1] > counts):
        raise FlywheelError("a pattern has more gold labels than outputs")
    return out[0], out[1]


def _check_prior(prior_good: float | None) -> np.ndarray | None:
    """The fixed log prior ``[log P(bad), log P(good)]``, or None when it is learned."""
    if prior_good is None:
        return None
    if isinstance(prior_good, bool) or not (np.isfinite(prior_good) and 0 < prior_good < 1):
        raise FlywheelError(f"prior_good must be a number in (0, 1), got {prior_good!r}")
    return np.log(np.array([1.0 - prior_good, prior_good], dtype=np.float64))


def _check_settings(smoothing: float, tol: float, max_iter: int) -> None:
    if not (np.isfinite(smoothing) and smoothing >= 0):
        raise FlywheelError(f"smoothing must be a non-negative number, got {smoothing}")
    if not (np.isfinite(tol) and tol >= 0):
        raise FlywheelError(f"tol must be a non-negative number, got {tol}")
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 0:
        raise FlywheelError(f"max_iter must be a non-negative integer, got {max_iter}")
