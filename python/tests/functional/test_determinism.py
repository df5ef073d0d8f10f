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

import pytest
import warehouse_diff

from flywheel.dbt import AFTER_LABELS, BEFORE_LABELS, run_dbt
from flywheel.label_job import run_label_job
from flywheel.label_job.config import LabelJobConfig
from flywheel.project import Project, load_project
from flywheel.simulate import simulate

#: columns that legitimately differ between two runs of the same data: the label job's run id
#: (a fresh uuid per run) and fit time, and their copies downstream; the build's stamp
RUN_SPECIFIC_COLUMNS = frozenset(
    {"run_id", "label_run_id", "fitted_at", "label_fitted_at", "_loaded_at"}
)
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


def test_two_builds_are_identical(two_builds) -> None:
    first, second = two_builds
    # dbt-duckdb keeps its connections open in this process: open the files the same way
    with first.connect() as a, second.connect() as b:
        differences, empty = warehouse_diff.differences(a, b, RUN_SPECIFIC_COLUMNS)
        exempt = {
            c for columns in warehouse_diff.layout(a).values() for _, c, _ in columns
        } & RUN_SPECIFIC_COLUMNS
    assert not differences, "two builds of the same events differ:\n" + "\n".join(differences)
    # the comparison means something: every relation has rows, every exempt column exists
    assert not empty, f"the stream is too small to fill {empty}"
    assert exempt == RUN_SPECIFIC_COLUMNS, sorted(RUN_SPECIFIC_COLUMNS - exempt)
