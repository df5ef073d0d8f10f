"""Hostile input, case by case: every readable row is valid or quarantined with a reason, the
build never fails on a value, a path or a name from configuration cannot run SQL, a changed
schema fails loudly naming the column, and a broken stream stops the build saying why.

Only the staging models are built (a few seconds each); the property-based tests in
python/tests/property/ generate many more streams.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from hashlib import md5
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel.dbt import run_dbt
from flywheel.errors import FlywheelError
from flywheel.project import Project, load_project

STAGING = [
    "build", "--indirect-selection", "cautious", "--select",
    "+stg_events_quality", "+stg_events_rejected", "assert_raw_events_reconcile",
    "assert_event_stream_is_healthy",
]  # fmt: skip
#: hostile streams are mostly rejects: let the build finish so the quarantine can be read
LENIENT = {"flywheel__max_rejected_share": 1}
T0 = "2026-11-01T10:00:00Z"


def event(event_id: str, event_type: str, **overrides: Any) -> dict[str, Any]:
    """A valid event of user u1 about output o1 of request r1, with ``overrides``."""
    row: dict[str, Any] = {
        "event_id": event_id, "occurred_at": T0, "received_at": "2026-11-01T10:00:01Z",
        "user_id": "u1", "surface": "search", "event_type": event_type, "request_id": "r1",
        "output_id": None if event_type == "request" else "o1", "model_version": "m1",
        "properties": "{}",
    }  # fmt: skip
    row.update(overrides)
    return row


def props(**values: Any) -> str:
    return json.dumps(values)


BASE = [
    event("req", "request", properties=props(text="weak supervision")),
    event("shown", "output_shown", properties=props(text="ten results", n_results=10)),
    event("click", "click", properties=props(position=1, dwell_seconds=42.5)),
]

RATING, POSITION, OUT_OF_RANGE = (
    "invalid_rating",
    "invalid_click_position",
    "occurred_at_out_of_range",
)
#: event_id -> (the hostile row, the reason it must get)
HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "rating_yes": (
        event("rating_yes", "feedback", properties=props(rating="yes")),
        "invalid_rating",
    ),
    "rating_1_4": (event("rating_1_4", "feedback", properties=props(rating=1.4)), "invalid_rating"),
    "chars_empty": (event("chars_empty", "copy", properties=props(n_chars="")), "invalid_n_chars"),
    "chars_2_31": (
        event("chars_2_31", "accept", properties=props(n_chars=2147483648)),
        "invalid_n_chars",
    ),
    "chars_neg": (event("chars_neg", "copy", properties=props(n_chars=-1)), "invalid_n_chars"),
    "pos_huge": (
        event("pos_huge", "click", properties=props(position=99999999999)),
        "invalid_click_position",
    ),
    "pos_1_5": (
        event("pos_1_5", "click", properties=props(position=1.5)),
        "invalid_click_position",
    ),
    "dwell_slow": (
        event("dwell_slow", "click", properties=props(position=1, dwell_seconds="slow")),
        "invalid_dwell_seconds",
    ),
    "dwell_neg": (
        event("dwell_neg", "click", properties=props(position=2, dwell_seconds=-3)),
        "invalid_dwell_seconds",
    ),
    "results_nan": (
        event("results_nan", "output_shown", properties=props(n_results="NaN")),
        "invalid_n_results",
    ),
    "t_infinity": (event("t_infinity", "copy", occurred_at="infinity"), "occurred_at_out_of_range"),
    "t_year_1": (
        event("t_year_1", "copy", occurred_at="0001-01-01T00:00:00Z"),
        "occurred_at_out_of_range",
    ),
    "t_1970": (
        event("t_1970", "copy", occurred_at="1970-01-01T00:00:00Z"),
        "occurred_at_out_of_range",
    ),
    "r_2100": (
        event(
            "r_2100", "copy", occurred_at="2100-01-01T00:00:00Z", received_at="2100-01-01T00:00:00Z"
        ),
        "received_in_future",
    ),
    "r_garbage": (event("r_garbage", "copy", received_at="soon"), "unparseable_received_at"),
    "user_tab": (event("user_tab", "copy", user_id="\t\n "), "missing_user_id"),
    "stranger": (
        event("stranger", "feedback", user_id="u2", properties=props(rating=1)),
        "output_of_another_user",
    ),  # fmt: skip
    "props_array": (event("props_array", "copy", properties="[1, 2]"), "invalid_properties"),
}


@pytest.fixture(scope="module")
def stage(
    tmp_path_factory: pytest.TempPathFactory, copy_project: Callable[[Path], Path]
) -> Callable[..., Project]:
    """Build the staging models on an events file in a fresh project copy."""

    def build(events: Path, **dbt_vars: Any) -> Project:
        root = copy_project(tmp_path_factory.mktemp("hostile"))
        project = load_project(root, root / "warehouse.duckdb")
        run_dbt(
            project, STAGING, dbt_vars={"flywheel__events_path": str(events), **dbt_vars},
            echo=lambda _: None,
        )  # fmt: skip
        return project

    return build


def build_staging(project: Project, events: Path) -> None:
    run_dbt(project, STAGING, dbt_vars={"flywheel__events_path": str(events)}, echo=lambda _: None)


def write_jsonl(path: Path, rows: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> Path:
    path.write_text("\n".join([*(json.dumps(r) for r in rows), *extra_lines]) + "\n")
    return path


def query(project: Project, sql: str) -> list[tuple[Any, ...]]:
    con = project.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_bad_value_is_quarantined_with_its_reason(stage, tmp_path: Path) -> None:
    rows = BASE + [row for row, _ in HOSTILE.values()]
    # a path with quotes and spaces is just a file name
    path = tmp_path / """it's a "quoted" file.jsonl"""
    events = write_jsonl(path, rows, extra_lines=("{not json", "[1, 2]"))
    project = stage(events, **LENIENT)  # the build succeeds: no value can fail it
    reasons = dict(query(project, "select event_id, rejection_reason from stg_events_rejected"))
    assert {k: reasons.get(k) for k in HOSTILE} == {k: r for k, (_, r) in HOSTILE.items()}
    unreadable = query(
        project,
        "select raw_line from stg_events_rejected where rejection_reason = 'unreadable_line'",
    )
    assert sorted(line for (line,) in unreadable) == ["[1, 2]", "{not json"]
    valid = {r[0] for r in query(project, "select event_id from stg_events")}
    assert valid == {"req", "shown", "click"}
    ((read, n_valid, dup, rejected),) = query(
        project,
        "select sum(n_rows) filter (where metric_name = 'raw_rows'), "
        "sum(n_rows) filter (where metric_name = 'valid'), "
        "sum(n_rows) filter (where metric_name = 'duplicates'), "
        "sum(n_rows) filter (where metric_name = 'rejected') "
        "from stg_events_quality where metric_kind = 'total'",
    )
    assert (read, n_valid, dup, rejected) == (len(rows) + 2, 3, 0, len(HOSTILE) + 2)


@pytest.mark.parametrize(
    "dbt_vars",
    [
        {"flywheel__events_path": "x'); drop table main.victim; --.parquet"},
        {"flywheel__events_path": "", "flywheel__raw_table": 'events"; drop table main.victim; --'},
        {"flywheel__events_path": "", "flywheel__raw_schema": "raw; drop table main.victim"},
    ],
    ids=["path", "table", "schema"],
)
def test_a_hostile_path_or_name_runs_no_statement(
    tmp_path: Path, copy_project: Callable[[Path], Path], dbt_vars: dict[str, str]
) -> None:
    root = copy_project(tmp_path / "project")
    project = load_project(root, root / "warehouse.duckdb")
    with project.connect() as con:
        con.execute("create table main.victim as select 1 as x")
    with pytest.raises(FlywheelError, match="failed"):
        run_dbt(project, STAGING, dbt_vars=dbt_vars, echo=lambda _: None)
    assert query(project, "select x from main.victim") == [(1,)]


def test_csv_columns_are_matched_by_header_name(stage, tmp_path: Path) -> None:
    frame = pd.DataFrame(BASE)
    # another column order: received_at before occurred_at, properties first
    frame[list(reversed(frame.columns))].to_csv(tmp_path / "reordered.csv", index=False)
    with (tmp_path / "reordered.csv").open("a") as csv:
        csv.write("{}\n")  # a short line (one field): read, padded, quarantined
    sql = "select event_id, occurred_at, received_at, user_id, text from stg_events order by 1"
    project = stage(tmp_path / "reordered.csv", **LENIENT)
    assert query(project, "select properties, rejection_reason from stg_events_rejected") == [
        ("{}", "missing_event_id")
    ]
    rows = query(project, sql)
    assert [(r[0], r[1].isoformat(), r[2].isoformat(), r[3], r[4]) for r in rows] == [
        ("click", "2026-11-01T10:00:00", "2026-11-01T10:00:01", "u1", None),
        ("req", "2026-11-01T10:00:00", "2026-11-01T10:00:01", "u1", "weak supervision"),
        ("shown", "2026-11-01T10:00:00", "2026-11-01T10:00:01", "u1", "ten results"),
    ]


def test_typed_parquet_is_read_nested_properties_and_epoch_times(stage, tmp_path: Path) -> None:
    epoch_ms = 1_793_527_200_000  # 2026-11-01T10:00:00Z
    table = pa.table(
        {
            "event_id": ["req", "shown"],
            "occurred_at": pa.array([epoch_ms, epoch_ms + 1000], pa.int64()),
            "received_at": pa.array([epoch_ms + 500, epoch_ms + 1500], pa.int64()),
            "user_id": ["u1", "u1"], "surface": ["chat", "chat"],
            "event_type": ["request", "output_shown"], "request_id": ["r1", "r1"],
            "output_id": [None, "o1"], "model_version": ["m1", "m1"],
            "properties": [{"text": "hello", "n_chars": None}, {"text": "answer", "n_chars": 6}],
        }
    )  # fmt: skip
    pq.write_table(table, tmp_path / "typed.parquet")
    project = stage(tmp_path / "typed.parquet")
    rows = query(project, "select event_id, occurred_at, text, n_chars from stg_events order by 1")
    assert [(r[0], r[1].isoformat(), r[2], r[3]) for r in rows] == [
        ("req", "2026-11-01T10:00:00", "hello", None),
        ("shown", "2026-11-01T10:00:01", "answer", 6),
    ]


def test_a_missing_column_fails_naming_it(tmp_path: Path, copy_project) -> None:
    pq.write_table(pa.Table.from_pylist(BASE).drop(["received_at"]), tmp_path / "old.parquet")
    root = copy_project(tmp_path / "project")
    project = load_project(root, root / "warehouse.duckdb")
    with pytest.raises(FlywheelError, match="have no column received_at"):
        run_dbt(
            project, STAGING, dbt_vars={"flywheel__events_path": str(tmp_path / "old.parquet")},
            echo=lambda _: None,
        )  # fmt: skip


def test_a_broken_stream_stops_the_build_saying_why(tmp_path: Path, copy_project) -> None:
    # JSON lines without received_at: every row is rejected, which must not pass quietly
    rows = [{k: v for k, v in row.items() if k != "received_at"} for row in BASE]
    events = write_jsonl(tmp_path / "events.jsonl", rows)
    root = copy_project(tmp_path / "project")
    project = load_project(root, root / "warehouse.duckdb")
    with pytest.raises(FlywheelError) as failure:
        run_dbt(
            project, STAGING, dbt_vars={"flywheel__events_path": str(events)}, echo=lambda _: None
        )
    message = str(failure.value)
    assert "assert_event_stream_is_healthy" in message
    assert "100.0% of the 3 raw rows are rejected" in message
    assert "unparseable_received_at" in message
    # the quarantine can still be queried after the failed build
    assert query(project, "select count(*) from stg_events_rejected") == [(3,)]


def test_clicks_without_dwell_stop_the_build_naming_the_property(
    tmp_path: Path, copy_project
) -> None:
    rows = BASE[:2] + [event("click", "click", properties=props(position=1))]
    events = write_jsonl(tmp_path / "events.jsonl", rows)
    root = copy_project(tmp_path / "project")
    project = load_project(root, root / "warehouse.duckdb")
    with pytest.raises(
        FlywheelError, match=r"100.0% of the 1 valid click events have no dwell_seconds"
    ):
        run_dbt(
            project, STAGING, dbt_vars={"flywheel__events_path": str(events)}, echo=lambda _: None
        )


def test_user_ids_are_pseudonymized_with_a_secret_salt(
    stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    salt = "a-secret-salt-4f7c2e"
    monkeypatch.setenv("DBT_ENV_SECRET_FLYWHEEL_USER_ID_SALT", salt)
    rows = [*BASE, event("stranger", "copy", user_id="u2")]
    events = write_jsonl(tmp_path / "events.jsonl", rows)
    project = stage(events, flywheel__pseudonymize_user_id=True, **LENIENT)
    valid = {u for (u,) in query(project, "select distinct user_id from stg_events")}
    rejected = {u for (u,) in query(project, "select user_id from stg_events_rejected")}
    expected = {name: md5(f"{salt}|{name}".encode()).hexdigest() for name in ("u1", "u2")}
    assert valid == {expected["u1"]} and rejected == {expected["u2"]}  # the quarantine too
    # the salt is in no compiled file, run file or log
    for path in project.root.rglob("*"):
        if path.is_file() and path.suffix in {".sql", ".json", ".log", ".txt"}:
            assert salt not in path.read_text(errors="replace"), path


def test_pseudonymizing_without_a_salt_stops_the_build(
    tmp_path: Path, copy_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBT_ENV_SECRET_FLYWHEEL_USER_ID_SALT", raising=False)
    events = write_jsonl(tmp_path / "events.jsonl", BASE)
    root = copy_project(tmp_path / "project")
    project = load_project(root, root / "warehouse.duckdb")
    with pytest.raises(FlywheelError, match="DBT_ENV_SECRET_FLYWHEEL_USER_ID_SALT is not set"):
        run_dbt(
            project, STAGING,
            dbt_vars={"flywheel__events_path": str(events), "flywheel__pseudonymize_user_id": True},
            echo=lambda _: None,
        )  # fmt: skip
