"""Two builds of the same events, from scratch, give the same warehouse to the last bit.

Every table and view, the label job's tables included: the same relations, columns and types,
and the same rows, compared by an md5 over all rows (each cast to text, ordered by all
columns). Only the columns of RUN_SPECIFIC_COLUMNS, which name the run rather than the data,
are left out. A float aggregate that depends on the order the warehouse adds rows in (avg()
of a double under DuckDB's parallel aggregation) fails this test; the marts average through
``flywheel.exact_avg`` (macros/exact_avg.sql).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flywheel.dbt import AFTER_LABELS, BEFORE_LABELS, run_dbt
from flywheel.label_job import run_label_job
from flywheel.label_job.config import LabelJobConfig
from flywheel.project import Project, load_project
from flywheel.simulate import simulate
from flywheel.warehouse import quote_identifier as q

#: columns that legitimately differ between two runs of the same data: the label job's run id
#: (a fresh uuid per run) and fit time, and their copies downstream
RUN_SPECIFIC_COLUMNS = frozenset({"run_id", "label_run_id", "fitted_at", "label_fitted_at"})
SCHEMA = "main"
#: dbt's data and unit tests write nothing (the other functional tests run them)
NO_TESTS = ["--exclude-resource-type", "test", "unit_test"]


def _build(root: Path, events_path: Path, golden_path: Path) -> Project:
    """``flywheel run --golden``'s steps on a fresh project copy and warehouse."""
    project = load_project(root, root / "warehouse.duckdb")
    dbt_vars = {
        "flywheel__events_path": str(events_path),
        "flywheel__golden_labels_path": str(golden_path),
    }
    run_dbt(
        project,
        ["build", "--selector", BEFORE_LABELS, *NO_TESTS],
        dbt_vars=dbt_vars,
        echo=lambda _: None,
    )
    with project.connect() as con:
        run_label_job(con, LabelJobConfig(schema=project.schema))
    run_dbt(
        project,
        ["build", "--selector", AFTER_LABELS, *NO_TESTS],
        dbt_vars=dbt_vars,
        echo=lambda _: None,
    )
    return project


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory, copy_project) -> tuple[Project, Project]:
    # the smallest stream whose every relation has rows (drift flags, calibration bins, ratings)
    sim = simulate(tmp_path_factory.mktemp("events"), n_events=5_000, seed=5, golden_size=50)
    assert sim.golden_path is not None
    with sim.golden_path.open("a") as gold:  # and a row for the quarantine
        gold.write("o_unknown,maybe,someone\n")
    builds = [
        _build(copy_project(tmp_path_factory.mktemp(name)), sim.events_path, sim.golden_path)
        for name in ("first", "second")
    ]
    first, second = builds
    return first, second


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str, str]]]:
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


def _checksum(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> tuple:
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


def _compared(columns: list[tuple[str, str, str]]) -> list[str]:
    return [column for _, column, _ in columns if column not in RUN_SPECIFIC_COLUMNS]


def test_two_builds_are_identical(two_builds) -> None:
    first, second = two_builds
    # dbt-duckdb keeps its connections open in this process: open the files the same way
    with first.connect() as a, second.connect() as b:
        layout_a, layout_b = _columns(a), _columns(b)
        assert sorted(layout_a) == sorted(layout_b), "the two builds made different relations"
        differences, empty = [], []
        for table, columns in sorted(layout_a.items()):
            if columns != layout_b[table]:
                differences.append(f"{table}: columns {columns} != {layout_b[table]}")
                continue
            compared = _compared(columns)
            rows_a = _checksum(a, table, compared)
            if rows_a[0] == 0:
                empty.append(table)
            if rows_a != _checksum(b, table, compared):
                moved = [
                    c for c in compared if _checksum(a, table, [c]) != _checksum(b, table, [c])
                ]
                differences.append(
                    f"{table}: rows differ (columns: {', '.join(moved) or 'none alone'})"
                )
        exempt = {c for columns in layout_a.values() for _, c, _ in columns} & RUN_SPECIFIC_COLUMNS
    assert not differences, "two builds of the same events differ:\n" + "\n".join(differences)
    # the comparison means something: every relation has rows, every exempt column exists
    assert not empty, f"the stream is too small to fill {empty}"
    assert exempt == RUN_SPECIFIC_COLUMNS, sorted(RUN_SPECIFIC_COLUMNS - exempt)
