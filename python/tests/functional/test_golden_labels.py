"""The gold set input: read from a file (csv, jsonl, parquet) or a table, every row valid or
quarantined with a reason, nothing lost, and joined to the votes as ``golden_label``.

Only the gold staging models (and, for the join, the models up to ``fct_lf_votes``) are built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flywheel.dbt import run_dbt
from flywheel.errors import FlywheelError
from flywheel.pipeline import golden_quality
from flywheel.project import Project, load_project
from flywheel.simulate.golden import write_golden_sample

GOLD_STAGING = [
    "build", "--indirect-selection", "cautious", "--select",
    "+stg_golden_labels", "+stg_golden_labels_rejected", "assert_golden_labels_reconcile",
]  # fmt: skip

ROWS: list[dict[str, Any]] = [
    {"output_id": "o1", "label": "1", "labeled_by": "ann", "labeled_at": "2026-11-02T10:00:00Z"},
    {"output_id": "o2", "label": "bad", "labeled_by": "ann", "labeled_at": None},
    {"output_id": "o3", "label": "0", "labeled_by": None, "labeled_at": None},
    {"output_id": "o3", "label": "0", "labeled_by": "bob", "labeled_at": None},  # repeated
    {"output_id": "o4", "label": "1", "labeled_by": "ann", "labeled_at": None},
    {"output_id": "o4", "label": "0", "labeled_by": "bob", "labeled_at": None},  # conflict
    {"output_id": None, "label": "1", "labeled_by": None, "labeled_at": None},
    {"output_id": "o5", "label": "maybe", "labeled_by": None, "labeled_at": None},
    {"output_id": "o6", "label": None, "labeled_by": None, "labeled_at": None},
    {"output_id": "o7", "label": "1", "labeled_by": None, "labeled_at": "last tuesday"},
]
EXPECTED_VALID = {("o1", 1), ("o2", 0), ("o3", 0)}
EXPECTED_REJECTED = {
    ("o4", "conflicting_labels"), ("o4", "conflicting_labels"), (None, "missing_output_id"),
    ("o5", "invalid_label"), ("o6", "missing_label"), ("o7", "invalid_labeled_at"),
}  # fmt: skip


@pytest.fixture(scope="module")
def stage_gold(
    tmp_path_factory: pytest.TempPathFactory, copy_project: Callable[[Path], Path]
) -> Callable[..., Project]:
    """Build the gold staging models in a fresh project copy with the given vars."""

    def build(**dbt_vars: Any) -> Project:
        root = copy_project(tmp_path_factory.mktemp("gold"))
        project = load_project(root, root / "warehouse.duckdb")
        run_dbt(project, GOLD_STAGING, dbt_vars=dbt_vars, echo=lambda _: None)
        return project

    return build


def query(project: Project, sql: str) -> list[tuple[Any, ...]]:
    con = project.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def write(path: Path, rows: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("\n".join([*(json.dumps(r) for r in rows), *extra_lines]) + "\n")
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).astype("string").to_parquet(path, index=False)
    return path


def check_staged(project: Project, n_raw: int) -> None:
    valid = set(query(project, "select output_id, golden_label from stg_golden_labels"))
    rejected = query(project, "select output_id, rejection_reason from stg_golden_labels_rejected")
    repeated = query(
        project, "select count(*) from base_golden_labels__validated where is_duplicate"
    )
    assert valid == EXPECTED_VALID
    assert {tuple(r) for r in rejected} >= EXPECTED_REJECTED
    assert len(valid) + len(rejected) + repeated[0][0] == n_raw  # nothing lost


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_gold_file_rows_are_valid_or_quarantined(stage_gold, tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"it's gold{suffix}", ROWS)  # a quote in the path is a file name
    project = stage_gold(flywheel__golden_labels_path=str(path))
    check_staged(project, len(ROWS))
    con = project.connect()
    try:
        line = golden_quality(con, project.schema)
    finally:
        con.close()
    assert line is not None and line.startswith(f"gold: {len(ROWS)} rows read: 3 valid, 1 repeated")
    assert "conflicting_labels 2" in line


def test_an_unreadable_jsonl_line_is_quarantined(stage_gold, tmp_path: Path) -> None:
    path = write(tmp_path / "gold.jsonl", ROWS, extra_lines=("{not json",))
    project = stage_gold(flywheel__golden_labels_path=str(path))
    check_staged(project, len(ROWS) + 1)
    unreadable = query(
        project,
        "select raw_line from stg_golden_labels_rejected "
        "where rejection_reason = 'unreadable_line'",
    )
    assert unreadable == [("{not json",)]


def test_optional_columns_may_be_missing_a_required_one_may_not(stage_gold, tmp_path: Path) -> None:
    path = tmp_path / "minimal.csv"
    pd.DataFrame({"output_id": ["o1", "o2"], "label": [1, 0]}).to_csv(path, index=False)
    project = stage_gold(flywheel__golden_labels_path=str(path))
    staged = query(project, "select output_id, golden_label, labeled_by from stg_golden_labels")
    assert set(staged) == {("o1", 1, None), ("o2", 0, None)}
    broken = tmp_path / "no_label.csv"
    pd.DataFrame({"output_id": ["o1"], "rating": [1]}).to_csv(broken, index=False)
    with pytest.raises(FlywheelError, match="golden labels .* have no column label"):
        stage_gold(flywheel__golden_labels_path=str(broken))


def test_gold_from_a_table_named_by_var(copy_project, tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    project = load_project(root, root / "warehouse.duckdb")
    con = project.connect()
    try:
        con.execute("create schema raw")
        con.execute(
            "create table raw.annotations as select * from (values ('o1', '1', 'ann', null), "
            "('o2', 'nope', null, null)) as t (output_id, label, labeled_by, labeled_at)"
        )
    finally:
        con.close()
    run_dbt(
        project, GOLD_STAGING, dbt_vars={"flywheel__golden_labels_table": "annotations"},
        echo=lambda _: None,
    )  # fmt: skip
    assert query(project, "select output_id, golden_label from stg_golden_labels") == [("o1", 1)]
    assert query(project, "select rejection_reason from stg_golden_labels_rejected") == [
        ("invalid_label",)
    ]
    with pytest.raises(
        FlywheelError, match="flywheel__golden_labels_table must be a plain identifier"
    ):
        run_dbt(
            project, GOLD_STAGING, dbt_vars={"flywheel__golden_labels_table": "x; drop table y"},
            echo=lambda _: None,
        )  # fmt: skip


def test_no_gold_by_default(stage_gold) -> None:
    project = stage_gold()
    assert query(project, "select count(*) from base_golden_labels__validated") == [(0,)]
    con = project.connect()
    try:
        assert golden_quality(con, project.schema) is None
    finally:
        con.close()


def test_simulated_gold_is_a_seeded_uniform_sample_per_surface(built, tmp_path: Path) -> None:
    truth = built.sim.truth_path
    a = write_golden_sample(truth, tmp_path / "a.csv", 50, seed=3)
    b = write_golden_sample(truth, tmp_path / "b.csv", 50, seed=3)
    c = write_golden_sample(truth, tmp_path / "c.csv", 50, seed=4)
    assert a == b == c == 150
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    gold = pd.read_csv(tmp_path / "a.csv")
    assert list(gold.columns) == ["output_id", "label", "labeled_by"]
    truth_df = pd.read_parquet(truth, columns=["output_id", "surface", "is_good"])
    joined = gold.merge(truth_df, on="output_id")
    assert joined.groupby("surface").size().to_dict() == {"chat": 50, "code": 50, "search": 50}
    assert (joined["label"] == joined["is_good"].astype(int)).all()
