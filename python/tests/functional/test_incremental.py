"""Incremental builds, batch after batch, equal a full refresh of the same events, row for row.

A simulated stream is cut into batches by received_at and the events source grows batch by
batch, as a collector's table does; `dbt build` runs after each batch on one warehouse
(incremental, the default), and the label job refits twice on the way. Into the stream go the
things incremental sessionization packages get wrong:

- a duplicate delivered a week after the original (still a duplicate);
- rows that land in the source one batch late, with a received_at before the previous batch's
  last one (inside the lookback);
- a far-future row in the first batch (rejected, and it must not stop any later batch);
- rows with unreadable received_at (judged in every batch, written once);
- an offline client's event that arrives days late and merges two of its user's sessions;
- a feedback event days after its output was shown (the output's signals change);
- another user's event about an output whose first showing arrives batches later (judged
  again when the owner shows up);
- a gold set that appears half way (the votes' golden_label follows);
- vars changed for the last batch: the eval share and an LF threshold (every model
  recomputes whole, no --full-refresh);
- sessions that span every batch boundary (the cuts fall mid-stream).

Then every relation of the warehouse is compared with a full refresh of the final source (the
label job's tables copied over, so both score with the same fit): the same relations, columns
and rows, to the last bit, except the `_loaded_at` stamp. The last incremental build runs the
data tests too (raw = valid + duplicates + rejected holds after every batch).
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import warehouse_diff

from flywheel.cli import main
from flywheel.dbt import AFTER_LABELS, BEFORE_LABELS, run_dbt
from flywheel.label_job import run_label_job
from flywheel.label_job.config import LabelJobConfig
from flywheel.project import Project, load_project
from flywheel.simulate import simulate
from flywheel.warehouse import quote_identifier as q

#: the batch boundaries, as quantiles of the stream's received_at
CUTS = (0.35, 0.55, 0.75)
#: the label job's tables: written by the job, copied to the full refresh
LABEL_TABLES = (
    "label_model_runs", "label_model_lf_weights", "label_model_priors",
    "label_model_scoring_weights", "label_model_patterns",
)  # fmt: skip
NO_TESTS = ["--exclude-resource-type", "test", "unit_test"]
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", ISO).replace(tzinfo=UTC)
    except ValueError:
        return None


def _text(moment: datetime) -> str:
    return moment.strftime(ISO)


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows each batch adds to the source, hostile additions included."""
    timed = sorted((r for r in rows if _time(r["received_at"])), key=lambda r: r["received_at"])
    cuts = [_time(timed[int(len(timed) * c)]["received_at"]) for c in CUTS]
    assert all(cuts)
    bounds: list[datetime] = [c for c in cuts if c is not None]
    first, last = _time(timed[0]["received_at"]), _time(timed[-1]["received_at"])
    assert first is not None and last is not None
    n = len(bounds) + 1
    added: list[list[dict[str, Any]]] = [[] for _ in range(n)]

    def batch_of(received: datetime) -> int:
        return next((i for i, b in enumerate(bounds) if received <= b), n - 1)

    for k, row in enumerate(rows):
        received = _time(row["received_at"])
        if received is None:  # unreadable times land in the second batch
            added[1].append(row)
        elif bounds[0] - timedelta(hours=2) < received <= bounds[0] and k % 3 == 0:
            added[1].append(row)  # landed one batch late, among rows received after it
        else:
            added[batch_of(received)].append(row)

    def shift(row: dict[str, Any], **values: Any) -> dict[str, Any]:
        return {**row, **values}

    valid = [r for r in timed if r["user_id"] and r["event_type"] in {"accept", "copy", "click"}]
    original = valid[len(valid) // 10]
    week_later = _time(original["received_at"]) + timedelta(days=7)  # type: ignore[operator]
    added[batch_of(week_later)].append(shift(original, received_at=_text(week_later)))
    added[0].append(
        shift(
            original,
            event_id="far-future",
            occurred_at="2099-01-01T00:00:00.000Z",
            received_at="2099-01-01T00:00:00.000Z",
        )  # fmt: skip
    )
    shown = [
        r for r in timed
        if r["event_type"] == "output_shown" and r["user_id"] and r["output_id"] and r["request_id"]
    ]  # fmt: skip
    early = shown[len(shown) // 20]
    in_third = bounds[1] + timedelta(minutes=1)
    added[2].append(
        shift(
            early,
            event_id="late-feedback",
            event_type="feedback",
            occurred_at=_text(_time(early["occurred_at"]) + timedelta(seconds=90)),  # type: ignore[operator]
            received_at=_text(in_third),
            properties=json.dumps({"rating": 1}),
        )  # fmt: skip
    )
    # an output shown (and its request sent) only in the last batch
    first_seen: dict[str, str] = {}
    for row in timed:
        for key in (row["output_id"], row["request_id"]):
            if key:
                first_seen.setdefault(key, row["received_at"])
    late_shown = next(
        r for r in shown
        if min(first_seen[r["output_id"]], first_seen[r["request_id"]]) > _text(bounds[2])
    )  # fmt: skip
    at_start = first + timedelta(hours=1)
    added[0].append(
        shift(
            late_shown,
            event_id="intruder",
            user_id="intruder",
            event_type="copy",
            occurred_at=_text(at_start),
            received_at=_text(at_start),
            properties=json.dumps({"n_chars": 3}),
        )  # fmt: skip
    )
    added[3].append(_session_bridge(timed, bounds[0], in_last=bounds[2] + timedelta(minutes=5)))
    return added


def _session_bridge(
    timed: list[dict[str, Any]], before: datetime, in_last: datetime
) -> dict[str, Any]:
    """A request in the gap between two of a user's sessions (30-55 minutes apart, before the
    first cut), received in the last batch: the two sessions become one."""
    by_user: dict[str, list[dict[str, Any]]] = {}
    for row in timed:
        if row["user_id"] and _time(row["occurred_at"]) and _time(row["received_at"]) < before:  # type: ignore[operator]
            by_user.setdefault(row["user_id"], []).append(row)
    for user, events in sorted(by_user.items()):
        events.sort(key=lambda r: r["occurred_at"])
        for a, b in zip(events, events[1:], strict=False):
            gap = _time(b["occurred_at"]) - _time(a["occurred_at"])  # type: ignore[operator]
            if timedelta(minutes=31) < gap < timedelta(minutes=55) and a["surface"] == "chat":
                middle = _time(a["occurred_at"]) + gap / 2  # type: ignore[operator]
                return {
                    **a, "event_id": "bridge", "event_type": "request", "user_id": user,
                    "request_id": "bridge-request", "output_id": None, "model_version": None,
                    "occurred_at": _text(middle), "received_at": _text(in_last),
                    "properties": json.dumps({"text": "how do I merge two sessions"}),
                }  # fmt: skip
    raise AssertionError("no user with two chat sessions 31-55 minutes apart")


def _write(rows: list[dict[str, Any]], path: Path, schema: pa.Schema) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.fixture(scope="module")
def builds(
    tmp_path_factory: pytest.TempPathFactory, copy_project
) -> tuple[Project, Project, list[int]]:
    sim = simulate(tmp_path_factory.mktemp("events"), n_events=20_000, seed=23, golden_size=80)
    assert sim.golden_path is not None
    table = pq.read_table(sim.events_path)
    batches = _batches(table.to_pylist())

    incremental = load_project(copy_project(tmp_path_factory.mktemp("incremental")))
    incremental = load_project(incremental.root, incremental.root / "warehouse.duckdb")
    source = tmp_path_factory.mktemp("source") / "events.parquet"
    grown: list[dict[str, Any]] = []
    quiet = {"echo": lambda _: None}
    loads = []  # after each batch: the distinct _loaded_at stamps in base_events__validated
    for i, batch in enumerate(batches):
        grown += batch
        _write(grown, source, table.schema)
        dbt_vars = {"flywheel__events_path": str(source)}
        if i >= 2:  # the gold set arrives half way
            dbt_vars["flywheel__golden_labels_path"] = str(sim.golden_path)
        if i == len(batches) - 1:  # and a threshold changes at the end (no --full-refresh)
            dbt_vars["flywheel__eval_percent"] = 50
            dbt_vars["flywheel__lf_params"] = {
                "lf_code_heavily_rewritten": {"min_share_rewritten": 0.3}
            }
        last = i == len(batches) - 1
        run_dbt(
            incremental,
            ["build", *(["--full-refresh"] if i == 0 else []),
             *(["--exclude-resource-type", "unit_test"] if last else NO_TESTS)],
            dbt_vars=dbt_vars, **quiet,
        )  # fmt: skip
        with incremental.connect() as con:
            loads += con.execute(
                "select count(distinct _loaded_at) from base_events__validated"
            ).fetchone() or [0]
        if i in (1, len(batches) - 1):  # the label job refits, then labels follow the new fit
            with incremental.connect() as con:
                run_label_job(con, LabelJobConfig(schema=incremental.schema))
            run_dbt(incremental, ["build", "--selector", AFTER_LABELS, *NO_TESTS],
                    dbt_vars=dbt_vars, **quiet)  # fmt: skip

    full = load_project(copy_project(tmp_path_factory.mktemp("full")))
    full = load_project(full.root, full.root / "warehouse.duckdb")
    run_dbt(full, ["build", "--selector", BEFORE_LABELS, "--full-refresh", *NO_TESTS],
            dbt_vars=dbt_vars, **quiet)  # fmt: skip
    with full.connect() as con:
        con.execute(f"attach {q(str(incremental.db_path))} as batches (read_only)")
        for name in LABEL_TABLES:
            con.execute(
                f"create or replace table main.{q(name)} as select * from batches.main.{q(name)}"
            )
        con.execute("detach batches")
    run_dbt(full, ["build", "--selector", AFTER_LABELS, "--full-refresh", *NO_TESTS],
            dbt_vars=dbt_vars, **quiet)  # fmt: skip
    return incremental, full, loads


def test_incremental_batches_equal_a_full_refresh(builds) -> None:
    incremental, full, _ = builds
    with incremental.connect() as a, full.connect() as b:
        differences, _ = warehouse_diff.differences(a, b, {"_loaded_at"})
    assert not differences, "incremental != full refresh:\n" + "\n".join(differences)


def test_the_hostile_additions_were_judged_as_a_full_refresh_judges_them(builds) -> None:
    incremental, _, loads = builds
    with incremental.connect() as con:
        verdicts = dict(
            con.execute(
                """
                select event_id, coalesce(rejection_reason, 'valid')
                from base_events__validated
                where event_id in ('far-future', 'intruder', 'late-feedback', 'bridge')
                """
            ).fetchall()
        )
        (week_later_duplicates,) = con.execute(
            "select count(*) from base_events__validated where is_duplicate"
        ).fetchone() or (0,)
        (before, after) = con.execute(
            """
            select
                count(*) filter (where s.occurred_at < bridge.occurred_at),
                count(*) filter (where s.occurred_at > bridge.occurred_at)
            from int_sessionized_events as s
            inner join int_sessionized_events as bridge
                on bridge.event_id = 'bridge' and s.session_id = bridge.session_id
            """
        ).fetchone() or (0, 0)
    assert verdicts == {
        "far-future": "received_in_future",
        "intruder": "output_of_another_user",
        "late-feedback": "valid",
        "bridge": "valid",
    }
    assert week_later_duplicates > 0
    assert before > 0 and after > 0, "the late request merged the sessions around it"
    # each batch wrote rows of its own, but the last, whose new session gap rewrote them all
    assert loads == [1, 2, 3, 1]


def _run(root: Path, events: Path, *extra: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(
            ["run", "--project-dir", str(root), "--db", str(root / "warehouse.duckdb"),
             "--events", str(events), *extra]
        )  # fmt: skip
    assert status == 0, out.getvalue()[-2000:]
    return out.getvalue()


def test_flywheel_run_rebuilds_unless_incremental(tmp_path: Path, copy_project) -> None:
    root = copy_project(tmp_path / "project")
    sim = simulate(tmp_path / "events", n_events=8_000, seed=3, golden_size=0)
    stamps = (
        "select max(_loaded_at), count(distinct _loaded_at), count(*) from base_events__validated"
    )
    _run(root, sim.events_path)
    project = load_project(root, root / "warehouse.duckdb")
    with project.connect() as con:
        first = con.execute(stamps).fetchall()
    printed = _run(root, sim.events_path, "--incremental")
    with project.connect() as con:
        after_incremental = con.execute(stamps).fetchall()
    _run(root, sim.events_path)
    with project.connect() as con:
        (rebuilt,) = con.execute(stamps).fetchall()
    assert "dbt build (incremental)" in printed
    assert after_incremental == first, "the same events again: nothing new was written"
    assert rebuilt[0] > first[0][0] and rebuilt[1:] == (1, first[0][2]), "a rebuild restamps all"
