"""Deterministic, vectorized simulator of an AI product's implicit-feedback event stream.

The simulated product has three surfaces -- a code assistant (``code``), a chat assistant
(``chat``) and a search engine (``search``). Users send requests, every request yields exactly
one model output, and users react to outputs through noisy implicit signals (accepts, edits,
reverts, copies, clicks, rephrases, abandonment, ...) and, rarely, explicit ratings. Because the
simulator draws the *true* quality of every output first and derives behaviour from it, labels
inferred later from the events can be scored against ``truth.parquet``.

Files written by :func:`simulate` into ``out_dir``:

``events.<parquet|csv|jsonl>``
    The raw event stream, one row per delivered event, every column a nullable string (see
    ``EVENT_COLUMNS``). It contains realistic delivery faults: duplicated rows (identical
    except possibly ``received_at``), late arrivals and deliberately malformed rows, and an
    instrumentation regression: in the last three days the chat client drops most of its
    ``copy`` events (fate ``dropped``), the kind of drift ``drift_daily`` exists to catch.
``truth.parquet``
    One row per output: its latent quality and whether it is good. The pipeline never reads it.
``actions.parquet``
    One row per generated event *before* delivery faults, with its fate, so tests can recompute
    every signal from what really happened.

Modules
-------
``vocab``
    The contract's vocabularies, their integer codes, time units.
``params``
    Every knob of the simulated world (:class:`~flywheel.simulate.params.WorldParams`), and
    the named worlds (:data:`~flywheel.simulate.params.WORLDS`) where an assumption of the
    labeling functions fails.
``population``
    Users and sessions. ``behaviour``: the session loop (requests, latent quality, what
    comes next). ``reactions``: the signals a user gives one output. ``text``: vocabulary,
    topics, request and output texts.
``faults``
    Clock skew, duplicates, late arrivals, malformed rows, dropped events.
``encoding``
    Arrays -> the event contract, truth and actions tables. ``writers``: the files.
    ``strings``: vectorized string kernels. ``draws``: shared random draws.
``chunk``, ``run``
    One chunk of users end to end; :func:`simulate` and its chunk loop.

Notes
-----
Generation is numpy-vectorized: users are processed in chunks, sessions of a chunk are
advanced one request position at a time (a loop over at most ``max_steps`` positions, each
step vectorized over all still-active sessions), and all strings are built with numpy byte
matrices or pyarrow compute kernels. Every chunk uses its own ``numpy.random.Generator`` seeded
with ``[seed, chunk_index]``, so the same arguments always produce byte-identical files.

Truth definition: an output's latent score is ``z = intercept(surface, version) +
effect(user kind) - 0.6 * difficulty + N(0, 1)`` (plus a small bonus for rephrased requests);
``true_quality = sigmoid(z)`` and ``is_good = true_quality > 0.5`` (a deterministic threshold,
not a Bernoulli draw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .params import DEFAULT_WORLD as DEFAULT_WORLD
from .params import WORLDS as WORLDS
from .params import WorldParams as WorldParams
from .vocab import (
    EVENT_COLUMNS,
    EVENT_TYPES,
    MALFORMED_REASONS,
    REQUEST_KINDS,
    SURFACES,
    USER_KINDS,
)
from .vocab import FATES as FATES
from .vocab import MODEL_VERSIONS as MODEL_VERSIONS

if TYPE_CHECKING:
    from .run import SimulationResult, simulate

# ``__all__`` is unchanged by the split; FATES, MODEL_VERSIONS, WorldParams, DEFAULT_WORLD and
# WORLDS (the named worlds) are importable from here too.
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


def __getattr__(name: str) -> object:
    """``simulate`` and ``SimulationResult``, imported on first use.

    The parameters and vocabularies above need neither numpy nor pyarrow, so the command
    line can list the worlds in its help without importing the simulator itself.
    """
    if name in ("SimulationResult", "simulate"):
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
