"""How users react to one output: the implicit (and rare explicit) signals and their timing.

The rates and delays are :class:`~flywheel.simulate.params.ReactionParams`; every rate is a
pair *(if the output is good, if it is bad)*. Code outputs are accepted, rejected, edited,
reverted and lead to modified prompts; chat outputs are copied and rephrased; search results
are clicked (position, dwell time) and rephrased; any output is occasionally rated. All draws
are vectorized over the requests of one step of the session loop and happen in a fixed order,
so that the random stream (and therefore the output files) stays reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .draws import delay_ms
from .params import CodeParams, CopyParams, RephraseParams, SearchParams, SessionParams, WorldParams
from .vocab import CHAT, CODE, SEARCH, SECOND

__all__ = ["Reactions", "react"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]


@dataclass(frozen=True)
class Reactions:
    """The reactions to a batch of outputs: whether each signal fires, when, and its values.

    Times are milliseconds since the start of the session, like ``shown``.

    Attributes
    ----------
    shown : numpy.ndarray of int64
        When the output was shown.
    accept, reject, edit, revert, modified : numpy.ndarray of bool
        Code: accepted, rejected, edited after accepting, reverted after accepting, followed by
        a modified prompt.
    acc_t, rej_t, edit_t, revert_t, mod_t : numpy.ndarray of int64
        Their times (``mod_t`` is the time of the modified prompt).
    share : numpy.ndarray of float64
        Share of the accepted code an edit rewrote.
    revert_frac : numpy.ndarray of float64
        Share of the output's characters a revert removed.
    copy : numpy.ndarray of bool
        The output (or a part) was copied.
    copy_t : numpy.ndarray of int64
        When.
    copy_frac : numpy.ndarray of float64
        Share of the output's characters copied.
    n_results : numpy.ndarray of int64
        Search: number of results shown (drawn for every output).
    click, click2 : numpy.ndarray of bool
        Search: a first and a second result click.
    click_t, click2_t : numpy.ndarray of int64
        Their times.
    pos, pos2 : numpy.ndarray of int64
        Their result positions.
    dwell, dwell2 : numpy.ndarray of float64
        Their dwell times in seconds.
    click_back : numpy.ndarray of int64
        When the user came back from the last click.
    rephrase : numpy.ndarray of bool
        Chat / search: the request is rephrased.
    reph_t : numpy.ndarray of int64
        When the rephrased request is sent.
    fb : numpy.ndarray of bool
        An explicit rating was given.
    rating : numpy.ndarray of int64
        The rating (+1 / -1).
    fb_t : numpy.ndarray of int64
        When.
    """

    shown: Ints
    accept: Bools
    reject: Bools
    edit: Bools
    revert: Bools
    modified: Bools
    acc_t: Ints
    rej_t: Ints
    edit_t: Ints
    revert_t: Ints
    mod_t: Ints
    share: Floats
    revert_frac: Floats
    copy: Bools
    copy_t: Ints
    copy_frac: Floats
    n_results: Ints
    click: Bools
    click2: Bools
    click_t: Ints
    click2_t: Ints
    pos: Ints
    pos2: Ints
    dwell: Floats
    dwell2: Floats
    click_back: Ints
    rephrase: Bools
    reph_t: Ints
    fb: Bools
    rating: Ints
    fb_t: Ints

    def last_event(self) -> Ints:
        """Time of the last event of every request (for the session length).

        Returns
        -------
        numpy.ndarray of int64
            The latest of ``shown`` and the times of the signals that fired.
        """
        last = self.shown.copy()
        for sel, tt in (
            (self.accept, self.acc_t),
            (self.reject, self.rej_t),
            (self.edit, self.edit_t),
            (self.revert, self.revert_t),
            (self.copy, self.copy_t),
            (self.click, self.click_t),
            (self.click2, self.click2_t),
            (self.fb, self.fb_t),
        ):
            last = np.where(sel, np.maximum(last, tt), last)
        return last

    def busy_until(self) -> Ints:
        """When the user is free to send the next request.

        Returns
        -------
        numpy.ndarray of int64
            The latest of ``shown`` and the end of every accept, reject, copy and click.
        """
        busy = self.shown.copy()
        for sel, tt in (
            (self.accept, self.acc_t),
            (self.reject, self.rej_t),
            (self.copy, self.copy_t),
            (self.click, self.click_back),
        ):
            busy = np.where(sel, np.maximum(busy, tt), busy)
        return busy

    def acted(self) -> Bools:
        """Whether the user did anything with the output (accept, reject, copy, click, rate).

        Returns
        -------
        numpy.ndarray of bool
            One flag per output.
        """
        out: Bools = self.accept | self.reject | self.copy | self.click | self.fb
        return out


def _draw(rng: np.random.Generator, good: Bools, p: tuple[float, ArrayLike]) -> Bools:
    """Bernoulli draws with probability ``p[0]`` for good outputs and ``p[1]`` for bad ones."""
    out: Bools = rng.random(len(good)) < np.where(good, *p)
    return out


def _code(
    rng: np.random.Generator, p: CodeParams, c: Bools, good: Bools, shown: Ints
) -> dict[str, NDArray[Any]]:
    """Code reactions: accept / reject / edit / revert / modified prompt."""
    n = len(good)
    accept = c & _draw(rng, good, p.accept)
    reject = c & ~accept & _draw(rng, good, p.reject)
    acc_t = shown + delay_ms(rng, p.accept_delay, good, n)
    rej_t = shown + delay_ms(rng, p.reject_delay, good, n)
    edit = accept & _draw(rng, good, p.edit)
    (ga, gb), (ba, bb) = p.edit_share_beta
    share = np.round(np.where(good, rng.beta(ga, gb, n), rng.beta(ba, bb, n)), 3)
    edit_t = acc_t + delay_ms(rng, p.edit_delay, good, n)
    revert = accept & _draw(rng, good, p.revert)
    revert_t = acc_t + delay_ms(rng, p.revert_delay, good, n)
    (g_lo, g_hi), (b_lo, b_hi) = p.revert_share
    revert_frac = np.where(good, rng.uniform(g_lo, g_hi, n), rng.uniform(b_lo, b_hi, n))
    # an edit of code that is later reverted happens before the revert
    edit_t = np.where(
        revert,
        acc_t + ((revert_t - acc_t) * rng.uniform(*p.edit_before_revert, n)).astype(np.int64),
        edit_t,
    )
    modified = c & _draw(rng, good, (p.modified_good, np.where(accept, *p.modified_bad)))
    first_code = np.where(accept, acc_t, np.where(reject, rej_t, shown))
    lo_s, hi_s = p.modified_delay_s
    mod_t = np.maximum(
        shown + rng.integers(lo_s * SECOND, hi_s * SECOND, n), first_code + p.modified_min_gap_ms
    )
    return {
        "accept": accept, "reject": reject, "edit": edit, "revert": revert,
        "modified": modified, "acc_t": acc_t, "rej_t": rej_t, "edit_t": edit_t,
        "revert_t": revert_t, "mod_t": mod_t, "share": share, "revert_frac": revert_frac,
    }  # fmt: skip


def _copy(
    rng: np.random.Generator, p: CopyParams, surf: NDArray[Any], good: Bools, shown: Ints
) -> dict[str, NDArray[Any]]:
    """Copies: chat mostly, sometimes code or search."""
    n = len(good)
    c, h, s = surf == CODE, surf == CHAT, surf == SEARCH
    copy = (
        (c & _draw(rng, good, p.rate[CODE]))
        | (h & _draw(rng, good, p.rate[CHAT]))
        | (s & _draw(rng, good, p.rate[SEARCH]))
    )
    copy_t = shown + np.where(
        c, delay_ms(rng, p.code_delay, good, n), delay_ms(rng, p.other_delay, good, n)
    )
    copy_frac = rng.uniform(*p.share, n)
    return {"copy": copy, "copy_t": copy_t, "copy_frac": copy_frac}


def _dwell_ms(dwell_s: NDArray[np.floating[Any]]) -> Ints:
    """Dwell seconds as integer milliseconds."""
    return (dwell_s * SECOND).astype(np.int64)


def _rank_clicks(
    rng: np.random.Generator, click_by_rank: tuple[float, ...], s: Bools, n_results: Ints
) -> tuple[Bools, Ints, Bools, Ints]:
    """Position-based clicks: rank ``r`` is clicked with ``click_by_rank[r - 1]``, blind to quality.

    Returns
    -------
    click, pos, click2, pos2 : numpy.ndarray
        The first two clicked ranks, top down (positions are 1 where there is no click).
    """
    n = len(s)
    theta = np.asarray(click_by_rank, dtype=np.float64)
    shown = np.arange(1, len(theta) + 1)[None, :] <= n_results[:, None]
    hit = (rng.random((n, len(theta))) < theta) & shown & s[:, None]
    first = np.argmax(hit, axis=1)
    rest = hit.copy()
    rest[np.arange(n), first] = False
    second = np.argmax(rest, axis=1)
    n_hit = hit.sum(axis=1)
    return n_hit >= 1, (first + 1).astype(np.int64), n_hit >= 2, (second + 1).astype(np.int64)


def _first_dwell(rng: np.random.Generator, p: SearchParams, good: Bools) -> Floats:
    """The first click's dwell seconds: by quality, sometimes a confused (very long) one."""
    n = len(good)
    (g_med, g_sigma), (b_med, b_sigma) = p.dwell
    dwell_raw = np.where(
        good, rng.lognormal(np.log(g_med), g_sigma, n), rng.lognormal(np.log(b_med), b_sigma, n)
    )
    if any(p.confused_dwell_p):  # no draws in a world without confusion
        med, sigma = p.confused_dwell
        confused = _draw(rng, good, p.confused_dwell_p)
        dwell_raw = np.where(confused, rng.lognormal(np.log(med), sigma, n), dwell_raw)
    dwell: Floats = np.round(np.clip(dwell_raw, *p.dwell_range_s), 1)
    return dwell


def _search(
    rng: np.random.Generator, p: SearchParams, s: Bools, good: Bools, shown: Ints
) -> dict[str, NDArray[Any]]:
    """Search: up to two result clicks with position and dwell time.

    The draws of today's world come in a fixed order (first click, its position, delay and
    dwell, then the second click); the position-based model of ``click_by_rank`` draws all
    clicks at once in place of the first.
    """
    n = len(good)
    n_results = rng.integers(p.n_results[0], p.n_results[1] + 1, n)
    by_rank = None if p.click_by_rank is None else _rank_clicks(rng, p.click_by_rank, s, n_results)
    if by_rank is None:
        click = s & _draw(rng, good, p.click)
        p_good, p_bad = p.position_p
        pos = np.where(good, rng.geometric(p_good, n), rng.geometric(p_bad, n))
        pos = np.minimum(pos, n_results)
    else:
        click, pos = by_rank[0], by_rank[1]
    click_t = shown + delay_ms(rng, p.click_delay, good, n)
    dwell = _first_dwell(rng, p, good)
    if by_rank is None:
        click2 = click & _draw(rng, good, p.second_click)
        pos2 = pos + rng.geometric(p.second_position_p, n)
        pos2 = np.where(pos2 > n_results, np.maximum(pos - 1, 1), pos2)
    else:
        click2, pos2 = by_rank[2], by_rank[3]
    click2_t = click_t + _dwell_ms(dwell) + delay_ms(rng, p.second_click_delay, good, n)
    med2, sigma2 = p.second_dwell
    dwell2 = np.round(np.clip(rng.lognormal(np.log(med2), sigma2, n), *p.dwell_range_s), 1)
    click_back = np.where(click2, click2_t + _dwell_ms(dwell2), click_t + _dwell_ms(dwell))
    return {
        "n_results": n_results, "click": click, "click2": click2, "click_t": click_t,
        "click2_t": click2_t, "pos": pos, "pos2": pos2, "dwell": dwell, "dwell2": dwell2,
        "click_back": click_back,
    }  # fmt: skip


def _rephrase(
    rng: np.random.Generator,
    p: RephraseParams,
    surf: NDArray[Any],
    good: Bools,
    shown: Ints,
    click: Bools,
    click_back: Ints,
) -> dict[str, NDArray[Any]]:
    """Rephrases (chat / search), after the user is back from a click."""
    n = len(good)
    h, s = surf == CHAT, surf == SEARCH
    rephrase = (h & _draw(rng, good, p.chat)) | (s & _draw(rng, good, p.search))
    reph_t = shown + np.where(
        h, delay_ms(rng, p.chat_delay, good, n), delay_ms(rng, p.search_delay, good, n)
    )
    reph_t = np.where(click, np.maximum(reph_t, click_back + p.after_click_ms), reph_t)
    return {"rephrase": rephrase, "reph_t": reph_t}


def _feedback(
    rng: np.random.Generator, p: SessionParams, uk: Ints, good: Bools, shown: Ints
) -> dict[str, NDArray[Any]]:
    """Explicit ratings: rare, more frequent for bad outputs, sometimes of the wrong sign."""
    n = len(good)
    rate = np.array(p.feedback_p_good)[uk] * np.where(good, 1.0, p.feedback_bad_mult)
    fb = rng.random(n) < rate
    rating = np.where(good, 1, -1) * np.where(rng.random(n) < p.rating_noise, -1, 1)
    fb_t = shown + delay_ms(rng, p.feedback_delay, good, n)
    return {"fb": fb, "rating": rating, "fb_t": fb_t}


def react(
    rng: np.random.Generator,
    params: WorldParams,
    surf: NDArray[Any],
    uk: Ints,
    good: Bools,
    shown: Ints,
) -> Reactions:
    """Draw the reactions to a batch of outputs.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    params : WorldParams
        The world (reaction and feedback parameters are used).
    surf : numpy.ndarray of int
        Surface code of every output.
    uk : numpy.ndarray of int
        User kind code of every output's user.
    good : numpy.ndarray of bool
        Whether every output is good.
    shown : numpy.ndarray of int64
        When every output was shown (ms since the session start).

    Returns
    -------
    Reactions
        Every signal's occurrence, time and values.
    """
    p = params.reactions
    code = _code(rng, p.code, surf == CODE, good, shown)
    copy = _copy(rng, p.copy, surf, good, shown)
    search = _search(rng, p.search, surf == SEARCH, good, shown)
    reph = _rephrase(rng, p.rephrase, surf, good, shown, search["click"], search["click_back"])
    fb = _feedback(rng, params.sessions, uk, good, shown)
    return Reactions(shown=shown, **code, **copy, **search, **reph, **fb)
