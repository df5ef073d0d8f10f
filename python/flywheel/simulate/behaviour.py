"""The session loop: requests, their latent quality, the users' reactions, and what comes next.

Sessions of a chunk are advanced one request position ("step") at a time; every step is
vectorized over all still-active sessions. A step draws the request's content (topic, token
mask, difficulty), the output's latent quality, the reactions to it
(:func:`flywheel.simulate.reactions.react`) and whether and when the session continues --
with a new request, a rephrase or a modified prompt. Afterwards :func:`same_topic_later` turns
some first requests of later sessions into re-asks of earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .draws import delay_ms, lognormal_ms
from .params import QualityParams, SessionParams, TextParams, WorldParams
from .population import Sessions
from .reactions import Reactions, react
from .text import Lexicon, modify_masks, random_masks
from .vocab import (
    ACCEPT,
    CLICK,
    CODE,
    COPY,
    DAY,
    EDIT,
    EVENT_TYPES,
    FEEDBACK,
    HOUR,
    LATER,
    MODIFIED,
    NEW,
    REJECT,
    REPHRASE,
    REQUEST,
    REVERT,
    SHOWN,
)

__all__ = ["EventBuffer", "run_sessions", "same_topic_later"]

Columns = dict[str, NDArray[Any]]

#: the per-request columns :func:`run_sessions` returns
REQUEST_COLUMNS: tuple[str, ...] = (
    "sess", "step", "kind", "parent", "root", "topic", "mask", "diff", "q", "good", "t",
    "shown", "version", "abandoned", "later", "n_results",
)  # fmt: skip


class EventBuffer:
    """Collects per-type numeric event arrays during the step loop.

    Every event is a request index, a time (ms since the session start) and up to two numeric
    properties; :meth:`arrays` returns them grouped by event type.
    """

    def __init__(self) -> None:
        self.parts: list[list[tuple[NDArray[Any], ...]]] = [[] for _ in EVENT_TYPES]

    def add(
        self,
        etype: int,
        sel: NDArray[np.bool_],
        rid: NDArray[np.int64],
        t: NDArray[np.int64],
        p1: NDArray[Any] | None = None,
        p2: NDArray[Any] | None = None,
    ) -> None:
        """Add an event of type ``etype`` for every selected request.

        Parameters
        ----------
        etype : int
            Event type code.
        sel : numpy.ndarray of bool
            Which requests have the event.
        rid : numpy.ndarray of int64
            Request index of every request.
        t : numpy.ndarray of int64
            Event time of every request.
        p1, p2 : numpy.ndarray, optional
            Numeric properties of every request (0 if omitted).
        """
        k = int(sel.sum())
        if k == 0:
            return
        z = np.zeros(k)
        self.parts[etype].append(
            (
                rid[sel],
                t[sel],
                z if p1 is None else p1[sel].astype(np.float64),
                z if p2 is None else p2[sel].astype(np.float64),
            )
        )

    def arrays(self) -> tuple[NDArray[Any], ...]:
        """All events, grouped by type in ``EVENT_TYPES`` order.

        Returns
        -------
        tuple of numpy.ndarray
            Event type (int8), request index (int64), time (int64), first and second property
            (float64).
        """
        etype, req, t, p1, p2 = [], [], [], [], []
        for k, parts in enumerate(self.parts):
            for r, tt, a, b in parts:
                etype.append(np.full(len(r), k, dtype=np.int8))
                req.append(r)
                t.append(tt)
                p1.append(a)
                p2.append(b)
        return tuple(
            np.concatenate(x) if x else np.zeros(0, dtype=d)
            for x, d in zip(
                (etype, req, t, p1, p2),
                (np.int8, np.int64, np.int64, np.float64, np.float64),
                strict=True,
            )
        )


@dataclass(frozen=True)
class _Frontier:
    """The next request of every still-active session.

    Attributes
    ----------
    act : numpy.ndarray of int
        Session index.
    t_req : numpy.ndarray of int64
        When the request is sent (ms since the session start).
    kind : numpy.ndarray of int64
        Request kind code (new, rephrase or modified prompt).
    parent : numpy.ndarray of int64
        Request index of the request it rephrases, -1 for a new one.
    root : numpy.ndarray of int64
        First request of its rephrase chain, -1 for a new one.
    prev_topic, prev_mask, prev_diff : numpy.ndarray
        Topic, token mask and difficulty of the session's previous request.
    """

    act: NDArray[Any]
    t_req: NDArray[np.int64]
    kind: NDArray[np.int64]
    parent: NDArray[np.int64]
    root: NDArray[np.int64]
    prev_topic: NDArray[np.int64]
    prev_mask: NDArray[np.bool_]
    prev_diff: NDArray[np.float64]

    @classmethod
    def start(cls, n_sess: int, topic_words: int) -> _Frontier:
        """The first request of every session: new, sent at the session start."""
        return cls(
            act=np.arange(n_sess),
            t_req=np.zeros(n_sess, dtype=np.int64),
            kind=np.zeros(n_sess, dtype=np.int64),
            parent=np.full(n_sess, -1, dtype=np.int64),
            root=np.full(n_sess, -1, dtype=np.int64),
            prev_topic=np.zeros(n_sess, dtype=np.int64),
            prev_mask=np.zeros((n_sess, topic_words), dtype=bool),
            prev_diff=np.zeros(n_sess),
        )


@dataclass(frozen=True)
class _Next:
    """What happens after every output of a step.

    Attributes
    ----------
    end : numpy.ndarray of bool
        The session ends.
    next_t : numpy.ndarray of int64
        When the session's next request is sent.
    abandoned : numpy.ndarray of bool
        The session ends without the user acting on the output.
    later : numpy.ndarray of bool
        The user comes back to the topic in a later session.
    """

    end: NDArray[np.bool_]
    next_t: NDArray[np.int64]
    abandoned: NDArray[np.bool_]
    later: NDArray[np.bool_]


def _request_content(
    rng: np.random.Generator,
    params: TextParams,
    quality: QualityParams,
    lexicon: Lexicon,
    fr: _Frontier,
    surf: NDArray[Any],
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.float64]]:
    """Draw topic, token mask and difficulty of every request of a step.

    New requests draw a popular-topic-biased topic of their surface and fresh tokens; chained
    ones keep the previous topic, modify the previous tokens and inherit some difficulty.

    Returns
    -------
    topic, mask, diff : numpy.ndarray
        Global topic index, token mask over the topic's words, standard-normal difficulty.
    """
    n = len(fr.act)
    is_new = fr.kind == NEW
    chained = ~is_new
    cdf = lexicon.topic_cdf
    new_topic = np.searchsorted(cdf, rng.random(n) * cdf[-1])
    new_topic = np.minimum(new_topic, params.n_topics - 1) + surf * params.n_topics
    topic = np.where(is_new, new_topic, fr.prev_topic)
    mask = random_masks(rng, n, params)
    if chained.any():
        mask[chained] = modify_masks(rng, fr.prev_mask[chained], params.max_tokens)
    diff = np.where(
        is_new,
        rng.standard_normal(n),
        quality.difficulty_memory * fr.prev_diff
        + quality.difficulty_noise * rng.standard_normal(n),
    )
    return topic, mask, diff


def _latent_quality(
    rng: np.random.Generator,
    params: QualityParams,
    surf: NDArray[Any],
    ver: NDArray[Any],
    uk: NDArray[Any],
    diff: NDArray[np.float64],
    chained: NDArray[np.bool_],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Draw every output's latent score ``z``; return ``sigmoid(z)`` and ``z > 0``."""
    z = (
        np.array(params.intercept)[surf, ver]
        + np.array(params.kind_effect)[uk]
        - params.difficulty_weight * diff
        + rng.standard_normal(len(diff))
        + params.chain_bonus * chained
    )
    q = 1.0 / (1.0 + np.exp(-z))
    return q, z > 0.0


def _latency_ms(
    rng: np.random.Generator, params: QualityParams, surf: NDArray[Any]
) -> NDArray[np.int64]:
    """Draw the time from request to output shown, per surface."""
    q = params
    median = np.array(q.latency_median_s)[surf]
    return lognormal_ms(rng, median, q.latency_sigma, q.latency_lo_s, q.latency_hi_s, len(surf))


def _what_next(
    rng: np.random.Generator,
    params: SessionParams,
    step: int,
    uk: NDArray[Any],
    good: NDArray[np.bool_],
    surf: NDArray[Any],
    rx: Reactions,
) -> _Next:
    """Decide whether every session continues, when, and whether the topic comes back later.

    A modified prompt or a rephrase always continues the session; otherwise it ends with a
    probability that is higher after a bad output. The next unrelated request follows a
    thinking time: a good output is read and used, a bad one skimmed and left.
    """
    n = len(good)
    chain = rx.modified | rx.rephrase
    stop_p = np.minimum(
        params.max_stop_p,
        np.array(params.stop_p)[uk] * np.where(good, 1.0, np.array(params.bad_stop_mult)[uk]),
    )
    end = (~chain & (rng.random(n) < stop_p)) | (step == params.max_steps - 1)
    think = delay_ms(rng, params.think, good, n)
    free = np.maximum(rx.shown + think, rx.busy_until() + params.busy_gap_ms)
    next_t = np.where(rx.modified, rx.mod_t, np.where(rx.rephrase, rx.reph_t, free))
    abandoned = end & ~rx.acted()
    p_later = np.where(good, *params.later) + np.where(abandoned, params.later_abandoned_bonus, 0.0)
    later = (surf != CODE) & (rng.random(n) < p_later)
    return _Next(end=end, next_t=next_t, abandoned=abandoned, later=later)


def _record_events(
    buf: EventBuffer, rid: NDArray[np.int64], t_req: NDArray[np.int64], rx: Reactions
) -> None:
    """Add the events of a step's requests and outputs to ``buf``."""
    all_ = np.ones(len(rid), dtype=bool)
    buf.add(REQUEST, all_, rid, t_req)
    buf.add(SHOWN, all_, rid, rx.shown)
    buf.add(ACCEPT, rx.accept, rid, rx.acc_t)
    buf.add(REJECT, rx.reject, rid, rx.rej_t)
    buf.add(EDIT, rx.edit, rid, rx.edit_t, rx.share)
    buf.add(REVERT, rx.revert, rid, rx.revert_t, rx.revert_frac)
    buf.add(COPY, rx.copy, rid, rx.copy_t, rx.copy_frac)
    buf.add(CLICK, rx.click, rid, rx.click_t, rx.pos, rx.dwell)
    buf.add(CLICK, rx.click2, rid, rx.click2_t, rx.pos2, rx.dwell2)
    buf.add(FEEDBACK, rx.fb, rid, rx.fb_t, rx.rating)


def _advance(
    fr: _Frontier,
    nxt: _Next,
    rx: Reactions,
    rid: NDArray[np.int64],
    root: NDArray[np.int64],
    content: tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.float64]],
) -> _Frontier:
    """The next requests of the sessions that continue."""
    cont = ~nxt.end
    chain = rx.modified | rx.rephrase
    topic, mask, diff = content
    return _Frontier(
        act=fr.act[cont],
        t_req=nxt.next_t[cont],
        kind=np.where(rx.modified, MODIFIED, np.where(rx.rephrase, REPHRASE, NEW))[cont],
        parent=np.where(chain, rid, -1)[cont],
        root=np.where(chain, root, -1)[cont],
        prev_topic=topic[cont],
        prev_mask=mask[cont],
        prev_diff=diff[cont],
    )


def run_sessions(
    rng: np.random.Generator,
    params: WorldParams,
    lexicon: Lexicon,
    ukind: NDArray[Any],
    sess: Sessions,
) -> tuple[Columns, EventBuffer, NDArray[np.int64]]:
    """Advance all sessions one request at a time.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    params : WorldParams
        The world.
    lexicon : Lexicon
        Vocabulary and topics.
    ukind : numpy.ndarray of int
        Kind code of every user.
    sess : Sessions
        The chunk's sessions.

    Returns
    -------
    req : dict of str to numpy.ndarray
        One entry per request (request index = position), ordered by step; the columns are
        ``REQUEST_COLUMNS`` (times relative to the session start). The first request of
        session ``s`` has index ``s``.
    events : EventBuffer
        The generated events.
    sess_end : numpy.ndarray of int64
        Time of every session's last event relative to its start.
    """
    s_ukind = ukind[sess.user]
    sess_end = np.zeros(len(sess.user), dtype=np.int64)
    buf = EventBuffer()
    cols: dict[str, list[NDArray[Any]]] = {k: [] for k in REQUEST_COLUMNS}
    fr = _Frontier.start(len(sess.user), params.text.topic_words)
    base = 0
    for step in range(params.sessions.max_steps):
        n = len(fr.act)
        if n == 0 and step > 0:
            break
        rid = base + np.arange(n)
        base += n
        surf, uk, ver = sess.surface[fr.act], s_ukind[fr.act], sess.version[fr.act]
        root = np.where(fr.root < 0, rid, fr.root)
        content = _request_content(rng, params.text, params.quality, lexicon, fr, surf)
        q, good = _latent_quality(rng, params.quality, surf, ver, uk, content[2], fr.kind != NEW)
        shown = fr.t_req + _latency_ms(rng, params.quality, surf)
        rx = react(rng, params, surf, uk, good, shown)
        nxt = _what_next(rng, params.sessions, step, uk, good, surf, rx)
        _record_events(buf, rid, fr.t_req, rx)
        row = (fr.act, np.full(n, step), fr.kind, fr.parent, root, *content, q, good, fr.t_req,
               shown, ver, nxt.abandoned, nxt.later, rx.n_results)  # fmt: skip
        for key, val in zip(REQUEST_COLUMNS, row, strict=True):
            cols[key].append(val)
        sess_end[fr.act] = np.maximum(sess_end[fr.act], rx.last_event())
        fr = _advance(fr, nxt, rx, rid, root, content)
    req = {k: np.concatenate(v) for k, v in cols.items()}
    return req, buf, sess_end


def _match_later_sessions(
    req: Columns,
    keep_req: NDArray[np.bool_],
    sess: Sessions,
    sess_start: NDArray[np.int64],
    keep_sess: NDArray[np.bool_],
    shown_abs: NDArray[np.int64],
    days: int,
    window_hours: tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pair outputs flagged ``later`` with the first request of a later session.

    The partner is the user's next kept session on the same surface that starts 1-48 h after
    the output was shown; every session is used once, and an original whose own chain root is
    a target is skipped (its text must be final already).

    Returns
    -------
    orig, target : numpy.ndarray of int64
        Request index of the original and of the re-ask (the first request of session ``s``
        has request index ``s``).
    """
    empty = np.zeros(0, dtype=np.int64)
    sidx = np.flatnonzero(keep_sess)
    span = days * DAY + 3 * DAY
    skey = (sess.user[sidx] * 3 + sess.surface[sidx]) * span + sess_start[sidx]
    order = np.argsort(skey, kind="stable")
    skey, sidx = skey[order], sidx[order]
    orig = np.flatnonzero(req["later"] & keep_req)
    if len(orig) == 0 or len(sidx) == 0:
        return empty, empty
    osess = req["sess"][orig]
    base = (sess.user[osess] * 3 + sess.surface[osess]) * span
    lo_h, hi_h = window_hours
    lo = base + shown_abs[orig] + lo_h * HOUR
    hi = base + shown_abs[orig] + hi_h * HOUR
    j = np.searchsorted(skey, lo, side="left")
    ok = j < len(skey)
    ok[ok] = skey[j[ok]] <= hi[ok]
    orig, target = orig[ok], sidx[j[ok]]
    target, first = np.unique(target, return_index=True)
    orig = orig[first]
    is_target = np.zeros(len(req["kind"]), dtype=bool)
    is_target[target] = True
    ok = ~is_target[req["root"][orig]]
    return orig[ok], target[ok]


def same_topic_later(
    rng: np.random.Generator,
    params: WorldParams,
    req: Columns,
    keep_req: NDArray[np.bool_],
    sess: Sessions,
    sess_start: NDArray[np.int64],
    keep_sess: NDArray[np.bool_],
    shown_abs: NDArray[np.int64],
    days: int,
) -> None:
    """Turn the first request of a later session into a same-topic re-ask of an earlier one.

    For every (kept) output flagged ``later``, the user's next session on the same surface that
    starts 1-48 h (``later_window_hours``) after the output was shown is looked up; its first
    request becomes a
    ``same_topic_later`` re-ask (similar text, same topic). Masks of rephrase chains hanging off
    a re-ask are re-derived so that chains stay consistent. Modifies ``req`` in place.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    params : WorldParams
        The world (the re-ask window and token count limits are used).
    req : dict of str to numpy.ndarray
        The requests of :func:`run_sessions`; modified in place.
    keep_req, keep_sess : numpy.ndarray of bool
        Which requests and sessions are kept.
    sess : Sessions
        The chunk's sessions.
    sess_start : numpy.ndarray of int64
        Placed start of every session.
    shown_abs : numpy.ndarray of int64
        When every output was shown (ms since the start of the period).
    days : int
        Length of the period.
    """
    window = params.sessions.later_window_hours
    orig, target = _match_later_sessions(
        req, keep_req, sess, sess_start, keep_sess, shown_abs, days, window
    )
    max_tokens = params.text.max_tokens
    if len(target) == 0:
        return
    is_target = np.zeros(len(req["kind"]), dtype=bool)
    is_target[target] = True
    req["kind"][target] = LATER
    req["parent"][target] = orig
    req["topic"][target] = req["topic"][orig]
    req["mask"][target] = modify_masks(rng, req["mask"][orig], max_tokens)
    # re-derive rephrase chains rooted at a re-ask, one step position at a time
    step = req["step"]
    bounds = np.flatnonzero(np.r_[True, step[1:] != step[:-1], True])
    for a, b in zip(bounds[1:-1], bounds[2:], strict=True):
        idx = np.arange(a, b)
        idx = idx[(req["kind"][idx] != NEW) & is_target[req["root"][idx]]]
        if len(idx):
            par = req["parent"][idx]
            req["mask"][idx] = modify_masks(rng, req["mask"][par], max_tokens)
            req["topic"][idx] = req["topic"][par]
