"""The public entry point: argument checks, the chunk loop and writing the files."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flywheel.errors import FlywheelError

from .chunk import Chunk, simulate_chunk
from .golden import DEFAULT_GOLDEN_SIZE, GOLDEN_FILE, write_golden_sample
from .params import WorldParams, world_params
from .text import Lexicon, build_lexicon
from .vocab import DAY
from .writers import FORMATS, OutputWriter

__all__ = ["SimulationResult", "simulate"]

_EST_EVENTS_PER_USER = 130.0  # prior for the first chunk's size; later chunks use the observed rate
_MAX_CHUNK_USERS = 2500
_MAX_CHUNKS = 10_000


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
    golden_path : Path or None
        ``golden_labels.csv``: a uniform sample of each surface's outputs with their true
        label, as an annotation queue would return it (``flywheel run --golden``); None when
        ``golden_size`` is 0.
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
    golden_path: Path | None
    n_rows: int
    n_outputs: int
    n_duplicates: int
    n_malformed: int


def _check_arguments(
    n_events: object, seed: object, days: object, start: object, fmt: object
) -> tuple[int, int, int, int]:
    """Validate the arguments of :func:`simulate`.

    Returns
    -------
    n_events, seed, days, start_ms : int
        The arguments as Python ints, ``start`` as epoch milliseconds (UTC).

    Raises
    ------
    FlywheelError
        If an argument is out of range or of the wrong type.
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
    if fmt not in FORMATS:
        raise FlywheelError(f"fmt must be one of {sorted(FORMATS)}, got {fmt!r}")
    start_utc = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    start_ms = int(round(start_utc.timestamp() * 1000))
    if not 0 <= start_ms <= 253_402_300_799_000 - (int(days) + 401) * DAY:
        raise FlywheelError(f"start must lie between 1970 and 9999, got {start!r}")
    return int(n_events), int(seed), int(days), start_ms


def _output_paths(out_dir: Path, fmt: str) -> tuple[Path, Path, Path]:
    """Create ``out_dir`` and return the events, truth and actions paths in it."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FlywheelError(f"cannot create output directory {out_dir}: {exc}") from exc
    return (
        out_dir / f"events.{FORMATS[fmt]}",
        out_dir / "truth.parquet",
        out_dir / "actions.parquet",
    )


def _count(chunk: Chunk, counters: dict[str, int], totals: dict[str, int]) -> None:
    """Advance the global id ``counters`` and the result ``totals`` past ``chunk``."""
    counters["user"] += chunk.n_users_used
    counters["session"] += chunk.n_sessions
    counters["request"] += chunk.n_outputs
    counters["event"] += chunk.n_events
    totals["rows"] += chunk.n_rows
    totals["outputs"] += chunk.n_outputs
    totals["duplicates"] += chunk.n_duplicates
    totals["malformed"] += chunk.n_malformed


def _run_chunks(
    writer: OutputWriter,
    params: WorldParams,
    lexicon: Lexicon,
    n_events: int,
    seed: int,
    days: int,
    start_ms: int,
) -> dict[str, int]:
    """Simulate chunks of users until ``n_events`` events and hand them to ``writer``.

    Chunk ``k`` is written in a background thread while chunk ``k + 1`` is generated. Every
    chunk uses its own generator ``[seed, chunk_index]``; its size follows the event rate
    observed so far.

    Returns
    -------
    dict of str to int
        Totals ``rows``, ``outputs``, ``duplicates`` and ``malformed``.
    """
    est_users = int(np.ceil(n_events / _EST_EVENTS_PER_USER * 2)) + 100
    user_width = max(6, len(str(est_users)))
    counters = {"user": 0, "session": 0, "request": 0, "event": 0}
    totals = {"rows": 0, "outputs": 0, "duplicates": 0, "malformed": 0}
    rate, remaining = _EST_EVENTS_PER_USER, n_events
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        chunk_index = 0
        while remaining > 0:
            n_users = int(np.clip(np.ceil(remaining / rate * 1.15) + 4, 8, _MAX_CHUNK_USERS))
            if counters["user"] + n_users >= 10**user_width:
                raise FlywheelError("too many users for the id width; lower n_events")
            rng = np.random.default_rng([seed, chunk_index])
            chunk: Chunk = simulate_chunk(
                rng, params, lexicon, n_users, days, remaining, start_ms, seed, counters, user_width
            )
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.write, chunk.events, chunk.truth, chunk.actions)
            _count(chunk, counters, totals)
            remaining -= chunk.n_events
            if counters["user"] > 0 and counters["event"] > 0:
                rate = counters["event"] / counters["user"]
            chunk_index += 1
            if chunk_index > _MAX_CHUNKS:
                raise FlywheelError("simulation produced too few events; increase days")
        if pending is not None:
            pending.result()
    return totals


def simulate(
    out_dir: Path,
    *,
    n_events: int = 200_000,
    seed: int = 7,
    days: int = 14,
    start: datetime = datetime(2026, 11, 1),  # noqa: B008 - immutable default
    fmt: str = "parquet",
    world: str = "default",
    golden_size: int = DEFAULT_GOLDEN_SIZE,
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
    world : str, default "default"
        The simulated world, a key of :data:`~flywheel.simulate.params.WORLDS`: ``default``
        (today's; the same files as without the argument) or one where an assumption of the
        labeling functions fails (``exploratory_search``, ``position_bias``,
        ``non_monotone_dwell``, ``retention_unrelated``, ``rare_good``). The files have the
        same shape in every world.
    golden_size : int, default 200
        Outputs of each surface in ``golden_labels.csv``, drawn uniformly (seeded) from the
        truth; 0 writes none. The other files do not depend on it.

    Returns
    -------
    SimulationResult
        Paths of the written files and row counts.

    Raises
    ------
    FlywheelError
        If an argument is out of range or of the wrong type, or ``world`` is not a known name.

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
    n_events, seed, days, start_ms = _check_arguments(n_events, seed, days, start, fmt)
    if isinstance(golden_size, bool) or not isinstance(golden_size, int) or golden_size < 0:
        raise FlywheelError(f"golden_size must be a non-negative integer, got {golden_size!r}")
    params = world_params(world)
    events_path, truth_path, actions_path = _output_paths(out_dir, fmt)
    lexicon = build_lexicon(seed, params.text)
    writer = OutputWriter(events_path, truth_path, actions_path, fmt)
    try:
        totals = _run_chunks(writer, params, lexicon, n_events, seed, days, start_ms)
    finally:
        writer.close()
    golden_path = Path(out_dir) / GOLDEN_FILE
    if golden_size:
        write_golden_sample(truth_path, golden_path, golden_size, seed)
    else:
        golden_path.unlink(missing_ok=True)  # a stale sample would not match these outputs
    return SimulationResult(
        events_path=events_path,
        truth_path=truth_path,
        actions_path=actions_path,
        golden_path=golden_path if golden_size else None,
        n_rows=totals["rows"],
        n_outputs=totals["outputs"],
        n_duplicates=totals["duplicates"],
        n_malformed=totals["malformed"],
    )
