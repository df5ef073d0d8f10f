"""Tests for flywheel.simulate: contract, determinism, faults and the behaviour model."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from flywheel.errors import FlywheelError
from flywheel.simulate import (
    DEFAULT_WORLD,
    EVENT_COLUMNS,
    EVENT_TYPES,
    MALFORMED_REASONS,
    WORLDS,
    SimulationResult,
    simulate,
)

N_EVENTS = 50_000
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PROPERTY_KEYS = {
    "request": {"text"},
    "output_shown": {"text", "n_chars"},
    "accept": {"n_chars"},
    "reject": set(),
    "edit": {"share_rewritten"},
    "revert": {"n_chars"},
    "copy": {"n_chars"},
    "click": {"position", "dwell_seconds"},
    "feedback": {"rating"},
}
SURFACES_OF = {
    "accept": {"code"},
    "reject": {"code"},
    "edit": {"code"},
    "revert": {"code"},
    "click": {"search"},
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(tmp_path_factory.mktemp("sim"), n_events=N_EVENTS, seed=11)


@pytest.fixture(scope="module")
def con(sim: SimulationResult) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(f"create view ev as select * from read_parquet('{sim.events_path}')")
    c.execute(f"create view tr as select * from read_parquet('{sim.truth_path}')")
    c.execute(f"create view ac as select * from read_parquet('{sim.actions_path}')")
    # the clean, deduplicated delivered events, joined to their truth
    c.execute(
        """create view clean as
        select distinct on (e.event_id) e.*, a.fate, a.kind, a.rephrase_of_request_id,
               a.session_id, a.topic_id, a.true_occurred_at
        from ev e join ac a using (event_id)
        where a.fate <> 'malformed'"""
    )
    return c


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def _tokens(text: str) -> set[str]:
    return set(text.split())


def _jaccard(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    return len(ta & tb) / len(ta | tb)


# ------------------------------------------------------------------------------------------
# API, determinism, size
# ------------------------------------------------------------------------------------------


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    a = simulate(tmp_path / "a", n_events=5_000, seed=3)
    b = simulate(tmp_path / "b", n_events=5_000, seed=3)
    c = simulate(tmp_path / "c", n_events=5_000, seed=4)
    for name in ("events.parquet", "truth.parquet", "actions.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    counts = ("n_rows", "n_outputs", "n_duplicates", "n_malformed")
    assert [getattr(a, k) for k in counts] == [getattr(b, k) for k in counts]
    assert a.events_path.read_bytes() != c.events_path.read_bytes()


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_determinism_holds_across_chunks_formats_and_tables(tmp_path: Path, fmt: str) -> None:
    """Same arguments -> identical files and tables over several chunks; another seed differs."""

    def run(name: str, seed: int) -> SimulationResult:
        return simulate(tmp_path / name, n_events=20_000, seed=seed, days=1, fmt=fmt)

    a, b, c = run("a", 21), run("b", 21), run("c", 22)
    assert pq.read_metadata(a.truth_path).num_row_groups >= 2  # one row group per chunk
    assert a.events_path.read_bytes() == b.events_path.read_bytes()
    assert a.events_path.read_bytes() != c.events_path.read_bytes()
    for path in ("truth_path", "actions_path"):
        ta, tb, tc = (pq.read_table(getattr(r, path)) for r in (a, b, c))
        assert ta.equals(tb), path
        assert not ta.equals(tc), path
        assert ta.schema.equals(tc.schema), path
    ids_a, ids_c = (
        set(pq.read_table(r.actions_path, columns=["event_id"]).column(0).to_pylist())
        for r in (a, c)
    )
    assert len(ids_a) == pq.read_metadata(a.actions_path).num_rows  # event ids are unique
    assert not ids_a & ids_c  # the seed salts the event ids
    counts = ("n_rows", "n_outputs", "n_duplicates", "n_malformed")
    assert [getattr(a, k) for k in counts] == [getattr(b, k) for k in counts]


@pytest.mark.parametrize("n_events", [1_000, 7_000])
def test_n_events_is_honoured(tmp_path: Path, n_events: int) -> None:
    res = simulate(tmp_path, n_events=n_events, seed=5)
    n_generated = pq.read_metadata(res.actions_path).num_rows
    assert abs(n_generated - n_events) <= 0.1 * n_events
    assert pq.read_metadata(res.events_path).num_rows == res.n_rows
    fates = pq.read_table(res.actions_path, columns=["fate"]).column("fate").to_pylist()
    assert res.n_rows == n_generated - fates.count("dropped") + res.n_duplicates
    assert pq.read_metadata(res.truth_path).num_rows == res.n_outputs


def test_result_paths(sim: SimulationResult) -> None:
    assert sim.events_path.name == "events.parquet"
    assert sim.truth_path.name == "truth.parquet"
    assert sim.actions_path.name == "actions.parquet"
    assert abs(pq.read_metadata(sim.actions_path).num_rows - N_EVENTS) <= 0.05 * N_EVENTS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fmt": "xml"},
        {"n_events": 0},
        {"n_events": 1.5},
        {"days": 0},
        {"seed": -1},
        {"start": "2026-11-01"},
    ],
)
def test_bad_arguments_raise(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(FlywheelError):
        simulate(tmp_path, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# The event contract
# ------------------------------------------------------------------------------------------


def test_columns_are_the_contract_and_all_strings(sim: SimulationResult) -> None:
    schema = pq.read_schema(sim.events_path)
    assert tuple(schema.names) == EVENT_COLUMNS
    assert all(str(t) == "string" for t in schema.types)


def test_value_formats(con: duckdb.DuckDBPyConnection, sim: SimulationResult) -> None:
    rows = con.execute(
        "select occurred_at, received_at, event_id, user_id, request_id, output_id, "
        "model_version, event_type, surface from clean"
    ).fetchall()
    assert len(rows) > 0.98 * N_EVENTS  # less malformed rows and dropped chat copies
    for occ, rec, eid, uid, rid, oid, mv, et, surface in rows:
        assert TS_RE.match(occ) and TS_RE.match(rec)
        assert re.fullmatch(r"e[0-9a-f]{16}", eid)
        assert re.fullmatch(r"u\d{6}", uid)
        assert re.fullmatch(r"r\d{10}", rid)
        if et == "request":
            assert oid is None and mv is None
        else:
            assert oid == "o" + rid[1:]
            assert re.fullmatch(rf"{surface}-2026\.1[01]", mv)
    # received_at all parse and the file is ordered by received_at within chunks
    assert _one(con, "select count(*) from ev where try_strptime(received_at, "
                     "'%Y-%m-%dT%H:%M:%S.%gZ') is null") == 0  # fmt: skip
    # event ids are unique except for the duplicated deliveries
    assert _one(con, "select count(*) - count(distinct event_id) from ev where event_id is "
                     "not null") == sim.n_duplicates  # fmt: skip


def test_every_event_type_with_its_property_keys(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("select event_type, surface, properties from clean").fetchall()
    seen: dict[str, int] = {}
    for et, surface, props in rows:
        p = json.loads(props)
        keys = set(p)
        expected = PROPERTY_KEYS[et] | ({"n_results"} if (et, surface) ==
                                        ("output_shown", "search") else set())  # fmt: skip
        assert keys == expected, (et, surface, props)
        assert surface in SURFACES_OF.get(et, {"code", "chat", "search"}), (et, surface)
        seen[et] = seen.get(et, 0) + 1
        if et in ("request", "output_shown"):
            assert 0 < len(p["text"]) < 200
        if "n_chars" in p:
            assert isinstance(p["n_chars"], int) and p["n_chars"] >= 1
        if et == "edit":
            assert 0.0 <= p["share_rewritten"] <= 1.0
        if et == "click":
            assert isinstance(p["position"], int) and p["position"] >= 1
            assert p["dwell_seconds"] > 0
        if et == "feedback":
            assert p["rating"] in (1, -1)
        if et == "request":
            assert 5 <= len(p["text"].split()) <= 12
    assert set(seen) == set(EVENT_TYPES)
    # copy is mostly chat
    by_surface = dict(
        con.execute(
            "select surface, count(*) from clean where event_type='copy' group by 1"
        ).fetchall()
    )
    assert by_surface["chat"] > by_surface.get("code", 0) + by_surface.get("search", 0)


def test_one_output_per_request_and_truth_consistency(con: duckdb.DuckDBPyConnection) -> None:
    assert _one(con, "select count(*) from tr") == _one(
        con, "select count(*) from ac where event_type='request'"
    )
    assert _one(con, "select count(*) from ac where event_type='output_shown'") == _one(
        con, "select count(*) from tr"
    )
    assert _one(con, "select count(*) from tr where is_good <> (true_quality > 0.5)") == 0
    # output_shown comes shortly after its request (true time)
    lat = con.execute(
        """select max(epoch(s.true_occurred_at - r.true_occurred_at))
           from ac r join ac s on s.request_id = r.request_id
           where r.event_type='request' and s.event_type='output_shown'"""
    ).fetchone()[0]
    assert 0 < lat <= 30


# ------------------------------------------------------------------------------------------
# Delivery faults
# ------------------------------------------------------------------------------------------


def test_fault_shares_match_result(con: duckdb.DuckDBPyConnection, sim: SimulationResult) -> None:
    n = _one(con, "select count(*) from ac")
    fates = dict(con.execute("select fate, count(*) from ac group by 1").fetchall())
    assert fates["duplicated"] == sim.n_duplicates
    assert fates["malformed"] == sim.n_malformed
    assert 0.012 < sim.n_duplicates / n < 0.03
    assert 0.005 < fates["late"] / n < 0.016
    assert 0.002 < sim.n_malformed / n < 0.009
    reasons = dict(
        con.execute(
            "select malformed_reason, count(*) from ac where fate='malformed' group by 1"
        ).fetchall()
    )
    assert set(reasons) == set(MALFORMED_REASONS)
    assert _one(con, "select count(*) from ac where (fate='malformed') <> "
                     "(malformed_reason is not null)") == 0  # fmt: skip


def test_duplicates_are_identical_but_for_received_at(con: duckdb.DuckDBPyConnection) -> None:
    diff = con.execute(
        """select count(*), count(distinct received_at) - count(distinct event_id) from ev
           where event_id in (select event_id from ac where fate='duplicated')"""
    ).fetchone()
    cols = [c for c in EVENT_COLUMNS if c != "received_at"]
    n_variants = _one(
        con,
        f"""select max(n) from (select count(distinct ({", ".join(cols)})) n from ev
            where event_id in (select event_id from ac where fate='duplicated')
            group by event_id)""",
    )
    assert diff[0] > 0 and n_variants == 1


def test_malformed_rows_look_as_documented(con: duckdb.DuckDBPyConnection) -> None:
    reasons = dict(
        con.execute(
            "select malformed_reason, count(*) from ac where fate='malformed' group by 1"
        ).fetchall()
    )
    checks = {
        "event_id_null": "event_id is null",
        "user_id_null": "user_id is null",
        "occurred_at_unparseable": "occurred_at in ('not-a-time', '2026-13-45T99:00:00Z')",
        "event_type_unknown": "event_type = 'hover'",
        "output_id_null": "output_id is null and event_type not in ('request', 'hover')",
        "occurred_at_future": """try_strptime(occurred_at, '%Y-%m-%dT%H:%M:%S.%gZ')
            > try_strptime(received_at, '%Y-%m-%dT%H:%M:%S.%gZ') + interval 300 day""",
        "properties_invalid_json": "properties = '{\"text\": '",
        "surface_unknown": "surface = 'voice'",
    }
    for reason, cond in checks.items():
        assert _one(con, f"select count(*) from ev where {cond}") == reasons[reason], reason
    assert (
        _one(con, "select count(*) from ev where not json_valid(properties)")
        == reasons["properties_invalid_json"]
    )


def test_late_arrivals_and_clock_skew(con: duckdb.DuckDBPyConnection) -> None:
    ts = "'%Y-%m-%dT%H:%M:%S.%gZ'"
    late = _one(
        con,
        f"""select count(*) from clean where
            strptime(received_at, {ts}) - strptime(occurred_at, {ts}) > interval 50 minute""",
    )
    assert late == _one(con, "select count(*) from ac where fate='late'")
    skew = con.execute(
        f"""select user_id, median(epoch(strptime(occurred_at, {ts}) - true_occurred_at)) s
            from clean group by 1"""
    ).fetchall()
    within = sum(abs(s) <= 2.001 for _, s in skew) / len(skew)
    assert 0.9 < within < 1.0  # a few users' clocks are off by minutes


# ------------------------------------------------------------------------------------------
# Behaviour model
# ------------------------------------------------------------------------------------------


def test_sessions_are_separated_by_thirty_minutes(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """with x as (select session_id, true_occurred_at t,
             lag(true_occurred_at) over (partition by user_id order by true_occurred_at) pt,
             lag(session_id) over (partition by user_id order by true_occurred_at) ps from ac)
           select session_id <> ps, t - pt > interval 30 minute, count(*) from x
           where pt is not null group by all"""
    ).fetchall()
    counts = {(a, b): n for a, b, n in rows}
    assert counts.get((True, False), 0) == 0 and counts.get((False, True), 0) == 0
    assert counts[(True, True)] > 100


def test_good_share_and_newer_versions_are_better(con: duckdb.DuckDBPyConnection) -> None:
    overall = _one(con, "select avg(is_good::int) from tr")
    assert 0.55 <= overall <= 0.7
    rows = con.execute(
        """select surface, model_version, avg(is_good::int), min(shown_at) from tr
           group by all order by all"""
    ).fetchall()
    by_surface: dict[str, list[tuple[str, float, datetime]]] = {}
    for surface, mv, good, first in rows:
        by_surface.setdefault(surface, []).append((mv, good, first))
    assert set(by_surface) == {"code", "chat", "search"}
    for versions in by_surface.values():
        (old, g_old, first_old), (new, g_new, first_new) = versions
        assert old.endswith("2026.10") and new.endswith("2026.11")
        assert g_new > g_old + 0.07
        assert first_new >= datetime(2026, 11, 8) > first_old  # rolled out from the middle day
    # ... to a growing share of users
    share = con.execute(
        """select day(shown_at), avg((model_version like '%2026.11')::int) from tr
           where shown_at >= '2026-11-08' group by 1 order by 1"""
    ).fetchall()
    assert share[-1][1] > share[0][1] + 0.3


def test_feedback_is_rare_and_skewed_to_bad_outputs(con: duckdb.DuckDBPyConnection) -> None:
    rates = dict(
        con.execute(
            """select t.is_good, avg((f.output_id is not null)::int) from tr t
               left join (select distinct output_id from ac where event_type='feedback') f
               using (output_id) group by 1"""
        ).fetchall()
    )
    overall = _one(con, "select count(*) from ac where event_type='feedback'") / _one(
        con, "select count(*) from tr"
    )
    assert 0 < overall < 0.01
    assert rates[False] > 2.5 * rates[True]
    # power users give far more feedback per output
    per_kind = dict(
        con.execute(
            """select t.user_kind, avg((f.output_id is not null)::int) from tr t
               left join (select distinct output_id from ac where event_type='feedback') f
               using (output_id) group by 1"""
        ).fetchall()
    )
    assert per_kind["power"] > 2 * per_kind["regular"]


def test_implicit_signals_are_higher_for_good_outputs(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """with o as (select t.surface, t.is_good,
             count_if(a.event_type='accept') acc, count_if(a.event_type='copy') cp,
             count_if(a.event_type='click') cl, count_if(a.event_type='revert') rv
           from tr t join ac a using (output_id) group by t.output_id, t.surface, t.is_good)
           select surface, is_good, avg((acc>0)::int), avg((cp>0)::int), avg((cl>0)::int),
                  sum((rv>0)::int) / sum((acc>0)::int)
           from o group by all"""
    ).fetchall()
    r = {(s, g): vals for s, g, *vals in rows}
    assert r[("code", True)][0] > r[("code", False)][0] + 0.2  # accept
    assert r[("chat", True)][1] > r[("chat", False)][1] + 0.1  # copy
    assert r[("search", True)][2] > r[("search", False)][2] + 0.15  # click
    assert r[("code", False)][3] > 2 * r[("code", True)][3]  # revert given accept
    assert 0 < r[("code", True)][0] < 0.9 and r[("code", False)][0] > 0.1  # not perfect


def test_rephrases_abandonment_and_dwell_follow_bad_outputs(con: duckdb.DuckDBPyConnection) -> None:
    # the next request is a rephrase / modified prompt of this one: much likelier after bad output
    rows = con.execute(
        """select t.surface, t.is_good, avg((n.request_id is not null)::int) from tr t
           left join (select rephrase_of_request_id, request_id from ac
                      where kind in ('rephrase', 'modified_prompt')) n
             on n.rephrase_of_request_id = t.request_id
           group by all"""
    ).fetchall()
    r = {(s, g): v for s, g, v in rows}
    for surface in ("code", "chat", "search"):
        assert r[(surface, False)] > 2 * r[(surface, True)] > 0
    # abandonment: last output of a session without any interaction
    ab = dict(
        con.execute(
            """with last as (select session_id, arg_max(output_id, true_occurred_at) output_id
                             from ac where event_type='output_shown' group by 1),
               acted as (select distinct output_id from ac
                         where event_type not in ('request', 'output_shown'))
               select t.is_good, avg((l.output_id is not null and a.output_id is null)::int)
               from tr t left join last l using (output_id) left join acted a using (output_id)
               where t.surface in ('chat', 'search') group by 1"""
        ).fetchall()
    )
    assert ab[False] > 1.4 * ab[True]
    dwell = dict(
        con.execute(
            """select t.is_good, median((c.properties::json->>'dwell_seconds')::double)
               from clean c join tr t using (output_id) where c.event_type='click' group by 1"""
        ).fetchall()
    )
    assert dwell[True] > 3 * dwell[False]


def test_rephrased_texts_are_similar_and_unrelated_ones_are_not(
    con: duckdb.DuckDBPyConnection,
) -> None:
    text = dict(
        con.execute(
            """select a.request_id, any_value(e.properties::json->>'text')
               from ac a join ev e using (event_id)
               where a.event_type='request' and json_valid(e.properties) group by 1"""
        ).fetchall()
    )
    pairs = con.execute(
        """select kind, request_id, rephrase_of_request_id from ac
           where event_type='request' and kind <> 'new'"""
    ).fetchall()
    kinds = {k for k, _, _ in pairs}
    assert kinds == {"rephrase", "modified_prompt", "same_topic_later"}
    checked = 0
    for kind, rid, parent in pairs:
        if rid in text and parent in text:
            assert text[rid] != text[parent], kind
            assert _jaccard(text[rid], text[parent]) >= 0.5, (kind, text[rid], text[parent])
            checked += 1
    assert checked > 0.95 * len(pairs)
    # same_topic_later: same user, same surface, 1-48 h later
    gaps = con.execute(
        """select epoch(r.true_occurred_at - p.true_occurred_at) / 3600, r.user_id = p.user_id,
                  r.surface = p.surface, r.session_id <> p.session_id
           from ac r join ac p on p.request_id = r.rephrase_of_request_id
           where r.kind = 'same_topic_later' and r.event_type='request'
             and p.event_type='request'"""
    ).fetchall()
    assert gaps and all(1 <= h <= 49 and u and s and ns for h, u, s, ns in gaps)
    # consecutive unrelated requests (different topics) share almost no tokens
    unrelated = con.execute(
        """with r as (select request_id, topic_id, user_id, true_occurred_at,
             lag(request_id) over (partition by user_id order by true_occurred_at) prev,
             lag(topic_id) over (partition by user_id order by true_occurred_at) prev_topic
           from ac where event_type='request')
           select request_id, prev from r where prev is not null and topic_id <> prev_topic"""
    ).fetchall()
    js = [_jaccard(text[a], text[b]) for a, b in unrelated if a in text and b in text]
    assert len(js) > 500
    assert sum(j < 0.2 for j in js) / len(js) > 0.99
    assert sum(js) / len(js) < 0.05


def test_actions_are_consistent_with_their_output(con: duckdb.DuckDBPyConnection) -> None:
    # clicks land on a shown result; good outputs get clicked higher up
    rows = con.execute(
        """select (c.properties::json->>'position')::int,
                  (s.properties::json->>'n_results')::int, t.is_good
           from clean c join clean s on s.output_id = c.output_id and s.event_type='output_shown'
           join tr t on t.output_id = c.output_id where c.event_type='click'"""
    ).fetchall()
    assert rows and all(1 <= p <= n for p, n, _ in rows)
    mean_pos = {g: sum(p for p, _, gg in rows if gg == g) / sum(gg == g for *_, gg in rows)
                for g in (True, False)}  # fmt: skip
    assert mean_pos[True] < mean_pos[False]
    # accepted / copied / reverted character counts never exceed the suggestion's length
    over = _one(
        con,
        """select count(*) from clean a join clean s
             on s.output_id = a.output_id and s.event_type='output_shown'
           where a.event_type in ('accept', 'copy', 'revert')
             and (a.properties::json->>'n_chars')::int > (s.properties::json->>'n_chars')::int""",
    )
    assert over == 0
    # every action follows its output; edits and reverts follow the accept
    assert (
        _one(
            con,
            """select count(*) from ac a join ac s
                 on s.output_id = a.output_id and s.event_type = 'output_shown'
               left join ac acc on acc.output_id = a.output_id and acc.event_type = 'accept'
               where a.event_type not in ('request', 'output_shown')
                 and (a.true_occurred_at <= s.true_occurred_at
                      or (a.event_type in ('edit', 'revert')
                          and (acc.event_id is null
                               or a.true_occurred_at <= acc.true_occurred_at)))""",
        )
        == 0
    )
    edit_after_revert = _one(
        con,
        """select count(*) from ac e join ac r on r.output_id = e.output_id
           where e.event_type='edit' and r.event_type='revert'
             and e.true_occurred_at >= r.true_occurred_at""",
    )
    assert edit_after_revert == 0


def test_revert_delays_spread_over_minutes(con: duckdb.DuckDBPyConnection) -> None:
    delays = [
        d
        for (d,) in con.execute(
            """select epoch(r.true_occurred_at - a.true_occurred_at) from ac r
               join ac a on a.output_id = r.output_id and a.event_type='accept'
               where r.event_type='revert'"""
        ).fetchall()
    ]
    assert len(delays) > 30
    assert min(delays) > 0 and max(delays) <= 25 * 60
    for lo, hi in ((0, 60), (60, 300), (300, 1500)):
        assert sum(lo <= d < hi for d in delays) > 0.05 * len(delays)


# ------------------------------------------------------------------------------------------
# Other formats
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_hold_the_same_rows(tmp_path: Path, fmt: str) -> None:
    ref = simulate(tmp_path / "parquet", n_events=3_000, seed=2)
    res = simulate(tmp_path / fmt, n_events=3_000, seed=2, fmt=fmt)
    assert res.events_path == tmp_path / fmt / f"events.{fmt}"
    assert (res.n_rows, res.n_outputs, res.n_duplicates, res.n_malformed) == (
        ref.n_rows,
        ref.n_outputs,
        ref.n_duplicates,
        ref.n_malformed,
    )
    reader = (
        f"read_csv('{res.events_path}', all_varchar=true)"
        if fmt == "csv"
        else f"read_json('{res.events_path}', format='newline_delimited', "
        f"columns={{{', '.join(f'{c}: VARCHAR' for c in EVENT_COLUMNS)}}})"
    )
    got = duckdb.sql(f"select * from {reader}").fetchall()
    want = duckdb.sql(f"select * from read_parquet('{ref.events_path}')").fetchall()
    assert len(got) == res.n_rows
    assert got == want
    if fmt == "jsonl":  # auto-detected types work too
        assert duckdb.sql(
            f"select count(*) from read_json('{res.events_path}', format='newline_delimited')"
        ).fetchall() == [(res.n_rows,)]  # fmt: skip


def test_chat_copy_logging_regression_drops_copies_late_in_the_period(
    con: duckdb.DuckDBPyConnection, sim: SimulationResult
) -> None:
    """The simulated instrumentation bug: only chat copies of the last days are dropped."""
    dropped = con.execute(
        "select surface, event_type, min(true_occurred_at), count(*) from ac "
        "where fate = 'dropped' group by 1, 2"
    ).fetchall()
    assert [(s, t) for s, t, _, _ in dropped] == [("chat", "copy")]
    ((first_day,),) = con.execute("select min(true_occurred_at)::date from ac").fetchall()
    assert (dropped[0][2].date() - first_day).days >= 14 - 3
    n_actions = _one(con, "select count(*) from ac")
    assert sim.n_rows == n_actions - dropped[0][3] + sim.n_duplicates


# ------------------------------------------------------------------------------------------
# Named worlds: where the labeling functions' assumptions fail
# ------------------------------------------------------------------------------------------

N_WORLD = 60_000
OTHER_WORLDS = [w for w in WORLDS if w != "default"]
SIM_FILES = ("events.parquet", "truth.parquet", "actions.parquet")


def _checksums(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in SIM_FILES}


@pytest.fixture(scope="module")
def world_cons(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, duckdb.DuckDBPyConnection]:
    """One connection per world: its truth, actions and clean (delivered, deduplicated) events."""
    cons = {}
    for world in WORLDS:
        res = simulate(tmp_path_factory.mktemp(world), n_events=N_WORLD, seed=5, world=world)
        c = duckdb.connect()
        c.execute(f"create view tr as select * from read_parquet('{res.truth_path}')")
        c.execute(f"create view ac as select * from read_parquet('{res.actions_path}')")
        c.execute(
            f"""create view ev as select distinct on (e.event_id) e.*
            from read_parquet('{res.events_path}') e join ac a using (event_id)
            where a.fate <> 'malformed'"""
        )
        cons[world] = c
    return cons


def _rephrase_rate_by_quality(c: duckdb.DuckDBPyConnection) -> dict[bool, float]:
    """Search: P(the query is rephrased | the output is good / bad)."""
    rows = c.execute(
        """select t.is_good, avg((r.rephrase_of_request_id is not null)::int)
        from tr t left join (
            select distinct rephrase_of_request_id from ac where kind = 'rephrase'
        ) r on r.rephrase_of_request_id = t.request_id
        where t.surface = 'search' group by 1"""
    ).fetchall()
    return dict(rows)


def _revert_rate_by_quality(c: duckdb.DuckDBPyConnection) -> dict[bool, float]:
    """Code: P(reverted | accepted, the output is good / bad)."""
    rows = c.execute(
        """select t.is_good, avg((v.output_id is not null)::int)
        from (select distinct output_id from ac where event_type = 'accept') a
        join tr t using (output_id)
        left join (select distinct output_id from ac where event_type = 'revert') v
            using (output_id)
        group by 1"""
    ).fetchall()
    return dict(rows)


def _click_rate_by_rank(c: duckdb.DuckDBPyConnection) -> dict[tuple[bool, str], float]:
    """Search: clicks per result shown at ranks 1-2 (``top``) and 5-10 (``deep``), by quality."""
    rows = c.execute(
        """with shown as (
            select s.output_id, t.is_good,
                   json_extract_string(s.properties, '$.n_results')::int as n_results
            from ev s join tr t using (output_id)
            where s.event_type = 'output_shown' and s.surface = 'search'
        ),
        clicks as (
            select output_id, json_extract_string(properties, '$.position')::int as position
            from ev where event_type = 'click'
        ),
        ranks as (select unnest(range(1, 11)) as r)
        select s.is_good, if(r.r <= 2, 'top', 'deep'), count(k.output_id) / count(*)
        from ranks r join shown s on s.n_results >= r.r
        left join clicks k on k.output_id = s.output_id and k.position = r.r
        where r.r <= 2 or r.r >= 5
        group by all"""
    ).fetchall()
    return {(good, band): rate for good, band, rate in rows}


def _good_share_by_dwell(c: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Search: good share of clicked outputs per bucket of their longest click's dwell."""
    rows = c.execute(
        """with dwell as (
            select output_id,
                   max(json_extract_string(properties, '$.dwell_seconds')::double) as d
            from ev where event_type = 'click' group by 1
        )
        select case when d < 10 then 'short' when d >= 30 and d < 120 then 'middle'
                    when d >= 300 then 'longest' end as bucket,
               avg(t.is_good::int)
        from dwell join tr t using (output_id)
        group by 1 having bucket is not null"""
    ).fetchall()
    return dict(rows)


def test_default_world_is_the_world_of_today(tmp_path: Path) -> None:
    """``world="default"`` writes exactly the files of a run without ``world``."""
    simulate(tmp_path / "omitted", n_events=20_000, seed=9, days=2)
    simulate(tmp_path / "default", n_events=20_000, seed=9, days=2, world="default")
    assert _checksums(tmp_path / "default") == _checksums(tmp_path / "omitted")
    assert WORLDS["default"] is DEFAULT_WORLD


@pytest.mark.parametrize("world", OTHER_WORLDS)
def test_each_world_is_deterministic_and_differs_from_default(tmp_path: Path, world: str) -> None:
    a = simulate(tmp_path / "a", n_events=5_000, seed=3, world=world)
    simulate(tmp_path / "b", n_events=5_000, seed=3, world=world)
    simulate(tmp_path / "default", n_events=5_000, seed=3)
    sums = _checksums(tmp_path / "a")
    assert sums == _checksums(tmp_path / "b")
    assert sums["truth.parquet"] != _checksums(tmp_path / "default")["truth.parquet"]
    assert pq.read_schema(a.truth_path).equals(
        pq.read_schema(tmp_path / "default" / "truth.parquet")
    )  # the truth file keeps its shape


def test_worlds_replace_only_the_knobs_they_are_about() -> None:
    changed = {
        name: {g for g in ("population", "sessions", "quality", "reactions", "text", "faults")
               if getattr(params, g) != getattr(DEFAULT_WORLD, g)}
        for name, params in WORLDS.items()
    }  # fmt: skip
    assert changed == {
        "default": set(),
        "exploratory_search": {"reactions"},
        "position_bias": {"reactions"},
        "non_monotone_dwell": {"reactions"},
        "retention_unrelated": {"reactions"},
        "rare_good": {"quality"},
    }


def test_unknown_world_is_one_line_listing_the_names(tmp_path: Path) -> None:
    with pytest.raises(FlywheelError) as err:
        simulate(tmp_path / "x", n_events=1_000, world="nope")
    message = str(err.value)
    assert "\n" not in message and "'nope'" in message
    assert all(name in message for name in WORLDS)
    assert not (tmp_path / "x").exists()


def test_cli_world_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flywheel import cli
    from flywheel.pipeline import SimulateConfig, simulate_sample

    args = cli.build_parser().parse_args(["simulate", "--world", "rare_good", "--out", "o"])
    assert cli._simulate_config(args).world == "rare_good"
    assert SimulateConfig().world == "default"
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in WORLDS)
    assert cli.main(["simulate", "--world", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "position_bias" in err
    res = simulate_sample(SimulateConfig(out=tmp_path / "rg", n_events=2_000, world="rare_good"))
    ref = simulate(tmp_path / "ref", n_events=2_000, world="rare_good")
    assert res.truth_path.read_bytes() == ref.truth_path.read_bytes()


def test_rare_good_world_has_few_good_outputs(
    world_cons: dict[str, duckdb.DuckDBPyConnection],
) -> None:
    share = _one(world_cons["rare_good"], "select avg(is_good::int) from tr")
    assert 0.10 <= share <= 0.15  # type: ignore[operator]
    assert _one(world_cons["default"], "select avg(is_good::int) from tr") > 0.5  # type: ignore[operator]


def test_exploratory_search_rephrases_whatever_the_quality(
    world_cons: dict[str, duckdb.DuckDBPyConnection],
) -> None:
    rate = _rephrase_rate_by_quality(world_cons["exploratory_search"])
    assert abs(rate[True] - rate[False]) < 0.05
    assert 0.30 <= rate[True] <= 0.40  # reformulating is normal
    default = _rephrase_rate_by_quality(world_cons["default"])
    assert default[False] - default[True] > 0.25


def test_position_bias_clicks_follow_rank_not_relevance(
    world_cons: dict[str, duckdb.DuckDBPyConnection],
) -> None:
    rate = _click_rate_by_rank(world_cons["position_bias"])
    for good in (True, False):
        assert 0.22 <= rate[good, "top"] <= 0.28
        assert 0.05 <= rate[good, "deep"] <= 0.07
        assert 3.5 <= rate[good, "top"] / rate[good, "deep"] <= 5.0  # target 0.25 / 0.06
    assert abs(rate[True, "top"] - rate[False, "top"]) < 0.03  # relevance is flat
    assert abs(rate[True, "deep"] - rate[False, "deep"]) < 0.015
    default = _click_rate_by_rank(world_cons["default"])
    assert default[True, "top"] - default[False, "top"] > 0.1


def test_retention_unrelated_reverts_whatever_the_quality(
    world_cons: dict[str, duckdb.DuckDBPyConnection],
) -> None:
    rate = _revert_rate_by_quality(world_cons["retention_unrelated"])
    assert abs(rate[True] - rate[False]) < 0.05
    assert 0.10 <= rate[True] <= 0.20
    default = _revert_rate_by_quality(world_cons["default"])
    assert default[False] - default[True] > 0.2


def test_non_monotone_dwell_long_dwell_is_not_good(
    world_cons: dict[str, duckdb.DuckDBPyConnection],
) -> None:
    share = _good_share_by_dwell(world_cons["non_monotone_dwell"])
    assert share["longest"] < share["middle"] - 0.3
    assert share["short"] < share["middle"]  # short dwell still means bad
    default = _good_share_by_dwell(world_cons["default"])
    assert default["short"] < default["middle"] <= default["longest"]  # monotone today
