"""Deterministic, vectorized simulator of an AI product's implicit-feedback event stream.

The simulated product has three surfaces -- a code assistant (``code``), a chat assistant
(``chat``) and a search engine (``search``). Users send requests, every request yields exactly
one model output, and users react to outputs through noisy implicit signals (accepts, edits,
reverts, copies, clicks, rephrases, abandonment, ...) and, rarely, explicit ratings. Because the
simulator draws the *true* quality of every output first and derives behaviour from it, labels
inferred later from the events can be scored against ``truth.parquet``.

Files written by :func:`simulate` into ``out_dir``:

``events.<parquet|csv|jsonl>``
    The raw event stream, one row per delivered event, every column a nullable string (see the
    module-level ``EVENT_COLUMNS``). It contains realistic delivery faults: duplicated rows
    (identical except possibly ``received_at``), late arrivals and deliberately malformed rows,
    and an instrumentation regression: in the last three days the chat client drops most of its
    ``copy`` events (fate ``dropped``), the kind of drift ``drift_daily`` exists to catch.
``truth.parquet``
    One row per output: its latent quality and whether it is good. The pipeline never reads it.
``actions.parquet``
    One row per generated event *before* delivery faults, with its fate, so tests can recompute
    every signal from what really happened.

Notes
-----
Generation is numpy-vectorized: users are processed in chunks, sessions of a chunk are
advanced one request position at a time (a loop over at most ``_MAX_STEPS`` positions, each
step vectorized over all still-active sessions), and all strings are built with numpy byte
matrices or pyarrow compute kernels. Every chunk uses its own ``numpy.random.Generator`` seeded
with ``[seed, chunk_index]``, so the same arguments always produce byte-identical files.

Truth definition: an output's latent score is ``z = intercept(surface, version) +
effect(user kind) - 0.6 * difficulty + N(0, 1)`` (plus a small bonus for rephrased requests);
``true_quality = sigmoid(z)`` and ``is_good = true_quality > 0.5`` (a deterministic threshold,
not a Bernoulli draw).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flywheel.errors import FlywheelError

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "MALFORMED_REASONS",
    "REQUEST_KINDS",
    "SURFACES",
    "USER_KINDS",
    "SimulationResult",
    "simulate",
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
_FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}

# --------------------------------------------------------------------------------------------
# Behaviour parameters (index order: surfaces code/chat/search, user kinds power/regular/casual)
# --------------------------------------------------------------------------------------------

_CODE, _CHAT, _SEARCH = 0, 1, 2
(_REQUEST, _SHOWN, _ACCEPT, _REJECT, _EDIT, _REVERT, _COPY, _CLICK, _FEEDBACK) = range(9)
_NEW, _REPHRASE, _MODIFIED, _LATER = 0, 1, 2, 3

_KIND_SHARE = np.array([0.10, 0.50, 0.40])
_SESSIONS_PER_DAY = np.array([2.2, 0.9, 0.3])  # Poisson mean, times a Gamma(2, 0.5) activity
_MAX_SESSIONS_PER_DAY = 8
_SURFACE_MIX = np.array([[0.55, 0.30, 0.15], [0.30, 0.40, 0.30], [0.10, 0.45, 0.45]])
_SURFACE_MIX_CONCENTRATION = 8.0  # Dirichlet concentration around the kind's mix
_STOP_P = np.array([0.18, 0.25, 0.35])  # P(session ends after a good output)
_BAD_STOP_MULT = np.array([1.6, 1.9, 2.2])  # impatience after a bad output
_FEEDBACK_P_GOOD = np.array([0.004, 0.001, 0.0005])  # explicit rating propensity
_FEEDBACK_BAD_MULT = 4.0  # complaints: a bad output is rated 4x as often
_RATING_NOISE = 0.10
# quality intercepts (logit scale) per surface x (old, new) version
_QUALITY_INTERCEPT = np.array([[0.05, 0.55], [0.30, 0.80], [0.15, 0.62]])
_KIND_QUALITY = np.array([-0.15, 0.0, 0.10])
_DIFFICULTY_WEIGHT = 0.6
_CHAIN_BONUS = 0.25  # a rephrased / modified request is a little easier to answer

_TZ_HOURS = np.array([-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0])
_TZ_SHARE = np.array([0.18, 0.22, 0.10, 0.25, 0.08, 0.09, 0.08])
_HOUR_MU = np.array([10.5, 15.0, 21.0])
_HOUR_SD = np.array([1.5, 1.8, 1.5])
_HOUR_SHARE = np.array([0.45, 0.35, 0.20])

_P_DUPLICATE, _P_LATE, _P_MALFORMED = 0.02, 0.01, 0.005
# An instrumentation regression, as real products ship them: in the last _LOGGING_BUG_DAYS days
# the chat client drops _LOGGING_BUG_LOSS of its copy events (fate 'dropped': never delivered).
# The drift mart should flag it; nothing about output quality changes.
_LOGGING_BUG_DAYS, _LOGGING_BUG_LOSS = 3, 0.7

_N_TOPICS = 300  # per surface
_TOPIC_WORDS = 24  # vocabulary size of one topic
_VOCAB_SIZE = 5000
_MIN_TOKENS, _MAX_TOKENS = 5, 12
_MAX_STEPS = 40  # requests per session at most

_SECOND = 1_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

_EST_EVENTS_PER_USER = 130.0  # prior for the first chunk's size; later chunks use the observed rate
_MAX_CHUNK_USERS = 2500


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    events_path : Path
        The raw event file (``events.parquet``, ``events.csv`` or ``events.jsonl``).
    truth_path : Path
        ``truth.parquet``: one row per output with its true quality (never read by the pipeline).
    actions_path : Path
        ``actions.parquet``: every generated event with its delivery fate.
    n_rows : int
        Rows written to the events file, including duplicates and malformed rows.
    n_outputs : int
        Number of outputs (= requests) generated.
    n_duplicates : int
        Extra copies written (rows repeating an earlier ``event_id``).
    n_malformed : int
        Rows deliberately corrupted.
    """

    events_path: Path
    truth_path: Path
    actions_path: Path
    n_rows: int
    n_outputs: int
    n_duplicates: int
    n_malformed: int


# --------------------------------------------------------------------------------------------
# Vectorized string helpers
# --------------------------------------------------------------------------------------------


def _fixed_width_strings(mat: np.ndarray) -> pa.Array:
    """Turn an ``(n, w)`` uint8 matrix of ASCII codes into a pyarrow string array."""
    n, w = mat.shape
    data = pa.py_buffer(np.ascontiguousarray(mat, dtype=np.uint8))
    if (n + 1) * w < 2**31:
        offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), data)
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data).cast(pa.string())


_TRIPLES = np.array(
    [[48 + i // 100, 48 + i // 10 % 10, 48 + i % 10] for i in range(1000)], dtype=np.uint8
)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as an ``(n, width)`` uint8 matrix."""
    v = values.astype(np.int64, copy=True)
    out = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        v, d = np.divmod(v, 10)
        out[:, k] = d
    out += 48
    return out


def _counter_ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded counter, e.g. ``u000123``."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.empty((len(values), len(head) + width), dtype=np.uint8)
    mat[:, : len(head)] = head
    mat[:, len(head) :] = _digits(values, width)
    return _fixed_width_strings(mat)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer (a bijection on uint64)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash_ids(prefix: str, counters: np.ndarray, seed: int) -> pa.Array:
    """Unique, order-free ids: ``prefix`` + 16 hex digits of a bijective hash of the counter."""
    salt = _splitmix64(np.array([seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        h = _splitmix64(counters.astype(np.uint64) ^ salt)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.empty((len(counters), len(head) + 16), dtype=np.uint8)
    mat[:, : len(head)] = head
    for k in range(16):
        nib = (h >> np.uint64(60 - 4 * k)) & np.uint64(0xF)
        mat[:, len(head) + k] = _HEX[nib.astype(np.intp)]
    return _fixed_width_strings(mat)


def _civil_dates(days: np.ndarray) -> np.ndarray:
    """Days since the epoch -> ``(n, 10)`` uint8 matrix of ``YYYY-MM-DD`` (H. Hinnant)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    mat = np.empty((len(days), 10), dtype=np.uint8)
    mat[:, 0:4] = _digits(year, 4)
    mat[:, 4] = mat[:, 7] = ord("-")
    mat[:, 5:7] = _digits(month, 2)
    mat[:, 8:10] = _digits(day, 2)
    return mat


def _format_ts(ms: np.ndarray) -> pa.Array:
    """Epoch milliseconds -> ``'YYYY-MM-DDTHH:MM:SS.mmmZ'`` (UTC) without a per-row loop."""
    ms = ms.astype(np.int64)
    days = ms // _DAY
    rem = ms - days * _DAY
    mat = np.empty((len(ms), 24), dtype=np.uint8)
    if len(ms):
        d0 = int(days.min())
        table = _civil_dates(np.arange(d0, int(days.max()) + 1, dtype=np.int64))
        mat[:, 0:10] = table[days - d0]
    mat[:, 10] = ord("T")
    mat[:, 11:13] = _TRIPLES[rem // _HOUR][:, 1:]
    mat[:, 13] = mat[:, 16] = ord(":")
    mat[:, 14:16] = _TRIPLES[rem // _MINUTE % 60][:, 1:]
    mat[:, 17:19] = _TRIPLES[rem // _SECOND % 60][:, 1:]
    mat[:, 19] = ord(".")
    mat[:, 20:23] = _TRIPLES[rem % _SECOND]
    mat[:, 23] = ord("Z")
    return _fixed_width_strings(mat)


def _join_tokens(word_ids: np.ndarray, lengths: np.ndarray, vocab: pa.Array) -> pa.Array:
    """Join variable-length rows of word ids (flattened) with single spaces."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    words = vocab.take(pa.array(word_ids, type=pa.int32()))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def _concat(*parts: Any) -> pa.Array:
    """Element-wise string concatenation of arrays and Python strings (no separator)."""
    return pc.binary_join_element_wise(*parts, "")


def _num(values: np.ndarray) -> pa.Array:
    """Numbers as JSON number strings (ints stay ints, floats use the shortest repr)."""
    return pc.cast(pa.array(values), pa.string())


# --------------------------------------------------------------------------------------------
# The world: vocabulary and topics (global, depends on the seed only)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _World:
    vocab: pa.Array  # word strings; index _VOCAB_SIZE is the separator token "|"
    topic_words: np.ndarray  # (3 * _N_TOPICS, _TOPIC_WORDS) word ids, topic t of surface s at s*N+t
    topic_cdf: np.ndarray  # cumulative Zipf-like topic popularity within a surface


def _build_world(seed: int) -> _World:
    rng = np.random.default_rng([seed, 0x5EED, 1])
    onsets = np.array(
        [
            "b",
            "c",
            "d",
            "f",
            "g",
            "h",
            "j",
            "k",
            "l",
            "m",
            "n",
            "p",
            "r",
            "s",
            "t",
            "v",
            "w",
            "z",
            "br",
            "ch",
            "cl",
            "dr",
            "fl",
            "gr",
            "kr",
            "pl",
            "pr",
            "sh",
            "sk",
            "st",
            "th",
            "tr",
        ]
    )
    vowels = np.array(["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou"])
    codas = np.array(["", "", "", "", "n", "r", "s", "l", "x", "k", "m", "t"])
    words: dict[str, None] = {}
    while len(words) < _VOCAB_SIZE:  # one-off loop over a few thousand candidate words
        n_syl = rng.integers(2, 4, 512)
        sy = rng.integers(0, [len(onsets), len(vowels)], size=(512, 3, 2))
        coda = rng.integers(0, len(codas), 512)
        for i in range(512):
            w = "".join(onsets[a] + vowels[b] for a, b in sy[i, : n_syl[i]]) + codas[coda[i]]
            words.setdefault(w, None)
            if len(words) == _VOCAB_SIZE:
                break
    vocab = pa.array([*words, "|"], type=pa.string())
    topic_words = np.empty((3 * _N_TOPICS, _TOPIC_WORDS), dtype=np.int32)
    for t in range(3 * _N_TOPICS):
        topic_words[t] = rng.choice(_VOCAB_SIZE, _TOPIC_WORDS, replace=False)
    weights = (np.arange(_N_TOPICS) + 4.0) ** -0.8
    return _World(vocab, topic_words, np.cumsum(weights / weights.sum()))


# --------------------------------------------------------------------------------------------
# Random helpers
# --------------------------------------------------------------------------------------------


def _categorical(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(probs)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(probs) - 1)


def _lognormal_ms(
    rng: np.random.Generator, median_s: Any, sigma: float, lo_s: float, hi_s: float, n: int
) -> np.ndarray:
    """Log-normal duration in integer milliseconds, clipped to ``[lo_s, hi_s]`` seconds."""
    s = np.exp(np.log(median_s) + sigma * rng.standard_normal(n))
    return (np.clip(s, lo_s, hi_s) * _SECOND).astype(np.int64)


def _random_masks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random token masks over a topic's vocabulary with 5-12 tokens each."""
    n_tok = rng.integers(_MIN_TOKENS, _MAX_TOKENS + 1, n)
    return _first_k(rng.random((n, _TOPIC_WORDS)), n_tok)


def _first_k(keys: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boolean mask of the ``k[i]`` smallest keys of every row."""
    order = keys.argsort(1)
    out = np.empty(keys.shape, dtype=bool)
    np.put_along_axis(out, order, np.arange(keys.shape[1])[None, :] < k[:, None], axis=1)
    return out


def _modify_masks(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """Rephrase token masks: replace 1..n//4 tokens and sometimes add one.

    Token Jaccard with the original is ``(n - m) / (n + m + extra) >= 6/11`` and the result is
    never identical to the input.
    """
    n = len(masks)
    n_tok = masks.sum(1)
    m_max = np.maximum(1, n_tok // 4)
    m = 1 + (rng.random(n) * m_max).astype(np.int64)
    extra = (n_tok < _MAX_TOKENS) & (rng.random(n) < 0.3)
    keys = rng.random(masks.shape)
    remove = masks & _first_k(np.where(masks, keys, 2.0), m)
    add = ~masks & _first_k(np.where(masks, 2.0, keys), m + extra)
    return (masks & ~remove) | add


# --------------------------------------------------------------------------------------------
# One chunk of users
# --------------------------------------------------------------------------------------------


@dataclass
class _Chunk:
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


class _EventBuffer:
    """Collects per-type numeric event arrays during the step loop."""

    def __init__(self) -> None:
        self.parts: list[list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = [
            [] for _ in EVENT_TYPES
        ]

    def add(
        self,
        etype: int,
        sel: np.ndarray,
        rid: np.ndarray,
        t: np.ndarray,
        p1: np.ndarray | None = None,
        p2: np.ndarray | None = None,
    ) -> None:
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

    def arrays(self) -> tuple[np.ndarray, ...]:
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


def _sessions(
    rng: np.random.Generator, n_users: int, days: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Draw users and their sessions (raw start times, surfaces, model versions)."""
    kind = _categorical(rng, _KIND_SHARE, n_users)
    activity = rng.gamma(2.0, 0.5, n_users)
    tz = _TZ_HOURS[_categorical(rng, _TZ_SHARE, n_users)]
    minutes_off = rng.random(n_users) < 0.03
    skew = np.where(
        minutes_off,
        np.where(rng.random(n_users) < 0.5, -1, 1) * rng.uniform(60, 600, n_users) * _SECOND,
        np.clip(rng.normal(0.0, 0.7, n_users), -2.0, 2.0) * _SECOND,
    ).astype(np.int64)
    rollout_u = rng.random(n_users)
    g = rng.gamma(_SURFACE_MIX[kind] * _SURFACE_MIX_CONCENTRATION)
    mix_cdf = np.cumsum(g / g.sum(1, keepdims=True), axis=1)
    lam = (_SESSIONS_PER_DAY[kind] * activity)[:, None] * np.ones((1, days))
    counts = np.minimum(rng.poisson(lam), _MAX_SESSIONS_PER_DAY).ravel()
    user_day = np.repeat(np.arange(n_users * days), counts)
    s_user = user_day // days
    s_day = user_day % days
    n = len(s_user)
    comp = _categorical(rng, _HOUR_SHARE, n)
    hour = np.clip(rng.normal(_HOUR_MU[comp], _HOUR_SD[comp]), 6.0, 23.9)
    raw = s_day * _DAY + ((hour - tz[s_user]) * _HOUR).astype(np.int64)
    surface = np.minimum((rng.random(n)[:, None] > mix_cdf[s_user]).sum(1), 2)
    ok = (raw >= 0) & (raw < days * _DAY)
    s_user, raw, surface = s_user[ok], raw[ok], surface[ok]
    order = np.lexsort((raw, s_user))
    s_user, raw, surface = s_user[order], raw[order], surface[order]
    mid = days // 2
    d = np.arange(days)
    share = np.where(d >= mid, 0.25 + 0.65 * (d - mid) / max(1, days - 1 - mid), 0.0)
    version = (rollout_u[s_user] < share[raw // _DAY]).astype(np.int64)
    users = {"kind": kind, "skew": skew}
    sessions = {"user": s_user, "raw": raw, "surface": surface, "version": version}
    return users, sessions


def _run_sessions(
    rng: np.random.Generator, world: _World, ukind: np.ndarray, sess: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], _EventBuffer, np.ndarray]:
    """Advance all sessions one request at a time; return requests, events and session lengths."""
    n_sess = len(sess["user"])
    s_surface = sess["surface"]
    s_ukind = ukind[sess["user"]]
    s_version = sess["version"]
    sess_end = np.zeros(n_sess, dtype=np.int64)
    buf = _EventBuffer()
    cols: dict[str, list[np.ndarray]] = {
        k: []
        for k in [
            "sess",
            "step",
            "kind",
            "parent",
            "root",
            "topic",
            "mask",
            "diff",
            "q",
            "good",
            "t",
            "shown",
            "version",
            "abandoned",
            "later",
            "n_results",
        ]
    }
    act = np.arange(n_sess)
    t_req = np.zeros(n_sess, dtype=np.int64)
    kind = np.zeros(n_sess, dtype=np.int64)
    parent = np.full(n_sess, -1, dtype=np.int64)
    root = np.full(n_sess, -1, dtype=np.int64)
    prev_topic = np.zeros(n_sess, dtype=np.int64)
    prev_mask = np.zeros((n_sess, _TOPIC_WORDS), dtype=bool)
    prev_diff = np.zeros(n_sess)
    base = 0
    for step in range(_MAX_STEPS):
        n = len(act)
        if n == 0 and step > 0:
            break
        rid = base + np.arange(n)
        base += n
        surf, uk, ver = s_surface[act], s_ukind[act], s_version[act]
        is_new = kind == _NEW
        chained = ~is_new
        root = np.where(root < 0, rid, root)
        # --- request content -------------------------------------------------------------
        new_topic = np.searchsorted(world.topic_cdf, rng.random(n) * world.topic_cdf[-1])
        new_topic = np.minimum(new_topic, _N_TOPICS - 1) + surf * _N_TOPICS
        topic = np.where(is_new, new_topic, prev_topic)
        mask = _random_masks(rng, n)
        if chained.any():
            mask[chained] = _modify_masks(rng, prev_mask[chained])
        diff = np.where(
            is_new, rng.standard_normal(n), 0.8 * prev_diff + 0.6 * rng.standard_normal(n)
        )
        # --- latent quality ----------------------------------------------------------------
        z = (
            _QUALITY_INTERCEPT[surf, ver]
            + _KIND_QUALITY[uk]
            - _DIFFICULTY_WEIGHT * diff
            + rng.standard_normal(n)
            + _CHAIN_BONUS * chained
        )
        q = 1.0 / (1.0 + np.exp(-z))
        good = z > 0.0
        latency_median = np.array([0.6, 2.5, 0.5])[surf]
        shown = t_req + _lognormal_ms(rng, latency_median, 0.5, 0.08, 30.0, n)
        last = shown.copy()  # last event of this request (for session length)
        busy = shown.copy()  # when the user is free to send the next request

        def draw(p_good: float, p_bad: Any, good: np.ndarray = good, n: int = n) -> np.ndarray:
            return rng.random(n) < np.where(good, p_good, p_bad)

        c, h, s = surf == _CODE, surf == _CHAT, surf == _SEARCH
        # --- code: accept / reject / edit / revert / modified prompt ------------------------
        accept = c & draw(0.62, 0.25)
        reject = c & ~accept & draw(0.22, 0.40)
        acc_t = shown + _lognormal_ms(rng, np.where(good, 1.8, 3.2), 0.6, 0.3, 60.0, n)
        rej_t = shown + _lognormal_ms(rng, 2.5, 0.7, 0.3, 60.0, n)
        edit = accept & draw(0.30, 0.55)
        share = np.round(np.where(good, rng.beta(1.5, 8.0, n), rng.beta(4.0, 3.0, n)), 3)
        edit_t = acc_t + _lognormal_ms(rng, 20.0, 0.8, 3.0, 300.0, n)
        revert = accept & draw(0.05, 0.33)
        revert_t = acc_t + _lognormal_ms(rng, np.where(good, 240.0, 100.0), 1.1, 5.0, 1500.0, n)
        revert_frac = np.where(good, rng.uniform(0.2, 1.0, n), rng.uniform(0.6, 1.0, n))
        # an edit of code that is later reverted happens before the revert
        edit_t = np.where(
            revert,
            acc_t + ((revert_t - acc_t) * rng.uniform(0.2, 0.8, n)).astype(np.int64),
            edit_t,
        )
        modified = c & draw(0.07, np.where(accept, 0.22, 0.42))
        first_code = np.where(accept, acc_t, np.where(reject, rej_t, shown))
        mod_t = np.maximum(shown + rng.integers(5 * _SECOND, 60 * _SECOND, n), first_code + 800)
        # --- copy (chat mostly, sometimes code / search) ------------------------------------
        copy = (c & draw(0.04, 0.02)) | (h & draw(0.35, 0.10)) | (s & draw(0.03, 0.01))
        copy_t = shown + np.where(
            c,
            _lognormal_ms(rng, 6.0, 0.7, 1.0, 120.0, n),
            _lognormal_ms(rng, 25.0, 0.8, 2.0, 600.0, n),
        )
        copy_frac = rng.uniform(0.3, 1.0, n)
        # --- search: clicks with position and dwell -----------------------------------------
        n_results = rng.integers(5, 11, n)
        click = s & draw(0.68, 0.35)
        pos = np.minimum(np.where(good, rng.geometric(0.55, n), rng.geometric(0.30, n)), n_results)
        click_t = shown + _lognormal_ms(rng, 4.0, 0.6, 0.5, 60.0, n)
        dwell = np.round(
            np.clip(
                np.where(
                    good, rng.lognormal(np.log(60.0), 0.9, n), rng.lognormal(np.log(7.0), 0.8, n)
                ),
                0.5,
                1200.0,
            ),
            1,
        )
        click2 = click & draw(0.08, 0.30)
        pos2 = pos + rng.geometric(0.5, n)
        pos2 = np.where(pos2 > n_results, np.maximum(pos - 1, 1), pos2)
        click2_t = (
            click_t
            + (dwell * _SECOND).astype(np.int64)
            + _lognormal_ms(rng, 3.0, 0.5, 0.5, 30.0, n)
        )
        dwell2 = np.round(np.clip(rng.lognormal(np.log(30.0), 1.0, n), 0.5, 1200.0), 1)
        click_back = np.where(
            click2,
            click2_t + (dwell2 * _SECOND).astype(np.int64),
            click_t + (dwell * _SECOND).astype(np.int64),
        )
        # --- rephrases (chat / search) ------------------------------------------------------
        rephrase = (h & draw(0.06, 0.38)) | (s & draw(0.08, 0.40))
        reph_t = shown + np.where(
            h,
            _lognormal_ms(rng, 30.0, 0.6, 5.0, 240.0, n),
            _lognormal_ms(rng, 12.0, 0.6, 4.0, 180.0, n),
        )
        reph_t = np.where(click, np.maximum(reph_t, click_back + 1500), reph_t)
        # --- explicit feedback ----------------------------------------------------------------
        fb = rng.random(n) < _FEEDBACK_P_GOOD[uk] * np.where(good, 1.0, _FEEDBACK_BAD_MULT)
        rating = np.where(good, 1, -1) * np.where(rng.random(n) < _RATING_NOISE, -1, 1)
        fb_t = shown + _lognormal_ms(rng, 20.0, 0.8, 2.0, 600.0, n)
        # --- bookkeeping of times -------------------------------------------------------------
        for sel, tt in (
            (accept, acc_t),
            (reject, rej_t),
            (edit, edit_t),
            (revert, revert_t),
            (copy, copy_t),
            (click, click_t),
            (click2, click2_t),
            (fb, fb_t),
        ):
            last = np.where(sel, np.maximum(last, tt), last)
        for sel, tt in ((accept, acc_t), (reject, rej_t), (copy, copy_t), (click, click_back)):
            busy = np.where(sel, np.maximum(busy, tt), busy)
        # --- what happens next ----------------------------------------------------------------
        chain = modified | rephrase
        stop_p = np.minimum(0.9, _STOP_P[uk] * np.where(good, 1.0, _BAD_STOP_MULT[uk]))
        end = (~chain & (rng.random(n) < stop_p)) | (step == _MAX_STEPS - 1)
        # time before the next, unrelated request: a good output is read and used, a bad one
        # skimmed and left
        think = _lognormal_ms(rng, np.where(good, 70.0, 30.0), 0.9, 4.0, 720.0, n)
        next_t = np.where(
            modified,
            mod_t,
            np.where(rephrase, reph_t, np.maximum(shown + think, busy + 2 * _SECOND)),
        )
        acted = accept | reject | copy | click | fb
        abandoned = end & ~acted
        later = ~c & (rng.random(n) < np.where(good, 0.03, 0.10) + np.where(abandoned, 0.10, 0.0))
        # --- record ---------------------------------------------------------------------------
        all_ = np.ones(n, dtype=bool)
        buf.add(_REQUEST, all_, rid, t_req)
        buf.add(_SHOWN, all_, rid, shown)
        buf.add(_ACCEPT, accept, rid, acc_t)
        buf.add(_REJECT, reject, rid, rej_t)
        buf.add(_EDIT, edit, rid, edit_t, share)
        buf.add(_REVERT, revert, rid, revert_t, revert_frac)
        buf.add(_COPY, copy, rid, copy_t, copy_frac)
        buf.add(_CLICK, click, rid, click_t, pos, dwell)
        buf.add(_CLICK, click2, rid, click2_t, pos2, dwell2)
        buf.add(_FEEDBACK, fb, rid, fb_t, rating)
        for key, val in (
            ("sess", act),
            ("step", np.full(n, step)),
            ("kind", kind),
            ("parent", parent),
            ("root", root),
            ("topic", topic),
            ("mask", mask),
            ("diff", diff),
            ("q", q),
            ("good", good),
            ("t", t_req),
            ("shown", shown),
            ("version", ver),
            ("abandoned", abandoned),
            ("later", later),
            ("n_results", n_results),
        ):
            cols[key].append(val)
        sess_end[act] = np.maximum(sess_end[act], last)
        # --- continue the surviving sessions --------------------------------------------------
        cont = ~end
        act = act[cont]
        t_req = next_t[cont]
        kind = np.where(modified, _MODIFIED, np.where(rephrase, _REPHRASE, _NEW))[cont]
        parent = np.where(chain, rid, -1)[cont]
        root = np.where(chain, root, -1)[cont]
        prev_topic = topic[cont]
        prev_mask = mask[cont]
        prev_diff = diff[cont]
    req = {k: np.concatenate(v) for k, v in cols.items()}
    return req, buf, sess_end


def _place_sessions(
    rng: np.random.Generator, sess: dict[str, np.ndarray], sess_end: np.ndarray, days: int
) -> np.ndarray:
    """Shift raw session starts so that sessions of a user are > 30 min apart.

    ``start_i = max(raw_i, start_{i-1} + length_{i-1} + gap_{i-1})`` per user, computed with a
    grouped running maximum instead of a loop.
    """
    user, raw = sess["user"], sess["raw"]
    n = len(user)
    if n == 0:
        return raw.copy()
    c = sess_end + 31 * _MINUTE + rng.integers(0, 40 * _MINUTE, n)
    excl = np.cumsum(c) - c
    first = np.r_[True, user[1:] != user[:-1]]
    group_first = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    cum = excl - excl[group_first]
    big = days * _DAY + int(cum.max()) + 1
    x = raw - cum + user * big
    return cum + np.maximum.accumulate(x) - user * big


def _same_topic_later(
    rng: np.random.Generator,
    req: dict[str, np.ndarray],
    keep_req: np.ndarray,
    sess_user: np.ndarray,
    sess_surface: np.ndarray,
    sess_start: np.ndarray,
    keep_sess: np.ndarray,
    shown_abs: np.ndarray,
    days: int,
) -> None:
    """Turn the first request of a later session into a same-topic re-ask of an earlier one.

    For every (kept) output flagged ``later``, the user's next session on the same surface that
    starts 1-48 h after the output was shown is looked up; its first request becomes a
    ``same_topic_later`` re-ask (similar text, same topic). Masks of rephrase chains hanging off
    a re-ask are re-derived so that chains stay consistent. Modifies ``req`` in place.
    """
    sidx = np.flatnonzero(keep_sess)
    span = days * _DAY + 3 * _DAY
    skey = (sess_user[sidx] * 3 + sess_surface[sidx]) * span + sess_start[sidx]
    order = np.argsort(skey, kind="stable")
    skey, sidx = skey[order], sidx[order]
    orig = np.flatnonzero(req["later"] & keep_req)
    if len(orig) == 0 or len(sidx) == 0:
        return
    osess = req["sess"][orig]
    base = (sess_user[osess] * 3 + sess_surface[osess]) * span
    lo = base + shown_abs[orig] + _HOUR
    hi = base + shown_abs[orig] + 48 * _HOUR
    j = np.searchsorted(skey, lo, side="left")
    ok = j < len(skey)
    ok[ok] = skey[j[ok]] <= hi[ok]
    orig, target = orig[ok], sidx[j[ok]]  # first request of session s has request index s
    target, first = np.unique(target, return_index=True)
    orig = orig[first]
    is_target = np.zeros(len(req["kind"]), dtype=bool)
    is_target[target] = True
    ok = ~is_target[req["root"][orig]]  # the original's text must be final already
    orig, target = orig[ok], target[ok]
    if len(target) == 0:
        return
    is_target[:] = False
    is_target[target] = True
    req["kind"][target] = _LATER
    req["parent"][target] = orig
    req["topic"][target] = req["topic"][orig]
    req["mask"][target] = _modify_masks(rng, req["mask"][orig])
    # re-derive rephrase chains rooted at a re-ask, one step position at a time
    step = req["step"]
    bounds = np.flatnonzero(np.r_[True, step[1:] != step[:-1], True])
    for a, b in zip(bounds[1:-1], bounds[2:], strict=True):
        idx = np.arange(a, b)
        idx = idx[(req["kind"][idx] != _NEW) & is_target[req["root"][idx]]]
        if len(idx):
            par = req["parent"][idx]
            req["mask"][idx] = _modify_masks(rng, req["mask"][par])
            req["topic"][idx] = req["topic"][par]


def _simulate_chunk(
    rng: np.random.Generator,
    world: _World,
    n_users: int,
    days: int,
    budget: int,
    start_ms: int,
    seed: int,
    counters: dict[str, int],
    user_width: int,
) -> _Chunk:
    """Simulate ``n_users`` users and build the chunk's events, truth and actions tables.

    At most about ``budget`` events are kept (whole sessions, in user order); ``counters`` hold
    the global id counters of the chunks written before this one.
    """
    users, sess = _sessions(rng, n_users, days)
    req, buf, sess_end = _run_sessions(rng, world, users["kind"], sess)
    sess_start = _place_sessions(rng, sess, sess_end, days)
    n_sess = len(sess_start)
    keep_sess = sess_start < days * _DAY
    ev_type, ev_req, ev_off, ev_p1, ev_p2 = buf.arrays()
    # --- honour the event budget at session granularity ---------------------------------------
    per_sess = np.bincount(req["sess"][ev_req], minlength=n_sess) * keep_sess
    cum = np.cumsum(per_sess)
    if n_sess and cum[-1] > budget:
        j = int(np.searchsorted(cum, budget, side="left"))
        below = cum[j - 1] if j > 0 else 0
        cut = cum[j] if below == 0 or (cum[j] - budget) <= (budget - below) else below
        keep_sess &= cum <= cut
        last_sess = np.flatnonzero(keep_sess)
        n_users_used = int(sess["user"][last_sess[-1]]) + 1 if len(last_sess) else 0
    else:
        n_users_used = n_users
    keep_req = keep_sess[req["sess"]]
    shown_abs = sess_start[req["sess"]] + req["shown"]
    _same_topic_later(
        rng, req, keep_req, sess["user"], sess["surface"], sess_start, keep_sess, shown_abs, days
    )
    # --- filter and re-index ----------------------------------------------------------------------
    new_req_idx = np.cumsum(keep_req) - 1
    new_sess_idx = np.cumsum(keep_sess) - 1
    r = {k: v[keep_req] for k, v in req.items()}
    r["parent"] = np.where(r["parent"] >= 0, new_req_idx[np.maximum(r["parent"], 0)], -1)
    r_user = sess["user"][r["sess"]]
    r_surface = sess["surface"][r["sess"]]
    r_shown_abs = sess_start[r["sess"]] + r["shown"]
    r_sess_global = counters["session"] + new_sess_idx[r["sess"]]
    n_req = len(r_user)
    keep_ev = keep_req[ev_req]
    ev_type, ev_off, ev_p1, ev_p2 = (
        ev_type[keep_ev],
        ev_off[keep_ev],
        ev_p1[keep_ev],
        ev_p2[keep_ev],
    )
    ev_sess = req["sess"][ev_req[keep_ev]]
    ev_req = new_req_idx[ev_req[keep_ev]]
    ev_true = sess_start[ev_sess] + ev_off
    n_ev = len(ev_type)
    ev_user = r_user[ev_req]
    ev_surface = r_surface[ev_req]

    # --- request and output texts -----------------------------------------------------------------
    vocab = world.vocab
    req_words = world.topic_words[r["topic"]][r["mask"]]
    req_text = _join_tokens(req_words, r["mask"].sum(1), vocab)
    p_on = np.where(r["good"], 0.85, 0.55)
    on_topic = rng.random((n_req, 8)) < p_on[:, None]
    topic_pick = world.topic_words[r["topic"][:, None], rng.integers(0, _TOPIC_WORDS, (n_req, 8))]
    out_w = np.where(on_topic, topic_pick, rng.integers(0, _VOCAB_SIZE, (n_req, 8)))
    # chat: 6-10 words; search: three two-word titles separated by "|"; code: a code-like line
    sep = _VOCAB_SIZE
    n_chat = rng.integers(6, 11, n_req)
    chat_mask = np.arange(10)[None, :] < n_chat[:, None]
    chat_w = np.concatenate([out_w, out_w[:, :2]], axis=1)
    search_w = np.stack(
        [out_w[:, 0], out_w[:, 1], np.full(n_req, sep), out_w[:, 2], out_w[:, 3],
         np.full(n_req, sep), out_w[:, 4], out_w[:, 5]], axis=1,
    )  # fmt: skip
    is_chat, is_search = r_surface == _CHAT, r_surface == _SEARCH
    text_mask = np.where(
        is_chat[:, None], chat_mask, np.where(is_search[:, None], np.arange(10) < 8, False)
    )
    text_words = np.where(is_chat[:, None], chat_w, np.pad(search_w, ((0, 0), (0, 2))))
    prose = _join_tokens(text_words[text_mask], text_mask.sum(1), vocab)
    w = [vocab.take(pa.array(out_w[:, k])) for k in range(4)]
    code_text = _concat("def ", w[0], "_", w[1], "(", w[2], "): return ", w[3], "(", w[2], ")")
    out_text = pc.if_else(pa.array(r_surface == _CODE), code_text, prose)
    out_nchars = pc.utf8_length(out_text).to_numpy(zero_copy_only=False).astype(np.int64)
    n_results = r["n_results"]

    # --- properties (events are grouped by type, so build per type block) -----------------------
    bounds = np.searchsorted(ev_type, np.arange(len(EVENT_TYPES) + 1))
    props_parts = []
    for k in range(len(EVENT_TYPES)):
        a, b = bounds[k], bounds[k + 1]
        if a == b:
            continue
        rr, p1, p2 = ev_req[a:b], ev_p1[a:b], ev_p2[a:b]
        rr_a = pa.array(rr)
        if k == _REQUEST:
            part = _concat('{"text": "', req_text.take(rr_a), '"}')
        elif k == _SHOWN:
            head = _concat(
                '{"text": "', out_text.take(rr_a), '", "n_chars": ', _num(out_nchars[rr])
            )
            part = pc.if_else(
                pa.array(r_surface[rr] == _SEARCH),
                _concat(head, ', "n_results": ', _num(n_results[rr]), "}"),
                _concat(head, "}"),
            )
        elif k == _ACCEPT:
            part = _concat('{"n_chars": ', _num(out_nchars[rr]), "}")
        elif k == _REJECT:
            part = pa.array(np.full(b - a, "{}"), type=pa.string())
        elif k == _EDIT:
            part = _concat('{"share_rewritten": ', _num(p1), "}")
        elif k in (_REVERT, _COPY):
            nch = np.maximum(1, np.round(p1 * out_nchars[rr])).astype(np.int64)
            part = _concat('{"n_chars": ', _num(nch), "}")
        elif k == _CLICK:
            part = _concat(
                '{"position": ', _num(p1.astype(np.int64)), ', "dwell_seconds": ', _num(p2), "}"
            )
        else:
            part = _concat('{"rating": ', _num(p1.astype(np.int64)), "}")
        props_parts.append(part)
    props = (
        pa.concat_arrays([p.cast(pa.string()) for p in props_parts])
        if props_parts
        else pa.array([], type=pa.string())
    )

    # --- delivery faults ------------------------------------------------------------------------
    u = rng.random(n_ev)
    fate = np.zeros(n_ev, dtype=np.int64)
    fate[u < _P_MALFORMED + _P_LATE + _P_DUPLICATE] = 1
    fate[u < _P_MALFORMED + _P_LATE] = 2
    fate[u < _P_MALFORMED] = 3
    reason = np.where(fate == 3, rng.integers(0, len(MALFORMED_REASONS), n_ev), -1)
    lost = (
        (fate == 0)
        & (ev_type == _COPY)
        & (ev_surface == _CHAT)
        & (ev_true >= (days - _LOGGING_BUG_DAYS) * _DAY)
        & (rng.random(n_ev) < _LOGGING_BUG_LOSS)
    )
    fate[lost] = 4
    # a request event has no output_id to null: corrupt it in one of the other ways
    reason = np.where((reason == 4) & (ev_type == _REQUEST), rng.integers(5, 12, n_ev) % 8, reason)
    skew = users["skew"][ev_user]
    true_epoch = start_ms + ev_true
    occurred = true_epoch + skew
    received = true_epoch + _lognormal_ms(rng, 0.25, 0.8, 0.015, 30.0, n_ev)
    late = fate == 2
    received[late] = true_epoch[late] + rng.integers(1 * _HOUR, 30 * _HOUR, int(late.sum()))
    dup = np.flatnonzero(fate == 1)
    kept = np.flatnonzero(fate != 4)
    row_ev = np.concatenate([kept, dup])
    row_recv = np.concatenate(
        [received[kept], received[dup] + rng.integers(50, 5 * _SECOND, len(dup))]
    )
    order = np.argsort(row_recv, kind="stable")
    row_ev, row_recv = row_ev[order], row_recv[order]

    # --- string columns: the events file is built directly in row order ---------------------------
    ev_counter = counters["event"] + np.arange(n_ev)
    req_global = counters["request"] + np.arange(n_req)
    user_global = counters["user"] + np.arange(n_users)
    user_ids = _counter_ids("u", user_global, user_width)
    request_ids = _counter_ids("r", req_global, 10)
    output_ids = _counter_ids("o", req_global, 10)
    null_s = pa.scalar(None, pa.string())
    surface_names = pa.array(SURFACES)
    type_names = pa.array(EVENT_TYPES)
    version_names = pa.array([v for pair in MODEL_VERSIONS for v in pair])

    rtype, rreq, rreason = ev_type[row_ev], ev_req[row_ev], reason[row_ev]
    r_is_req = pa.array(rtype == _REQUEST)
    rreq_global = req_global[rreq]

    def corrupt(arr: pa.Array, rsn: int, value: Any) -> pa.Array:
        """Replace the rows malformed for reason ``rsn`` (value: scalar or fn(row indices))."""
        sel = rreason == rsn
        if not sel.any():
            return arr
        if callable(value):
            return pc.replace_with_mask(arr, pa.array(sel), value(np.flatnonzero(sel)))
        return pc.if_else(pa.array(sel), value, arr)

    def unparseable(rows: np.ndarray) -> pa.Array:
        return pa.array(["not-a-time", "2026-13-45T99:00:00Z"]).take(pa.array(rows % 2))

    def in_future(rows: np.ndarray) -> pa.Array:
        return _format_ts(row_recv[rows] + 400 * _DAY)

    events = pa.table(
        {
            "event_id": corrupt(_hash_ids("e", ev_counter[row_ev], seed), 0, null_s),
            "occurred_at": corrupt(
                corrupt(_format_ts(occurred[row_ev]), 2, unparseable), 5, in_future
            ),
            "received_at": _format_ts(row_recv),
            "user_id": corrupt(
                _counter_ids("u", user_global[ev_user[row_ev]], user_width), 1, null_s
            ),
            "surface": corrupt(
                surface_names.take(pa.array(ev_surface[row_ev])), 7, pa.scalar("voice")
            ),
            "event_type": corrupt(type_names.take(pa.array(rtype)), 3, pa.scalar("hover")),
            "request_id": _counter_ids("r", rreq_global, 10),
            "output_id": corrupt(
                pc.if_else(r_is_req, null_s, _counter_ids("o", rreq_global, 10)), 4, null_s
            ),
            "model_version": pc.if_else(
                r_is_req,
                null_s,
                version_names.take(pa.array(ev_surface[row_ev] * 2 + r["version"][rreq])),
            ),
            "properties": corrupt(props.take(pa.array(row_ev)), 6, pa.scalar('{"text": ')),
        }
    )

    # --- truth and actions ------------------------------------------------------------------------
    ts = pa.timestamp("ms")
    truth = pa.table(
        {
            "output_id": output_ids,
            "request_id": request_ids,
            "user_id": user_ids.take(pa.array(r_user)),
            "surface": pa.array(SURFACES).take(pa.array(r_surface)),
            "model_version": version_names.take(pa.array(r_surface * 2 + r["version"])),
            "user_kind": pa.array(USER_KINDS).take(pa.array(users["kind"][r_user])),
            "true_quality": pa.array(r["q"], type=pa.float64()),
            "is_good": pa.array(r["good"], type=pa.bool_()),
            "shown_at": pa.array(start_ms + r_shown_abs, type=pa.int64()).cast(ts),
        }
    )
    is_req_ev = ev_type == _REQUEST
    ev_req_a = pa.array(ev_req)
    ev_kind = np.where(is_req_ev, r["kind"][ev_req], -1)
    ev_parent = np.where(is_req_ev, r["parent"][ev_req], -1)
    topic_names = pc.binary_join_element_wise(
        pa.array(SURFACES).take(pa.array(r["topic"] // _N_TOPICS)),
        _counter_ids("t", r["topic"] % _N_TOPICS, 4),
        "-",
    )
    actions = pa.table(
        {
            "event_id": _hash_ids("e", ev_counter, seed),
            "output_id": pc.if_else(pa.array(is_req_ev), null_s, output_ids.take(ev_req_a)),
            "request_id": request_ids.take(ev_req_a),
            "user_id": user_ids.take(pa.array(ev_user)),
            "session_id": _counter_ids("s", r_sess_global[ev_req], 9),
            "surface": surface_names.take(pa.array(ev_surface)),
            "event_type": type_names.take(pa.array(ev_type)),
            "true_occurred_at": pa.array(true_epoch, type=pa.int64()).cast(ts),
            "fate": pa.array(FATES).take(pa.array(fate)),
            "malformed_reason": pa.array(MALFORMED_REASONS).take(pa.array(reason, mask=reason < 0)),
            "kind": pa.array(REQUEST_KINDS).take(pa.array(ev_kind, mask=ev_kind < 0)),
            "rephrase_of_request_id": request_ids.take(pa.array(ev_parent, mask=ev_parent < 0)),
            "topic_id": pc.if_else(pa.array(is_req_ev), topic_names.take(ev_req_a), null_s),
        }
    )
    return _Chunk(
        events=events,
        truth=truth,
        actions=actions,
        n_events=n_ev,
        n_rows=len(row_ev),
        n_outputs=n_req,
        n_duplicates=len(dup),
        n_malformed=int((fate == 3).sum()),
        n_users_used=n_users_used,
        n_sessions=int(keep_sess.sum()),
    )


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------

_EVENT_SCHEMA = pa.schema([(c, pa.string()) for c in EVENT_COLUMNS])


class _JsonlWriter:
    """Newline-delimited JSON with every value a JSON string (or null), built vectorized."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("wb")

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        parts = []
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            esc = pc.replace_substring(pc.replace_substring(col, "\\", "\\\\"), '"', '\\"')
            val = pc.if_else(pc.is_null(col), pa.scalar("null"), _concat('"', esc, '"'))
            parts.append(_concat(f'"{name}": ', val))
        line = _concat("{", pc.binary_join_element_wise(*parts, ", "), "}\n")
        line = line.cast(pa.large_string())
        offsets = np.frombuffer(line.buffers()[1], dtype=np.int64)
        start, stop = offsets[line.offset], offsets[line.offset + len(line)]
        data = memoryview(line.buffers()[2])[start:stop]
        self._fh.write(data)

    def close(self) -> None:
        self._fh.close()


def _open_events_writer(path: Path, fmt: str) -> Any:
    if fmt == "parquet":
        return pq.ParquetWriter(path, _EVENT_SCHEMA, compression="zstd")
    if fmt == "csv":
        return pacsv.CSVWriter(path, _EVENT_SCHEMA)
    return _JsonlWriter(path)


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def simulate(
    out_dir: Path,
    *,
    n_events: int = 200_000,
    seed: int = 7,
    days: int = 14,
    start: datetime = datetime(2026, 11, 1),  # noqa: B008 - immutable default
    fmt: str = "parquet",
) -> SimulationResult:
    """Simulate users of a three-surface AI product and write their raw event stream.

    Parameters
    ----------
    out_dir : Path
        Directory to write into (created if missing). Existing output files are overwritten.
    n_events : int, default 200_000
        Approximate number of generated events (before duplicates); the result is within a
        session's worth of events of it.
    seed : int, default 7
        Non-negative seed; the same arguments always produce byte-identical files.
    days : int, default 14
        Length of the simulated period. The newer model version of every surface rolls out from
        day ``days // 2`` on to a growing share of users (25 % -> 90 %).
    start : datetime, default 2026-11-01 00:00
        Start of the period. Naive datetimes are taken as UTC; aware ones are converted to UTC.
    fmt : {"parquet", "csv", "jsonl"}, default "parquet"
        Format of the events file. ``truth.parquet`` and ``actions.parquet`` are always parquet.

    Returns
    -------
    SimulationResult
        Paths of the written files and row counts.

    Raises
    ------
    FlywheelError
        If an argument is out of range or of the wrong type.

    Notes
    -----
    All event columns are strings. Timestamps are ISO-8601 UTC with millisecond precision,
    e.g. ``'2026-11-03T14:02:11.532Z'``; ``occurred_at`` is the client clock (per-user skew,
    mostly within +-2 s, ~3 % of users off by 1-10 minutes), ``received_at`` the collector clock.
    Rows are written chunk by chunk (chunks of at most 2,500 users), each chunk sorted by
    ``received_at``; the file as a whole is therefore not globally ordered.

    Delivery faults: ~2 % of events are written twice (same row, ``received_at`` up to 5 s
    later), ~1 % arrive 1-30 h late (``received_at`` only), ~0.5 % are replaced by a corrupted
    copy, spread evenly over the reasons in ``MALFORMED_REASONS``: ``event_id`` null,
    ``user_id`` null, ``occurred_at`` = ``'not-a-time'`` or ``'2026-13-45T99:00:00Z'``,
    ``event_type`` = ``'hover'``, ``output_id`` null on a non-request event, ``occurred_at``
    = ``received_at`` + 400 days, ``properties`` = ``'{"text": '`` (invalid JSON), ``surface``
    = ``'voice'``.
    """
    if isinstance(n_events, bool) or not isinstance(n_events, int | np.integer):
        raise FlywheelError(f"n_events must be an integer, got {n_events!r}")
    if not 100 <= n_events <= 2_000_000_000:
        raise FlywheelError(f"n_events must be between 100 and 2e9, got {n_events}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise FlywheelError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or not 1 <= days <= 3660:
        raise FlywheelError(f"days must be an integer between 1 and 3660, got {days!r}")
    if not isinstance(start, datetime):
        raise FlywheelError(f"start must be a datetime, got {start!r}")
    if fmt not in _FORMATS:
        raise FlywheelError(f"fmt must be one of {sorted(_FORMATS)}, got {fmt!r}")
    n_events, seed, days = int(n_events), int(seed), int(days)
    start_utc = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    start_ms = int(round(start_utc.timestamp() * 1000))
    if not 0 <= start_ms <= 253_402_300_799_000 - (days + 401) * _DAY:
        raise FlywheelError(f"start must lie between 1970 and 9999, got {start!r}")

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FlywheelError(f"cannot create output directory {out_dir}: {exc}") from exc
    events_path = out_dir / f"events.{_FORMATS[fmt]}"
    truth_path = out_dir / "truth.parquet"
    actions_path = out_dir / "actions.parquet"

    world = _build_world(seed)
    est_users = int(np.ceil(n_events / _EST_EVENTS_PER_USER * 2)) + 100
    user_width = max(6, len(str(est_users)))
    counters = {"user": 0, "session": 0, "request": 0, "event": 0}
    totals = {"rows": 0, "outputs": 0, "duplicates": 0, "malformed": 0}
    rate = _EST_EVENTS_PER_USER
    remaining = n_events
    ev_writer = _open_events_writer(events_path, fmt)
    writers: list[pq.ParquetWriter] = []
    pool = ThreadPoolExecutor(max_workers=1)  # writes chunk k while chunk k+1 is generated
    pending: Future[None] | None = None

    def write(chunk: _Chunk) -> None:
        ev_writer.write_table(chunk.events)
        if not writers:
            writers.append(pq.ParquetWriter(truth_path, chunk.truth.schema, compression="zstd"))
            writers.append(pq.ParquetWriter(actions_path, chunk.actions.schema, compression="zstd"))
        writers[0].write_table(chunk.truth)
        writers[1].write_table(chunk.actions)

    try:
        chunk_index = 0
        while remaining > 0:
            n_users = int(np.clip(np.ceil(remaining / rate * 1.15) + 4, 8, _MAX_CHUNK_USERS))
            if counters["user"] + n_users >= 10**user_width:
                raise FlywheelError("too many users for the id width; lower n_events")
            rng = np.random.default_rng([seed, chunk_index])
            chunk = _simulate_chunk(
                rng, world, n_users, days, remaining, start_ms, seed, counters, user_width
            )
            if pending is not None:
                pending.result()
            pending = pool.submit(write, chunk)
            counters["user"] += chunk.n_users_used
            counters["session"] += chunk.n_sessions
            counters["request"] += chunk.n_outputs
            counters["event"] += chunk.n_events
            totals["rows"] += chunk.n_rows
            totals["outputs"] += chunk.n_outputs
            totals["duplicates"] += chunk.n_duplicates
            totals["malformed"] += chunk.n_malformed
            remaining -= chunk.n_events
            if counters["user"] > 0 and counters["event"] > 0:
                rate = counters["event"] / counters["user"]
            chunk_index += 1
            if chunk_index > 10_000:
                raise FlywheelError("simulation produced too few events; increase days")
        if pending is not None:
            pending.result()
    finally:
        pool.shutdown(wait=True)
        ev_writer.close()
        for w in writers:
            w.close()
    return SimulationResult(
        events_path=events_path,
        truth_path=truth_path,
        actions_path=actions_path,
        n_rows=totals["rows"],
        n_outputs=totals["outputs"],
        n_duplicates=totals["duplicates"],
        n_malformed=totals["malformed"],
    )
