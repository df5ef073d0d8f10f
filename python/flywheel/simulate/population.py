"""Users and their sessions: user kinds, activity, time zones, surfaces and model rollout.

Sessions are first drawn with *raw* start times (a local hour on a day, converted to UTC);
once their lengths are known, :func:`place_sessions` moves them apart so that sessions of a
user never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .draws import categorical
from .faults import draw_clock_skew
from .params import PopulationParams, SessionParams, WorldParams
from .vocab import DAY, HOUR, MINUTE

__all__ = ["Sessions", "Users", "draw_users_and_sessions", "place_sessions"]


@dataclass(frozen=True)
class Users:
    """The users of a chunk.

    Attributes
    ----------
    kind : numpy.ndarray of int
        User kind code (index into ``USER_KINDS``).
    skew : numpy.ndarray of int64
        Client clock skew in milliseconds.
    """

    kind: NDArray[np.intp]
    skew: NDArray[np.int64]


@dataclass(frozen=True)
class Sessions:
    """The sessions of a chunk, ordered by user, then raw start time.

    Attributes
    ----------
    user : numpy.ndarray of int
        Chunk-local user index.
    raw : numpy.ndarray of int64
        Raw start time in milliseconds since the start of the period.
    surface : numpy.ndarray of int
        Surface code.
    version : numpy.ndarray of int64
        Model version (0 = older, 1 = newer).
    """

    user: NDArray[Any]
    raw: NDArray[np.int64]
    surface: NDArray[Any]
    version: NDArray[np.int64]


def _rollout_share(days: int, params: PopulationParams) -> NDArray[np.float64]:
    """Share of users on the newer model version on every day of the period.

    Parameters
    ----------
    days : int
        Length of the period.
    params : PopulationParams
        Rollout start share and gain.

    Returns
    -------
    numpy.ndarray of float64, shape (days,)
        0 before day ``days // 2``, then growing linearly to start share + gain.
    """
    mid = days // 2
    d = np.arange(days)
    growth = params.rollout_share_gain * (d - mid) / max(1, days - 1 - mid)
    share: NDArray[np.float64] = np.where(d >= mid, params.rollout_start_share + growth, 0.0)
    return share


def draw_users_and_sessions(
    rng: np.random.Generator, n_users: int, days: int, params: WorldParams
) -> tuple[Users, Sessions]:
    """Draw ``n_users`` users and their sessions (raw start times, surfaces, model versions).

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source.
    n_users : int
        Number of users.
    days : int
        Length of the period; sessions whose raw start falls outside it are dropped.
    params : WorldParams
        The world (population and fault parameters are used).

    Returns
    -------
    users : Users
        Kind and clock skew of every user.
    sessions : Sessions
        The users' sessions, ordered by user and raw start time.
    """
    p = params.population
    kind = categorical(rng, np.array(p.kind_share), n_users)
    activity = rng.gamma(p.activity_shape, p.activity_scale, n_users)
    tz = np.array(p.tz_hours)[categorical(rng, np.array(p.tz_share), n_users)]
    skew = draw_clock_skew(rng, n_users, params.faults)
    rollout_u = rng.random(n_users)
    g = rng.gamma(np.array(p.surface_mix)[kind] * p.surface_mix_concentration)
    mix_cdf = np.cumsum(g / g.sum(1, keepdims=True), axis=1)
    lam = (np.array(p.sessions_per_day)[kind] * activity)[:, None] * np.ones((1, days))
    counts = np.minimum(rng.poisson(lam), p.max_sessions_per_day).ravel()
    user_day = np.repeat(np.arange(n_users * days), counts)
    s_user = user_day // days
    s_day = user_day % days
    n = len(s_user)
    comp = categorical(rng, np.array(p.hour_share), n)
    hour = np.clip(
        rng.normal(np.array(p.hour_mu)[comp], np.array(p.hour_sd)[comp]), p.first_hour, p.last_hour
    )
    raw = s_day * DAY + ((hour - tz[s_user]) * HOUR).astype(np.int64)
    surface = np.minimum((rng.random(n)[:, None] > mix_cdf[s_user]).sum(1), 2)
    ok = (raw >= 0) & (raw < days * DAY)
    s_user, raw, surface = s_user[ok], raw[ok], surface[ok]
    order = np.lexsort((raw, s_user))
    s_user, raw, surface = s_user[order], raw[order], surface[order]
    share = _rollout_share(days, p)
    version = (rollout_u[s_user] < share[raw // DAY]).astype(np.int64)
    return Users(kind=kind, skew=skew), Sessions(s_user, raw, surface, version)


def place_sessions(
    rng: np.random.Generator,
    sess: Sessions,
    sess_end: NDArray[np.int64],
    days: int,
    params: SessionParams,
) -> NDArray[np.int64]:
    """Shift raw session starts so that sessions of a user are > 30 min apart.

    ``start_i = max(raw_i, start_{i-1} + length_{i-1} + gap_{i-1})`` per user, computed with a
    grouped running maximum instead of a loop.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random source (draws the gaps).
    sess : Sessions
        The sessions, ordered by user and raw start.
    sess_end : numpy.ndarray of int64
        Time of every session's last event relative to its start.
    days : int
        Length of the period.
    params : SessionParams
        Minimum and extra gap between sessions.

    Returns
    -------
    numpy.ndarray of int64
        Start time of every session in milliseconds since the start of the period (may lie
        beyond the period).
    """
    user, raw = sess.user, sess.raw
    n = len(user)
    if n == 0:
        return raw.copy()
    gap = params.min_gap_minutes * MINUTE + rng.integers(0, params.extra_gap_minutes * MINUTE, n)
    c = sess_end + gap
    excl = np.cumsum(c) - c
    first = np.r_[True, user[1:] != user[:-1]]
    group_first = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    cum = excl - excl[group_first]
    big = days * DAY + int(cum.max()) + 1
    x = raw - cum + user * big
    start: NDArray[np.int64] = cum + np.maximum.accumulate(x) - user * big
    return start
