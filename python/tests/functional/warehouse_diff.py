"""Compare two warehouses relation by relation: the same relations, columns and rows.

Rows are compared by an md5 over all rows (each cast to text, ordered by all columns), so two
warehouses agree only when every value agrees to the last bit. Shared by the determinism test
(two builds from scratch) and the incremental test (batches against a full refresh).
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from flywheel.warehouse import quote_identifier as q

SCHEMA = "main"


def layout(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str, str]]]:
    """Per relation: its (table type, column, data type) rows, in column order."""
    rows = con.execute(
        """
        select c.table_name, t.table_type, c.column_name, c.data_type
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_schema = t.table_schema and c.table_name = t.table_name
        where c.table_schema = ?
        order by c.table_name, c.ordinal_position
        """,
        [SCHEMA],
    ).fetchall()
    out: dict[str, list[tuple[str, str, str]]] = {}
    for table, kind, column, dtype in rows:
        out.setdefault(table, []).append((kind, column, dtype))
    return out


def checksum(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> tuple:
    """Row count and md5 of the rows' text, ordered by all the columns."""
    cols = ", ".join(q(c) for c in columns)
    ((n_rows, digest),) = con.execute(
        f"""
        select count(*), md5(coalesce(string_agg(cast(row({cols}) as varchar), chr(10)
            order by {cols}), ''))
        from {q(SCHEMA)}.{q(table)}
        """
    ).fetchall()
    return n_rows, digest


def differences(
    a: duckdb.DuckDBPyConnection,
    b: duckdb.DuckDBPyConnection,
    exempt: Collection[str],
    *,
    ignore_kind: bool = False,
) -> tuple[list[str], list[str]]:
    """What differs between the two warehouses, and the relations with no rows.

    ``exempt``: columns left out of the row comparison (they name the run, not the data).
    ``ignore_kind``: a table in one may be a view in the other (materializations differ).
    """
    layout_a, layout_b = layout(a), layout(b)
    if sorted(layout_a) != sorted(layout_b):
        return [f"relations differ: {sorted(set(layout_a) ^ set(layout_b))}"], []
    found, empty = [], []
    for table, columns in sorted(layout_a.items()):
        other = layout_b[table]
        if ignore_kind:
            columns = [("", c, t) for _, c, t in columns]
            other = [("", c, t) for _, c, t in other]
        if columns != other:
            found.append(f"{table}: columns {columns} != {other}")
            continue
        compared = [column for _, column, _ in columns if column not in exempt]
        rows_a = checksum(a, table, compared)
        if rows_a[0] == 0:
            empty.append(table)
        rows_b = checksum(b, table, compared)
        if rows_a != rows_b:
            moved = [c for c in compared if checksum(a, table, [c]) != checksum(b, table, [c])]
            found.append(
                f"{table}: rows differ ({rows_a[0]} vs {rows_b[0]} rows; columns: "
                f"{', '.join(moved) or 'none alone'})"
            )
    return found, empty
