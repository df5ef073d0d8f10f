"""Encoding: turning a chunk's numeric arrays into the event contract and the truth tables.

The events table has the columns of ``EVENT_COLUMNS``, every one a nullable string, with JSON
``properties`` per event type; malformed rows are corrupted by
:func:`flywheel.simulate.faults.corrupt_malformed`. ``truth`` has one row per output and
``actions`` one row per generated event with its fate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .faults import Delivery, corrupt_malformed
from .strings import concat, counter_ids, format_ts, hash_ids, num
from .text import Texts
from .vocab import (
    ACCEPT,
    CLICK,
    COPY,
    EDIT,
    EVENT_TYPES,
    FATES,
    MALFORMED_REASONS,
    MODEL_VERSIONS,
    REJECT,
    REQUEST,
    REQUEST_KINDS,
    REVERT,
    SEARCH,
    SHOWN,
    SURFACES,
    USER_KINDS,
)

__all__ = [
    "ChunkEvents",
    "ChunkIds",
    "actions_table",
    "event_properties",
    "events_table",
    "truth_table",
]

_VERSION_NAMES = [v for pair in MODEL_VERSIONS for v in pair]


@dataclass(frozen=True)
class ChunkEvents:
    """A chunk's kept events, grouped by event type.

    Attributes
    ----------
    type : numpy.ndarray of int8
        Event type code.
    req : numpy.ndarray of int64
        Chunk-local request index.
    p1, p2 : numpy.ndarray of float64
        Numeric properties (see :meth:`flywheel.simulate.behaviour.EventBuffer.add`).
    true : numpy.ndarray of int64
        True event time in milliseconds since the start of the period.
    user : numpy.ndarray of int
        Chunk-local user index.
    surface : numpy.ndarray of int
        Surface code.
    """

    type: NDArray[np.int8]
    req: NDArray[np.int64]
    p1: NDArray[np.float64]
    p2: NDArray[np.float64]
    true: NDArray[np.int64]
    user: NDArray[Any]
    surface: NDArray[Any]


@dataclass(frozen=True)
class ChunkIds:
    """Global counters of a chunk's users, requests and events, and the user id width.

    Attributes
    ----------
    user, request, event : numpy.ndarray of int64
        Global counter of every chunk-local user, request and event.
    user_width : int
        Digits of a user id.
    seed : int
        The simulation seed (salts the event id hash).
    """

    user: NDArray[np.int64]
    request: NDArray[np.int64]
    event: NDArray[np.int64]
    user_width: int
    seed: int

    @classmethod
    def after(
        cls,
        counters: dict[str, int],
        n_users: int,
        n_req: int,
        n_ev: int,
        user_width: int,
        seed: int,
    ) -> ChunkIds:
        """The ids of a chunk following the chunks counted in ``counters``.

        Parameters
        ----------
        counters : dict of str to int
            Global ``user``, ``request`` and ``event`` counters of the chunks before.
        n_users, n_req, n_ev : int
            Users, requests and events of the chunk.
        user_width : int
            Digits of a user id.
        seed : int
            The simulation seed.

        Returns
        -------
        ChunkIds
            Consecutive counters starting at ``counters``.
        """
        return cls(
            user=counters["user"] + np.arange(n_users),
            request=counters["request"] + np.arange(n_req),
            event=counters["event"] + np.arange(n_ev),
            user_width=user_width,
            seed=seed,
        )


def _type_properties(
    k: int, rr: NDArray[np.int64], p1: NDArray[np.float64], p2: NDArray[np.float64],
    texts: Texts, surface: NDArray[Any], n_results: NDArray[Any],
) -> pa.Array:  # fmt: skip
    """The JSON properties of a block of events of type ``k``."""
    rr_a = pa.array(rr)
    nchars = texts.output_chars
    if k == REQUEST:
        return concat('{"text": "', texts.request.take(rr_a), '"}')
    if k == SHOWN:
        head = concat('{"text": "', texts.output.take(rr_a), '", "n_chars": ', num(nchars[rr]))
        return pc.if_else(
            pa.array(surface[rr] == SEARCH),
            concat(head, ', "n_results": ', num(n_results[rr]), "}"),
            concat(head, "}"),
        )
    if k == ACCEPT:
        return concat('{"n_chars": ', num(nchars[rr]), "}")
    if k == REJECT:
        return pa.array(np.full(len(rr), "{}"), type=pa.string())
    if k == EDIT:
        return concat('{"share_rewritten": ', num(p1), "}")
    if k in (REVERT, COPY):
        nch = np.maximum(1, np.round(p1 * nchars[rr])).astype(np.int64)
        return concat('{"n_chars": ', num(nch), "}")
    if k == CLICK:
        return concat(
            '{"position": ', num(p1.astype(np.int64)), ', "dwell_seconds": ', num(p2), "}"
        )
    return concat('{"rating": ', num(p1.astype(np.int64)), "}")


def event_properties(
    ev: ChunkEvents, texts: Texts, surface: NDArray[Any], n_results: NDArray[Any]
) -> pa.Array:
    """The JSON ``properties`` of every event (events are grouped by type, built per block).

    Parameters
    ----------
    ev : ChunkEvents
        The chunk's events, grouped by type.
    texts : Texts
        Request and output texts.
    surface : numpy.ndarray of int
        Surface code of every request.
    n_results : numpy.ndarray of int
        Number of search results of every request.

    Returns
    -------
    pyarrow.StringArray
        One JSON object per event.
    """
    bounds = np.searchsorted(ev.type, np.arange(len(EVENT_TYPES) + 1))
    parts = []
    for k in range(len(EVENT_TYPES)):
        a, b = bounds[k], bounds[k + 1]
        if a == b:
            continue
        rr, p1, p2 = ev.req[a:b], ev.p1[a:b], ev.p2[a:b]
        parts.append(_type_properties(k, rr, p1, p2, texts, surface, n_results))
    if not parts:
        return pa.array([], type=pa.string())
    return pa.concat_arrays([p.cast(pa.string()) for p in parts])


def events_table(
    ev: ChunkEvents,
    ids: ChunkIds,
    delivery: Delivery,
    props: pa.Array,
    req_version: NDArray[Any],
) -> pa.Table:
    """The rows written to the events file, in ``received_at`` order, malformed ones corrupted.

    Parameters
    ----------
    ev : ChunkEvents
        The chunk's events.
    ids : ChunkIds
        Global counters.
    delivery : Delivery
        Fates, clocks and rows.
    props : pyarrow.StringArray
        Properties of every event.
    req_version : numpy.ndarray of int
        Model version of every request.

    Returns
    -------
    pyarrow.Table
        The event contract: ``EVENT_COLUMNS``, all strings.
    """
    row_ev = delivery.row_event
    null_s = pa.scalar(None, pa.string())
    rtype, rreq = ev.type[row_ev], ev.req[row_ev]
    r_is_req = pa.array(rtype == REQUEST)
    rreq_global = ids.request[rreq]
    rsurface = ev.surface[row_ev]
    columns = {
        "event_id": hash_ids("e", ids.event[row_ev], ids.seed),
        "occurred_at": format_ts(delivery.occurred[row_ev]),
        "received_at": format_ts(delivery.row_received),
        "user_id": counter_ids("u", ids.user[ev.user[row_ev]], ids.user_width),
        "surface": pa.array(SURFACES).take(pa.array(rsurface)),
        "event_type": pa.array(EVENT_TYPES).take(pa.array(rtype)),
        "request_id": counter_ids("r", rreq_global, 10),
        "output_id": pc.if_else(r_is_req, null_s, counter_ids("o", rreq_global, 10)),
        "model_version": pc.if_else(
            r_is_req,
            null_s,
            pa.array(_VERSION_NAMES).take(pa.array(rsurface * 2 + req_version[rreq])),
        ),
        "properties": props.take(pa.array(row_ev)),
    }
    return pa.table(corrupt_malformed(columns, delivery.reason[row_ev], delivery.row_received))


def truth_table(
    req: dict[str, NDArray[Any]],
    ids: ChunkIds,
    r_user: NDArray[Any],
    r_surface: NDArray[Any],
    user_kind: NDArray[Any],
    shown_epoch: NDArray[np.int64],
) -> pa.Table:
    """One row per output: ids, user kind, latent quality, whether it is good, when shown.

    Parameters
    ----------
    req : dict of str to numpy.ndarray
        The kept requests (``version``, ``q``, ``good`` are used).
    ids : ChunkIds
        Global counters.
    r_user, r_surface : numpy.ndarray of int
        Chunk-local user index and surface code of every request.
    user_kind : numpy.ndarray of int
        Kind code of every chunk-local user.
    shown_epoch : numpy.ndarray of int64
        When every output was shown, epoch milliseconds.

    Returns
    -------
    pyarrow.Table
        The truth rows of the chunk.
    """
    user_ids = counter_ids("u", ids.user, ids.user_width)
    return pa.table(
        {
            "output_id": counter_ids("o", ids.request, 10),
            "request_id": counter_ids("r", ids.request, 10),
            "user_id": user_ids.take(pa.array(r_user)),
            "surface": pa.array(SURFACES).take(pa.array(r_surface)),
            "model_version": pa.array(_VERSION_NAMES).take(
                pa.array(r_surface * 2 + req["version"])
            ),
            "user_kind": pa.array(USER_KINDS).take(pa.array(user_kind[r_user])),
            "true_quality": pa.array(req["q"], type=pa.float64()),
            "is_good": pa.array(req["good"], type=pa.bool_()),
            "shown_at": pa.array(shown_epoch, type=pa.int64()).cast(pa.timestamp("ms")),
        }
    )


def actions_table(
    ev: ChunkEvents,
    ids: ChunkIds,
    delivery: Delivery,
    req: dict[str, NDArray[Any]],
    r_sess_global: NDArray[np.int64],
    n_topics: int,
) -> pa.Table:
    """One row per generated event (before delivery faults) with its fate.

    Parameters
    ----------
    ev : ChunkEvents
        The chunk's events.
    ids : ChunkIds
        Global counters.
    delivery : Delivery
        Fates, reasons and true times.
    req : dict of str to numpy.ndarray
        The kept requests (``kind``, ``parent``, ``topic`` are used).
    r_sess_global : numpy.ndarray of int64
        Global session counter of every request.
    n_topics : int
        Topics per surface (to name topics ``<surface>-t<NNNN>``).

    Returns
    -------
    pyarrow.Table
        The action rows of the chunk.
    """
    null_s = pa.scalar(None, pa.string())
    output_ids = counter_ids("o", ids.request, 10)
    request_ids = counter_ids("r", ids.request, 10)
    user_ids = counter_ids("u", ids.user, ids.user_width)
    is_req_ev = ev.type == REQUEST
    ev_req_a = pa.array(ev.req)
    ev_kind = np.where(is_req_ev, req["kind"][ev.req], -1)
    ev_parent = np.where(is_req_ev, req["parent"][ev.req], -1)
    topic_names = pc.binary_join_element_wise(
        pa.array(SURFACES).take(pa.array(req["topic"] // n_topics)),
        counter_ids("t", req["topic"] % n_topics, 4),
        "-",
    )
    fate, reason = delivery.fate, delivery.reason
    return pa.table(
        {
            "event_id": hash_ids("e", ids.event, ids.seed),
            "output_id": pc.if_else(pa.array(is_req_ev), null_s, output_ids.take(ev_req_a)),
            "request_id": request_ids.take(ev_req_a),
            "user_id": user_ids.take(pa.array(ev.user)),
            "session_id": counter_ids("s", r_sess_global[ev.req], 9),
            "surface": pa.array(SURFACES).take(pa.array(ev.surface)),
            "event_type": pa.array(EVENT_TYPES).take(pa.array(ev.type)),
            "true_occurred_at": pa.array(delivery.true_epoch, type=pa.int64()).cast(
                pa.timestamp("ms")
            ),
            "fate": pa.array(FATES).take(pa.array(fate)),
            "malformed_reason": pa.array(MALFORMED_REASONS).take(pa.array(reason, mask=reason < 0)),
            "kind": pa.array(REQUEST_KINDS).take(pa.array(ev_kind, mask=ev_kind < 0)),
            "rephrase_of_request_id": request_ids.take(pa.array(ev_parent, mask=ev_parent < 0)),
            "topic_id": pc.if_else(pa.array(is_req_ev), topic_names.take(ev_req_a), null_s),
        }
    )
