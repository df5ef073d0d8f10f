"""The label job's settings: which votes table, which columns, how to fit."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from flywheel.errors import FlywheelError
from flywheel.labelmodel import DEFAULT_CHUNK_PATTERNS

LF_PREFIX = "lf_"
DEFAULT_TASK_NAME = "default"
LABEL_MODELS = ("snorkel", "dawid-skene", "majority")
"""The label models the job can fit (``TaskRun.label_model``)."""
AUTO = "auto"
"""``LabelJobConfig.model`` that picks among :data:`LABEL_MODELS` by gold log-loss
(:mod:`flywheel.label_job.select`)."""
MODEL_CHOICES = (*LABEL_MODELS, AUTO)
"""The values of ``LabelJobConfig.model``."""
GOLDEN = "golden"
"""``LabelJobConfig.class_balance`` estimated from the gold set (the Jeffreys estimate)."""
CLASS_BALANCES = ("uniform", "ratings", GOLDEN)
"""The named values of ``LabelJobConfig.class_balance`` (else a number in (0, 1))."""
DEFAULT_GOLDEN_COLUMN = "golden_label"
"""The votes table's gold-set column (``fct_lf_votes.golden_label``); when the votes table
has no such column there is simply no gold set."""


@dataclass(frozen=True)
class LabelJobConfig:
    """Where to read votes and how to fit the label models.

    Parameters
    ----------
    schema
        Schema holding the votes and tasks tables; the label tables are written there too.
    votes_table
        One row per model output with integer LF vote columns in {-1, 0, 1} (named
        ``lf_prefix*``). Any table with that shape works, not only ``fct_lf_votes``.
    registry_table
        LF registry with ``lf_name`` and ``label_task`` columns (``lf_registry``, built by dbt
        from the one list of labeling functions): a task's LFs are the registry's rows for it,
        in the votes table's column order. None (or ``''``): no registry, every task uses every
        LF column (named ``lf_prefix*``). Not read when there is no task column.
    id_column
        Output id column of the votes table (checked to exist; one row per output is
        assumed, not checked).
    task_column
        Column of the votes table naming the output's label task. None (or ``''``): the whole
        table is one task named ``task_name``.
    task_name
        The task's name (``label_task`` in the label tables) when there is no task column.
    lf_prefix
        LF columns are the votes table's columns whose names start with this.
    gold_column
        Explicit user rating (1 good / 0 bad / NULL), used for ``class_balance='ratings'``
        and the ``*_vs_ratings`` metrics; None (or ``''``) if there is none. Ratings are a
        biased source (who rates, and why): they never train a model nor select one.
    golden_column
        The gold set: a clean human label per output (1 good / 0 bad / NULL for outputs
        outside the gold set). Dawid-Skene clamps the gold outputs, ``model='auto'`` selects
        the model by its gold log-loss, and every run records its gold metrics
        (``golden_*``). The default, ``'golden_label'``, may be absent from the votes table
        (an older warehouse, a team's own table): that means no gold set. Any other name
        must exist. None (or ``''``): no gold set.
    majority_column
        Column of the votes table holding each output's majority-vote P(good) (computed once,
        in SQL, by the votes model), used for ``majority_accuracy_vs_ratings``; None (or
        ``''``) if there is none (the metric is then NULL).
    model
        The label model: ``'snorkel'`` (Snorkel's ``LabelModel``),
        ``'dawid-skene'`` (count-weighted Dawid-Skene EM, :mod:`flywheel.dawid_skene`: it
        learns P(good), recorded with class balance source ``'learned'``; gold outputs are
        clamped at their label), ``'majority'`` (P(good) = the share of a pattern's votes
        that are good, 0.5 without votes; no class balance), or ``'auto'``: per task, with a
        gold set, the candidate with the lowest gold log-loss (Snorkel over
        :data:`~flywheel.label_job.select.SNORKEL_EPOCHS` and ``n_epochs`` with the prior
        estimated from the gold set, Dawid-Skene with its prior learned and with the gold
        prior, majority; those that read the gold scored out of fold;
        :func:`flywheel.label_job.select.candidates`), and without
        one :data:`~flywheel.label_job.select.AUTO_DEFAULT_WITHOUT_GOLD`. ``'auto'`` is the
        default: across the simulated worlds (``benchmarks/bench_worlds.py``, README) Snorkel
        had the best label AUC without gold in five of six worlds, and with gold the
        selection picks per task what the gold set measures best.
    seed, n_epochs, lr, l2
        Snorkel training settings (Dawid-Skene and majority are deterministic and do not use
        them). ``seed`` also draws the cross-validation folds of the gold set.
    class_balance
        ``'uniform'``, ``'ratings'`` (P(good) estimated from the gold column per task),
        ``'golden'`` (P(good) estimated from the gold set per task, see below), or a float
        P(good) in (0, 1). Snorkel's prior (with ``'auto'``: that of its Snorkel candidates);
        ``'golden'`` is also allowed with ``'dawid-skene'``, whose prior is then fixed at the
        gold estimate instead of learned. Another model needs ``'uniform'``.

        ``'golden'``: per task, ``P(good) = (n_good + 0.5) / (n_gold + 1)`` over the task's
        gold outputs, the mean of the Jeffreys posterior Beta(n_good + 1/2, n_bad + 1/2):
        never exactly 0 or 1, and within 0.5 / (n_gold + 1) of the gold share of good. The
        gold set is a uniform sample of the task's outputs, so this estimates the prior
        without the bias of Dawid-Skene's learned prior when LFs are not conditionally
        independent (standard error ~0.035 at 200 gold outputs and a share of 0.5).
        Recorded with class balance source ``'golden'``; a task without gold outputs is an
        error. A model whose prior comes from the gold set has seen the gold labels, so it
        is scored out of fold (:mod:`flywheel.label_job.select`).
    exclude_lfs
        LFs left out of every task's fit (LF column names of the votes table). Their
        columns still key ``label_model_patterns``; they get no weight. Registry rows with
        ``in_label_model = false`` are always left out.
    exclude_flagged
        Also leave out, per task, the LFs ``lf_validation`` flags (``is_flagged``), read
        from ``schema``.
    min_rows
        Refuse to fit a task with fewer outputs than this.
    tasks
        Tasks to fit; None means every task (of the registry, or of the task column).
    memory_limit
        DuckDB ``memory_limit`` while the job runs (e.g. ``'1GB'``), restored afterwards (a
        non-default previous limit as DuckDB reports it, rounded to 0.1 of its unit); None
        leaves it alone. DuckDB keeps the table blocks it scanned in its buffer cache up
        to this limit, so it bounds the process's memory on very large votes tables (the
        job's own data is one row per distinct pattern). Applies to the whole database
        instance the connection belongs to.
    chunk_patterns
        Distinct patterns one-hot encoded at a time when fitting and predicting.
    """

    schema: str = "main"
    votes_table: str = "fct_lf_votes"
    registry_table: str | None = "lf_registry"
    id_column: str = "output_id"
    task_column: str | None = "label_task"
    task_name: str = DEFAULT_TASK_NAME
    lf_prefix: str = LF_PREFIX
    gold_column: str | None = "explicit_label"
    majority_column: str | None = "p_good_majority"
    model: str = "auto"
    seed: int = 123
    n_epochs: int = 500
    lr: float = 0.01
    l2: float = 0.0
    class_balance: str | float = "uniform"
    min_rows: int = 50
    tasks: tuple[str, ...] | None = None
    golden_column: str | None = DEFAULT_GOLDEN_COLUMN
    exclude_lfs: tuple[str, ...] = ()
    exclude_flagged: bool = False
    memory_limit: str | None = None
    chunk_patterns: int = DEFAULT_CHUNK_PATTERNS


def normalized(config: LabelJobConfig) -> LabelJobConfig:
    """Map ``''`` to None for the optional table and column names."""
    return replace(
        config,
        registry_table=config.registry_table or None,
        task_column=config.task_column or None,
        gold_column=config.gold_column or None,
        golden_column=config.golden_column or None,
        exclude_lfs=tuple(dict.fromkeys(config.exclude_lfs)),
        majority_column=config.majority_column or None,
    )


def check_config(config: LabelJobConfig) -> None:
    _check_model(config)
    cb = config.class_balance
    if isinstance(cb, str):
        if cb not in CLASS_BALANCES:
            raise FlywheelError(
                f"invalid class balance {cb!r}: use 'uniform', 'ratings', 'golden' or a number "
                "in (0, 1)"
            )
        if cb == "ratings" and config.gold_column is None:
            raise FlywheelError(
                "class balance 'ratings' needs a gold (rating) column: "
                "set the gold column or use 'uniform'"
            )
    elif isinstance(cb, bool) or not isinstance(cb, (int, float)) or not 0.0 < cb < 1.0:
        raise FlywheelError(
            f"invalid class balance {cb!r}: use 'uniform', 'ratings', 'golden' or a number in "
            "(0, 1)"
        )
    if config.n_epochs < 1:
        raise FlywheelError(f"n_epochs must be at least 1, got {config.n_epochs}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise FlywheelError(f"learning rate must be a positive number, got {config.lr}")
    if not (config.l2 >= 0 and math.isfinite(config.l2)):
        raise FlywheelError(f"l2 must be a non-negative number, got {config.l2}")
    if config.min_rows < 1:
        raise FlywheelError(f"min_rows must be at least 1, got {config.min_rows}")
    if config.chunk_patterns < 1:
        raise FlywheelError(f"chunk_patterns must be at least 1, got {config.chunk_patterns}")
    if config.tasks is not None and len(config.tasks) == 0:
        raise FlywheelError("no tasks selected: name at least one task or omit the option")
    if not config.lf_prefix:
        raise FlywheelError("the LF column prefix is empty: use e.g. 'lf_' (--lf-prefix)")
    if not config.id_column:
        raise FlywheelError("the id column is empty: name the output id column (--id-column)")
    if config.task_column is None and not config.task_name:
        raise FlywheelError("the task name is empty: name the task (--task-name)")


def _check_model(config: LabelJobConfig) -> None:
    if config.model not in MODEL_CHOICES:
        raise FlywheelError(
            f"unknown label model {config.model!r}: use {', '.join(map(repr, MODEL_CHOICES))}"
        )
    if config.golden_column is not None and config.golden_column == config.gold_column:
        raise FlywheelError(
            f"column {config.golden_column!r} is both the gold set (--golden-column) and the "
            "explicit ratings (--gold-column): ratings are biased, name the clean gold set"
        )
    if config.model == "dawid-skene" and config.class_balance == GOLDEN:
        return  # its prior fixed at the gold estimate
    if config.model not in ("snorkel", AUTO) and config.class_balance != "uniform":
        raise FlywheelError(
            f"class balance {config.class_balance!r} is a Snorkel setting: the "
            f"{config.model} model "
            + (
                "learns P(good) itself (or takes the gold estimate: --class-balance golden)"
                if config.model == "dawid-skene"
                else "has no prior"
            )
            + " (leave --class-balance at uniform)"
        )
