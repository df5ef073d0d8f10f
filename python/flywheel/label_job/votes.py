"""Reading the votes table: its LF columns, the LF registry, the tasks, checks, vote patterns.

Only aggregates leave the warehouse: column statistics for the checks, and the distinct vote
patterns with their counts (one ``group by`` over the votes table).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np

from flywheel.errors import FlywheelError
from flywheel.label_job.config import DEFAULT_GOLDEN_COLUMN, LabelJobConfig
from flywheel.label_job.tables import PATTERN_COLUMNS, PATTERNS_TABLE
from flywheel.labelmodel import MIN_LFS
from flywheel.warehouse import qualified as _qualified
from flywheel.warehouse import quote_identifier as _q
from flywheel.warehouse import quote_literal as _literal
from flywheel.warehouse import table_columns as _table_columns

_INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip
VALIDATION_TABLE = "lf_validation"
"""dbt's per task and LF validation against gold, with ``is_flagged`` (``--exclude-flagged``)."""


@dataclass(frozen=True)
class Task:
    name: str
    lf_columns: tuple[str, ...]  # the LFs fitted
    lf_source: str  # how the LFs were chosen, for messages
    excluded_lfs: tuple[str, ...] = ()  # the task's LFs left out of the fit


@dataclass(frozen=True)
class Exclusions:
    """LFs left out of the fit: of every task, and per task."""

    everywhere: frozenset[str]  # --exclude-lf and the registry's in_label_model = false
    per_task: dict[str, frozenset[str]]  # lf_validation's flagged LFs

    def of(self, task: str) -> frozenset[str]:
        return self.everywhere | self.per_task.get(task, frozenset())


def lf_columns_of(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig
) -> tuple[dict[str, str], list[str], dict[str, list[str]] | None]:
    """Check the votes table's columns; return them, its LF columns and the LF registry.

    The LF columns are the registry's LFs (in the votes table's column order) or, without a
    registry, the columns named ``lf_prefix*``. Raises a one-line error for a missing table,
    column or registered LF, no LF column, a clash with a label table column, or an LF column
    that is not an integer.
    """
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
        (config.golden_column, "--golden-column ('' for none)"),
        (config.majority_column, "--majority-column ('' for none)"),
    ):
        absent_default = col == DEFAULT_GOLDEN_COLUMN == config.golden_column
        if col is not None and col not in votes_cols and not absent_default:
            raise FlywheelError(
                f"column {col!r} not found in {votes_name}: rebuild it with `dbt build` or "
                f"name the right column with {option}"
            )
    golden = config.golden_column
    if golden is not None and golden in votes_cols:
        kind = votes_cols[golden].upper()
        if kind not in _INTEGER_TYPES and kind != "BOOLEAN":
            raise FlywheelError(
                f"gold column {golden} of {votes_name} has type {votes_cols[golden]}, expected "
                "1 (good) / 0 (bad) / NULL: fix it or name the right column with --golden-column"
            )
    special = {
        config.id_column,
        config.task_column,
        config.gold_column,
        config.golden_column,
        config.majority_column,
    }
    registry = read_registry(con, config)
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
    check_lf_types(votes_cols, lf_columns, votes_name)
    return votes_cols, lf_columns, registry


def without_absent_gold(config: LabelJobConfig, votes_cols: dict[str, str]) -> LabelJobConfig:
    """The config with no gold set when the default gold column is not in the votes table."""
    if config.golden_column is not None and config.golden_column not in votes_cols:
        return replace(config, golden_column=None)
    return config


def check_lf_types(votes_cols: dict[str, str], lf_columns: list[str], votes_name: str) -> None:
    for col in lf_columns:
        if votes_cols[col].upper() not in _INTEGER_TYPES:
            raise FlywheelError(
                f"LF column {col} of {votes_name} has type {votes_cols[col]}, expected "
                "INTEGER votes in {-1, 0, 1}: fix the LF model (or the --lf-prefix)"
            )


def read_registry(
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


def known_tasks(
    config: LabelJobConfig, lf_columns: list[str], registry: dict[str, list[str]] | None
) -> list[Task] | None:
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
        tasks = [Task(config.task_name, all_lfs, every)]
        check_n_lfs(tasks, config)
        return tasks
    if registry is None:
        check_n_lfs([Task("(every task)", all_lfs, every)], config)
        return None
    names = list(registry) if config.tasks is None else list(dict.fromkeys(config.tasks))
    unknown = [t for t in names if t not in registry]
    if unknown:
        raise FlywheelError(
            f"unknown task(s) {', '.join(unknown)}: known tasks are {', '.join(registry)}"
        )
    source = str(config.registry_table)
    tasks = [Task(t, tuple(c for c in lf_columns if c in set(registry[t])), source) for t in names]
    check_n_lfs(tasks, config)
    return tasks


def check_n_lfs(tasks: list[Task], config: LabelJobConfig) -> None:
    for task in tasks:
        if len(task.lf_columns) < MIN_LFS and task.excluded_lfs:
            raise FlywheelError(
                f"task {task.name!r} has {len(task.lf_columns)} LFs left after leaving out "
                f"{', '.join(task.excluded_lfs)} (excluded), the label model needs at least "
                f"{MIN_LFS}: exclude fewer LFs (--exclude-lf, --exclude-flagged, the registry's "
                "in_label_model) or add labeling functions"
            )
        if len(task.lf_columns) < MIN_LFS:
            raise FlywheelError(
                f"task {task.name!r} has {len(task.lf_columns)} LF columns ({task.lf_source}) "
                f"in {config.schema}.{config.votes_table}, the label model needs at least "
                f"{MIN_LFS}: add labeling functions"
            )


def exclusions(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    lf_columns: list[str],
    registry: dict[str, list[str]] | None,
) -> Exclusions:
    """The LFs to leave out: ``config.exclude_lfs``, the registry's ``in_label_model = false``
    rows and, with ``config.exclude_flagged``, ``lf_validation``'s flagged LFs per task.

    Raises a one-line error for an unknown LF name (listing the known ones), and for a
    missing or malformed ``lf_validation`` when flagged LFs are to be left out.
    """
    unknown = [lf for lf in config.exclude_lfs if lf not in lf_columns]
    if unknown:
        raise FlywheelError(
            f"unknown LF(s) to exclude: {', '.join(unknown)}; the LFs of "
            f"{config.schema}.{config.votes_table} are {', '.join(lf_columns)}"
        )
    everywhere = set(config.exclude_lfs)
    if registry is not None:
        everywhere |= _registry_excluded(con, config)
    per_task: dict[str, frozenset[str]] = {}
    if config.exclude_flagged:
        per_task = _flagged(con, config)
    return Exclusions(frozenset(everywhere), per_task)


def _registry_excluded(con: duckdb.DuckDBPyConnection, config: LabelJobConfig) -> set[str]:
    """The registry's LFs with ``in_label_model = false`` (none without that column)."""
    assert config.registry_table is not None
    if "in_label_model" not in _table_columns(con, config.schema, config.registry_table):
        return set()
    rows = con.execute(
        f"select lf_name from {_qualified(config.schema, config.registry_table)} "
        "where in_label_model = false"
    ).fetchall()
    return {str(lf) for (lf,) in rows}


def _flagged(con: duckdb.DuckDBPyConnection, config: LabelJobConfig) -> dict[str, frozenset[str]]:
    """``{task: flagged LFs}`` from ``lf_validation``."""
    where = f"{config.schema}.{VALIDATION_TABLE}"
    cols = _table_columns(con, config.schema, VALIDATION_TABLE)
    if not cols:
        raise FlywheelError(
            f"LF validation {where} not found: run `dbt build` first (it validates the LFs "
            "against the gold set), or drop --exclude-flagged"
        )
    missing = [c for c in ("label_task", "lf_name", "is_flagged") if c not in cols]
    if missing:
        raise FlywheelError(
            f"LF validation {where} has no column {missing[0]!r}: rebuild it with `dbt build`"
        )
    rows = con.execute(
        f"select label_task::varchar, lf_name::varchar from "
        f"{_qualified(config.schema, VALIDATION_TABLE)} where is_flagged order by all"
    ).fetchall()
    flagged: dict[str, set[str]] = {}
    for task, lf in rows:
        flagged.setdefault(str(task), set()).add(str(lf))
    return {task: frozenset(lfs) for task, lfs in flagged.items()}


def without_excluded(tasks: list[Task], excluded: Exclusions, config: LabelJobConfig) -> list[Task]:
    """The tasks with their excluded LFs left out, checked to keep enough LFs."""
    out = []
    for task in tasks:
        drop = excluded.of(task.name)
        out.append(
            replace(
                task,
                lf_columns=tuple(c for c in task.lf_columns if c not in drop),
                excluded_lfs=tuple(c for c in task.lf_columns if c in drop),
            )
        )
    check_n_lfs(out, config)
    return out


def column_tasks(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    lf_columns: list[str],
    data: dict[str, np.ndarray],
    votes_name: str,
) -> list[Task]:
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
    return [Task(t, tuple(lf_columns), f"{config.lf_prefix}*") for t in names]


def check_lf_values(
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


def check_golden_values(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig, votes_name: str
) -> None:
    """Raise if the gold column holds a value other than 1, 0 or NULL (column statistics)."""
    if config.golden_column is None:
        return
    g = _q(config.golden_column)
    low, high = con.execute(
        f"select min({g}::integer), max({g}::integer) "
        f"from {_qualified(config.schema, config.votes_table)}"
    ).fetchall()[0]
    if low is not None and (low < 0 or high > 1):
        raise FlywheelError(
            f"gold column {config.golden_column} of {votes_name} has values outside 1 (good) / "
            f"0 (bad) / NULL (found {low}..{high}): fix the gold set"
        )


def fetch_patterns(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    lf_columns: list[str],
    tasks: list[Task] | None,
) -> dict[str, np.ndarray]:
    """Distinct ``(label_task, LF votes)`` with counts, in one scan of the votes table.

    Returns numpy columns ``label_task``, every LF column, ``n_outputs``, ``n_rated_good``,
    ``n_rated_bad`` (explicit ratings), ``n_golden_good``, ``n_golden_bad`` (the gold set;
    zeros without one) and ``p_good_majority`` (the votes table's majority column, a
    function of the pattern; NaN without one), ordered by task and votes.
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
    if config.golden_column is None:
        golden = "0::bigint as n_golden_good, 0::bigint as n_golden_bad"
    else:
        g = _q(config.golden_column)
        golden = (
            f"count({g}) filter (where {g}::integer = 1) as n_golden_good, "
            f"count({g}) filter (where {g}::integer = 0) as n_golden_bad"
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
        f"select {key}{lf_sql}, count(*) as n_outputs, {rated}, {golden}, "
        f"{majority} as p_good_majority "
        f"from {_qualified(config.schema, config.votes_table)}{where} group by all"
    )
    sql = (
        f"select {label}, {lf_sql}, n_outputs, n_rated_good, n_rated_bad, n_golden_good, "
        f"n_golden_bad, p_good_majority from ({grouped}) as patterns order by all"
    )
    data = con.execute(sql, params).fetchnumpy()
    # NULL (no LF voted) comes back masked: make it NaN, and every column a plain array.
    data["p_good_majority"] = np.ma.filled(
        np.ma.asarray(data["p_good_majority"]).astype(np.float64), np.nan
    )
    return {name: np.asarray(values) for name, values in data.items()}


def rows_of(data: dict[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    """The patterns of one task (no copy when they all are)."""
    mask = data["label_task"] == task
    if mask.all():
        return data
    return {name: values[mask] for name, values in data.items()}
