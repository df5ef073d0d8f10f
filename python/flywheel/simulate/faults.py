"""Delivery faults: clock skew, duplicates, late arrivals, malformed rows and dropped events.

Every generated event gets a *fate* (``FATES``): delivered, duplicated (written twice),
late (``received_at`` 1-30 h after it happened), malformed (replaced by a corrupted copy, see
``MALFORMED_REASONS``) or dropped (the simulated chat-copy logging regression of the last days
of the period). Clients report ``occurred_at`` on their own, skewed clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .draws import delay_ms
from .params import FaultParams
from .strings import format_ts
from .vocab import (
    CHAT,
    COPY,
    DAY,
    DELIVERED,
    DROPPED,
    DUPLICATED,
    EVENT_ID_NULL,
    EVENT_TYPE_UNKNOWN,
    HOUR,
    LATE,
    MALFORMED,
    MALFORMED_REASONS,
    OCCURRED_AT_FUTURE,
    OCCURRED_AT_UNPARSEABLE,
    OUTPUT_ID_NULL,
    PROPERTIES_INVALID_JSON,
    REQUEST,
    SECOND,
    SURFACE_UNKNOWN,
    USER_ID_NULL,
)

__all__ = ["Delivery", "corrupt_malformed", "deliver", "draw_clock_skew"]

_UNPARSEABLE_TIMES = ("not-a-time", "2026-13-45T99:00:00Z")
_FUTURE_DAYS = 400  # an ``occurred_at_future`` row claims to happen this long after receipt


def draw_clock_skew(
    rng: np.random.Generator, n_users: int, params: FaultParams
) -> NDArray[np.int64]:
    """Draw every user's client clock skew.

    Most clocks are within ``+-skew_max_s`` seconds; ``skew_minutes_share`` of users are off by
    one to ten minutes, either way.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    n_users : int
        Number of users.
    params : FaultParams
        Skew parameters.

    Returns
    -------
    numpy.ndarray of int64
        Skew in milliseconds (``occurred_at = true time + skew``).
    """
    minutes_off = rng.random(n_users) < params.skew_minutes_share
    lo, hi = params.skew_minutes_s
    skew = np.where(
        minutes_off,
        np.where(rng.random(n_users) < 0.5, -1, 1) * rng.uniform(lo, hi, n_users) * SECOND,
        np.clip(rng.normal(0.0, params.skew_sd_s, n_users), -params.skew_max_s, params.skew_max_s)
        * SECOND,
    )
    return skew.astype(np.int64)


@dataclass(frozen=True)
class Delivery:
    """What the collector received of a chunk's events.

    Attributes
    ----------
    fate : numpy.ndarray of int64
        Fate code of every generated event (index into ``FATES``).
    reason : numpy.ndarray of int64
        Malformed reason code of every event (index into ``MALFORMED_REASONS``), -1 if intact.
    true_epoch : numpy.ndarray of int64
        When every event really happened, epoch milliseconds.
    occurred : numpy.ndarray of int64
        What the client reported (true time plus the user's clock skew), epoch milliseconds.
    row_event : numpy.ndarray of int64
        Event index of every row written, in ``received_at`` order (dropped events are missing,
        duplicated ones appear twice).
    row_received : numpy.ndarray of int64
        ``received_at`` of every row written, epoch milliseconds.
    n_duplicates : int
        Number of extra rows written for duplicated events.
    """

    fate: NDArray[np.int64]
    reason: NDArray[np.int64]
    true_epoch: NDArray[np.int64]
    occurred: NDArray[np.int64]
    row_event: NDArray[np.int64]
    row_received: NDArray[np.int64]
    n_duplicates: int


def _draw_fates(
    rng: np.random.Generator,
    params: FaultParams,
    ev_type: NDArray[Any],
    ev_surface: NDArray[Any],
    ev_true: NDArray[np.int64],
    days: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Draw every event's fate and, for malformed ones, the reason.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    params : FaultParams
        Fault shares and the logging regression.
    ev_type, ev_surface : numpy.ndarray of int
        Event type and surface codes.
    ev_true : numpy.ndarray of int64
        True event time in milliseconds since the start of the period.
    days : int
        Length of the period.

    Returns
    -------
    fate, reason : numpy.ndarray of int64
        Fate codes and malformed reason codes (-1 where not malformed).
    """
    n_ev = len(ev_type)
    u = rng.random(n_ev)
    fate = np.zeros(n_ev, dtype=np.int64)
    fate[u < params.p_malformed + params.p_late + params.p_duplicate] = DUPLICATED
    fate[u < params.p_malformed + params.p_late] = LATE
    fate[u < params.p_malformed] = MALFORMED
    reason = np.where(fate == MALFORMED, rng.integers(0, len(MALFORMED_REASONS), n_ev), -1)
    lost = (
        (fate == DELIVERED)
        & (ev_type == COPY)
        & (ev_surface == CHAT)
        & (ev_true >= (days - params.logging_bug_days) * DAY)
        & (rng.random(n_ev) < params.logging_bug_loss)
    )
    fate[lost] = DROPPED
    # a request event has no output_id to null: corrupt it in one of the other ways
    other = rng.integers(OUTPUT_ID_NULL + 1, OUTPUT_ID_NULL + len(MALFORMED_REASONS), n_ev)
    reason = np.where(
        (reason == OUTPUT_ID_NULL) & (ev_type == REQUEST), other % len(MALFORMED_REASONS), reason
    )
    return fate, reason


def deliver(
    rng: np.random.Generator,
    params: FaultParams,
    ev_type: NDArray[Any],
    ev_surface: NDArray[Any],
    ev_true: NDArray[np.int64],
    ev_skew: NDArray[np.int64],
    start_ms: int,
    days: int,
) -> Delivery:
    """Apply delivery faults and clocks to a chunk's events.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    params : FaultParams
        Fault parameters.
    ev_type, ev_surface : numpy.ndarray of int
        Event type and surface codes.
    ev_true : numpy.ndarray of int64
        True event time in milliseconds since the start of the period.
    ev_skew : numpy.ndarray of int64
        Clock skew of the event's user in milliseconds.
    start_ms : int
        Start of the period, epoch milliseconds.
    days : int
        Length of the period.

    Returns
    -------
    Delivery
        Fates, reasons, clocks and the rows to write, in ``received_at`` order.
    """
    n_ev = len(ev_type)
    fate, reason = _draw_fates(rng, params, ev_type, ev_surface, ev_true, days)
    true_epoch = start_ms + ev_true
    occurred = true_epoch + ev_skew
    received = true_epoch + delay_ms(rng, params.receive_delay, None, n_ev)
    late = fate == LATE
    lo_h, hi_h = params.late_hours
    received[late] = true_epoch[late] + rng.integers(lo_h * HOUR, hi_h * HOUR, int(late.sum()))
    dup = np.flatnonzero(fate == DUPLICATED)
    kept = np.flatnonzero(fate != DROPPED)
    row_ev = np.concatenate([kept, dup])
    lo_d, hi_d = params.duplicate_delay_ms
    row_recv = np.concatenate([received[kept], received[dup] + rng.integers(lo_d, hi_d, len(dup))])
    order = np.argsort(row_recv, kind="stable")
    return Delivery(
        fate=fate,
        reason=reason,
        true_epoch=true_epoch,
        occurred=occurred,
        row_event=row_ev[order],
        row_received=row_recv[order],
        n_duplicates=len(dup),
    )


def corrupt_malformed(
    columns: dict[str, pa.Array], row_reason: NDArray[np.int64], row_received: NDArray[np.int64]
) -> dict[str, pa.Array]:
    """Corrupt the malformed rows of the event columns, each in the way its reason says.

    Parameters
    ----------
    columns : dict of str to pyarrow.Array
        The intact event columns, in row order.
    row_reason : numpy.ndarray of int64
        Malformed reason code of every row, -1 if intact.
    row_received : numpy.ndarray of int64
        ``received_at`` of every row, epoch milliseconds.

    Returns
    -------
    dict of str to pyarrow.Array
        The columns with the malformed rows replaced (a new dict; other columns shared).
    """

    def corrupt(arr: pa.Array, rsn: int, value: Any) -> pa.Array:
        """Replace the rows malformed for ``rsn`` by a scalar or by ``value(row indices)``."""
        sel = row_reason == rsn
        if not sel.any():
            return arr
        if callable(value):
            return pc.replace_with_mask(arr, pa.array(sel), value(np.flatnonzero(sel)))
        return pc.if_else(pa.array(sel), value, arr)

    def unparseable(rows: NDArray[np.intp]) -> pa.Array:
        """Alternate between the two unparseable timestamps."""
        return pa.array(_UNPARSEABLE_TIMES).take(pa.array(rows % 2))

    def in_future(rows: NDArray[np.intp]) -> pa.Array:
        """A timestamp far after the row's ``received_at``."""
        return format_ts(row_received[rows] + _FUTURE_DAYS * DAY)

    null_s = pa.scalar(None, pa.string())
    rules: dict[str, list[tuple[int, Any | Callable[[NDArray[np.intp]], pa.Array]]]] = {
        "event_id": [(EVENT_ID_NULL, null_s)],
        "occurred_at": [(OCCURRED_AT_UNPARSEABLE, unparseable), (OCCURRED_AT_FUTURE, in_future)],
        "user_id": [(USER_ID_NULL, null_s)],
        "surface": [(SURFACE_UNKNOWN, pa.scalar("voice"))],
        "event_type": [(EVENT_TYPE_UNKNOWN, pa.scalar("hover"))],
        "output_id": [(OUTPUT_ID_NULL, null_s)],
        "properties": [(PROPERTIES_INVALID_JSON, pa.scalar('{"text": '))],
    }
    out = dict(columns)
    for name, steps in rules.items():
        for rsn, value in steps:
            out[name] = corrupt(out[name], rsn, value)
    return out
