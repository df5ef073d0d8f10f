"""The label job: read LF votes from the warehouse, fit one label model per task, write labels.

For every label task (rows of the ``label_tasks`` seed) the job

1. pulls the distinct LF vote patterns with their counts (``group by all`` in DuckDB; it
   never pulls one row per output),
2. fits a :class:`~flywheel.labelmodel.PatternLabelModel` on the task's LF columns
   (those whose names start with the task's ``lf_prefix``), weighted by the counts,
3. computes ``p_good = P(output is good | votes)`` for every pattern,

and then writes, in ONE transaction (a failure leaves the previous labels intact):

* ``label_model_runs`` -- one row per task per run (appended),
* ``label_model_lf_weights`` -- one row per task and LF per run (appended),
* ``label_model_patterns`` -- the current labels: one row per distinct vote pattern of a
  task, with every ``lf_*`` column of the votes table, ``n_outputs`` and ``p_good``. Rows
  of re-fitted tasks are replaced; if the LF column set changed the table is recreated,
  which drops the (now stale) labels of tasks not fitted in this run.

Outputs get their label by joining ``fct_lf_votes`` to ``label_model_patterns`` on
``label_task`` and all ``lf_*`` columns.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import snorkel
import torch

from flywheel import __version__ as FLYWHEEL_VERSION
from flywheel.errors import FlywheelError
from flywheel.labelmodel import MIN_LFS, PatternLabelModel

LF_PREFIX = "lf_"
RUNS_TABLE = "label_model_runs"
WEIGHTS_TABLE = "label_model_lf_weights"
PATTERNS_TABLE = "label_model_patterns"

_INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip

_RUNS_COLUMNS = """
    run_id VARCHAR, label_task VARCHAR, fitted_at TIMESTAMP, n_rows BIGINT,
    n_patterns BIGINT, n_lfs INTEGER, lf_columns VARCHAR, class_balance_good DOUBLE,
    class_balance_source VARCHAR, seed INTEGER, n_epochs INTEGER, lr DOUBLE, l2 DOUBLE,
    train_loss DOUBLE, n_rated BIGINT, accuracy_vs_ratings DOUBLE, snorkel_version VARCHAR,
    torch_version VARCHAR, flywheel_version VARCHAR
"""
_WEIGHTS_COLUMNS = """
    run_id VARCHAR, label_task VARCHAR, lf_name VARCHAR, coverage DOUBLE,
    learned_accuracy DOUBLE, p_good_vote_given_good DOUBLE, p_bad_vote_given_bad DOUBLE,
    p_abstain_given_good DOUBLE, p_abstain_given_bad DOUBLE
"""


@dataclass(frozen=True)
class LabelJobConfig:
    """Where to read votes and how to fit the label models.

    Parameters
    ----------
    schema
        Schema holding the votes and tasks tables; the label tables are written there too.
    votes_table
        One row per model output with ``lf_*`` vote columns in {-1, 0, 1}.
    tasks_table
        Task registry with ``label_task`` and ``lf_prefix`` columns.
    id_column
        Output id column of the votes table (checked to exist).
    task_column
        Column of the votes table naming the output's label task.
    gold_column
        Explicit user rating (1 good / 0 bad / NULL), used for ``class_balance='ratings'``
        and ``accuracy_vs_ratings``; None if there is none.
    seed, n_epochs, lr, l2
        Label model training settings.
    class_balance
        ``'uniform'``, ``'ratings'`` (P(good) estimated from the gold column per task), or a
        float P(good) in (0, 1).
    min_rows
        Refuse to fit a task with fewer outputs than this.
    tasks
        Tasks to fit; None means every task of the registry.
    """

    schema: str = "main"
    votes_table: str = "fct_lf_votes"
    tasks_table: str = "label_tasks"
    id_column: str = "output_id"
    task_column: str = "label_task"
    gold_column: str | None = "explicit_label"
    seed: int = 123
    n_epochs: int = 500
    lr: float = 0.01
    l2: float = 0.0
    class_balance: str | float = "uniform"
    min_rows: int = 50
    tasks: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TaskRun:
    """What the job did for one task; the fields mirror the ``label_model_runs`` table.

    ``lf_columns`` is a tuple here and comma-separated in the table;
    ``accuracy_vs_ratings`` is None when no output of the task was rated.
    """

    run_id: str
    label_task: str
    fitted_at: datetime
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
    snorkel_version: str
    torch_version: str
    flywheel_version: str


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
        Tables, tasks and training settings.

    Returns
    -------
    list[TaskRun]
        One entry per fitted task, in the order of the task registry (or of
        ``config.tasks``).

    Raises
    ------
    FlywheelError
        For any problem the user can fix (missing tables, bad votes, too few rows/LFs,
        invalid settings). Nothing is written when it is raised.
    """
    _check_config(config)
    votes = _qualified(config.schema, config.votes_table)
    votes_cols = _table_columns(con, config.schema, config.votes_table)
    if not votes_cols:
        raise FlywheelError(
            f"table {config.schema}.{config.votes_table} not found: run `dbt build` first "
            "(or pass --votes-table)"
        )
    needed = [config.id_column, config.task_column]
    if config.gold_column is not None:
        needed.append(config.gold_column)
    for col in needed:
        if col not in votes_cols:
            raise FlywheelError(
                f"column {col!r} not found in {config.schema}.{config.votes_table}: "
                "rebuild it with `dbt build` or check the column options"
            )
    lf_columns = [c for c in votes_cols if c.startswith(LF_PREFIX)]
    if not lf_columns:
        raise FlywheelError(
            f"no LF columns (named {LF_PREFIX}*) in {config.schema}.{config.votes_table}: "
            "add labeling functions to the votes model and run `dbt build`"
        )
    _check_lf_types(votes_cols, lf_columns, config)
    tasks = _task_prefixes(con, config)
    _check_lf_values(con, votes, lf_columns, config)

    run_id = uuid.uuid4().hex
    results = [_fit_task(con, config, run_id, task, prefix, lf_columns) for task, prefix in tasks]
    _write(con, config, [task for task, _ in tasks], lf_columns, results)
    return [r.run for r in results]


# --- reading and checking --------------------------------------------------------------


def _q(identifier: str) -> str:
    """Quote a SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def _qualified(schema: str, table: str) -> str:
    return f"{_q(schema)}.{_q(table)}"


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Return ``{column: data_type}`` in column order, empty if the table does not exist."""
    rows = con.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_catalog = current_database() and table_schema = ? and table_name = ?
        order by ordinal_position
        """,
        [schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


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
    if config.tasks is not None and len(config.tasks) == 0:
        raise FlywheelError("no tasks selected: name at least one task or omit the option")


def _check_lf_types(
    votes_cols: dict[str, str], lf_columns: list[str], config: LabelJobConfig
) -> None:
    for col in lf_columns:
        if votes_cols[col].upper() not in _INTEGER_TYPES:
            raise FlywheelError(
                f"LF column {col} of {config.schema}.{config.votes_table} has type "
                f"{votes_cols[col]}, expected INTEGER votes in {{-1, 0, 1}}: fix the LF model"
            )


def _task_prefixes(con: duckdb.DuckDBPyConnection, config: LabelJobConfig) -> list[tuple[str, str]]:
    """Return ``[(label_task, lf_prefix)]`` for the tasks this job fits."""
    where = f"{config.schema}.{config.tasks_table}"
    cols = _table_columns(con, config.schema, config.tasks_table)
    if not cols:
        raise FlywheelError(
            f"table {where} not found: run `dbt build` (or `dbt seed`) first "
            "(or pass --tasks-table)"
        )
    for col in ("label_task", "lf_prefix"):
        if col not in cols:
            raise FlywheelError(f"task registry {where} has no column {col!r}: fix the seed")
    rows = con.execute(
        f"select label_task, lf_prefix from {_qualified(config.schema, config.tasks_table)} "
        "order by label_task"
    ).fetchall()
    registry: dict[str, str] = {}
    for task, prefix in rows:
        if task is None or not prefix:
            raise FlywheelError(
                f"task registry {where} has a row with an empty label_task or lf_prefix: "
                "fix the seed"
            )
        if task in registry:
            raise FlywheelError(f"task {task!r} is listed twice in {where}: fix the seed")
        registry[task] = prefix
    if not registry:
        raise FlywheelError(f"task registry {where} is empty: add tasks to the seed")
    if config.tasks is None:
        return list(registry.items())
    unknown = [t for t in config.tasks if t not in registry]
    if unknown:
        raise FlywheelError(
            f"unknown task(s) {', '.join(unknown)}: known tasks are {', '.join(registry)}"
        )
    return [(t, registry[t]) for t in dict.fromkeys(config.tasks)]


def _check_lf_values(
    con: duckdb.DuckDBPyConnection, votes: str, lf_columns: list[str], config: LabelJobConfig
) -> None:
    """Raise if any LF column holds NULL or a value outside {-1, 0, 1}."""
    checks = ", ".join(
        f"count(*) filter (where {_q(c)} is null or {_q(c)} not in (-1, 0, 1))" for c in lf_columns
    )
    bad_counts = con.execute(f"select {checks} from {votes}").fetchall()[0]
    bad = [(c, n) for c, n in zip(lf_columns, bad_counts, strict=True) if n]
    if bad:
        col, n = bad[0]
        more = f" (and {len(bad) - 1} more columns)" if len(bad) > 1 else ""
        raise FlywheelError(
            f"LF column {col} of {config.schema}.{config.votes_table} has {n} NULL or "
            f"out-of-range values{more}: LFs must vote -1 (abstain), 0 (bad) or 1 (good)"
        )


# --- fitting ---------------------------------------------------------------------------


def _fetch_patterns(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig, task: str, lf_columns: list[str]
) -> dict[str, np.ndarray]:
    lf_sql = ", ".join(_q(c) for c in lf_columns)
    if config.gold_column is None:
        rated = "0::bigint as n_rated_good, 0::bigint as n_rated_bad"
    else:
        g = _q(config.gold_column)
        rated = (
            f"count({g}) filter (where {g} = 1) as n_rated_good, "
            f"count({g}) filter (where {g} = 0) as n_rated_bad"
        )
    sql = (
        f"select {lf_sql}, count(*) as n_outputs, {rated} "
        f"from {_qualified(config.schema, config.votes_table)} "
        f"where {_q(config.task_column)} = ? group by all order by all"
    )
    return con.execute(sql, [task]).fetchnumpy()


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


def _fit_task(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    run_id: str,
    task: str,
    prefix: str,
    lf_columns: list[str],
) -> _TaskResult:
    task_lfs = [c for c in lf_columns if c.startswith(prefix)]
    votes_name = f"{config.schema}.{config.votes_table}"
    if len(task_lfs) < MIN_LFS:
        raise FlywheelError(
            f"task {task!r} has {len(task_lfs)} LF columns ({prefix}*) in {votes_name}, "
            f"the label model needs at least {MIN_LFS}: add labeling functions"
        )
    data = _fetch_patterns(con, config, task, lf_columns)
    counts = np.asarray(data["n_outputs"], dtype=np.int64)
    n_rows = int(counts.sum())
    if n_rows < config.min_rows:
        raise FlywheelError(
            f"task {task!r} has {n_rows} rows in {votes_name}, fewer than min_rows="
            f"{config.min_rows}: collect more data, lower --min-rows or leave the task out"
        )
    all_votes = np.column_stack([np.asarray(data[c], dtype=np.int64) for c in lf_columns])
    task_votes = all_votes[:, [lf_columns.index(c) for c in task_lfs]]
    if np.all(task_votes == -1):
        raise FlywheelError(
            f"every {prefix}* LF abstains on every row of task {task!r}: "
            "check the LF definitions and the task column"
        )
    n_good = int(np.asarray(data["n_rated_good"], dtype=np.int64).sum())
    n_bad = int(np.asarray(data["n_rated_bad"], dtype=np.int64).sum())
    p_good_prior, source = _class_balance(config, task, n_good, n_bad)

    model = PatternLabelModel(cardinality=2)
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
                f"label model for task {task!r} diverged (loss is NaN): lower the learning rate"
            ) from exc
        raise
    p_good = model.predict_proba_patterns(task_votes)[:, 1]
    fitted_at = datetime.now(UTC).replace(tzinfo=None)

    rated_good = np.asarray(data["n_rated_good"], dtype=np.float64)
    rated_bad = np.asarray(data["n_rated_bad"], dtype=np.float64)
    says_good = np.where(p_good > 0.5, 1.0, np.where(p_good < 0.5, 0.0, 0.5))
    n_rated = n_good + n_bad
    accuracy = (
        float((rated_good @ says_good + rated_bad @ (1.0 - says_good)) / n_rated)
        if n_rated
        else None
    )

    run = TaskRun(
        run_id=run_id,
        label_task=task,
        fitted_at=fitted_at,
        n_rows=n_rows,
        n_patterns=int(len(counts)),
        n_lfs=len(task_lfs),
        lf_columns=tuple(task_lfs),
        class_balance_good=p_good_prior,
        class_balance_source=source,
        seed=config.seed,
        n_epochs=config.n_epochs,
        lr=config.lr,
        l2=config.l2,
        train_loss=model.final_loss(),
        n_rated=n_rated,
        accuracy_vs_ratings=accuracy,
        snorkel_version=snorkel.__version__,
        torch_version=torch.__version__,
        flywheel_version=FLYWHEEL_VERSION,
    )
    cprobs = model.get_conditional_probs()  # [m, 3, 2]: P(vote index | Y); 0 = abstain
    weights = pd.DataFrame(
        {
            "run_id": run_id,
            "label_task": task,
            "lf_name": task_lfs,
            "coverage": model.coverage.astype(np.float64),
            "learned_accuracy": model.get_weights().astype(np.float64),
            "p_good_vote_given_good": cprobs[:, 2, 1],
            "p_bad_vote_given_bad": cprobs[:, 1, 0],
            "p_abstain_given_good": cprobs[:, 0, 1],
            "p_abstain_given_bad": cprobs[:, 0, 0],
        }
    )
    patterns = pd.DataFrame({"run_id": run_id, "label_task": task}, index=range(len(counts)))
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
    runs["accuracy_vs_ratings"] = runs["accuracy_vs_ratings"].astype("float64")
    weights = pd.concat([r.weights for r in results], ignore_index=True)
    patterns = pd.concat([r.patterns for r in results], ignore_index=True)

    runs_t = _qualified(config.schema, RUNS_TABLE)
    weights_t = _qualified(config.schema, WEIGHTS_TABLE)
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
        con.execute(f"create table if not exists {runs_t} ({_RUNS_COLUMNS})")
        con.execute(f"create table if not exists {weights_t} ({_WEIGHTS_COLUMNS})")
        if recreate:
            con.execute(f"drop table if exists {patterns_t}")
            con.execute(patterns_ddl)
        else:
            placeholders = ", ".join("?" for _ in tasks)
            con.execute(
                f"delete from {patterns_t} where label_task in ({placeholders})", list(tasks)
            )
        _insert_frame(con, runs_t, runs)
        _insert_frame(con, weights_t, weights)
        _insert_frame(con, patterns_t, patterns)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # keep the original error visible
            con.execute("rollback")
        raise
