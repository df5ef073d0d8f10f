"""The label job: read LF votes from the warehouse, fit one label model per task, write labels.

The job reads any *votes table*: one row per model output, an id column, optionally a task
column, and one column per labeling function (LF) whose name starts with a prefix (``lf_`` by
default) holding integer votes: ``1`` good, ``0`` bad, ``-1`` abstain. ``fct_lf_votes`` of the
flywheel dbt project is one; a team that computes votes elsewhere can point the job at its own
table (see :class:`LabelJobConfig` and ``flywheel label --help``).

Which LFs belong to which task:

* with a task column and an LF registry (``lf_registry``: ``lf_name``, ``label_task``, built by
  dbt from the one list of labeling functions), the tasks are the registry's tasks and a task's
  LFs are its registry rows;
* with a task column and no registry (``registry_table=None``), the tasks are the distinct
  non-NULL values of the task column and every task uses every LF column (named
  ``lf_prefix*``);
* without a task column (``task_column=None``), the whole table is one task, named
  ``task_name``, with every LF column.

The job then

1. reads the distinct vote patterns with their counts in ONE ``group by`` query over the
   votes table (it never pulls one row per output: memory depends on the number of distinct
   patterns, not of outputs), with the majority vote of each pattern when the votes table has
   one (``p_good_majority``: computed once, by the votes model),
2. fits a :class:`~flywheel.labelmodel.PatternLabelModel` per task on the task's LF columns,
   weighted by the counts (exactly the fit on the full vote matrix),
3. computes ``p_good = P(output is good | votes)`` for every pattern,

and writes, in ONE transaction (a failure leaves the previous labels intact):

* ``label_model_runs`` -- one row per task per run (appended): what was fitted on what, with
  which settings and library versions, its training loss and its agreement with explicit
  ratings;
* ``label_model_lf_weights`` -- one row per task and LF per run (appended);
* ``label_model_patterns`` -- the current labels: one row per distinct vote pattern of a
  task: ``run_id``, ``label_task`` (the task column's value, or ``task_name``), every LF
  column of the votes table, ``n_outputs`` and ``p_good``. Rows of
  re-fitted tasks are replaced; if the LF column set changed the table is recreated, which
  drops the (now stale) labels of tasks not fitted in this run.

Outputs get their label by joining the votes table to ``label_model_patterns`` on the task
and all LF columns. The job is deterministic: the same input and settings give the same
tables, except ``run_id`` and ``fitted_at``.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import snorkel
import torch

from flywheel import __version__ as FLYWHEEL_VERSION
from flywheel.errors import FlywheelError
from flywheel.labelmodel import DEFAULT_CHUNK_PATTERNS, MIN_LFS, PatternLabelModel
from flywheel.warehouse import qualified as _qualified
from flywheel.warehouse import quote_identifier as _q
from flywheel.warehouse import quote_literal as _literal
from flywheel.warehouse import table_columns as _table_columns

LF_PREFIX = "lf_"
DEFAULT_TASK_NAME = "default"
RUNS_TABLE = "label_model_runs"
WEIGHTS_TABLE = "label_model_lf_weights"
PATTERNS_TABLE = "label_model_patterns"
PATTERN_COLUMNS = ("run_id", "label_task", "n_outputs", "p_good")
"""Non-LF columns of ``label_model_patterns``: no LF column may have one of these names."""

_INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip

_RUNS_COLUMNS = [
    ("run_id", "VARCHAR"), ("label_task", "VARCHAR"), ("fitted_at", "TIMESTAMP"),
    ("votes_table", "VARCHAR"), ("n_rows", "BIGINT"), ("n_patterns", "BIGINT"),
    ("n_lfs", "INTEGER"), ("lf_columns", "VARCHAR"), ("class_balance_good", "DOUBLE"),
    ("class_balance_source", "VARCHAR"), ("seed", "INTEGER"), ("n_epochs", "INTEGER"),
    ("lr", "DOUBLE"), ("l2", "DOUBLE"), ("train_loss", "DOUBLE"), ("n_rated", "BIGINT"),
    ("accuracy_vs_ratings", "DOUBLE"), ("auc_vs_ratings", "DOUBLE"),
    ("majority_accuracy_vs_ratings", "DOUBLE"), ("snorkel_version", "VARCHAR"),
    ("torch_version", "VARCHAR"), ("numpy_version", "VARCHAR"), ("duckdb_version", "VARCHAR"),
    ("flywheel_version", "VARCHAR"),
]  # fmt: skip
_WEIGHTS_COLUMNS = [
    ("run_id", "VARCHAR"), ("label_task", "VARCHAR"), ("lf_name", "VARCHAR"),
    ("coverage", "DOUBLE"), ("learned_accuracy", "DOUBLE"), ("p_good_vote_given_good", "DOUBLE"),
    ("p_bad_vote_given_bad", "DOUBLE"), ("p_abstain_given_good", "DOUBLE"),
    ("p_abstain_given_bad", "DOUBLE"),
]  # fmt: skip


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
        and the ``*_vs_ratings`` metrics; None (or ``''``) if there is none.
    majority_column
        Column of the votes table holding each output's majority-vote P(good) (computed once,
        in SQL, by the votes model), used for ``majority_accuracy_vs_ratings``; None (or
        ``''``) if there is none (the metric is then NULL).
    seed, n_epochs, lr, l2
        Label model training settings.
    class_balance
        ``'uniform'``, ``'ratings'`` (P(good) estimated from the gold column per task), or a
        float P(good) in (0, 1).
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
    seed: int = 123
    n_epochs: int = 500
    lr: float = 0.01
    l2: float = 0.0
    class_balance: str | float = "uniform"
    min_rows: int = 50
    tasks: tuple[str, ...] | None = None
    memory_limit: str | None = None
    chunk_patterns: int = DEFAULT_CHUNK_PATTERNS


@dataclass(frozen=True)
class TaskRun:
    """What the job did for one task; the fields mirror the ``label_model_runs`` table.

    ``lf_columns`` is a tuple here and comma-separated in the table. The ``*_vs_ratings``
    metrics score the labels (and the majority vote) against the explicit ratings, thresholded
    at 0.5 with a tie counting half; they are None when no output of the task was rated (AUC
    also when the ratings are all of one class).
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


@dataclass(frozen=True)
class _Task:
    name: str
    lf_columns: tuple[str, ...]
    lf_source: str  # how the LFs were chosen, for messages


@dataclass(frozen=True)
class _TaskResult:
    run: TaskRun
    weights: pd.DataFrame
    patterns: pd.DataFrame


def run_label_job(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig = LabelJobConfig()
) -> list[TaskRun]:
    """Fit one label model per task and write the label tables in one transaction.

    Parameters
    ----------
    con
        An open DuckDB connection to the warehouse, not inside a transaction.
    config
        Tables, columns, tasks and training settings.

    Returns
    -------
    list[TaskRun]
        One entry per fitted task, in the order of the task registry (or of the task
        column's values, or of ``config.tasks``).

    Raises
    ------
    FlywheelError
        For any problem the user can fix (missing table or column, no LF columns, votes
        outside {-1, 0, 1}, every vote abstaining, fewer than 3 LFs or too few rows for a
        task, invalid settings). Nothing is written when it is raised.
    """
    config = _normalized(config)
    _check_config(config)
    votes_name = f"{config.schema}.{config.votes_table}"
    votes_cols = _table_columns(con, config.schema, config.votes_table)
    if not votes_cols:
        raise FlywheelError(
            f"table {votes_name} not found: run `dbt build` first (or pass --votes-table)"
        )
    for col, option in (
        (config.id_column, "--id-column"),
        (config.task_column, "--task-column ('' for none)"),
        (config.gold_column, "--gold-column ('' for none)"),
        (config.majority_column, "--majority-column ('' for none)"),
    ):
        if col is not None and col not in votes_cols:
            raise FlywheelError(
                f"column {col!r} not found in {votes_name}: rebuild it with `dbt build` or "
                f"name the right column with {option}"
            )
    special = {config.id_column, config.task_column, config.gold_column, config.majority_column}
    registry = _read_registry(con, config)
    if registry is None:
        lf_columns = [c for c in votes_cols if c.startswith(config.lf_prefix) and c not in special]
        if not lf_columns:
            raise FlywheelError(
                f"no LF columns (named {config.lf_prefix}*) in {votes_name}: add labeling "
                "functions to the votes model and run `dbt build`, or set --lf-prefix"
            )
    else:
        registered = {lf for lfs in registry.values() for lf in lfs}
        missing = sorted(registered - set(votes_cols))
        if missing:
            raise FlywheelError(
                f"LF(s) {', '.join(missing)} of {config.schema}.{config.registry_table} are not "
                f"columns of {votes_name}: rebuild both with `dbt build`"
            )
        lf_columns = [c for c in votes_cols if c in registered]
    clash = [c for c in lf_columns if c in PATTERN_COLUMNS]
    if clash:
        raise FlywheelError(
            f"LF column {clash[0]} of {votes_name} clashes with a column of {PATTERNS_TABLE}: "
            "rename it or choose another --lf-prefix"
        )
    _check_lf_types(votes_cols, lf_columns, votes_name)

    with _memory_limit(con, config.memory_limit):
        tasks = _known_tasks(config, lf_columns, registry)
        _check_lf_values(con, config, lf_columns, votes_name)
        data = _fetch_patterns(con, config, lf_columns, tasks)
        if tasks is None:
            tasks = _column_tasks(con, config, lf_columns, data, votes_name)
        run_id = uuid.uuid4().hex
        results = [
            _fit_task(config, run_id, task, _rows_of(data, task.name), lf_columns, votes_name)
            for task in tasks
        ]
        _write(con, config, [t.name for t in tasks], lf_columns, results)
    return [r.run for r in results]


# --- reading and checking --------------------------------------------------------------


def _normalized(config: LabelJobConfig) -> LabelJobConfig:
    """Map ``''`` to None for the optional table and column names."""
    return replace(
        config,
        registry_table=config.registry_table or None,
        task_column=config.task_column or None,
        gold_column=config.gold_column or None,
        majority_column=config.majority_column or None,
    )


def _check_config(config: LabelJobConfig) -> None:
    cb = config.class_balance
    if isinstance(cb, str):
        if cb not in ("uniform", "ratings"):
            raise FlywheelError(
                f"invalid class balance {cb!r}: use 'uniform', 'ratings' or a number in (0, 1)"
            )
        if cb == "ratings" and config.gold_column is None:
            raise FlywheelError(
                "class balance 'ratings' needs a gold (rating) column: "
                "set the gold column or use 'uniform'"
            )
    elif isinstance(cb, bool) or not isinstance(cb, (int, float)) or not 0.0 < cb < 1.0:
        raise FlywheelError(
            f"invalid class balance {cb!r}: use 'uniform', 'ratings' or a number in (0, 1)"
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


@contextlib.contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """Set DuckDB's ``memory_limit`` for the duration of the block, then restore it."""
    if limit is None:
        yield
        return
    query = "select current_setting('memory_limit')"
    previous = str(con.execute(query).fetchall()[0][0])
    with duckdb.connect() as fresh:  # DuckDB reports sizes rounded: detect the default
        default = str(fresh.execute(query).fetchall()[0][0])
    try:
        con.execute(f"set memory_limit = {_literal(limit)}")
    except duckdb.Error as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise FlywheelError(
            f"invalid memory limit {limit!r} ({reason}): use a size such as '2GB' or '512MB'"
        ) from exc
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            if previous == default:
                con.execute("reset memory_limit")
            else:  # as reported, e.g. '2.7 GiB': within 0.1 of its unit of the old value
                con.execute(f"set memory_limit = {_literal(previous)}")


def _check_lf_types(votes_cols: dict[str, str], lf_columns: list[str], votes_name: str) -> None:
    for col in lf_columns:
        if votes_cols[col].upper() not in _INTEGER_TYPES:
            raise FlywheelError(
                f"LF column {col} of {votes_name} has type {votes_cols[col]}, expected "
                "INTEGER votes in {-1, 0, 1}: fix the LF model (or the --lf-prefix)"
            )


def _read_registry(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig
) -> dict[str, list[str]] | None:
    """``{task: [LF names]}`` from the LF registry, tasks in name order; None without one.

    There is no registry when the votes table has no task column or ``registry_table`` is
    None: LF columns are then found by their prefix.
    """
    if config.task_column is None or config.registry_table is None:
        return None
    where = f"{config.schema}.{config.registry_table}"
    cols = _table_columns(con, config.schema, config.registry_table)
    if not cols:
        raise FlywheelError(
            f"LF registry {where} not found: run `dbt build` first, or pass --lf-registry "
            "(or --lf-registry '' to give every task every LF column)"
        )
    for col in ("lf_name", "label_task"):
        if col not in cols:
            raise FlywheelError(
                f"LF registry {where} has no column {col!r}: rebuild it with `dbt build`"
            )
    rows = con.execute(
        f"select label_task, lf_name from {_qualified(config.schema, config.registry_table)} "
        "order by label_task, lf_name"
    ).fetchall()
    registry: dict[str, list[str]] = {}
    seen: set[str] = set()
    for task, lf in rows:
        if task is None or not lf:
            raise FlywheelError(
                f"LF registry {where} has a row with an empty label_task or lf_name: rebuild it"
            )
        if lf in seen:
            raise FlywheelError(f"LF {lf!r} is listed twice in {where}: rebuild it")
        seen.add(lf)
        registry.setdefault(str(task), []).append(str(lf))
    if not registry:
        raise FlywheelError(f"LF registry {where} is empty: define labeling functions")
    return registry


def _known_tasks(
    config: LabelJobConfig, lf_columns: list[str], registry: dict[str, list[str]] | None
) -> list[_Task] | None:
    """The tasks to fit when they are known before reading the votes, else None.

    Without a task column: the one task ``task_name`` with every LF column. With a registry:
    its tasks (or ``config.tasks``), each with its registered LFs in the votes table's column
    order. Without a registry: None (the tasks are the task column's values), after checking
    that there are enough LF columns.
    """
    all_lfs = tuple(lf_columns)
    every = f"{config.lf_prefix}*"
    if config.task_column is None:
        unknown = [t for t in config.tasks or () if t != config.task_name]
        if unknown:
            raise FlywheelError(
                f"unknown task(s) {', '.join(unknown)}: without a task column the votes table "
                f"is one task, {config.task_name!r} (set it with --task-name)"
            )
        tasks = [_Task(config.task_name, all_lfs, every)]
        _check_n_lfs(tasks, config)
        return tasks
    if registry is None:
        _check_n_lfs([_Task("(every task)", all_lfs, every)], config)
        return None
    names = list(registry) if config.tasks is None else list(dict.fromkeys(config.tasks))
    unknown = [t for t in names if t not in registry]
    if unknown:
        raise FlywheelError(
            f"unknown task(s) {', '.join(unknown)}: known tasks are {', '.join(registry)}"
        )
    source = str(config.registry_table)
    tasks = [_Task(t, tuple(c for c in lf_columns if c in set(registry[t])), source) for t in names]
    _check_n_lfs(tasks, config)
    return tasks


def _check_n_lfs(tasks: list[_Task], config: LabelJobConfig) -> None:
    for task in tasks:
        if len(task.lf_columns) < MIN_LFS:
            raise FlywheelError(
                f"task {task.name!r} has {len(task.lf_columns)} LF columns ({task.lf_source}) "
                f"in {config.schema}.{config.votes_table}, the label model needs at least "
                f"{MIN_LFS}: add labeling functions"
            )


def _column_tasks(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    lf_columns: list[str],
    data: dict[str, np.ndarray],
    votes_name: str,
) -> list[_Task]:
    """Tasks from the values of the task column (no registry): each with every LF column."""
    present = sorted(set(np.asarray(data["label_task"], dtype=object).tolist()))
    names = present if config.tasks is None else list(dict.fromkeys(config.tasks))
    missing = [t for t in names if t not in present]
    if missing:
        assert config.task_column is not None
        t = _q(config.task_column)
        known = [
            str(v)
            for (v,) in con.execute(
                f"select distinct {t}::varchar from "
                f"{_qualified(config.schema, config.votes_table)} where {t} is not null "
                "order by 1 limit 21"
            ).fetchall()
        ]
        listed = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "") or "none"
        raise FlywheelError(
            f"no rows for task(s) {', '.join(missing)} in column {config.task_column} of "
            f"{votes_name} (tasks there: {listed}): check --task"
        )
    if not names:
        raise FlywheelError(
            f"column {config.task_column} of {votes_name} is NULL on every row: fill it, or "
            "pass --task-column '' to label the whole table as one task"
        )
    return [_Task(t, tuple(lf_columns), f"{config.lf_prefix}*") for t in names]


def _check_lf_values(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig, lf_columns: list[str], votes_name: str
) -> None:
    """Raise if any LF column holds NULL or a value outside {-1, 0, 1}.

    ``min``/``max``/``count`` per column first (DuckDB answers them from its column
    statistics and compressed segments: well under a second on 100M rows); only when they
    show a problem, count the offending rows for the message.
    """
    votes = _qualified(config.schema, config.votes_table)
    stats = ", ".join(f"min({_q(c)}), max({_q(c)}), count({_q(c)})" for c in lf_columns)
    row = con.execute(f"select count(*), {stats} from {votes}").fetchall()[0]
    total, rest = row[0], row[1:]
    bad = [
        c
        for j, c in enumerate(lf_columns)
        if rest[3 * j + 2] < total
        or (rest[3 * j] is not None and (rest[3 * j] < -1 or rest[3 * j + 1] > 1))
    ]
    if not bad:
        return
    col = _q(bad[0])
    n = con.execute(
        f"select count(*) filter (where {col} is null or {col} not in (-1, 0, 1)) from {votes}"
    ).fetchall()[0][0]
    more = f" (and {len(bad) - 1} more columns)" if len(bad) > 1 else ""
    raise FlywheelError(
        f"LF column {bad[0]} of {votes_name} has {n} NULL or out-of-range values{more}: "
        "LFs must vote -1 (abstain), 0 (bad) or 1 (good)"
    )


# --- fitting ---------------------------------------------------------------------------


def _fetch_patterns(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    lf_columns: list[str],
    tasks: list[_Task] | None,
) -> dict[str, np.ndarray]:
    """Distinct ``(label_task, LF votes)`` with counts, in one scan of the votes table.

    Returns numpy columns ``label_task``, every LF column, ``n_outputs``, ``n_rated_good``,
    ``n_rated_bad`` and ``p_good_majority`` (the votes table's majority column, a function of
    the pattern; NaN without one), ordered by task and votes.
    """
    lf_sql = ", ".join(_q(c) for c in lf_columns)
    if config.gold_column is None:
        rated = "0::bigint as n_rated_good, 0::bigint as n_rated_bad"
    else:
        g = _q(config.gold_column)
        rated = (
            f"count({g}) filter (where {g} = 1) as n_rated_good, "
            f"count({g}) filter (where {g} = 0) as n_rated_bad"
        )
    params: list[str] = []
    if config.task_column is None:
        key, where = "", ""
        label = f"{_literal(config.task_name)}::varchar as label_task"
    else:
        t = _q(config.task_column)
        key, label = f"{t}::varchar as label_task, ", "label_task"
        where = f" where {t} is not null"
        names = [task.name for task in tasks] if tasks is not None else config.tasks
        if names is not None:
            where += f" and {t}::varchar in ({', '.join('?' for _ in names)})"
            params = list(names)
    majority = (
        f"max({_q(config.majority_column)})::double"
        if config.majority_column is not None
        else "null::double"
    )
    grouped = (
        f"select {key}{lf_sql}, count(*) as n_outputs, {rated}, {majority} as p_good_majority "
        f"from {_qualified(config.schema, config.votes_table)}{where} group by all"
    )
    sql = (
        f"select {label}, {lf_sql}, n_outputs, n_rated_good, n_rated_bad, p_good_majority "
        f"from ({grouped}) as patterns order by all"
    )
    data = con.execute(sql, params).fetchnumpy()
    # NULL (no LF voted) comes back masked: make it NaN, and every column a plain array.
    data["p_good_majority"] = np.ma.filled(
        np.ma.asarray(data["p_good_majority"]).astype(np.float64), np.nan
    )
    return {name: np.asarray(values) for name, values in data.items()}


def _rows_of(data: dict[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    """The patterns of one task (no copy when they all are)."""
    mask = data["label_task"] == task
    if mask.all():
        return data
    return {name: values[mask] for name, values in data.items()}


def _class_balance(config: LabelJobConfig, task: str, n_good: int, n_bad: int) -> tuple[float, str]:
    """Return ``(P(good), source)`` for a task."""
    cb = config.class_balance
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


def _accuracy(p_good: np.ndarray, n_good: np.ndarray, n_bad: np.ndarray) -> float | None:
    """Count-weighted accuracy of thresholding ``p_good`` at 0.5; a tie or NaN counts half."""
    total = n_good.sum() + n_bad.sum()
    if total == 0:
        return None
    says_good = np.where(p_good > 0.5, 1.0, np.where(p_good < 0.5, 0.0, 0.5))  # NaN -> 0.5
    return float((n_good @ says_good + n_bad @ (1.0 - says_good)) / total)


def _auc(p_good: np.ndarray, n_good: np.ndarray, n_bad: np.ndarray) -> float | None:
    """Count-weighted ROC AUC of ``p_good`` for the good ratings (ties count half)."""
    pos, neg = n_good.sum(), n_bad.sum()
    if pos == 0 or neg == 0:
        return None
    scores, inverse = np.unique(p_good, return_inverse=True)
    pos_at = np.bincount(inverse, weights=n_good, minlength=len(scores))
    neg_at = np.bincount(inverse, weights=n_bad, minlength=len(scores))
    neg_below = np.cumsum(neg_at) - neg_at
    return float((pos_at @ neg_below + 0.5 * pos_at @ neg_at) / (pos * neg))


def _fit_task(
    config: LabelJobConfig,
    run_id: str,
    task: _Task,
    data: dict[str, np.ndarray],
    lf_columns: list[str],
    votes_name: str,
) -> _TaskResult:
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
    rated_good = np.asarray(data["n_rated_good"], dtype=np.int64)
    rated_bad = np.asarray(data["n_rated_bad"], dtype=np.int64)
    n_good, n_bad = int(rated_good.sum()), int(rated_bad.sum())
    p_good_prior, source = _class_balance(config, task.name, n_good, n_bad)

    model = PatternLabelModel(cardinality=2, chunk_patterns=config.chunk_patterns)
    try:
        model.fit_patterns(
            task_votes,
            counts,
            class_balance=[1.0 - p_good_prior, p_good_prior],
            seed=config.seed,
            n_epochs=config.n_epochs,
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
    p_good = model.predict_proba_patterns(task_votes)[:, 1]
    p_majority = np.asarray(data["p_good_majority"], dtype=np.float64)  # NaN: no LF voted
    fitted_at = datetime.now(UTC).replace(tzinfo=None)

    good_w, bad_w = rated_good.astype(np.float64), rated_bad.astype(np.float64)
    run = TaskRun(
        run_id=run_id,
        label_task=task.name,
        fitted_at=fitted_at,
        votes_table=votes_name,
        n_rows=n_rows,
        n_patterns=int(len(counts)),
        n_lfs=len(task.lf_columns),
        lf_columns=task.lf_columns,
        class_balance_good=p_good_prior,
        class_balance_source=source,
        seed=config.seed,
        n_epochs=config.n_epochs,
        lr=config.lr,
        l2=config.l2,
        train_loss=model.final_loss(),
        n_rated=n_good + n_bad,
        accuracy_vs_ratings=_accuracy(p_good, good_w, bad_w),
        auc_vs_ratings=_auc(p_good, good_w, bad_w),
        majority_accuracy_vs_ratings=None
        if config.majority_column is None
        else _accuracy(p_majority, good_w, bad_w),
        snorkel_version=snorkel.__version__,
        torch_version=torch.__version__,
        numpy_version=np.__version__,
        duckdb_version=duckdb.__version__,
        flywheel_version=FLYWHEEL_VERSION,
    )
    cprobs = model.get_conditional_probs()  # [m, 3, 2]: P(vote index | Y); 0 = abstain
    with np.errstate(divide="ignore", invalid="ignore"):  # an LF that never votes here
        learned = model.get_weights().astype(np.float64)
    learned = pd.array(np.where(model.coverage > 0, learned, np.nan), dtype="Float64")
    weights = pd.DataFrame(
        {
            "run_id": run_id,
            "label_task": task.name,
            "lf_name": list(task.lf_columns),
            "coverage": model.coverage.astype(np.float64),
            "learned_accuracy": learned,  # NULL for an LF that never votes on the task
            "p_good_vote_given_good": cprobs[:, 2, 1],
            "p_bad_vote_given_bad": cprobs[:, 1, 0],
            "p_abstain_given_good": cprobs[:, 0, 1],
            "p_abstain_given_bad": cprobs[:, 0, 0],
        }
    )
    patterns = pd.DataFrame({"run_id": run_id, "label_task": task.name}, index=range(len(counts)))
    for j, col in enumerate(lf_columns):
        patterns[col] = all_votes[:, j].astype(np.int32)
    patterns["n_outputs"] = counts
    patterns["p_good"] = p_good.astype(np.float64)
    return _TaskResult(run=run, weights=weights, patterns=patterns)


# --- writing ---------------------------------------------------------------------------


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a DataFrame to ``table`` (already quoted and qualified), matching by name."""
    view = f"_flywheel_insert_{uuid.uuid4().hex}"
    con.register(view, frame)
    try:
        con.execute(f"insert into {table} by name select * from {_q(view)}")
    finally:
        con.unregister(view)


def _ensure_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[tuple[str, str]]
) -> None:
    """Create an append-only table, or add the columns an older flywheel did not write."""
    qualified = _qualified(schema, table)
    defs = ", ".join(f"{_q(name)} {dtype}" for name, dtype in columns)
    con.execute(f"create table if not exists {qualified} ({defs})")
    existing = _table_columns(con, schema, table)
    for name, dtype in columns:
        if name not in existing:
            con.execute(f"alter table {qualified} add column {_q(name)} {dtype}")


def _write(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    tasks: Sequence[str],
    lf_columns: list[str],
    results: list[_TaskResult],
) -> None:
    runs = pd.DataFrame(
        [{**asdict(r.run), "lf_columns": ",".join(r.run.lf_columns)} for r in results]
    )
    for col in ("accuracy_vs_ratings", "auc_vs_ratings", "majority_accuracy_vs_ratings"):
        runs[col] = runs[col].astype("float64")
    weights = pd.concat([r.weights for r in results], ignore_index=True)
    patterns = pd.concat([r.patterns for r in results], ignore_index=True)

    patterns_t = _qualified(config.schema, PATTERNS_TABLE)
    lf_defs = ", ".join(f"{_q(c)} INTEGER" for c in lf_columns)
    patterns_ddl = (
        f"create table {patterns_t} (run_id VARCHAR, label_task VARCHAR, {lf_defs}, "
        "n_outputs BIGINT, p_good DOUBLE)"
    )
    existing = list(_table_columns(con, config.schema, PATTERNS_TABLE))
    # A changed LF set (or layout) makes the old patterns meaningless: recreate the table,
    # which also drops the labels of tasks this run did not re-fit.
    recreate = existing != ["run_id", "label_task", *lf_columns, "n_outputs", "p_good"]

    con.execute("begin transaction")
    try:
        _ensure_table(con, config.schema, RUNS_TABLE, _RUNS_COLUMNS)
        _ensure_table(con, config.schema, WEIGHTS_TABLE, _WEIGHTS_COLUMNS)
        if recreate:
            con.execute(f"drop table if exists {patterns_t}")
            con.execute(patterns_ddl)
        else:
            placeholders = ", ".join("?" for _ in tasks)
            con.execute(
                f"delete from {patterns_t} where label_task in ({placeholders})", list(tasks)
            )
        _insert_frame(con, _qualified(config.schema, RUNS_TABLE), runs)
        _insert_frame(con, _qualified(config.schema, WEIGHTS_TABLE), weights)
        _insert_frame(con, patterns_t, patterns)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # keep the original error visible
            con.execute("rollback")
        raise
