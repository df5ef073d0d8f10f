"""Warehouse access shared by every command: quoting, table checks, the truth file, errors.

One place for what the label job, ``summary``, ``export``, ``evaluate`` and ``report`` all do
against the DuckDB warehouse. Identifiers and literals are always quoted here (never pasted),
and every problem a user can fix becomes a one-line :class:`~flywheel.errors.FlywheelError`.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from flywheel.errors import FlywheelError

TRUTH_VIEW = "flywheel_truth"
"""Temporary view :func:`attach_truth` creates: ``output_id``, ``is_good`` (0/1), one row per
output."""

TRUTH_COLUMNS = ("output_id", "is_good")

#: which truth file each open connection holds in TRUTH_VIEW (path, modification time)
_ATTACHED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, tuple[str, int]] = (
    weakref.WeakKeyDictionary()
)


def quote_identifier(identifier: str) -> str:
    """Quote a SQL identifier (a schema, table or column name)."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def qualified(schema: str, table: str) -> str:
    """``"schema"."table"``, both parts quoted."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """Set DuckDB's ``memory_limit`` for the duration of the block, then restore it."""
    if limit is None:
        yield
        return
    query = "select current_setting('memory_limit')"
    previous = str(con.execute(query).fetchall()[0][0])
    with duckdb.connect() as fresh:  # DuckDB reports sizes rounded: detect the default
        default = str(fresh.execute(query).fetchall()[0][0])
    try:
        con.execute(f"set memory_limit = {quote_literal(limit)}")
    except duckdb.Error as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise FlywheelError(
            f"invalid memory limit {limit!r} ({reason}): use a size such as '2GB' or '512MB'"
        ) from exc
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            if previous == default:
                con.execute("reset memory_limit")
            else:  # as reported, e.g. '2.7 GiB': within 0.1 of its unit of the old value
                con.execute(f"set memory_limit = {quote_literal(previous)}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """``{column: data_type}`` in column order; empty when the table does not exist."""
    rows = con.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_catalog = current_database() and table_schema = ? and table_name = ?
        order by ordinal_position
        """,
        [schema, table],
    ).fetchall()
    return {str(name): str(dtype) for name, dtype in rows}


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists (a table or a view)."""
    return bool(table_columns(con, schema, table))


def require_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    hint: str = "run `flywheel run` (or `dbt build`) first",
) -> None:
    """Raise a one-line error naming ``schema.table`` and what to do when it is missing."""
    if not table_exists(con, schema, table):
        raise FlywheelError(f"{schema}.{table} not found in the warehouse: {hint}")


def attach_truth(con: duckdb.DuckDBPyConnection, truth_path: Path | str) -> str:
    """Read a per-output truth file once into the temporary view :data:`TRUTH_VIEW`.

    The file (parquet, csv or json lines, by suffix) must have the columns ``output_id`` and
    ``is_good`` (boolean or 0/1); an output listed more than once counts as good if any row
    says so. Returns the view's name. Raises a one-line error naming the file and the missing
    column(s) for anything else. The file is read once, straight into the grouped temporary
    table (DuckDB spills it to disk past its memory limit). Once per connection and file: a
    second call with the same file (``report --truth --evaluate`` scores, summarises and
    evaluates) reads nothing again.
    """
    path = Path(truth_path)
    if not path.is_file():
        raise FlywheelError(f"truth file {path} not found")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if _ATTACHED.get(con) == key:
        return TRUTH_VIEW
    reader = {".csv": "read_csv", ".json": "read_json", ".jsonl": "read_json"}.get(
        path.suffix.lower(), "read_parquet"
    )
    source = f"{reader}({quote_literal(str(path))})"
    try:
        # the file's columns, without reading its rows (read once, below)
        columns = [
            str(row[0]) for row in con.execute(f"describe select * from {source}").fetchall()
        ]
    except duckdb.Error as exc:
        raise FlywheelError(
            f"cannot read truth file {path} ({first_line(exc)}): expected a parquet, csv or "
            "jsonl file with columns output_id, is_good"
        ) from exc
    missing = [c for c in TRUTH_COLUMNS if c not in columns]
    if missing:
        raise FlywheelError(
            f"truth file {path} has no column {', '.join(missing)} (it has "
            f"{', '.join(columns) or 'none'}): it needs output_id and is_good"
        )
    try:
        con.execute(
            f"create or replace temp table {TRUTH_VIEW} as "
            "select output_id::varchar as output_id, max(is_good::int) as is_good "
            f"from {source} where output_id is not null group by 1"
        )
    except duckdb.ConversionException as exc:
        raise FlywheelError(
            f"truth file {path}: is_good must be boolean or 0/1 ({first_line(exc)})"
        ) from exc
    except duckdb.Error as exc:
        raise FlywheelError(f"cannot read truth file {path} ({first_line(exc)})") from exc
    _ATTACHED[con] = key
    return TRUTH_VIEW


@dataclass(frozen=True)
class Scores:
    """Accuracy, ROC AUC and Brier score of a P(good) column against the truth, from SQL.

    The same numbers as :mod:`flywheel.metrics` (``python/tests/unit/test_metrics_sql.py``
    checks them to 1e-12): a NaN or NULL P(good) scores as a tie, 0.5.

    Attributes
    ----------
    n, n_good
        Rows scored, and how many of them are truly good.
    accuracy
        Share right at 0.5, a tie (P = 0.5) counting half.
    auc
        ROC AUC, tied scores counting half; NaN unless both classes occur.
    brier
        Mean squared error of P(good) against 0/1 truth.
    """

    n: int
    n_good: int
    accuracy: float
    auc: float
    brier: float

    @property
    def good_share(self) -> float:
        """Share of the rows that are truly good."""
        return self.n_good / self.n


#: every row's P(good) as a double, NaN and NULL scored as the tie 0.5 (as flywheel.metrics)
_SCORES_SQL = """
with

scored as (
    select
        {keys},
        coalesce(case when isnan(({p})::double) then null else ({p})::double end, 0.5) as p,
        ({y})::int as y
    from {relation}
    where ({where}) and ({y}) is not null
),

by_score as (
    select {keys}, p, count(*) as n, sum(y) as n_good
    from scored
    group by {keys}, p
),

ranked as (
    select
        *,
        coalesce(sum(n) over (
            partition by {keys} order by p rows between unbounded preceding and 1 preceding
        ), 0) as n_below
    from by_score
)

select
    {keys},
    sum(n) as n,
    sum(n_good) as n_good,
    sum(case when p = 0.5 then n when p > 0.5 then 2 * n_good else 2 * (n - n_good) end)
        as twice_right,
    -- twice the sum of the good rows' ranks, ties given their average rank
    sum(n_good * (2 * n_below + n + 1)) as twice_good_rank_sum,
    fsum(n_good::double * (1 - p) * (1 - p) + (n - n_good)::double * p * p) as squared_error
from ranked
group by {keys}
"""


def scores_by_group(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    keys: Sequence[str],
    p_good: str,
    is_good: str,
    *,
    where: str = "true",
    params: Sequence[object] = (),
) -> dict[tuple[Any, ...], Scores]:
    """:class:`Scores` of ``p_good`` against ``is_good`` per group, aggregated in SQL.

    Nothing per row leaves the warehouse: rows are counted per group and distinct P(good),
    and AUC is the rank statistic (Mann-Whitney U) over those counts, ties at their average
    rank: ``(R_good - n_good (n_good + 1) / 2) / (n_good n_bad)``, which is scikit-learn's
    ``roc_auc_score``. The counts are integers, so accuracy and AUC are exact but for the
    final division.

    Parameters
    ----------
    con
        The connection.
    relation
        A table, view or parenthesised ``select ... as alias`` to read.
    keys
        Columns of ``relation`` to group by (at least one; quote them if needed).
    p_good, is_good
        SQL expressions of P(good) and of the truth (boolean or 0/1); rows with a NULL
        truth are not scored.
    where, params
        A filter (SQL with ``?`` placeholders) and its parameters.

    Returns
    -------
    dict
        ``{(key values...): Scores}``, one per group with at least one scored row.
    """
    if not keys:
        raise ValueError("scores_by_group needs at least one key column")
    sql = _SCORES_SQL.format(
        keys=", ".join(keys), p=p_good, y=is_good, relation=relation, where=where
    )
    out: dict[tuple[Any, ...], Scores] = {}
    for row in con.execute(sql, list(params)).fetchall():
        *key, n, n_good, twice_right, twice_rank_sum, squared_error = row
        n, n_good = int(n), int(n_good)
        n_bad = n - n_good
        auc = (
            (int(twice_rank_sum) - n_good * (n_good + 1)) / (2 * n_good * n_bad)
            if n_good and n_bad
            else math.nan
        )
        out[tuple(key)] = Scores(n, n_good, int(twice_right) / (2 * n), auc, squared_error / n)
    return out


@contextmanager
def progress_bar_off(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Turn DuckDB's progress bar off for a block (a long query in a CLI), then restore it."""
    row = con.execute("select current_setting('enable_progress_bar')").fetchone()
    was_on = bool(row[0]) if row is not None else False
    con.execute("set enable_progress_bar = false")
    try:
        yield
    finally:
        con.execute(f"set enable_progress_bar = {'true' if was_on else 'false'}")
