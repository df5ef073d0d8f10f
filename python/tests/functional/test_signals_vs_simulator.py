"""Every signal of fct_output_signals, recomputed from what the simulator really did.

``actions.parquet`` holds one row per generated event before delivery faults (duplicates, late
arrivals, corrupted rows) with its true time, its request's kind (``new``, ``rephrase``,
``modified_prompt``, ``same_topic_later``), the request it rephrases and the simulated session.
The event properties (edit share, click position and dwell, rating) are not in it: they come
from the raw events file, joined by event_id. From that record this module recomputes each
signal in SQL and compares it with the warehouse, output by output.

Outputs whose own events, or whose request's or next request's events, the simulator
deliberately corrupted or dropped (fate ``malformed``: rejected by staging; ``dropped``: the
chat copy-logging regression of the last days: the warehouse never sees
them) are left out. Durations are compared in true time against client time: the simulator's
clock skew is constant per user, so durations within a user are preserved (to the ms).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

#: seconds; timestamps have millisecond precision on both sides
DURATION_TOLERANCE = 0.002
SIMILARITY_THRESHOLD = 0.5  # flywheel__rephrase_similarity (the dbt_project.yml default)
REREQUEST_WINDOW_SECONDS = 60  # flywheel__rerequest_window_seconds
LONG_CLICK_SECONDS = 30  # flywheel__long_click_dwell_seconds
TOPIC_REPEAT_HOURS = (1, 72)  # flywheel__topic_repeat_min_hours / _max_hours

TRUTH_SQL = """
with recursive

actions as (
    select * from read_parquet('{actions}')
),

raw_properties as (
    -- actions.parquet does not keep properties; duplicate rows repeat the same properties and
    -- corrupted rows are excluded below, so any valid copy will do
    select event_id, any_value(properties) as properties
    from read_parquet('{events}')
    where event_id is not null and json_valid(properties)
    group by event_id
),

events as (
    select
        actions.*,
        epoch_ms(actions.true_occurred_at) as t_ms,
        try_cast(json_extract_string(p.properties, '$.text') as varchar) as text,
        try_cast(json_extract_string(p.properties, '$.share_rewritten') as double) as share,
        try_cast(json_extract_string(p.properties, '$.position') as integer) as position,
        try_cast(json_extract_string(p.properties, '$.dwell_seconds') as double) as dwell,
        try_cast(json_extract_string(p.properties, '$.rating') as integer) as rating
    from actions
    left join raw_properties as p
        on actions.event_id = p.event_id
),

corrupted_requests as (
    select distinct request_id from events where fate in ('malformed', 'dropped')
),

requests as (
    select
        request_id,
        user_id,
        session_id,
        kind,
        rephrase_of_request_id,
        t_ms,
        text,
        fate in ('malformed', 'dropped') as is_request_corrupted,
        -- the next request of the simulated session
        lead(request_id) over by_session as next_request_id,
        lead(t_ms) over by_session as next_t_ms,
        lead(kind) over by_session as next_kind,
        lead(rephrase_of_request_id) over by_session as next_rephrase_of_request_id
    from events
    where event_type = 'request'
    window by_session as (partition by session_id order by t_ms, request_id)
),

threads (request_id, root_request_id) as (
    -- a thread: a request, its rephrases, its later re-asks and theirs (rephrase_of links)
    select request_id, request_id from requests where rephrase_of_request_id is null
    union all
    select requests.request_id, threads.root_request_id
    from requests
    inner join threads
        on requests.rephrase_of_request_id = threads.request_id
),

visible_requests as (
    -- the requests the warehouse can see
    select
        requests.*,
        threads.root_request_id,
        list_distinct(regexp_extract_all(lower(requests.text), '[a-z0-9_]+')) as tokens
    from requests
    inner join threads
        on requests.request_id = threads.request_id
    where not requests.is_request_corrupted
),

thread_repeats as (
    -- the simulator's intent: a request of the same thread, 1-72 h later
    select distinct asked.request_id
    from visible_requests as asked
    inner join visible_requests as later
        on asked.user_id = later.user_id
        and asked.root_request_id = later.root_request_id
        and later.t_ms - asked.t_ms between {min_hours} * 3600000 and {max_hours} * 3600000
),

request_tokens as (
    select request_id, user_id, t_ms, len(tokens) as n_tokens, unnest(tokens) as token
    from visible_requests
),

shared_tokens as (
    -- pairs of the same user's requests 1-72 h apart that share a token (no shared token:
    -- similarity 0), with the number of tokens they share
    select
        asked.request_id,
        later.request_id as later_request_id,
        count(*) as n_shared,
        any_value(asked.n_tokens) as n_asked,
        any_value(later.n_tokens) as n_later
    from request_tokens as asked
    inner join request_tokens as later
        on asked.user_id = later.user_id
        and asked.token = later.token
        and later.t_ms - asked.t_ms between {min_hours} * 3600000 and {max_hours} * 3600000
    group by asked.request_id, later.request_id
),

similar_repeats as (
    -- the text rule: token Jaccard |A & B| / |A | B| at or above the threshold
    select distinct request_id
    from shared_tokens
    where n_shared / (n_asked + n_later - n_shared) >= {similar}
),

outputs as (
    select
        output_id,
        any_value(request_id) as request_id,
        min(case when event_type = 'output_shown' then t_ms end) as shown_ms,
        min(case when event_type = 'accept' then t_ms end) as accepted_ms,
        min(case when event_type = 'reject' then t_ms end) as rejected_ms,
        max(case when event_type = 'edit' then share end) as max_share,
        min(case when event_type = 'revert' then t_ms end) as reverted_ms,
        count(case when event_type = 'copy' then 1 end) as n_copies,
        count(case when event_type = 'click' then 1 end) as n_clicks,
        arg_min(position, t_ms) filter (where event_type = 'click') as first_click_position,
        max(case when event_type = 'click' then dwell end) as max_click_dwell_seconds,
        arg_max(rating, t_ms) filter (where event_type = 'feedback') as explicit_rating,
        count(case when event_type in ('accept', 'reject', 'copy', 'click', 'feedback') then 1 end)
            as n_actions
    from events
    where output_id is not null
    group by output_id
),

truth as (
    select
        outputs.output_id,
        requests.session_id as simulated_session_id,
        requests.request_id in (select request_id from corrupted_requests)
            or coalesce(
                requests.next_request_id in (select request_id from corrupted_requests), false
            ) as is_corrupted,
        outputs.accepted_ms is not null as is_accepted,
        outputs.accepted_ms is null and outputs.rejected_ms is not null as is_rejected,
        outputs.accepted_ms is null and outputs.rejected_ms is null as is_ignored,
        (least(outputs.accepted_ms, outputs.rejected_ms) - outputs.shown_ms) / 1000.0
            as dwell_seconds,
        case when outputs.accepted_ms is not null then outputs.max_share end as share_rewritten,
        (outputs.reverted_ms - outputs.accepted_ms) / 1000.0 as reverted_after_seconds,
        {retained}
        requests.next_request_id,
        -- the user's next request in the session rephrases (chat, search) or modifies (code)
        -- this one
        coalesce(
            requests.next_kind in ('rephrase', 'modified_prompt')
            and requests.next_rephrase_of_request_id = requests.request_id,
            false
        ) as is_rephrased,
        (requests.next_t_ms - outputs.shown_ms) / 1000.0 as seconds_to_next_request,
        outputs.n_copies > 0 as is_copied,
        outputs.n_copies,
        outputs.n_clicks > 0 as is_clicked,
        outputs.n_clicks,
        outputs.first_click_position,
        outputs.max_click_dwell_seconds,
        coalesce(outputs.max_click_dwell_seconds >= {long_click}, false) as is_long_click,
        -- the simulator's "abandoned": the session ended on this request and the user did not
        -- act on the output
        requests.next_request_id is null and outputs.n_actions = 0 as is_session_abandoned,
        requests.request_id in (select request_id from thread_repeats) as is_topic_repeated,
        requests.request_id in (select request_id from similar_repeats)
            as has_similar_later_request,
        outputs.explicit_rating
    from outputs
    inner join requests
        on outputs.request_id = requests.request_id
)

select
    *,
    is_rephrased and seconds_to_next_request <= {rerequest_window} as is_rerequested,
    next_request_id is not null and not is_rephrased as is_followed_by_new_request
from truth
"""

EXACT_BOOLEANS = [
    "is_accepted",
    "is_rejected",
    "is_ignored",
    "is_copied",
    "is_clicked",
    "is_long_click",
    "is_session_abandoned",
]
EXACT_VALUES = ["n_copies", "n_clicks", "first_click_position", "explicit_rating"]
#: properties staging casts to `float` (32-bit in DuckDB): equal to ~7 significant digits
FLOAT_VALUES = ["share_rewritten", "max_click_dwell_seconds"]
FLOAT_RELATIVE_TOLERANCE = 1e-6
DURATIONS = ["dwell_seconds", "reverted_after_seconds", "seconds_to_next_request"]
#: decided by text similarity in SQL, by the simulator's intent in the truth
SIMILARITY_BOOLEANS = ["is_rephrased", "is_rerequested", "is_followed_by_new_request"]


def _window_seconds(label: str) -> int:
    """``30s`` -> 30, ``2m`` -> 120, ``1h`` -> 3600 (macro window_label, inverted)."""
    value, unit = int(label[:-1]), label[-1]
    return value * {"s": 1, "m": 60, "h": 3600}[unit]


@pytest.fixture(scope="module")
def compared(built) -> pd.DataFrame:
    """Truth and warehouse side by side (suffixes ``_t`` and ``_s``), clean outputs only."""
    con = built.connect()
    try:
        signal_columns = [c[0] for c in con.execute("describe fct_output_signals").fetchall()]
        windows = [
            c.removeprefix("is_retained_") for c in signal_columns if c.startswith("is_retained_")
        ]
        retained = "".join(
            f"case when outputs.accepted_ms is null then null"
            f" when outputs.reverted_ms - outputs.accepted_ms <= {_window_seconds(w) * 1000}"
            f" then false else true end as is_retained_{w},\n"
            for w in windows
        )
        sql = TRUTH_SQL.format(
            actions=built.sim.actions_path,
            events=built.sim.events_path,
            retained=retained,
            similar=SIMILARITY_THRESHOLD,
            rerequest_window=REREQUEST_WINDOW_SECONDS,
            long_click=LONG_CLICK_SECONDS,
            min_hours=TOPIC_REPEAT_HOURS[0],
            max_hours=TOPIC_REPEAT_HOURS[1],
        )
        truth = con.execute(sql).df()
        signals = con.execute(
            """
            select fct_output_signals.*, int_requests.next_request_id
            from fct_output_signals
            left join int_requests
                on fct_output_signals.request_id = int_requests.request_id
            """
        ).df()
    finally:
        con.close()
    assert windows, "no is_retained_* column in fct_output_signals"
    n_truth = len(truth)
    truth = truth[~truth["is_corrupted"]]
    # corrupted events touch a few percent of outputs at most
    assert len(truth) > 0.95 * n_truth
    merged = truth.merge(signals, on="output_id", how="left", suffixes=("_t", "_s"), indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, f"clean outputs missing from fct_output_signals: {missing.output_id[:5]}"
    merged.attrs["retention_columns"] = [f"is_retained_{w}" for w in windows]
    return merged


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality where two nulls are equal."""
    both_null = a.isna() & b.isna()
    return both_null | (a.astype(object) == b.astype(object)).fillna(False).astype(bool)


def _mismatches(df: pd.DataFrame, column: str) -> pd.DataFrame:
    same = _same(df[f"{column}_t"], df[f"{column}_s"])
    return df.loc[~same, ["output_id", f"{column}_t", f"{column}_s"]]


@pytest.mark.parametrize("column", EXACT_BOOLEANS + EXACT_VALUES)
def test_signal_agrees_exactly(compared, column) -> None:
    bad = _mismatches(compared, column)
    assert bad.empty, f"{len(bad)} of {len(compared)} outputs disagree on {column}:\n{bad.head()}"


def test_retention_agrees_exactly_at_every_window(compared) -> None:
    for column in compared.attrs["retention_columns"]:
        bad = _mismatches(compared, column)
        assert bad.empty, f"{len(bad)} outputs disagree on {column}:\n{bad.head()}"


@pytest.mark.parametrize("column", FLOAT_VALUES)
def test_float_property_agrees(compared, column) -> None:
    a, b = compared[f"{column}_t"].astype(float), compared[f"{column}_s"].astype(float)
    ok = (a.isna() & b.isna()) | ((a - b).abs() <= FLOAT_RELATIVE_TOLERANCE * a.abs())
    bad = compared.loc[~ok, ["output_id", f"{column}_t", f"{column}_s"]]
    assert bad.empty, f"{len(bad)} outputs disagree on {column}:\n{bad.head()}"


@pytest.mark.parametrize("column", DURATIONS)
def test_duration_agrees_to_the_millisecond(compared, column) -> None:
    a, b = compared[f"{column}_t"].astype(float), compared[f"{column}_s"].astype(float)
    ok = (a.isna() & b.isna()) | ((a - b).abs() <= DURATION_TOLERANCE)
    bad = compared.loc[~ok, ["output_id", f"{column}_t", f"{column}_s"]]
    assert bad.empty, f"{len(bad)} outputs disagree on {column}:\n{bad.head()}"


def test_next_request_is_the_simulated_sessions_next_request(compared) -> None:
    """Sessions and request order in the warehouse are the simulator's: the next request of
    every clean output's request is exactly the simulated session's next request."""
    bad = _mismatches(compared, "next_request_id")
    assert bad.empty, f"{len(bad)} outputs disagree on the next request:\n{bad.head()}"


def test_sessions_are_the_simulated_sessions(compared) -> None:
    """One warehouse session per simulated session and vice versa (over clean outputs)."""
    pairs = compared[["simulated_session_id", "session_id"]].drop_duplicates()
    assert len(pairs) == compared["simulated_session_id"].nunique()
    assert len(pairs) == compared["session_id"].nunique()


@pytest.mark.parametrize("column", SIMILARITY_BOOLEANS)
def test_similarity_signal_agrees_with_the_simulators_intent(compared, column) -> None:
    """The SQL calls the next request a rephrase when its tokens are similar (Jaccard >= 0.5);
    the simulator knows whether it was one. They differ only when an unrelated next request
    happens to share enough words (same popular topic; rare on the shared stream, the
    default sample) or a rephrase falls below the threshold (the simulator's rephrases keep
    Jaccard >= 6/11, so never here). The next request itself must be the same (test above), so
    every disagreement must be one of these similarity cases."""
    same = _same(compared[f"{column}_t"], compared[f"{column}_s"])
    assert same.mean() >= 0.995, f"{column}: agreement {same.mean():.4%}"
    off = compared[~same]
    similar = off["next_request_similarity"] >= SIMILARITY_THRESHOLD
    # the SQL says rephrase exactly where the text is similar, the simulator disagrees
    assert (off["is_rephrased_s"] == similar).all()
    assert (off["is_rephrased_t"] != similar).all()


def test_topic_repeat_follows_the_text_rule_exactly(compared) -> None:
    """is_topic_repeated is true exactly when the same user sent a request with token Jaccard
    >= 0.5 between 1 and 72 hours after this one (recomputed here from the raw texts)."""
    bad = compared.loc[
        compared["has_similar_later_request"] != compared["is_topic_repeated_s"],
        ["output_id", "has_similar_later_request", "is_topic_repeated_s"],
    ]
    assert bad.empty, f"{len(bad)} outputs disagree with the text rule:\n{bad.head()}"


def test_topic_repeat_agrees_with_the_simulators_intent(compared) -> None:
    """The simulator's intent: a request of the same thread (the request, its rephrases, its
    later re-asks and their rephrases) asked again 1-72 h later. Text similarity misses re-asks
    that drifted below the threshold over several rephrase steps (a re-ask of X compared with
    X's rephrase) and counts unrelated requests on the same popular topic that happen to be
    similar. Measured when this test was written: 99.48 % agreement on a 60k-event stream
    (84 drifted re-asks missed, 33 coincidental similar requests counted), hence a 99 % floor
    rather than the 99.5 % of the other similarity signals;
    test_topic_repeat_follows_the_text_rule_exactly pins the SQL itself."""
    same = compared["is_topic_repeated_t"] == compared["is_topic_repeated_s"]
    assert same.mean() >= 0.99, f"is_topic_repeated: agreement {same.mean():.4%}"
    assert compared["is_topic_repeated_t"].sum() > 100  # the signal is exercised


def test_signals_are_exercised(compared) -> None:
    """The clean outputs cover every signal in both states (the comparison is not vacuous)."""
    for column in EXACT_BOOLEANS + SIMILARITY_BOOLEANS + compared.attrs["retention_columns"]:
        values = set(compared[f"{column}_t"].dropna().astype(bool))
        assert values == {True, False}, column
    assert compared["share_rewritten_t"].notna().sum() > 50
    assert compared["explicit_rating_t"].notna().sum() > 10
    assert compared["reverted_after_seconds_t"].notna().sum() > 50


def test_module_constants_match_the_project_defaults(built) -> None:
    """The thresholds above are the dbt_project.yml defaults the built warehouse used."""
    text = (built.project.root / "dbt_project.yml").read_text()

    def var(name: str) -> str:
        match = re.search(rf"^\s*{name}:\s*([0-9.]+)", text, flags=re.MULTILINE)
        assert match, name
        return match.group(1)

    assert float(var("flywheel__rephrase_similarity")) == SIMILARITY_THRESHOLD
    assert int(var("flywheel__rerequest_window_seconds")) == REREQUEST_WINDOW_SECONDS
    assert int(var("flywheel__long_click_dwell_seconds")) == LONG_CLICK_SECONDS
    assert int(var("flywheel__topic_repeat_min_hours")) == TOPIC_REPEAT_HOURS[0]
    assert int(var("flywheel__topic_repeat_max_hours")) == TOPIC_REPEAT_HOURS[1]
