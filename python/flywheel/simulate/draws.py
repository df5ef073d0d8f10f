"""Random draws shared by the behaviour and fault models."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .params import Delay
from .vocab import SECOND

__all__ = ["categorical", "delay_ms", "lognormal_ms"]


def categorical(rng: np.random.Generator, probs: NDArray[np.float64], n: int) -> NDArray[np.intp]:
    """Draw ``n`` category indices with the given (not necessarily normalized) probabilities.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source (one uniform per draw).
    probs : numpy.ndarray of float
        Non-negative weight of every category.
    n : int
        Number of draws.

    Returns
    -------
    numpy.ndarray of intp
        Category indices in ``[0, len(probs))``.
    """
    cdf = np.cumsum(probs)
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    out: NDArray[np.intp] = np.minimum(idx, len(probs) - 1)
    return out


def lognormal_ms(
    rng: np.random.Generator, median_s: ArrayLike, sigma: float, lo_s: float, hi_s: float, n: int
) -> NDArray[np.int64]:
    """Log-normal durations in integer milliseconds, clipped to ``[lo_s, hi_s]`` seconds.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source (one standard normal per draw).
    median_s : float or numpy.ndarray of float
        Median in seconds, a scalar or one per draw.
    sigma : float
        Standard deviation of the log duration.
    lo_s, hi_s : float
        Clipping bounds in seconds.
    n : int
        Number of draws.

    Returns
    -------
    numpy.ndarray of int64
        Durations in milliseconds.
    """
    s: NDArray[Any] = np.exp(np.log(median_s) + sigma * rng.standard_normal(n))
    out: NDArray[np.int64] = (np.clip(s, lo_s, hi_s) * SECOND).astype(np.int64)
    return out


def delay_ms(
    rng: np.random.Generator, delay: Delay, good: NDArray[np.bool_] | None, n: int
) -> NDArray[np.int64]:
    """Draw ``n`` durations of ``delay`` in integer milliseconds.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source (one standard normal per draw).
    delay : Delay
        The distribution; a (good, bad) median is picked per draw by ``good``.
    good : numpy.ndarray of bool or None
        Whether every output is good; only used by a (good, bad) median.
    n : int
        Number of draws.

    Returns
    -------
    numpy.ndarray of int64
        Durations in milliseconds.
    """
    median: ArrayLike = delay.median_s
    if isinstance(delay.median_s, tuple):
        if good is None:
            raise ValueError("a (good, bad) median needs the outputs' quality")
        median = np.where(good, *delay.median_s)
    return lognormal_ms(rng, median, delay.sigma, delay.lo_s, delay.hi_s, n)
