"""Vectorized string kernels: ids, timestamps and joined tokens without per-row Python loops.

Strings are built as ``(n, width)`` uint8 matrices of ASCII codes and handed to pyarrow as one
buffer, or with pyarrow compute kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .vocab import DAY, HOUR, MINUTE, SECOND

__all__ = [
    "concat",
    "counter_ids",
    "digits",
    "fixed_width_strings",
    "format_ts",
    "hash_ids",
    "join_tokens",
    "num",
    "splitmix64",
]

_TRIPLES: NDArray[np.uint8] = np.array(
    [[48 + i // 100, 48 + i // 10 % 10, 48 + i % 10] for i in range(1000)], dtype=np.uint8
)
_HEX: NDArray[np.uint8] = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def fixed_width_strings(mat: NDArray[np.uint8]) -> pa.Array:
    """Turn an ASCII matrix into a pyarrow string array, one row per string.

    Parameters
    ----------
    mat : numpy.ndarray of uint8, shape (n, w)
        ASCII codes; row ``i`` is string ``i``.

    Returns
    -------
    pyarrow.StringArray
        ``n`` strings of ``w`` characters each.
    """
    n, w = mat.shape
    data = pa.py_buffer(np.ascontiguousarray(mat, dtype=np.uint8))
    if (n + 1) * w < 2**31:
        offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), data)
    offsets64 = np.arange(0, (n + 1) * w, w, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets64), data).cast(pa.string())


def digits(values: NDArray[np.integer[Any]], width: int) -> NDArray[np.uint8]:
    """Zero-padded decimal digits of non-negative integers.

    Parameters
    ----------
    values : numpy.ndarray of int
        Non-negative integers below ``10 ** width``.
    width : int
        Number of digits.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, width)
        ASCII codes of the digits, most significant first.
    """
    v = values.astype(np.int64, copy=True)
    out = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        v, d = np.divmod(v, 10)
        out[:, k] = d
    out += 48
    return out


def counter_ids(prefix: str, values: NDArray[np.integer[Any]], width: int) -> pa.Array:
    """Ids made of ``prefix`` and a zero-padded counter, e.g. ``u000123``.

    Parameters
    ----------
    prefix : str
        ASCII prefix.
    values : numpy.ndarray of int
        Non-negative counters below ``10 ** width``.
    width : int
        Number of digits.

    Returns
    -------
    pyarrow.StringArray
        One id per counter.
    """
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.empty((len(values), len(head) + width), dtype=np.uint8)
    mat[:, : len(head)] = head
    mat[:, len(head) :] = digits(values, width)
    return fixed_width_strings(mat)


def splitmix64(x: NDArray[Any]) -> NDArray[np.uint64]:
    """The splitmix64 finalizer, a bijection on uint64.

    Parameters
    ----------
    x : numpy.ndarray
        Values, converted to uint64.

    Returns
    -------
    numpy.ndarray of uint64
        The mixed values.
    """
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def hash_ids(prefix: str, counters: NDArray[np.integer[Any]], seed: int) -> pa.Array:
    """Unique, order-free ids: ``prefix`` + 16 hex digits of a bijective hash of the counter.

    Parameters
    ----------
    prefix : str
        ASCII prefix.
    counters : numpy.ndarray of int
        Distinct non-negative counters (distinct counters give distinct ids).
    seed : int
        Salt of the hash.

    Returns
    -------
    pyarrow.StringArray
        One id per counter.
    """
    salt = splitmix64(np.array([seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        h = splitmix64(counters.astype(np.uint64) ^ salt)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.empty((len(counters), len(head) + 16), dtype=np.uint8)
    mat[:, : len(head)] = head
    for k in range(16):
        nib = (h >> np.uint64(60 - 4 * k)) & np.uint64(0xF)
        mat[:, len(head) + k] = _HEX[nib.astype(np.intp)]
    return fixed_width_strings(mat)


def _civil_dates(days: NDArray[np.int64]) -> NDArray[np.uint8]:
    """Days since the epoch as ``YYYY-MM-DD`` (H. Hinnant's ``civil_from_days``).

    Parameters
    ----------
    days : numpy.ndarray of int64
        Days since 1970-01-01.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 10)
        ASCII codes of the dates.
    """
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
    mat[:, 0:4] = digits(year, 4)
    mat[:, 4] = mat[:, 7] = ord("-")
    mat[:, 5:7] = digits(month, 2)
    mat[:, 8:10] = digits(day, 2)
    return mat


def format_ts(ms: NDArray[np.integer[Any]]) -> pa.Array:
    """Epoch milliseconds as ``'YYYY-MM-DDTHH:MM:SS.mmmZ'`` (UTC), without a per-row loop.

    Parameters
    ----------
    ms : numpy.ndarray of int
        Milliseconds since the epoch (non-negative).

    Returns
    -------
    pyarrow.StringArray
        One ISO-8601 timestamp per value.
    """
    ms = ms.astype(np.int64)
    days = ms // DAY
    rem = ms - days * DAY
    mat = np.empty((len(ms), 24), dtype=np.uint8)
    if len(ms):
        d0 = int(days.min())
        table = _civil_dates(np.arange(d0, int(days.max()) + 1, dtype=np.int64))
        mat[:, 0:10] = table[days - d0]
    mat[:, 10] = ord("T")
    mat[:, 11:13] = _TRIPLES[rem // HOUR][:, 1:]
    mat[:, 13] = mat[:, 16] = ord(":")
    mat[:, 14:16] = _TRIPLES[rem // MINUTE % 60][:, 1:]
    mat[:, 17:19] = _TRIPLES[rem // SECOND % 60][:, 1:]
    mat[:, 19] = ord(".")
    mat[:, 20:23] = _TRIPLES[rem % SECOND]
    mat[:, 23] = ord("Z")
    return fixed_width_strings(mat)


def join_tokens(
    word_ids: NDArray[np.integer[Any]], lengths: NDArray[np.integer[Any]], vocab: pa.Array
) -> pa.Array:
    """Join variable-length rows of word ids with single spaces.

    Parameters
    ----------
    word_ids : numpy.ndarray of int
        The word ids of all rows, flattened row after row.
    lengths : numpy.ndarray of int
        Number of words of every row.
    vocab : pyarrow.StringArray
        Word of every id.

    Returns
    -------
    pyarrow.StringArray
        One space-separated string per row.
    """
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    words = vocab.take(pa.array(word_ids, type=pa.int32()))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def concat(*parts: Any) -> pa.Array:
    """Element-wise string concatenation of arrays and Python strings (no separator).

    Parameters
    ----------
    *parts : pyarrow.StringArray or str
        Arrays of equal length, and strings broadcast to every row.

    Returns
    -------
    pyarrow.StringArray
        The concatenated strings.
    """
    return pc.binary_join_element_wise(*parts, "")


def num(values: NDArray[Any]) -> pa.Array:
    """Numbers as JSON number strings (ints stay ints, floats use the shortest repr).

    Parameters
    ----------
    values : numpy.ndarray of int or float
        The numbers.

    Returns
    -------
    pyarrow.StringArray
        One number string per value.
    """
    return pc.cast(pa.array(values), pa.string())
