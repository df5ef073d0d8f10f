"""One chunk of users, from the behaviour model to the chunk's events, truth and actions.

:func:`simulate_chunk` runs the steps in a fixed order on the chunk's own random generator --
users and sessions, the session loop, session placement, the event budget, same-topic re-asks,
texts, delivery faults -- so that the same arguments always draw the same random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .behaviour import Columns, run_sessions, same_topic_later
from .encoding import (
    ChunkEvents,
    ChunkIds,
    actions_table,
    event_properties,
    events_table,
    truth_table,
)
from .faults import deliver
from .params import WorldParams
from .population import Sessions, draw_users_and_sessions, place_sessions
from .text import Lexicon, build_texts
from .vocab import DAY, MALFORMED

__all__ = ["Chunk", "simulate_chunk"]


@dataclass
class Chunk:
    """The tables and counts of one simulated chunk.

    Attributes
    ----------
    events, truth, actions : pyarrow.Table
        Rows for the events file, ``truth.parquet`` and ``actions.parquet``.
    n_events : int
        Generated events (before delivery faults).
    n_rows : int
        Rows of ``events``.
    n_outputs : int
        Outputs (= requests).
    n_duplicates, n_malformed : int
        Duplicate rows and malformed rows.
    n_users_used : int
        Users the chunk consumed (the budget may leave some out).
    n_sessions : int
        Sessions kept.
    """

    events: pa.Table
    truth: pa.Table
    actions: pa.Table
    n_events: int
    n_rows: int
    n_outputs: int
    n_duplicates: int
    n_malformed: int
    n_users_used: int
    n_sessions: int


@dataclass(frozen=True)
class _Kept:
    """The kept requests and events of a chunk, re-indexed.

    Attributes
    ----------
    req : dict of str to numpy.ndarray
        Kept request columns (``parent`` re-indexed, ``sess`` still chunk-local).
    user, surface : numpy.ndarray of int
        Chunk-local user index and surface code of every kept request.
    shown_abs : numpy.ndarray of int64
        When every output was shown, ms since the start of the period.
    sess_global : numpy.ndarray of int64
        Global session counter of every kept request.
    events : ChunkEvents
        The kept events.
    """

    req: Columns
    user: NDArray[Any]
    surface: NDArray[Any]
    shown_abs: NDArray[np.int64]
    sess_global: NDArray[np.int64]
    events: ChunkEvents


def _apply_budget(
    ev_sess: NDArray[Any],
    keep_sess: NDArray[np.bool_],
    sess_user: NDArray[Any],
    n_users: int,
    budget: int,
) -> tuple[NDArray[np.bool_], int]:
    """Keep whole sessions, in user order, until about ``budget`` events.

    The cut falls at the session boundary nearest to the budget.

    Parameters
    ----------
    ev_sess : numpy.ndarray of int
        Session index of every generated event.
    keep_sess : numpy.ndarray of bool
        Sessions that start within the period.
    sess_user : numpy.ndarray of int
        User of every session.
    n_users : int
        Users of the chunk.
    budget : int
        Events still wanted.

    Returns
    -------
    keep_sess : numpy.ndarray of bool
        The sessions kept.
    n_users_used : int
        Users consumed: all of them, or up to the last user with a kept session.
    """
    n_sess = len(keep_sess)
    per_sess = np.bincount(ev_sess, minlength=n_sess) * keep_sess
    cum = np.cumsum(per_sess)
    if not (n_sess and cum[-1] > budget):
        return keep_sess, n_users
    j = int(np.searchsorted(cum, budget, side="left"))
    below = cum[j - 1] if j > 0 else 0
    cut = cum[j] if below == 0 or (cum[j] - budget) <= (budget - below) else below
    keep_sess = keep_sess & (cum <= cut)
    last_sess = np.flatnonzero(keep_sess)
    return keep_sess, int(sess_user[last_sess[-1]]) + 1 if len(last_sess) else 0


def _keep(
    req: Columns,
    keep_sess: NDArray[np.bool_],
    sess: Sessions,
    sess_start: NDArray[np.int64],
    ev_arrays: tuple[NDArray[Any], ...],
    session_counter: int,
) -> _Kept:
    """Filter requests and events to the kept sessions and re-index them.

    Parameters
    ----------
    req : dict of str to numpy.ndarray
        All requests of the chunk.
    keep_sess : numpy.ndarray of bool
        Sessions kept.
    sess : Sessions
        The chunk's sessions.
    sess_start : numpy.ndarray of int64
        Placed start of every session.
    ev_arrays : tuple of numpy.ndarray
        ``EventBuffer.arrays()``: type, request, offset, p1, p2 of every generated event.
    session_counter : int
        Global counter of the chunk's first session.

    Returns
    -------
    _Kept
        The kept requests and events.
    """
    keep_req = keep_sess[req["sess"]]
    ev_type, ev_req, ev_off, ev_p1, ev_p2 = ev_arrays
    new_req_idx = np.cumsum(keep_req) - 1
    new_sess_idx = np.cumsum(keep_sess) - 1
    r = {k: v[keep_req] for k, v in req.items()}
    r["parent"] = np.where(r["parent"] >= 0, new_req_idx[np.maximum(r["parent"], 0)], -1)
    r_user = sess.user[r["sess"]]
    r_surface = sess.surface[r["sess"]]
    keep_ev = keep_req[ev_req]
    ev_sess = req["sess"][ev_req[keep_ev]]
    kept_req = new_req_idx[ev_req[keep_ev]]
    events = ChunkEvents(
        type=ev_type[keep_ev],
        req=kept_req,
        p1=ev_p1[keep_ev],
        p2=ev_p2[keep_ev],
        true=sess_start[ev_sess] + ev_off[keep_ev],
        user=r_user[kept_req],
        surface=r_surface[kept_req],
    )
    return _Kept(
        req=r,
        user=r_user,
        surface=r_surface,
        shown_abs=sess_start[r["sess"]] + r["shown"],
        sess_global=session_counter + new_sess_idx[r["sess"]],
        events=events,
    )


def simulate_chunk(
    rng: np.random.Generator,
    params: WorldParams,
    lexicon: Lexicon,
    n_users: int,
    days: int,
    budget: int,
    start_ms: int,
    seed: int,
    counters: dict[str, int],
    user_width: int,
) -> Chunk:
    """Simulate ``n_users`` users and build the chunk's events, truth and actions tables.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's own random source.
    params : WorldParams
        The world.
    lexicon : Lexicon
        Vocabulary and topics of the seed.
    n_users : int
        Users to simulate.
    days : int
        Length of the period.
    budget : int
        At most about this many events are kept (whole sessions, in user order).
    start_ms : int
        Start of the period, epoch milliseconds.
    seed : int
        The simulation seed (salts event ids).
    counters : dict of str to int
        Global ``user``, ``session``, ``request`` and ``event`` counters of the chunks written
        before this one.
    user_width : int
        Digits of a user id.

    Returns
    -------
    Chunk
        The chunk's tables and counts.
    """
    users, sess = draw_users_and_sessions(rng, n_users, days, params)
    req, buf, sess_end = run_sessions(rng, params, lexicon, users.kind, sess)
    sess_start = place_sessions(rng, sess, sess_end, days, params.sessions)
    ev_arrays = buf.arrays()
    keep_sess, n_users_used = _apply_budget(
        req["sess"][ev_arrays[1]], sess_start < days * DAY, sess.user, n_users, budget
    )
    keep_req = keep_sess[req["sess"]]
    shown_abs = sess_start[req["sess"]] + req["shown"]
    same_topic_later(rng, params, req, keep_req, sess, sess_start, keep_sess, shown_abs, days)
    kept = _keep(req, keep_sess, sess, sess_start, ev_arrays, counters["session"])
    ev = kept.events
    texts = build_texts(rng, lexicon, params.text, kept.req, kept.surface)
    props = event_properties(ev, texts, kept.surface, kept.req["n_results"])
    skew = users.skew[ev.user]
    delivery = deliver(rng, params.faults, ev.type, ev.surface, ev.true, skew, start_ms, days)
    n_req, n_ev = len(kept.user), len(ev.type)
    ids = ChunkIds.after(counters, n_users, n_req, n_ev, user_width, seed)
    return Chunk(
        events=events_table(ev, ids, delivery, props, kept.req["version"]),
        truth=truth_table(
            kept.req, ids, kept.user, kept.surface, users.kind, start_ms + kept.shown_abs
        ),
        actions=actions_table(ev, ids, delivery, kept.req, kept.sess_global, params.text.n_topics),
        n_events=n_ev,
        n_rows=len(delivery.row_event),
        n_outputs=n_req,
        n_duplicates=delivery.n_duplicates,
        n_malformed=int((delivery.fate == MALFORMED).sum()),
        n_users_used=n_users_used,
        n_sessions=int(keep_sess.sum()),
    )
