"""Warehouse access shared by every command: quoting, table checks, the truth file, errors.

One place for what the label job, ``summary``, ``export``, ``evaluate`` and ``report`` all do
against the DuckDB warehouse. Identifiers and literals are always quoted here (never pasted),
and every problem a user can fix becomes a one-line :class:`~flywheel.errors.FlywheelError`.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    column(s) for anything else. Once per connection and file: a second call with the same
    file (``report --truth --evaluate`` scores, summarises and evaluates) reads nothing again.
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
    staged = f"_flywheel_truth_{uuid.uuid4().hex}"
    try:
        con.execute(f"create temp table {quote_identifier(staged)} as select * from {reader}(?)",
                    [str(path)])  # fmt: skip
    except duckdb.Error as exc:
        raise FlywheelError(
            f"cannot read truth file {path} ({first_line(exc)}): expected a parquet, csv or "
            "jsonl file with columns output_id, is_good"
        ) from exc
    try:
        columns = _temp_columns(con, staged)
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
                f"from {quote_identifier(staged)} where output_id is not null group by 1"
            )
        except duckdb.Error as exc:
            raise FlywheelError(
                f"truth file {path}: is_good must be boolean or 0/1 ({first_line(exc)})"
            ) from exc
    finally:
        con.execute(f"drop table if exists {quote_identifier(staged)}")
    _ATTACHED[con] = key
    return TRUTH_VIEW


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


def _temp_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(f"describe {quote_identifier(table)}").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}
