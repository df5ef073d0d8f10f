"""Fitting one task's label model on its vote patterns, and what the fit says."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import snorkel
import torch

from flywheel import __version__ as FLYWHEEL_VERSION
from flywheel import dawid_skene, metrics
from flywheel.errors import FlywheelError
from flywheel.label_job import select
from flywheel.label_job.config import AUTO, GOLDEN, LabelJobConfig
from flywheel.label_job.select import Candidate, Gold
from flywheel.label_job.votes import Task
from flywheel.labelmodel import PatternLabelModel


@dataclass(frozen=True)
class TaskRun:
    """What the job did for one task; the fields mirror the ``label_model_runs`` table.

    ``lf_columns`` is a tuple here and comma-separated in the table. The ``*_vs_ratings``
    metrics score the labels (and the majority vote) against the explicit ratings, thresholded
    at 0.5 with a tie counting half; they are None when no output of the task was rated (AUC
    also when the ratings are all of one class).

    ``label_model`` is the model fitted: ``LabelJobConfig.model``, or the one ``'auto'``
    chose (``model_selected_by``: ``'config'``, ``'golden log-loss'`` or ``'default'``, the
    latter when ``'auto'`` had no gold set; see :mod:`flywheel.label_job.select`). The
    ``golden_*`` metrics score the labels against the gold set, out of fold for a model that
    trained on it (Dawid-Skene, a prior from the gold set), and are None without gold
    outputs; ``golden_candidate_losses`` is the JSON ``{candidate: gold log-loss}`` of an
    ``'auto'`` selection (else None). ``lf_columns`` are the LFs fitted; ``excluded_lfs``
    (comma-separated, as in the table) the task's LFs left out of the fit. The Snorkel
    settings (``lr``, ``l2``) are NaN (NULL in the table) for the other models; ``n_epochs``
    is the number of EM iterations for ``'dawid-skene'`` and 0 for ``'majority'``;
    ``train_loss`` is the mean negative log-likelihood per output for ``'dawid-skene'`` and
    NaN for ``'majority'``, which also has no class balance (NaN, source ``'none'``). The
    class balance source is ``'uniform'``, ``'ratings'``, ``'fixed'``, ``'golden'`` (the
    gold estimate, :func:`golden_class_balance`) or, for Dawid-Skene, ``'learned'``.
    """

    run_id: str
    label_task: str
    fitted_at: datetime
    votes_table: str
    n_rows: int
    n_patterns: int
    n_lfs: int
    lf_columns: tuple[str, ...]
    class_balance_good: float
    class_balance_source: str
    seed: int
    n_epochs: int
    lr: float
    l2: float
    train_loss: float
    n_rated: int
    accuracy_vs_ratings: float | None
    auc_vs_ratings: float | None
    majority_accuracy_vs_ratings: float | None
    snorkel_version: str
    torch_version: str
    numpy_version: str
    duckdb_version: str
    flywheel_version: str
    label_model: str
    n_golden: int
    golden_log_loss: float | None
    golden_accuracy: float | None
    golden_auc: float | None
    model_selected_by: str
    golden_candidate_losses: str | None
    excluded_lfs: str


@dataclass(frozen=True)
class TaskResult:
    run: TaskRun
    weights: pd.DataFrame
    patterns: pd.DataFrame


def class_balance(config: LabelJobConfig, task: str, n_good: int, n_bad: int) -> tuple[float, str]:
    """Return ``(P(good), source)`` for a task from the configuration or its ``n_good`` /
    ``n_bad`` ratings (``'golden'``: :func:`golden_class_balance`, from the gold set)."""
    cb = config.class_balance
    assert cb != GOLDEN, "the gold prior is the candidate's (Candidate.golden_prior)"
    if cb == "uniform":
        return 0.5, "uniform"
    if cb == "ratings":
        if n_good == 0 or n_bad == 0:
            raise FlywheelError(
                f"class balance 'ratings' needs both good and bad ratings, task {task!r} has "
                f"{n_good} good and {n_bad} bad: use 'uniform' or a number in (0, 1)"
            )
        return n_good / (n_good + n_bad), "ratings"
    return float(cb), "fixed"


def golden_class_balance(gold: Gold) -> float:
    """P(good) estimated from gold counts: ``(n_good + 0.5) / (n_gold + 1)``.

    The mean of the Jeffreys posterior Beta(n_good + 1/2, n_bad + 1/2): strictly inside
    (0, 1) (0.5 without gold), within ``0.5 / (n_gold + 1)`` of the share of good. The gold
    set is a uniform sample of the task's outputs, so it estimates the prior directly.
    """
    return (float(gold.good.sum()) + 0.5) / (gold.n + 1.0)


def _vs_ratings(
    metric: Callable[..., float], p_good: np.ndarray, n_good: np.ndarray, n_bad: np.ndarray
) -> float | None:
    """A :mod:`flywheel.metrics` metric of per-pattern P(good) against the ratings.

    Each pattern counts once as good with weight ``n_good`` (its outputs rated good) and once
    as bad with weight ``n_bad``: the same as scoring every rated output. None when the
    metric is undefined (no rated output; for AUC, ratings of one class only).
    """
    p = np.concatenate([p_good, p_good])
    y = np.concatenate([np.ones(len(p_good), bool), np.zeros(len(p_good), bool)])
    value = metric(p, y, sample_weight=np.concatenate([n_good, n_bad]))
    return None if math.isnan(value) else float(value)


def fit_task(
    config: LabelJobConfig,
    run_id: str,
    task: Task,
    data: dict[str, np.ndarray],
    lf_columns: list[str],
    votes_name: str,
) -> TaskResult:
    """Fit one task's label model on its vote patterns; its run, LF weights and patterns.

    Raises
    ------
    FlywheelError
        Too few rows, every vote abstaining, or a diverged fit.
    """
    counts = np.asarray(data["n_outputs"], dtype=np.int64)
    n_rows = int(counts.sum())
    if n_rows < config.min_rows:
        raise FlywheelError(
            f"task {task.name!r} has {n_rows} rows in {votes_name}, fewer than min_rows="
            f"{config.min_rows}: collect more data, lower --min-rows or leave the task out"
        )
    # int8: with hundreds of thousands of distinct patterns, [p, m] copies add up.
    all_votes = np.column_stack([np.asarray(data[c], dtype=np.int8) for c in lf_columns])
    task_votes = all_votes[:, [lf_columns.index(c) for c in task.lf_columns]]
    if np.all(task_votes == -1):
        raise FlywheelError(
            f"every {task.lf_source} LF abstains on every row of task {task.name!r}: "
            "check the LF definitions and the task column"
        )
    rated_good = np.asarray(data["n_rated_good"], dtype=np.float64)
    rated_bad = np.asarray(data["n_rated_bad"], dtype=np.float64)
    gold = Gold(
        np.asarray(data["n_golden_good"], dtype=np.float64),
        np.asarray(data["n_golden_bad"], dtype=np.float64),
    )
    if config.class_balance == GOLDEN and gold.n == 0:
        raise FlywheelError(
            f"class balance 'golden' needs gold outputs, task {task.name!r} has none"
            + ("" if config.golden_column is None else f" in {config.golden_column}")
            + ": label a uniform sample of its outputs or use --class-balance uniform"
        )
    runs = _SnorkelRuns(config, task, task_votes, counts)

    def fit_candidate(candidate: Candidate, clamped: Gold | None) -> _Fit:
        rated = (rated_good, rated_bad)
        return _fit(config, run_id, task, task_votes, counts, rated, candidate, clamped, runs)

    chosen = select.choose(config, fit_candidate, gold)
    fitted, score = chosen.fitted, chosen.score
    p_good = fitted.p_good
    p_majority = np.asarray(data["p_good_majority"], dtype=np.float64)  # NaN: no LF voted
    run = TaskRun(
        run_id=run_id,
        label_task=task.name,
        fitted_at=datetime.now(UTC).replace(tzinfo=None),
        votes_table=votes_name,
        n_rows=n_rows,
        n_patterns=int(len(counts)),
        n_lfs=len(task.lf_columns),
        lf_columns=task.lf_columns,
        class_balance_good=fitted.class_balance[0],
        class_balance_source=fitted.class_balance[1],
        seed=config.seed,
        n_epochs=fitted.n_epochs,
        lr=fitted.lr,
        l2=fitted.l2,
        train_loss=fitted.train_loss,
        n_rated=int(rated_good.sum() + rated_bad.sum()),
        accuracy_vs_ratings=_vs_ratings(metrics.accuracy, p_good, rated_good, rated_bad),
        auc_vs_ratings=_vs_ratings(metrics.auc, p_good, rated_good, rated_bad),
        majority_accuracy_vs_ratings=None
        if config.majority_column is None
        else _vs_ratings(metrics.accuracy, p_majority, rated_good, rated_bad),
        snorkel_version=snorkel.__version__,
        torch_version=torch.__version__,
        numpy_version=np.__version__,
        duckdb_version=duckdb.__version__,
        flywheel_version=FLYWHEEL_VERSION,
        label_model=chosen.candidate.model,
        n_golden=gold.n,
        golden_log_loss=None if score is None else score.log_loss,
        golden_accuracy=None if score is None else score.accuracy,
        golden_auc=None if score is None else score.auc,
        model_selected_by=chosen.selected_by,
        golden_candidate_losses=chosen.losses_json(),
        excluded_lfs=",".join(task.excluded_lfs),
    )
    patterns = pd.DataFrame({"run_id": run_id, "label_task": task.name}, index=range(len(counts)))
    for j, col in enumerate(lf_columns):
        patterns[col] = all_votes[:, j].astype(np.int32)
    patterns["n_outputs"] = counts
    patterns["p_good"] = p_good.astype(np.float64)
    return TaskResult(run=run, weights=fitted.weights, patterns=patterns)


@dataclass(frozen=True)
class _Fit:
    """What one model's fit of a task contributes to its run, LF weights and patterns."""

    p_good: np.ndarray
    class_balance: tuple[float, str]
    n_epochs: int
    lr: float
    l2: float
    train_loss: float
    weights: pd.DataFrame


def _fit(
    config: LabelJobConfig,
    run_id: str,
    task: Task,
    votes: np.ndarray,
    counts: np.ndarray,
    rated: tuple[np.ndarray, np.ndarray],
    candidate: Candidate,
    gold: Gold | None,
    runs: _SnorkelRuns,
) -> _Fit:
    """Fit a candidate on the task's patterns: Snorkel, Dawid-Skene or majority vote.

    Dawid-Skene clamps the ``gold`` counts (None: no gold); a candidate with the gold prior
    takes its prior from them (:func:`golden_class_balance`, fixed for Dawid-Skene); the
    others never read them.
    """
    golden_prior = None
    if candidate.golden_prior:
        assert gold is not None, "a gold-prior candidate is only fitted with gold"
        golden_prior = golden_class_balance(gold)
    if candidate.model == "dawid-skene":
        ds = dawid_skene.fit_dawid_skene(
            votes,
            counts,
            gold_good=None if gold is None else gold.good,
            gold_bad=None if gold is None else gold.bad,
            prior_good=golden_prior,
        )
        weights = _weights_frame(run_id, task, ds.coverage, ds.learned_accuracy(), ds.confusion)
        return _Fit(
            p_good=ds.p_good,
            class_balance=(ds.prior_good, "learned" if golden_prior is None else GOLDEN),
            n_epochs=ds.n_iter,
            lr=math.nan,
            l2=math.nan,
            train_loss=ds.mean_negative_log_likelihood(),
            weights=weights,
        )
    if candidate.model == "majority":
        m = votes.shape[1]
        coverage = np.array([counts[votes[:, j] != -1].sum() for j in range(m)]) / counts.sum()
        nan_probs = np.full((m, dawid_skene.N_OUTCOMES, 2), np.nan)
        return _Fit(
            p_good=dawid_skene.majority_p_good(votes),
            class_balance=(math.nan, "none"),
            n_epochs=0,
            lr=math.nan,
            l2=math.nan,
            train_loss=math.nan,
            weights=_weights_frame(run_id, task, coverage, np.full(m, np.nan), nan_probs),
        )
    assert candidate.n_epochs is not None  # a Snorkel candidate
    prior = (
        class_balance(config, task.name, int(rated[0].sum()), int(rated[1].sum()))
        if golden_prior is None
        else (golden_prior, GOLDEN)
    )
    model = runs.model(prior[0], candidate.n_epochs)
    return _Fit(
        p_good=model.predict_proba_patterns(votes)[:, 1],
        class_balance=prior,
        n_epochs=candidate.n_epochs,
        lr=config.lr,
        l2=config.l2,
        train_loss=model.final_loss(),
        weights=_weights(run_id, task, model),
    )


class _SnorkelRuns:
    """A task's Snorkel fits at every epoch count from ONE training run per prior.

    Snorkel trains with a constant learning rate (the job sets no scheduler, no warmup), so
    its parameters after ``e`` epochs of a longer run are those of a run of ``e`` epochs with
    the same seed: a run to the largest epoch count keeps its parameters after each smaller
    one, and the fit at ``e`` is that snapshot after the post-processing ``LabelModel.fit``
    applies at its end (clamping, symmetry breaking). ``'auto'`` asks for every epoch count
    of :func:`~flywheel.label_job.select.candidates` with the same prior, and once more per
    gold fold with the fold's gold prior: one run each instead of one per epoch count.
    ``tests/unit/test_label_job_golden_prior.py`` checks the snapshots equal direct fits
    exactly.
    """

    def __init__(
        self, config: LabelJobConfig, task: Task, votes: np.ndarray, counts: np.ndarray
    ) -> None:
        self._config, self._task, self._votes, self._counts = config, task, votes, counts
        self._epochs = (
            sorted({*(c.n_epochs for c in select.candidates(config) if c.n_epochs is not None)})
            if config.model == AUTO
            else [config.n_epochs]
        )
        self._runs: dict[float, _Snapshots] = {}

    def model(self, p_good_prior: float, n_epochs: int) -> PatternLabelModel:
        """The model Snorkel fits with this prior in ``n_epochs`` epochs."""
        run = self._runs.get(p_good_prior)
        if run is None or n_epochs not in run.snapshots:
            epochs = sorted({*self._epochs, n_epochs})
            run = _fitted_model(
                self._config, self._task, self._votes, self._counts, p_good_prior, epochs
            )
            self._runs[p_good_prior] = run
        return run.at(n_epochs)


class _Snapshots(PatternLabelModel):
    """A :class:`PatternLabelModel` that keeps its parameters ``mu`` after given epochs."""

    def __init__(self, epochs: list[int], *, chunk_patterns: int) -> None:
        super().__init__(cardinality=2, chunk_patterns=chunk_patterns)
        self._keep = frozenset(epochs)
        self._epoch = 0
        self.snapshots: dict[int, torch.Tensor] = {}

    def _execute_logging(self, loss: torch.Tensor) -> object:
        # LabelModel.fit calls this once per epoch, after the optimizer step.
        logged = super()._execute_logging(loss)
        self._epoch += 1
        if self._epoch in self._keep:
            self.snapshots[self._epoch] = self.mu.detach().clone()
        return logged

    def at(self, n_epochs: int) -> PatternLabelModel:
        """A copy of the model with its parameters after ``n_epochs``, post-processed as at
        the end of ``LabelModel.fit``."""
        model = copy.deepcopy(self)
        with torch.no_grad():
            model.mu.data = self.snapshots[n_epochs].clone()
        model._clamp_params()
        model._break_col_permutation_symmetry()
        model.eval()
        return model


def _fitted_model(
    config: LabelJobConfig,
    task: Task,
    votes: np.ndarray,
    counts: np.ndarray,
    p_good_prior: float,
    epochs: list[int],
) -> _Snapshots:
    """Snorkel's LabelModel fitted on the patterns to the largest of ``epochs``, keeping its
    parameters after each; with a clear error when it diverges."""
    n_epochs = max(epochs)
    model = _Snapshots(epochs, chunk_patterns=config.chunk_patterns)
    try:
        model.fit_patterns(
            votes,
            counts,
            class_balance=[1.0 - p_good_prior, p_good_prior],
            seed=config.seed,
            n_epochs=n_epochs,
            lr=config.lr,
            l2=config.l2,
        )
    except Exception as exc:  # snorkel raises a bare Exception on a NaN loss
        if "NaN" in str(exc):
            raise FlywheelError(
                f"label model for task {task.name!r} diverged (loss is NaN): lower the "
                "learning rate"
            ) from exc
        raise
    return model


def _weights(run_id: str, task: Task, model: PatternLabelModel) -> pd.DataFrame:
    """The ``label_model_lf_weights`` rows of one fit: coverage, learned accuracy, P(vote | Y)."""
    cprobs = model.get_conditional_probs()  # [m, 3, 2]: P(vote index | Y); 0 = abstain
    with np.errstate(divide="ignore", invalid="ignore"):  # an LF that never votes here
        learned = model.get_weights().astype(np.float64)
    return _weights_frame(run_id, task, model.coverage, learned, cprobs)


def _weights_frame(
    run_id: str, task: Task, coverage: np.ndarray, learned: np.ndarray, cprobs: np.ndarray
) -> pd.DataFrame:
    """LF weight rows from coverage ``[m]``, learned accuracy ``[m]`` and ``[m, 3, 2]``
    ``P(vote index | Y)`` (0 = abstain, 1 = bad, 2 = good); NaN is stored as NULL."""
    coverage = np.asarray(coverage, dtype=np.float64)
    return pd.DataFrame(
        {
            "run_id": run_id,
            "label_task": task.name,
            "lf_name": list(task.lf_columns),
            "coverage": coverage,
            # NULL for an LF that never votes on the task
            "learned_accuracy": pd.array(np.where(coverage > 0, learned, np.nan), "Float64"),
            "p_good_vote_given_good": cprobs[:, 2, 1],
            "p_bad_vote_given_bad": cprobs[:, 1, 0],
            "p_good_vote_given_bad": cprobs[:, 2, 0],
            "p_bad_vote_given_good": cprobs[:, 1, 1],
            "p_abstain_given_good": cprobs[:, 0, 1],
            "p_abstain_given_bad": cprobs[:, 0, 0],
        }
    )
