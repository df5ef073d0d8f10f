"""Choosing a task's label model by its log-loss on the gold set, without fooling ourselves.

A gold set is a few hundred outputs a person labelled (``LabelJobConfig.golden_column``),
clean, unlike the explicit ratings (biased: who rates, and why), which never train or select
a model. With ``model='auto'`` the job fits every candidate of :func:`candidates`

* Snorkel's LabelModel at each of :data:`SNORKEL_EPOCHS` epochs (and ``n_epochs``), with the
  configured seed, learning rate and l2, and the class prior estimated from the gold set
  (``class_balance='golden'``: the Jeffreys estimate ``(n_good + 0.5) / (n_gold + 1)``, see
  :class:`~flywheel.label_job.config.LabelJobConfig`; ``'snorkel@200/golden-prior'``): one
  fit per prior up to the longest epoch count, the others snapshots along it, each exactly
  the model a user gets with ``--model snorkel --epochs N --class-balance golden``,
* Dawid-Skene with the gold outputs clamped at their label, its prior learned
  (``'dawid-skene'``) and fixed at the gold estimate (``'dawid-skene/golden-prior'``),
* the majority vote, and
* Snorkel with a configured prior (``'ratings'`` or a number) at each epoch count, when one is
  configured. The default ``'uniform'`` is not a candidate: with a gold set the prior is
  estimated, not assumed (see :func:`candidates`),

and keeps the one with the lowest mean gold log-loss (ties: the first in that order).

The comparison is honest. A model that never saw the gold labels (Snorkel with a uniform,
fixed or ratings prior, majority: their only inputs are the votes of every output, gold or
not, and a class balance that does not come from the gold set) is scored on the whole gold
set. A model that read them (Dawid-Skene, which clamps them; any model whose prior is the
gold estimate) is scored **out of fold**: the gold outputs are split into :data:`N_FOLDS`
folds (stratified by label, shuffled with the job's seed, so the folds and hence the choice
are deterministic), and each fold's outputs are scored by a fit that read only the other
folds' gold: clamped only those, and its prior estimated from those alone. Their votes stay
in every fit, as they do for every unlabelled output: only their labels are held out. The
selected model is then fitted once more on all the data and all the gold (only the selected
one: the others' fits on all the gold are never used), and the gold metrics the run records
(``golden_log_loss``, ``golden_accuracy``, ``golden_auc``) are those out-of-fold scores.

With no gold set, ``auto`` fits :data:`AUTO_DEFAULT_WITHOUT_GOLD` (nothing to select by).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

from flywheel import metrics
from flywheel.label_job.config import AUTO, GOLDEN, LabelJobConfig

AUTO_DEFAULT_WITHOUT_GOLD = "snorkel"
"""The model ``'auto'`` fits when a task has no gold set (with ``LabelJobConfig.n_epochs``):
without gold, Snorkel's label model had the best label AUC in five of the six simulated worlds
(Dawid-Skene in ``rare_good``, where its learned prior helps; ``benchmarks/bench_worlds.py``)."""

SNORKEL_EPOCHS = (50, 100, 200, 500, 1000)
"""Snorkel epoch counts ``'auto'`` tries (with ``LabelJobConfig.n_epochs`` added)."""

N_FOLDS = 5
"""Cross-validation folds over the gold outputs (fewer when there are fewer gold outputs)."""

LOG_LOSS_EPS = 1e-3
"""P(good) is clipped to ``[eps, 1 - eps]`` in the log-loss, so one confidently wrong gold
output costs at most ``-log(eps)`` = 6.9 nats. A gold set of a few hundred outputs cannot
tell 0.999 from 0.99999 anyway, and unclipped, one unanimous but wrong pattern (a majority
vote of exactly 0 or 1) would decide the selection alone."""

GOLDEN_PRIOR = "golden-prior"
"""Suffix of the candidates whose prior is the gold estimate."""

SELECTED_BY_CONFIG = "config"
SELECTED_BY_GOLD = "golden log-loss"
SELECTED_BY_DEFAULT = "default"


@dataclass(frozen=True)
class Candidate:
    """One label model with its settings: a model of ``LABEL_MODELS`` and Snorkel's epochs."""

    model: str
    n_epochs: int | None = None  # Snorkel only
    golden_prior: bool = False  # the prior is the gold estimate (Snorkel, Dawid-Skene)

    @property
    def name(self) -> str:
        """``'snorkel@500'``, ``'dawid-skene'``, ``'majority'``, ``'snorkel@500/golden-prior'``,
        ``'dawid-skene/golden-prior'``."""
        name = self.model if self.n_epochs is None else f"{self.model}@{self.n_epochs}"
        return f"{name}/{GOLDEN_PRIOR}" if self.golden_prior else name

    @property
    def trains_on_gold(self) -> bool:
        """Whether the fit reads the gold labels (and must be scored out of fold): it clamps
        them (Dawid-Skene) or estimates its prior from them."""
        return self.model == "dawid-skene" or self.golden_prior


@dataclass(frozen=True)
class Gold:
    """Per-pattern counts of gold outputs: ``[p]`` good and ``[p]`` bad."""

    good: np.ndarray
    bad: np.ndarray

    @property
    def n(self) -> int:
        return int(self.good.sum() + self.bad.sum())

    def without(self, held: Gold) -> Gold:
        return Gold(self.good - held.good, self.bad - held.bad)


@dataclass(frozen=True)
class GoldScore:
    """A model's labels against the gold set (out of fold when it trained on gold)."""

    n_golden: int
    log_loss: float
    accuracy: float | None
    auc: float | None
    out_of_fold: bool


class Fitted(Protocol):
    """What selection needs of a fit: P(good) per pattern."""

    @property
    def p_good(self) -> np.ndarray: ...


F = TypeVar("F", bound=Fitted)


@dataclass(frozen=True)
class Selection(Generic[F]):
    """The model fitted for a task, why, and how it (and the other candidates) did on gold."""

    candidate: Candidate
    fitted: F
    score: GoldScore | None  # None without a gold set
    selected_by: str  # SELECTED_BY_*
    candidate_losses: dict[str, float]  # gold log-loss per candidate name ('auto' with gold)

    def losses_json(self) -> str | None:
        """The candidates' gold log-losses as compact JSON (None when none were compared)."""
        if not self.candidate_losses:
            return None
        rounded = {name: round(loss, 6) for name, loss in self.candidate_losses.items()}
        return json.dumps(rounded, separators=(",", ":"))


def candidates(config: LabelJobConfig) -> list[Candidate]:
    """The models ``'auto'`` compares (with a gold set), in tie-breaking order.

    With a gold set the class prior is estimated, not assumed: Snorkel's candidates take the
    prior from the gold set (:func:`~flywheel.label_job.fit.golden_class_balance`), and a
    configured prior (``'ratings'`` or a number) is compared beside it; the default
    ``'uniform'`` is an assumption the gold set replaces (on the simulated worlds it left the
    prior up to 0.1 off where a uniform Snorkel won the log-loss by a hair). Dawid-Skene is
    tried with its learned prior and with the gold prior.
    """
    epochs = sorted({*SNORKEL_EPOCHS, config.n_epochs})
    configured_prior = config.class_balance not in ("uniform", GOLDEN)
    every = [
        *(Candidate("snorkel", e, golden_prior=True) for e in epochs),
        Candidate("dawid-skene"),
        Candidate("dawid-skene", golden_prior=True),
        Candidate("majority"),
        *(Candidate("snorkel", e, golden_prior=False) for e in epochs if configured_prior),
    ]
    return list(dict.fromkeys(every))


def configured(config: LabelJobConfig, model: str) -> Candidate:
    """The candidate of a model name with the configured settings."""
    return Candidate(
        model,
        config.n_epochs if model == "snorkel" else None,
        golden_prior=config.class_balance == GOLDEN and model in ("snorkel", "dawid-skene"),
    )


def choose(
    config: LabelJobConfig, fit: Callable[[Candidate, Gold | None], F], gold: Gold
) -> Selection[F]:
    """Fit the task's label model: ``config.model``, or for ``'auto'`` the best on gold.

    Parameters
    ----------
    config
        The job's settings (``model``, ``n_epochs``, ``seed``).
    fit
        Fits a candidate on the task's patterns given gold counts (None: no gold), which a
        candidate that trains on gold clamps and/or estimates its prior from (the others
        are always given None); deterministic.
    gold
        The task's gold counts per pattern (all zero: no gold set).

    Returns
    -------
    Selection
        The fitted model (on all the gold), its gold score and every candidate's loss.
    """
    if config.model != AUTO:
        candidate = configured(config, config.model)
        fitted, score = evaluate(candidate, fit, gold, config.seed)
        return Selection(candidate, fitted, score, SELECTED_BY_CONFIG, {})
    if gold.n == 0:
        candidate = configured(config, AUTO_DEFAULT_WITHOUT_GOLD)
        fitted, score = evaluate(candidate, fit, gold, config.seed)
        return Selection(candidate, fitted, score, SELECTED_BY_DEFAULT, {})
    best: tuple[Candidate, F | None, GoldScore] | None = None
    losses: dict[str, float] = {}
    for candidate in candidates(config):
        scoring_fit, candidate_score = _scored(candidate, fit, gold, config.seed)
        losses[candidate.name] = candidate_score.log_loss
        if best is None or candidate_score.log_loss < best[2].log_loss:
            best = (candidate, scoring_fit, candidate_score)
    assert best is not None
    chosen, chosen_fit, chosen_score = best
    if chosen_fit is None:  # trained on gold: its fit on all of it
        chosen_fit = fit(chosen, gold)
    return Selection(chosen, chosen_fit, chosen_score, SELECTED_BY_GOLD, losses)


def evaluate(
    candidate: Candidate, fit: Callable[[Candidate, Gold | None], F], gold: Gold, seed: int
) -> tuple[F, GoldScore | None]:
    """Fit a candidate on everything; score it on gold, out of fold if it trains on gold."""
    if gold.n == 0:
        return fit(candidate, None), None
    fitted, score = _scored(candidate, fit, gold, seed)
    return (fit(candidate, gold) if fitted is None else fitted), score


def _scored(
    candidate: Candidate, fit: Callable[[Candidate, Gold | None], F], gold: Gold, seed: int
) -> tuple[F | None, GoldScore]:
    """A candidate's gold score, with its fit on everything when scoring made it (a model
    that never reads gold; None for one scored out of fold, whose final fit is not made)."""
    if not candidate.trains_on_gold:
        fitted = fit(candidate, None)
        p, y, w = _cells([(fitted.p_good, gold)])
        return fitted, _score(p, y, w, out_of_fold=False)
    held_out = [(fit(candidate, gold.without(held)).p_good, held) for held in folds(gold, seed)]
    p, y, w = _cells(held_out)
    return None, _score(p, y, w, out_of_fold=True)


def folds(gold: Gold, seed: int, n_folds: int = N_FOLDS) -> list[Gold]:
    """Split the gold outputs into ``min(n_folds, n)`` folds, stratified by label.

    Outputs of a pattern are interchangeable (same votes), so an output is its pattern's
    index. Good then bad outputs, each class shuffled by ``seed``, are dealt to the folds in
    turn: every fold gets ``n / k`` outputs of each class, rounded, whatever the input order
    of equal inputs.

    Returns
    -------
    list[Gold]
        Per fold, its held-out gold counts per pattern; they sum to ``gold``.
    """
    k = min(n_folds, gold.n)
    rng = np.random.default_rng(seed)
    p = len(gold.good)
    good = rng.permutation(np.repeat(np.arange(p), gold.good.astype(np.int64)))
    bad = rng.permutation(np.repeat(np.arange(p), gold.bad.astype(np.int64)))
    fold_of = np.arange(len(good) + len(bad)) % k
    fold_good, fold_bad = fold_of[: len(good)], fold_of[len(good) :]
    return [
        Gold(
            np.bincount(good[fold_good == f], minlength=p).astype(np.float64),
            np.bincount(bad[fold_bad == f], minlength=p).astype(np.float64),
        )
        for f in range(k)
    ]


def log_loss(p_good: np.ndarray, is_good: np.ndarray, weight: np.ndarray) -> float:
    """Weighted mean negative log-likelihood of the truth, P(good) clipped by
    :data:`LOG_LOSS_EPS` (NaN P(good), no label, counts as 0.5); NaN without weight."""
    p = np.clip(np.where(np.isnan(p_good), metrics.TIE, p_good), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    y = np.asarray(is_good, dtype=bool)
    total = math.fsum(weight)
    if total == 0:
        return math.nan
    return -math.fsum(weight * np.where(y, np.log(p), np.log1p(-p))) / total


def _cells(scored: list[tuple[np.ndarray, Gold]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(good), truth and weight per (fit, pattern, label) cell with gold outputs."""
    p, y, w = [], [], []
    for p_good, gold in scored:
        for label, counts in ((True, gold.good), (False, gold.bad)):
            keep = counts > 0
            p.append(np.asarray(p_good, dtype=np.float64)[keep])
            y.append(np.full(int(keep.sum()), label))
            w.append(counts[keep])
    return np.concatenate(p), np.concatenate(y), np.concatenate(w)


def _score(p: np.ndarray, y: np.ndarray, w: np.ndarray, *, out_of_fold: bool) -> GoldScore:
    accuracy = metrics.accuracy(p, y, sample_weight=w)
    auc = metrics.auc(p, y, sample_weight=w)
    return GoldScore(
        n_golden=int(w.sum()),
        log_loss=log_loss(p, y, w),
        accuracy=None if math.isnan(accuracy) else accuracy,
        auc=None if math.isnan(auc) else auc,
        out_of_fold=out_of_fold,
    )
