"""The event contract's vocabularies, their integer codes, and time units.

Everything here is fixed by the event contract, not by the simulated world: the surfaces,
event types, request kinds, delivery fates and malformed-row reasons the files may contain, the
columns of the events file, and the integer codes the vectorized code uses for them (a code is
the index of its name in the matching tuple). World parameters live in
:mod:`flywheel.simulate.params`.
"""

from __future__ import annotations

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "FATES",
    "MALFORMED_REASONS",
    "MODEL_VERSIONS",
    "REQUEST_KINDS",
    "SURFACES",
    "USER_KINDS",
]

# --------------------------------------------------------------------------------------------
# Public vocabularies
# --------------------------------------------------------------------------------------------

SURFACES: tuple[str, ...] = ("code", "chat", "search")
EVENT_TYPES: tuple[str, ...] = (
    "request",
    "output_shown",
    "accept",
    "reject",
    "edit",
    "revert",
    "copy",
    "click",
    "feedback",
)
USER_KINDS: tuple[str, ...] = ("power", "regular", "casual")
REQUEST_KINDS: tuple[str, ...] = ("new", "rephrase", "modified_prompt", "same_topic_later")
FATES: tuple[str, ...] = ("delivered", "duplicated", "late", "malformed", "dropped")
MALFORMED_REASONS: tuple[str, ...] = (
    "event_id_null",
    "user_id_null",
    "occurred_at_unparseable",
    "event_type_unknown",
    "output_id_null",
    "occurred_at_future",
    "properties_invalid_json",
    "surface_unknown",
)
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "occurred_at",
    "received_at",
    "user_id",
    "surface",
    "event_type",
    "request_id",
    "output_id",
    "model_version",
    "properties",
)
#: model versions per surface: index 0 = older/worse, index 1 = newer/better.
MODEL_VERSIONS: tuple[tuple[str, str], ...] = (
    ("code-2026.10", "code-2026.11"),
    ("chat-2026.10", "chat-2026.11"),
    ("search-2026.10", "search-2026.11"),
)

# --------------------------------------------------------------------------------------------
# Integer codes (indices into the tuples above)
# --------------------------------------------------------------------------------------------

CODE, CHAT, SEARCH = 0, 1, 2
(REQUEST, SHOWN, ACCEPT, REJECT, EDIT, REVERT, COPY, CLICK, FEEDBACK) = range(9)
NEW, REPHRASE, MODIFIED, LATER = 0, 1, 2, 3
DELIVERED, DUPLICATED, LATE, MALFORMED, DROPPED = range(5)
(
    EVENT_ID_NULL,
    USER_ID_NULL,
    OCCURRED_AT_UNPARSEABLE,
    EVENT_TYPE_UNKNOWN,
    OUTPUT_ID_NULL,
    OCCURRED_AT_FUTURE,
    PROPERTIES_INVALID_JSON,
    SURFACE_UNKNOWN,
) = range(8)

# --------------------------------------------------------------------------------------------
# Time units (all simulated times are integer milliseconds)
# --------------------------------------------------------------------------------------------

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
