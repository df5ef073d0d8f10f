"""Hostile event streams for the staging models, and the properties they must keep.

Shared by ``test_hostile_streams.py`` (a few derandomized examples in the suite) and
``benchmarks/bench_hostile_streams.py`` (hundreds). Not a test module itself.

A *stream* is a few small valid sessions (request, output_shown, then accept / edit / revert /
reject / copy / click / feedback of the same user about the same output) mixed with hostile
rows, written as parquet, csv (columns in any order) or JSON lines (with lines that are not
JSON at all). Every written row carries a unique tag in ``model_version`` (a column staging
passes through untouched), or in the line itself for a line that is not a JSON object, so
every raw row can be followed to its outcome in ``base_events__validated``: nothing can be
lost, merged or duplicated without a property noticing.

Hostile rows get their own fresh event_id, user, request and output, so they cannot touch a
valid row, except for the two kinds that are about valid rows on purpose:

* ``duplicate``: another delivery of a valid event_id (received later, the same times with a
  different payload, an exact copy, or an invalid copy);
* ``attribution``: an event of another user about a valid session's output.

The properties (``check_stream``), on every stream:

1. ``build``: ``dbt build`` of staging (models, data tests, the reconcile test) succeeds;
2. ``nothing_lost``: raw rows (as staging reads them) = rows written = valid + duplicates +
   rejected, and every written row's tag comes out exactly as often as it went in;
3. ``reasons``: every rejected row has a reason, from the documented set (the accepted values
   of ``base_events__validated.rejection_reason``);
4. ``expected``: a row broken in one known way gets the reason for it; a valid row stays
   valid (a later delivery of it is a duplicate, another user's event about it is
   ``output_of_another_user``);
5. ``unchanged``: stg_events restricted to the valid rows' event_ids is the same, row for
   row, with and without the hostile rows beside them (ties between deliveries with the same
   times are left out: either may win);
6. ``deterministic``: a second build gives the same stg_events and stg_events_rejected (a
   checksum of every row), and it is incremental: the rows received by the median
   received_at built from scratch, then the whole stream built incrementally on them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import strategies as st

from flywheel.dbt import run_dbt
from flywheel.errors import FlywheelError
from flywheel.project import DB_ENV_VAR, Project

CONTRACT = [
    "event_id", "occurred_at", "received_at", "user_id", "surface", "event_type",
    "request_id", "output_id", "model_version", "properties",
]  # fmt: skip
FORMATS = ("parquet", "csv", "jsonl")
#: staging and its tests; `cautious`: not the seeds' tests that read marts not built here
STAGING_BUILD = [
    "build",
    "--select", "+stg_events +stg_events_rejected assert_raw_events_reconcile",
    "--indirect-selection", "cautious",
    # unit tests mock their inputs: the events file cannot change them (other tests run them)
    "--exclude-resource-type", "unit_test",
    # one warehouse serves every example: each stream is its own events source, not a batch
    "--full-refresh",
]  # fmt: skip
#: a JSON key left out of a JSON line (in csv and parquet: an empty value / null)
MISSING = object()
TAG = re.compile(r"tag[0-9]+x")
#: hostile times are around here: after flywheel__earliest_event_time, before the build
BASE_TIME = datetime(2026, 6, 1, 8, 0, 0, tzinfo=UTC)
#: Python's whitespace that is not ASCII: an id made only of it is blank
UNICODE_SPACES = ["\v", "\u00a0", "\u2003", "\u3000", "\u2028", "\x85"]


# --- rows and streams -------------------------------------------------------------------------


@dataclass
class Row:
    """One raw row (or, in JSON lines, one line).

    ``expect``: ``"valid"`` (kept in stg_events), ``"duplicate"``, ``"valid_or_duplicate"``
    (a tie), ``"rejected"`` (any documented reason), a specific reason, or None (anything
    documented). ``line``: the exact bytes of a JSON line that is not built from ``values``.
    """

    values: dict[str, Any]
    tag: str
    case: str
    kind: str  # valid, hostile, duplicate, attribution
    expect: str | None
    line: bytes | None = None


@dataclass
class Stream:
    """Valid rows and hostile rows, the order they are written in, and how."""

    rows: list[Row]
    fmt: str
    column_order: list[str]
    csv_quoting: int = csv.QUOTE_MINIMAL
    line_end: str = "\n"
    blank_lines: list[int] = field(default_factory=list)  # jsonl: where blank lines go
    extra_column: bool = False

    @property
    def valid_rows(self) -> list[Row]:
        return [row for row in self.rows if row.kind == "valid"]

    def only_valid(self) -> Stream:
        """The same stream, written the same way, without the hostile rows."""
        return Stream(
            self.valid_rows, self.fmt, self.column_order, self.csv_quoting, self.line_end,
            [], self.extra_column,
        )  # fmt: skip

    def first_batch(self) -> Stream:
        """The rows received by the median received_at, as a collector had them then.

        Rows whose received_at Python cannot read (epoch numbers, garbage, raw lines) are in it
        too: the rest, the second batch, is surely received later, whatever staging makes of
        the first batch's times.
        """
        times = sorted(t for row in self.rows if (t := _received(row)) is not None)
        if not times:
            return self
        median = times[len(times) // 2]
        rows = [row for row in self.rows if (t := _received(row)) is None or t <= median]
        return Stream(
            rows, self.fmt, self.column_order, self.csv_quoting, self.line_end, [],
            self.extra_column,
        )  # fmt: skip

    @property
    def cases(self) -> set[str]:
        return {row.case for row in self.rows if row.kind != "valid"}

    def describe(self) -> str:
        lines = [
            f"format={self.fmt} columns={','.join(self.column_order)} "
            f"quoting={self.csv_quoting} line_end={self.line_end!r} "
            f"extra_column={self.extra_column}"
        ]
        for row in self.rows:
            shown = (
                row.line
                if row.line is not None
                else {k: ("<missing>" if v is MISSING else v) for k, v in row.values.items()}
            )
            text = repr(shown)
            if len(text) > 400:
                text = text[:400] + f"... ({len(text)} chars)"
            lines.append(f"  [{row.kind}:{row.case} expect={row.expect}] {text}")
        return "\n".join(lines)


def as_text(value: Any) -> str | None:
    """A value as the text a csv or parquet file holds (JSON text for numbers and nesting)."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _received(row: Row) -> datetime | None:
    """The row's received_at as Python reads an ISO time (naive: UTC); None otherwise."""
    if row.line is not None:
        return None
    value = row.values.get("received_at")
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(as_text(value) or "")
        except (TypeError, ValueError):
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def write_stream(stream: Stream, path: Path) -> int:
    """Write the stream to ``path`` in its format; returns the raw rows written."""
    rows = stream.rows
    if stream.fmt == "parquet":
        arrays = {
            name: pa.array([as_text(r.values.get(name)) for r in rows], type=pa.string())
            for name in stream.column_order
        }
        if stream.extra_column:
            arrays["extra"] = pa.array([r.tag for r in rows], type=pa.string())
        pq.write_table(pa.table(arrays), path)
    elif stream.fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, quoting=stream.csv_quoting, lineterminator=stream.line_end)
        header = stream.column_order + (["extra"] if stream.extra_column else [])
        writer.writerow(header)
        for row in rows:
            values = [as_text(row.values.get(name)) for name in stream.column_order]
            if stream.extra_column:
                values.append("x;y|z")
            writer.writerow(["" if v is None else v for v in values])
        path.write_bytes(out.getvalue().encode("utf-8"))
    elif stream.fmt == "jsonl":
        lines: list[bytes] = []
        for row in rows:
            if row.line is not None:
                lines.append(row.line)
            else:
                obj = {
                    name: row.values[name]
                    for name in stream.column_order
                    if name in row.values and row.values[name] is not MISSING
                }
                lines.append(json.dumps(obj, ensure_ascii=False).encode("utf-8"))
        for position in sorted(stream.blank_lines, reverse=True):
            lines.insert(min(position, len(lines)), b"  \t ")
        end = stream.line_end.encode()
        path.write_bytes(end.join(lines) + end)
    else:
        raise ValueError(stream.fmt)
    return len(rows)


# --- valid sessions ---------------------------------------------------------------------------


def _iso(moment: datetime, style: str) -> Any:
    if style == "z":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if style == "offset":
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    if style == "plain":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == "epoch":
        return str(int(moment.timestamp()))
    if style == "epoch_ms":
        return str(int(moment.timestamp() * 1000))
    raise ValueError(style)


TIME_STYLES = ["z", "z", "offset", "plain", "epoch", "epoch_ms"]

FOLLOW_UPS = {
    "code": [("accept", {"n_chars": 42}), ("edit", {"share_rewritten": 0.25}),
             ("revert", {"n_chars": 40}), ("reject", {}), ("feedback", {"rating": 1})],
    "chat": [("copy", {"n_chars": 300}), ("feedback", {"rating": -1}), ("copy", {"n_chars": 0})],
    "search": [("click", {"position": 3, "dwell_seconds": 45.5}), ("click", {"position": 1}),
               ("feedback", {"rating": 1})],
}  # fmt: skip


class Tags:
    """Unique row tags and ids within one stream."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


@st.composite
def valid_session(draw: st.DrawFn, index: int, tags: Tags) -> list[Row]:
    """request, output_shown and a few follow-ups of one user about one output."""
    surface = draw(st.sampled_from(sorted(FOLLOW_UPS)))
    style = draw(st.sampled_from(TIME_STYLES))
    decoration = draw(st.sampled_from(["", "ü", "日本", "'q\"", " spaced id "]))
    user = f"vu{index}{decoration}"
    request, output = f"vr{index}", f"vo{index}"
    start = BASE_TIME + timedelta(hours=index, seconds=draw(st.integers(0, 3000)))
    follow_ups = draw(st.lists(st.sampled_from(FOLLOW_UPS[surface]), min_size=1, max_size=4))
    text = draw(st.sampled_from(["sort a list", "a, b; c|d", 'say "hi"', "naïve 🙂", "x\ny"]))
    events: list[tuple[str, str | None, dict[str, Any]]] = [
        ("request", None, {"text": text}),
        ("output_shown", output, {"text": "answer", "n_chars": 120}
         | ({"n_results": 10} if surface == "search" else {})),
        *[(kind, output, props) for kind, props in follow_ups],
    ]  # fmt: skip
    rows = []
    for k, (event_type, output_id, props) in enumerate(events):
        tag = tags.next()
        occurred = start + timedelta(seconds=10 * k)
        values = {
            "event_id": f"v{index}-{k}",
            "occurred_at": _iso(occurred, style),
            "received_at": _iso(occurred + timedelta(seconds=1), style),
            "user_id": user,
            "surface": surface,
            "event_type": event_type,
            "request_id": request,
            "output_id": output_id,
            "model_version": f"tag{tag}x",
            "properties": props if draw(st.booleans()) else json.dumps(props),
        }
        rows.append(Row(values, f"tag{tag}x", "valid", "valid", "valid"))
    return rows


# --- hostile rows -----------------------------------------------------------------------------

#: a valid event of each type (properties), the template a hostile row breaks in one place
TEMPLATES = {
    "request": {"text": "q"},
    "output_shown": {"text": "o", "n_chars": 5},
    "accept": {"n_chars": 5},
    "reject": {},
    "edit": {"share_rewritten": 0.5},
    "revert": {"n_chars": 5},
    "copy": {"n_chars": 5},
    "click": {"position": 2, "dwell_seconds": 3.0},
    "feedback": {"rating": -1},
}
SURFACE_OF = {"accept": "code", "reject": "code", "edit": "code", "revert": "code",
              "copy": "chat", "click": "search"}  # fmt: skip


def template(n: int, tag: str, event_type: str) -> dict[str, Any]:
    occurred = BASE_TIME + timedelta(minutes=n)
    return {
        "event_id": f"h{n}",
        "occurred_at": _iso(occurred, "z"),
        "received_at": _iso(occurred + timedelta(seconds=2), "z"),
        "user_id": f"hu{n}",
        "surface": SURFACE_OF.get(event_type, "chat"),
        "event_type": event_type,
        "request_id": f"hr{n}",
        "output_id": None if event_type == "request" else f"ho{n}",
        "model_version": tag,
        "properties": dict(TEMPLATES[event_type]),
    }


#: (case, event types it applies to (None: any), how it breaks the template, expected)
#: `change(values, n)` edits the template in place; expected as in Row.expect
Mutation = tuple[str, list[str] | None, Callable[[dict[str, Any], int], None], str | None]


def _set(name: str, value: Any) -> Callable[[dict[str, Any], int], None]:
    def change(values: dict[str, Any], n: int) -> None:
        values[name] = value(n) if callable(value) else value

    return change


def _prop(name: str, value: Any) -> Callable[[dict[str, Any], int], None]:
    def change(values: dict[str, Any], n: int) -> None:
        props = dict(values["properties"])
        if value is MISSING:
            props.pop(name, None)
        else:
            props[name] = value
        values["properties"] = props

    return change


def _props_text(text: str) -> Callable[[dict[str, Any], int], None]:
    return _set("properties", text)


MUTATIONS: list[Mutation] = [
    # --- ids
    ("event_id:null", None, _set("event_id", None), "missing_event_id"),
    ("event_id:missing_key", None, _set("event_id", MISSING), "missing_event_id"),
    ("event_id:empty", None, _set("event_id", ""), "missing_event_id"),
    ("event_id:tab", None, _set("event_id", "\t"), "missing_event_id"),
    ("event_id:newlines", None, _set("event_id", "\n\r\n "), "missing_event_id"),
    ("event_id:unicode_space", None, _set("event_id", "\u00a0\u3000"), "missing_event_id"),
    ("event_id:vertical_tab", None, _set("event_id", "\v"), "missing_event_id"),
    ("event_id:padded", None, _set("event_id", lambda n: f" \th{n}\n"), "valid"),
    ("event_id:very_long", None, _set("event_id", lambda n: f"h{n}" + "x" * 20_000), "valid"),
    ("event_id:unicode", None, _set("event_id", lambda n: f"h{n}-ü日本🙂"), "valid"),
    ("event_id:quotes", None, _set("event_id", lambda n: f"h{n}'\"; drop table x; --"), "valid"),
    ("event_id:inner_newline", None, _set("event_id", lambda n: f"h{n}\nz"), "valid"),
    ("event_id:number", None, _set("event_id", lambda n: 10_000_000 + n), "valid"),
    ("user_id:blank", None, _set("user_id", "  "), "missing_user_id"),
    ("user_id:tab_newline", None, _set("user_id", "\t\n"), "missing_user_id"),
    ("user_id:null", None, _set("user_id", None), "missing_user_id"),
    ("user_id:unicode_space", None, _set("user_id", "\u2003"), "missing_user_id"),
    ("user_id:unicode", None, _set("user_id", lambda n: f"hü{n}\u200b"), "valid"),
    ("request_id:blank", None, _set("request_id", " \t"), "missing_request_id"),
    ("request_id:null", None, _set("request_id", None), "missing_request_id"),
    (
        "output_id:blank",
        ["accept", "copy", "click", "feedback"],
        _set("output_id", "\n"),
        "missing_output_id",
    ),
    (
        "output_id:null",
        ["accept", "copy", "click", "feedback", "output_shown"],
        _set("output_id", None),
        "missing_output_id",
    ),
    ("output_id:on_request", ["request"], _set("output_id", lambda n: f"ho{n}"), "valid"),
    # --- times
    ("occurred_at:infinity", None, _set("occurred_at", "infinity"), "occurred_at_out_of_range"),
    ("occurred_at:-infinity", None, _set("occurred_at", "-infinity"), "occurred_at_out_of_range"),
    (
        "occurred_at:year_1",
        None,
        _set("occurred_at", "0001-01-01T00:00:00Z"),
        "occurred_at_out_of_range",
    ),
    (
        "occurred_at:1970",
        None,
        _set("occurred_at", "1970-01-01 00:00:00"),
        "occurred_at_out_of_range",
    ),
    ("occurred_at:epoch_zero", None, _set("occurred_at", 0), "occurred_at_out_of_range"),
    ("occurred_at:garbage", None, _set("occurred_at", "yesterday-ish"), "unparseable_occurred_at"),
    ("occurred_at:empty", None, _set("occurred_at", ""), "unparseable_occurred_at"),
    ("occurred_at:nan", None, _set("occurred_at", "NaN"), "unparseable_occurred_at"),
    (
        "occurred_at:month_13",
        None,
        _set("occurred_at", "2026-13-01T00:00:00Z"),
        "unparseable_occurred_at",
    ),
    ("occurred_at:huge_epoch", None, _set("occurred_at", 1e300), "unparseable_occurred_at"),
    (
        "occurred_at:epoch_seconds",
        None,
        _set("occurred_at", lambda n: int((BASE_TIME + timedelta(minutes=n)).timestamp())),
        "valid",
    ),
    (
        "occurred_at:epoch_ms_text",
        None,
        _set(
            "occurred_at", lambda n: str(int((BASE_TIME + timedelta(minutes=n)).timestamp() * 1000))
        ),
        "valid",
    ),
    (
        "occurred_at:three_days_late",
        None,
        _set("occurred_at", lambda n: _iso(BASE_TIME + timedelta(minutes=n, days=3), "z")),
        "occurred_in_future",
    ),
    ("occurred_at:year_5138", None, _set("occurred_at", 99_999_999_999), "occurred_in_future"),
    ("received_at:2100", None, _set("received_at", "2100-01-01T00:00:00Z"), "received_in_future"),
    ("received_at:infinity", None, _set("received_at", "infinity"), "received_at_out_of_range"),
    ("received_at:year_1", None, _set("received_at", "0001-01-01"), "received_at_out_of_range"),
    (
        "received_at:1970",
        None,
        _set("received_at", "1970-01-01T00:00:00Z"),
        "received_at_out_of_range",
    ),
    ("received_at:garbage", None, _set("received_at", "soon"), "unparseable_received_at"),
    ("received_at:null", None, _set("received_at", None), "unparseable_received_at"),
    (
        "received_at:max_timestamp",
        None,
        _set("received_at", "294246-12-31 23:59:59"),
        "received_in_future",
    ),
    # --- vocabulary
    ("event_type:unknown", None, _set("event_type", "purchase"), "unknown_event_type"),
    ("event_type:plural", None, _set("event_type", "clicks"), "unknown_event_type"),
    ("event_type:null", None, _set("event_type", None), "unknown_event_type"),
    (
        "event_type:odd_case",
        ["copy", "feedback", "request"],
        lambda v, n: v.update(event_type=f" \t{v['event_type'].upper()}\n"),
        "valid",
    ),
    ("surface:unknown", None, _set("surface", "voice"), "unknown_surface"),
    ("surface:null", None, _set("surface", None), "unknown_surface"),
    ("surface:odd_case", None, _set("surface", "  ChAt\t"), "valid"),
    # --- properties as a whole
    ("properties:array", None, _set("properties", [1, 2]), "invalid_properties"),
    ("properties:array_text", None, _props_text('[{"n_chars": 1}]'), "invalid_properties"),
    ("properties:json_null", None, _set("properties", None), "invalid_properties"),
    ("properties:null_text", None, _props_text("null"), "invalid_properties"),
    ("properties:missing_key", None, _set("properties", MISSING), "invalid_properties"),
    ("properties:truncated", None, _props_text('{"n_chars": 1'), "invalid_properties"),
    ("properties:not_json", None, _props_text("n_chars=3"), "invalid_properties"),
    ("properties:empty_text", None, _props_text(""), "invalid_properties"),
    ("properties:number", None, _set("properties", 7), "invalid_properties"),
    ("properties:string", None, _props_text('"just text"'), "invalid_properties"),
    ("properties:deep", None, _props_text("[" * 5000 + "]" * 5000), "invalid_properties"),
    (
        "properties:duplicate_keys",
        ["feedback"],
        _props_text('{"rating": -1, "rating": "yes"}'),
        None,
    ),
    # --- numeric properties
    ("rating:text_yes", ["feedback"], _prop("rating", "yes"), "invalid_rating"),
    ("rating:1.4", ["feedback"], _prop("rating", 1.4), "invalid_rating"),
    ("rating:zero", ["feedback"], _prop("rating", 0), "invalid_rating"),
    ("rating:two", ["feedback"], _prop("rating", 2), "invalid_rating"),
    ("rating:empty", ["feedback"], _prop("rating", ""), "invalid_rating"),
    ("rating:nan_text", ["feedback"], _prop("rating", "NaN"), "invalid_rating"),
    ("rating:nan_number", ["feedback"], _prop("rating", float("nan")), "invalid_rating"),
    ("rating:infinity", ["feedback"], _prop("rating", float("inf")), "invalid_rating"),
    ("rating:null", ["feedback"], _prop("rating", None), "invalid_rating"),
    ("rating:missing", ["feedback"], _prop("rating", MISSING), "invalid_rating"),
    ("rating:array", ["feedback"], _prop("rating", [1]), "invalid_rating"),
    ("rating:bool", ["feedback"], _prop("rating", True), "invalid_rating"),
    ("rating:one_as_text", ["feedback"], _prop("rating", "1"), "valid"),
    ("share:1.5", ["edit"], _prop("share_rewritten", 1.5), "invalid_share_rewritten"),
    ("share:negative", ["edit"], _prop("share_rewritten", -0.1), "invalid_share_rewritten"),
    ("share:text", ["edit"], _prop("share_rewritten", "half"), "invalid_share_rewritten"),
    ("share:missing", ["edit"], _prop("share_rewritten", MISSING), "invalid_share_rewritten"),
    ("share:nan", ["edit"], _prop("share_rewritten", float("nan")), "invalid_share_rewritten"),
    ("position:1.5", ["click"], _prop("position", 1.5), "invalid_click_position"),
    ("position:zero", ["click"], _prop("position", 0), "invalid_click_position"),
    ("position:negative", ["click"], _prop("position", -2), "invalid_click_position"),
    ("position:huge", ["click"], _prop("position", 99_999_999_999), "invalid_click_position"),
    ("position:text", ["click"], _prop("position", "first"), "invalid_click_position"),
    ("position:missing", ["click"], _prop("position", MISSING), "invalid_click_position"),
    ("position:infinity_text", ["click"], _prop("position", "Infinity"), "invalid_click_position"),
    ("position:max_int", ["click"], _prop("position", 2_147_483_647), "valid"),
    ("dwell:text", ["click"], _prop("dwell_seconds", "slow"), "invalid_dwell_seconds"),
    ("dwell:negative", ["click"], _prop("dwell_seconds", -1.5), "invalid_dwell_seconds"),
    ("dwell:nan", ["click"], _prop("dwell_seconds", "NaN"), "invalid_dwell_seconds"),
    ("dwell:infinity", ["click"], _prop("dwell_seconds", float("inf")), "invalid_dwell_seconds"),
    ("dwell:huge", ["click"], _prop("dwell_seconds", 1e12), "invalid_dwell_seconds"),
    (
        "n_chars:empty",
        ["accept", "copy", "revert", "output_shown"],
        _prop("n_chars", ""),
        "invalid_n_chars",
    ),
    (
        "n_chars:2^31",
        ["accept", "copy", "revert", "output_shown"],
        _prop("n_chars", 2_147_483_648),
        "invalid_n_chars",
    ),
    ("n_chars:negative", ["accept", "copy", "revert"], _prop("n_chars", -3), "invalid_n_chars"),
    ("n_chars:fraction", ["accept", "copy"], _prop("n_chars", 2.5), "invalid_n_chars"),
    ("n_chars:text", ["copy"], _prop("n_chars", "many"), "invalid_n_chars"),
    ("n_chars:nan", ["copy"], _prop("n_chars", float("nan")), "invalid_n_chars"),
    ("n_chars:1e400_text", ["accept"], _props_text('{"n_chars": 1e400}'), "invalid_n_chars"),
    ("n_chars:max_int", ["accept", "copy"], _prop("n_chars", 2_147_483_647), "valid"),
    ("n_chars:on_feedback", ["feedback"], _prop("n_chars", "ignored"), "valid"),
    ("n_results:negative", ["output_shown"], _prop("n_results", -1), "invalid_n_results"),
    ("n_results:text", ["output_shown"], _prop("n_results", "ten"), "invalid_n_results"),
]
MUTATION_BY_CASE = {m[0]: m for m in MUTATIONS}

#: JSON lines that are not a JSON object (the tag is in the line, so it can be followed)
GARBAGE_LINES: list[tuple[str, Callable[[str], bytes], str]] = [
    ("line:not_json", lambda tag: f"this is not json {tag}".encode(), "unreadable_line"),
    ("line:truncated_object",
     lambda tag: f'{{"event_id": "g-{tag}", "model_version": "{tag}", "proper'.encode(),
     "unreadable_line"),
    ("line:array", lambda tag: f'["{tag}", 1, 2]'.encode(), "unreadable_line"),
    ("line:string", lambda tag: json.dumps(tag).encode(), "unreadable_line"),
    ("line:number_and_tag", lambda tag: f"42 {tag}".encode(), "unreadable_line"),
    ("line:two_objects", lambda tag: f'{{"a": "{tag}"}} {{"b": 2}}'.encode(), "unreadable_line"),
    ("line:csv_header", lambda tag: f"event_id,occurred_at,{tag}".encode(), "unreadable_line"),
    ("line:quote_only", lambda tag: f'"{tag}'.encode(), "unreadable_line"),
    ("line:control_chars", lambda tag: f"\x00\x01\x1b[31m{tag}\x7f".encode(), "unreadable_line"),
    ("line:empty_object", lambda tag: json.dumps({"model_version": tag}).encode(),
     "missing_event_id"),
    ("line:invalid_utf8", lambda tag: b"\xff\xfe garbage " + tag.encode() + b" \xc3(",
     "unreadable_line"),
    ("line:over_2mb", lambda tag: (f'{{"model_version": "{tag}", "pad": "' + "x" * 2_200_000
                                   + '"}').encode(), "missing_event_id"),
]  # fmt: skip
GARBAGE_BY_CASE = {g[0]: g for g in GARBAGE_LINES}

DUPLICATE_CASES = ["dup:later", "dup:later_other_payload", "dup:exact", "dup:tie_other_payload",
                   "dup:invalid_copy", "dup:earlier_invalid"]  # fmt: skip
ATTRIBUTION_CASES = ["attr:other_user_event", "attr:other_user_output_shown_later"]


def all_cases(fmt: str | None = None) -> set[str]:
    """Every hostile case the generator can draw (for ``fmt``: those it can write)."""
    cases = {m[0] for m in MUTATIONS} | set(DUPLICATE_CASES) | set(ATTRIBUTION_CASES)
    if fmt in (None, "jsonl"):
        cases |= set(GARBAGE_BY_CASE)
    return cases


def _later(value: Any, seconds: int) -> str:
    """A time value (as written) moved later, as ISO text."""
    text = as_text(value)
    assert text is not None
    if re.fullmatch(r"-?[0-9]+", text):
        number = int(text)
        moment = datetime.fromtimestamp(number / 1000 if abs(number) >= 1e11 else number, UTC)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return _iso(moment + timedelta(seconds=seconds), "z")


@st.composite
def hostile_row(draw: st.DrawFn, fmt: str, valid: list[Row], tags: Tags) -> list[Row]:
    """One hostile case: usually one row; a duplicate or attribution case about a valid row."""
    families = (
        ["mutation"] * 6
        + ["duplicate", "attribution"]
        + (["garbage"] * 2 if fmt == "jsonl" else [])
    )
    family = draw(st.sampled_from(families))
    n = tags.next()
    tag = f"tag{n}x"
    if family == "garbage":
        case, make, expect = draw(st.sampled_from(GARBAGE_LINES))
        return [Row({}, tag, case, "hostile", expect, line=make(tag))]
    if family == "mutation":
        case, types, change, expect = draw(st.sampled_from(MUTATIONS))
        event_type = draw(st.sampled_from(types or sorted(TEMPLATES)))
        values = template(n, tag, event_type)
        change(values, n)
        if fmt == "jsonl" and isinstance(values["properties"], dict) and draw(st.booleans()):
            values["properties"] = json.dumps(values["properties"])
        return [Row(values, tag, case, "hostile", expect)]
    original = draw(st.sampled_from(valid))
    values = dict(original.values)
    values["model_version"] = tag
    if family == "duplicate":
        case = draw(st.sampled_from(DUPLICATE_CASES))
        props = values["properties"]
        props = json.loads(props) if isinstance(props, str) else dict(props)
        if case == "dup:later":
            values["received_at"] = _later(values["received_at"], 5)
            return [Row(values, tag, case, "duplicate", "duplicate")]
        if case == "dup:later_other_payload":
            values["received_at"] = _later(values["received_at"], 5)
            values["properties"] = props | {"text": "another payload"}
            return [Row(values, tag, case, "duplicate", "duplicate")]
        if case == "dup:exact":
            return [Row(dict(original.values), original.tag, case, "duplicate", "duplicate")]
        if case == "dup:tie_other_payload":
            values["properties"] = props | {"extra": n}
            original.expect = "valid_or_duplicate"
            return [Row(values, tag, case, "duplicate", "valid_or_duplicate")]
        if case == "dup:invalid_copy":
            values["received_at"] = _later(values["received_at"], 5)
            values["request_id"] = " "
            return [Row(values, tag, case, "duplicate", "missing_request_id")]
        # an invalid delivery received before the valid one: rejected, the valid one kept
        values["received_at"] = _later(values["received_at"], -1)
        values["user_id"] = "\t"
        return [Row(values, tag, case, "duplicate", "missing_user_id")]
    # attribution: another user's event about a valid session's output
    shown = [r for r in valid if r.values["event_type"] == "output_shown"]
    original = draw(st.sampled_from(shown))
    values = dict(original.values)
    values.update(event_id=f"x{n}", user_id=f"xu{n}", model_version=tag,
                  received_at=_later(original.values["received_at"], 60),
                  occurred_at=_later(original.values["received_at"], 59))  # fmt: skip
    case = draw(st.sampled_from(ATTRIBUTION_CASES))
    if case == "attr:other_user_event":
        values.update(event_type="copy", properties={"n_chars": 3})
    return [Row(values, tag, case, "attribution", "output_of_another_user")]


@st.composite
def streams(draw: st.DrawFn, fmt: str | None = None, max_hostile: int = 12) -> Stream:
    """A stream: 1-3 valid sessions and 1-``max_hostile`` hostile cases, shuffled together."""
    fmt = fmt or draw(st.sampled_from(FORMATS))
    tags = Tags()
    valid: list[Row] = []
    for index in range(draw(st.integers(1, 3))):
        valid += draw(valid_session(index, tags))
    hostile: list[Row] = []
    for _ in range(draw(st.integers(1, max_hostile))):
        hostile += draw(hostile_row(fmt, valid, tags))
    rows = draw(st.permutations(valid + hostile))
    column_order = list(CONTRACT)
    if fmt != "jsonl" and draw(st.booleans()):
        column_order = list(draw(st.permutations(CONTRACT)))
    stream = Stream(rows, fmt, column_order)
    if fmt == "csv":
        stream.csv_quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
        stream.extra_column = draw(st.booleans())
    if fmt in ("csv", "jsonl"):
        stream.line_end = draw(st.sampled_from(["\n", "\r\n"]))
    if fmt == "jsonl":
        stream.blank_lines = draw(st.lists(st.integers(0, len(rows)), max_size=3))
        if draw(st.booleans()):
            stream.column_order = list(draw(st.permutations(CONTRACT)))
    if fmt == "parquet":
        stream.extra_column = draw(st.booleans())
    return stream


# --- building and checking --------------------------------------------------------------------


def documented_reasons(project_root: Path) -> set[str]:
    """The accepted values of base_events__validated.rejection_reason in the project's yml."""
    spec = yaml.safe_load((project_root / "models/staging/_staging__models.yml").read_text())
    for model in spec["models"]:
        if model["name"] != "base_events__validated":
            continue
        for column in model["columns"]:
            if column["name"] != "rejection_reason":
                continue
            for test in column.get("data_tests", []):
                if isinstance(test, dict) and "accepted_values" in test:
                    spec_test = test["accepted_values"]
                    values = spec_test.get("arguments", spec_test).get("values")
                    return set(values)
    raise AssertionError("no accepted_values on base_events__validated.rejection_reason")


@dataclass
class Snapshot:
    """What staging made of one stream."""

    raw_rows: int  # as staging's reader counts them (rows of base_events__validated)
    valid: list[tuple[Any, ...]]
    rejected: list[tuple[Any, ...]]
    valid_columns: list[str]
    duplicates: int
    outcomes: list[tuple[str | None, str | None, bool]]  # (tag, reason, is_duplicate)

    def valid_by_id(self) -> dict[Any, tuple[Any, ...]]:
        i = self.valid_columns.index("event_id")
        return {row[i]: row for row in self.valid}


def checksums(rows: list[tuple[Any, ...]]) -> list[str]:
    """A sha256 of every row (its repr), sorted: equal lists, equal rows."""
    return sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in rows)


def snapshot(project: Project) -> Snapshot:
    con = project.connect()
    try:
        valid_rel = con.execute("select * from stg_events")
        valid_columns = [d[0] for d in valid_rel.description]
        valid = valid_rel.fetchall()
        rejected = con.execute("select * from stg_events_rejected").fetchall()
        (raw_rows, duplicates) = con.execute(
            "select count(*), count(*) filter (where is_duplicate) from base_events__validated"
        ).fetchone() or (0, 0)
        found = con.execute(
            "select raw_model_version, raw_line, rejection_reason, is_duplicate"
            " from base_events__validated"
        ).fetchall()
    finally:
        con.close()
    outcomes = []
    for model_version, raw_line, reason, is_duplicate in found:
        match = TAG.search(model_version or raw_line or "")
        outcomes.append((match.group(0) if match else None, reason, bool(is_duplicate)))
    return Snapshot(raw_rows, valid, rejected, valid_columns, duplicates, outcomes)


@dataclass
class Result:
    """The outcome of checking one stream: violations per property (empty lists: all kept)."""

    stream: Stream
    rows_written: int = 0
    rows_lost: int = 0
    builds: int = 0
    builds_failed: int = 0
    violations: dict[str, list[str]] = field(default_factory=dict)
    #: the cases whose rows did not get the expected outcome
    failed_cases: set[str] = field(default_factory=set)

    def fail(self, prop: str, message: str) -> None:
        self.violations.setdefault(prop, []).append(message)

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        parts = [f"{prop}: {msg}" for prop, msgs in self.violations.items() for msg in msgs[:5]]
        return "\n".join(parts) + "\n--- stream ---\n" + self.stream.describe()


def _build(
    project: Project, path: Path, result: Result, *, incremental: bool = False
) -> Snapshot | None:
    result.builds += 1
    os.environ[DB_ENV_VAR] = str(project.db_path)  # dbt's profile reads the warehouse from it
    args = [a for a in STAGING_BUILD if a != "--full-refresh"] if incremental else STAGING_BUILD
    try:
        run_dbt(project, args, dbt_vars={"flywheel__events_path": str(path)},
                echo=lambda _: None)  # fmt: skip
    except FlywheelError as exc:
        result.builds_failed += 1
        message = re.sub(r"(accepted_values_\w{20})\w+", r"\1...", str(exc))
        result.fail("build", message[:2000])
        return None
    return snapshot(project)


def _matches(
    expect: str | None, reason: str | None, is_duplicate: bool, documented: set[str]
) -> bool:
    if expect is None:
        return reason is None or reason in documented
    if expect == "valid":
        return reason is None and not is_duplicate
    if expect == "duplicate":
        return reason is None and is_duplicate
    if expect == "valid_or_duplicate":
        return reason is None
    if expect == "rejected":
        return reason is not None
    return reason == expect


def check_stream(stream: Stream, project: Project, path: Path, documented: set[str]) -> Result:
    """Build the stream twice and its valid rows alone once; check every property."""
    result = Result(stream)
    result.rows_written = write_stream(stream, path)
    first = _build(project, path, result)
    if first is None:
        return result
    # 2. nothing lost
    got = first.raw_rows
    kept = len(first.valid) + first.duplicates + len(first.rejected)
    if got != result.rows_written or kept != result.rows_written:
        result.fail(
            "nothing_lost",
            f"rows written {result.rows_written}, raw rows read {got}, valid {len(first.valid)}"
            f" + duplicates {first.duplicates} + rejected {len(first.rejected)} = {kept}",
        )
    result.rows_lost = max(0, result.rows_written - kept)
    written_tags = Counter(row.tag for row in stream.rows)
    found_tags = Counter(tag for tag, _, _ in first.outcomes)
    if written_tags != found_tags:
        lost = written_tags - found_tags
        extra = found_tags - written_tags
        result.rows_lost = max(result.rows_lost, sum(lost.values()))
        cases = {row.tag: row.case for row in stream.rows}
        result.fail(
            "nothing_lost",
            f"rows lost: { {t: cases[t] for t in lost} }; rows that came out more often "
            f"(or untagged): {dict(extra)}",
        )
    # 3. reasons
    for tag, reason, _ in first.outcomes:
        if reason is not None and reason not in documented:
            result.fail("reasons", f"{tag}: reason {reason!r} is not documented")
    reasons = [r[0] for r in first.rejected]
    if any(r is None for r in reasons):
        result.fail("reasons", "a rejected row without a rejection_reason")
    # 4. expected outcomes, per tag
    by_tag: dict[str | None, list[tuple[str | None, bool]]] = {}
    for tag, reason, is_duplicate in first.outcomes:
        by_tag.setdefault(tag, []).append((reason, is_duplicate))
    for tag, rows in _group(stream.rows).items():
        outcomes = by_tag.get(tag, [])
        if not _assign(rows, outcomes, documented):
            result.failed_cases.update(r.case for r in rows)
            result.fail(
                "expected",
                f"{tag} [{', '.join(f'{r.kind}:{r.case}' for r in rows)}]: expected "
                f"{[r.expect for r in rows]}, got {outcomes}; row: {_short(rows[0])}",
            )
    # 6. deterministic, incremental or not: the first half of the stream (by received_at)
    # built from scratch, then the whole stream incrementally, gives the same rows
    write_stream(stream.first_batch(), path)
    second = _build(project, path, result)
    if second is not None:
        write_stream(stream, path)
        second = _build(project, path, result, incremental=True)
    if second is not None:
        if second.raw_rows != first.raw_rows or second.duplicates != first.duplicates:
            result.fail(
                "deterministic", f"incremental: {second.raw_rows} raw rows, {second.duplicates}"
                f" duplicates; from scratch: {first.raw_rows}, {first.duplicates}",
            )  # fmt: skip
        for name, a, b in (("stg_events", first.valid, second.valid),
                           ("stg_events_rejected", first.rejected, second.rejected)):  # fmt: skip
            if checksums(a) != checksums(b):
                diff = set(map(repr, a)) ^ set(map(repr, b))
                result.fail(
                    "deterministic",
                    f"{name} differs between a build from scratch and one in two batches: "
                    f"{sorted(diff)[:4]}",
                )
    # 5. unchanged
    only_valid = stream.only_valid()
    write_stream(only_valid, path)
    alone = _build(project, path, result)
    if alone is not None:
        ties = {
            as_text(row.values.get("event_id"))
            for row in stream.rows
            if row.expect == "valid_or_duplicate"
        }
        alone_rows = alone.valid_by_id()
        beside_rows = first.valid_by_id()
        if len(alone_rows) != len(only_valid.rows):
            result.fail("unchanged", f"{len(only_valid.rows)} valid rows alone, "
                        f"{len(alone_rows)} in stg_events")  # fmt: skip
        for event_id, row in alone_rows.items():
            if event_id in ties:
                continue
            if beside_rows.get(event_id) != row:
                result.fail("unchanged", f"{event_id!r}: alone {row}, beside hostile rows "
                            f"{beside_rows.get(event_id)}")  # fmt: skip
    return result


def _group(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.tag, []).append(row)
    return groups


def _assign(rows: list[Row], outcomes: list[tuple[str | None, bool]], documented: set[str]) -> bool:
    """Can the outcomes be matched one to one with the rows' expectations?"""
    if len(rows) != len(outcomes):
        return False
    if len(rows) == 1:
        return _matches(rows[0].expect, *outcomes[0], documented)
    # an exact copy: tiny groups, try every order
    return any(
        all(_matches(r.expect, *o, documented) for r, o in zip(rows, perm, strict=True))
        for perm in itertools.permutations(outcomes)
    )


def _short(row: Row) -> str:
    text = (
        repr(row.line)
        if row.line is not None
        else repr({k: v for k, v in row.values.items() if v is not MISSING})
    )
    return text if len(text) < 300 else text[:300] + "..."


def minimal_stream(fmt: str, case: str) -> Stream:
    """One small valid session and ONE hostile row of ``case``: a minimal failing example."""
    tags = Tags()
    valid: list[Row] = []
    for k, (event_type, props) in enumerate(
        [("request", {"text": "q"}), ("output_shown", {"text": "a", "n_chars": 1}),
         ("copy", {"n_chars": 1})]
    ):  # fmt: skip
        tag = f"tag{tags.next()}x"
        values = template(0, tag, event_type)
        values.update(event_id=f"v0-{k}", user_id="vu0", request_id="vr0",
                      output_id=None if event_type == "request" else "vo0",
                      properties=props)  # fmt: skip
        valid.append(Row(values, tag, "valid", "valid", "valid"))
    n = tags.next()
    tag = f"tag{n}x"
    if case in GARBAGE_BY_CASE:
        _, make, expect = GARBAGE_BY_CASE[case]
        hostile = Row({}, tag, case, "hostile", expect, line=make(tag))
    else:
        _, types, change, expect = MUTATION_BY_CASE[case]
        values = template(n, tag, (types or ["copy"])[0])
        change(values, n)
        hostile = Row(values, tag, case, "hostile", expect)
    return Stream([*valid, hostile], fmt, list(CONTRACT))
