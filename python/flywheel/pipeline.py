"""The whole job, end to end: events -> dbt (votes) -> label model -> dbt (labels) -> summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import duckdb

from flywheel.dbt import AFTER_LABELS, BEFORE_LABELS, run_dbt
from flywheel.errors import FlywheelError
from flywheel.label_job import LabelJobConfig, TaskRun, run_label_job
from flywheel.lf_flags import LfFlag, read_lf_flags
from flywheel.project import Project
from flywheel.summary import TaskSummary, summarize
from flywheel.warehouse import first_line, qualified, table_exists

if TYPE_CHECKING:
    from flywheel.simulate import SimulationResult

__all__ = [
    "AFTER_LABELS",
    "BEFORE_LABELS",
    "SAMPLE_DIR",
    "PipelineResult",
    "RunConfig",
    "SimulateConfig",
    "golden_quality",
    "run",
    "run_pipeline",
    "simulate_sample",
    "stream_quality",
]

SAMPLE_DIR = Path("data") / "sample"


@dataclass(frozen=True)
class SimulateConfig:
    """What ``flywheel simulate`` writes (see :func:`flywheel.simulate.simulate`).

    Attributes
    ----------
    out
        Directory for the events, truth and actions files (created if missing).
    n_events, seed, days
        Approximate size, seed and length in days of the simulated stream.
    fmt
        Events file format; the truth and actions files are always parquet.
    world
        The simulated world, a name in :data:`flywheel.simulate.WORLDS` (``default``: today's).
    golden_size
        Outputs per surface in the simulated gold set ``golden_labels.csv`` (0: none).
    """

    out: Path = SAMPLE_DIR
    n_events: int = 200_000
    seed: int = 7
    days: int = 14
    fmt: Literal["parquet", "csv", "jsonl"] = "parquet"
    world: str = "default"
    golden_size: int = 200


def simulate_sample(config: SimulateConfig) -> SimulationResult:
    """Write the simulated event stream (and its truth) that ``config`` describes."""
    from flywheel.simulate import simulate

    return simulate(
        config.out,
        n_events=config.n_events,
        seed=config.seed,
        days=config.days,
        fmt=config.fmt,
        world=config.world,
        golden_size=config.golden_size,
    )


@dataclass(frozen=True)
class RunConfig:
    """What ``flywheel run`` does.

    Attributes
    ----------
    events_path
        Raw events (parquet, csv or jsonl). None: simulate ``n_events`` sample events into
        ``data/sample/`` under the project, with their truth file.
    truth_path
        Per-output truth (``output_id``, ``is_good``) to score the labels against; defaults to
        the simulator's when it simulated.
    golden_path
        A gold set (``output_id``, ``label`` 1 / 0, optional ``labeled_by``, ``labeled_at``;
        parquet, csv or jsonl): validated in staging, used to validate the LFs and by the label
        job. None: the dbt var ``flywheel__golden_labels_path`` as configured (no gold by
        default; the simulated ``golden_labels.csv`` is only used when passed).
    n_events, seed
        Size and seed of the simulated sample.
    label
        Label job settings; None: :class:`~flywheel.label_job.LabelJobConfig`'s defaults in
        the project's target schema.
    incremental
        Build only what changed since the last build on this warehouse (the events source grew
        by appended rows). False (the default): ``--full-refresh``, everything from the events
        given, whatever the warehouse held before.
    """

    events_path: Path | None = None
    truth_path: Path | None = None
    golden_path: Path | None = None
    n_events: int = 200_000
    seed: int = 7
    label: LabelJobConfig | None = None
    incremental: bool = False


@dataclass(frozen=True)
class PipelineResult:
    """What one end-to-end run produced."""

    events_path: Path
    truth_path: Path | None
    runs: list[TaskRun]
    summaries: list[TaskSummary]
    lf_flags: list[LfFlag]


def run(
    project: Project, config: RunConfig, *, echo: Callable[[str], None] = print
) -> PipelineResult:
    """Run everything on the project's DuckDB warehouse.

    Simulate (unless ``config.events_path``), ``dbt build --selector before_labels``, the label
    job, ``dbt build --selector after_labels``, then the summary.

    Parameters
    ----------
    project
        The resolved project (see :func:`flywheel.project.load_project`).
    config
        What to read, simulate and fit.
    echo
        Where progress lines go.

    Returns
    -------
    PipelineResult
        The events and truth used, the label job's runs and the per-task summary.
    """
    started = time.monotonic()

    def step(message: str) -> None:
        echo(f"[{time.monotonic() - started:6.1f}s] {message}")

    events_path, truth_path = config.events_path, config.truth_path
    if events_path is None:
        step(f"simulating ~{config.n_events:,} sample events (seed {config.seed})")
        sim = simulate_sample(
            SimulateConfig(project.root / SAMPLE_DIR, n_events=config.n_events, seed=config.seed)
        )
        step(
            f"wrote {sim.n_rows:,} raw rows for {sim.n_outputs:,} outputs "
            f"({sim.n_duplicates:,} duplicate deliveries, {sim.n_malformed:,} malformed) "
            f"to {sim.events_path}"
        )
        events_path, truth_path = sim.events_path, truth_path or sim.truth_path
    elif not events_path.is_file():
        raise FlywheelError(f"events file {events_path} not found")

    dbt_vars = {"flywheel__events_path": str(events_path.resolve())}
    if config.golden_path is not None:
        if not config.golden_path.is_file():
            raise FlywheelError(f"gold labels file {config.golden_path} not found")
        dbt_vars["flywheel__golden_labels_path"] = str(config.golden_path.resolve())
    refresh = [] if config.incremental else ["--full-refresh"]
    step(
        f"dbt build{' (incremental)' if config.incremental else ''}: staging, sessions, "
        f"signals, votes -> {project.db_path}"
    )
    try:
        run_dbt(
            project, ["build", "--selector", BEFORE_LABELS, *refresh], dbt_vars=dbt_vars, echo=echo
        )
    finally:  # also (above all) when the build stopped on a broken stream
        with project.connect() as con:
            lines = [stream_quality(con, project.schema), golden_quality(con, project.schema)]
        for line in lines:
            if line:
                step(line)

    step("label job: fitting one label model per task on vote patterns")
    with project.connect() as con:
        runs = run_label_job(con, config.label or LabelJobConfig(schema=project.schema))
    for task_run in runs:
        step(
            f"  {task_run.label_task}: {task_run.n_rows:,} outputs, "
            f"{task_run.n_patterns:,} patterns, {task_run.n_lfs} LFs, "
            f"loss {task_run.train_loss:.2e}"
        )

    step("dbt build: probabilistic labels and what depends on them")
    run_dbt(project, ["build", "--selector", AFTER_LABELS, *refresh], dbt_vars=dbt_vars, echo=echo)

    with project.connect() as con:
        summaries = summarize(con, project.schema, truth_path)
        lf_flags = read_lf_flags(con, project.schema) or []
    step("done")
    return PipelineResult(events_path, truth_path, runs, summaries, lf_flags)


def stream_quality(con: duckdb.DuckDBPyConnection, schema: str) -> str | None:
    """One line on the event stream, from ``stg_events_quality``; None before it is built.

    ``events: 202,707 rows read: 197,757 valid, 3,942 duplicates, 1,008 rejected
    (occurred_in_future 140, ...)``, then any property the signals need that valid events lack.
    """
    if not table_exists(con, schema, "stg_events_quality"):
        return None
    try:
        rows = con.execute(
            "select metric_kind, metric_name, n_rows, n_of from "
            f"{qualified(schema, 'stg_events_quality')} "
            "order by metric_kind, n_rows desc, metric_name"
        ).fetchall()
    except duckdb.Error as exc:  # the view reads the events: it can fail as the build did
        return f"events: cannot summarise the stream ({first_line(exc)})"
    totals = {name: n for kind, name, n, _ in rows if kind == "total"}
    reasons = ", ".join(f"{name} {n:,}" for kind, name, n, _ in rows if kind == "rejection_reason")
    missing = "; ".join(
        f"{n:,} of {n_of:,} valid {name.replace('.', ' events lack ')}"
        for kind, name, n, n_of in rows
        if kind == "missing_property" and n > 0
    )
    line = (
        f"events: {totals.get('raw_rows', 0):,} rows read: {totals.get('valid', 0):,} valid, "
        f"{totals.get('duplicates', 0):,} duplicates, {totals.get('rejected', 0):,} rejected"
        + (f" ({reasons})" if reasons else "")
    )
    return line + (f"; {missing}" if missing else "")


def golden_quality(con: duckdb.DuckDBPyConnection, schema: str) -> str | None:
    """One line on the gold set, from ``base_golden_labels__validated``; None without gold.

    ``gold: 200 rows read: 198 valid, 0 repeated, 2 rejected (invalid_label 2); 195 match an
    output`` -- a gold label of an output the events do not have is kept but counts nowhere.
    """
    if not table_exists(con, schema, "base_golden_labels__validated"):
        return None
    validated = qualified(schema, "base_golden_labels__validated")
    try:
        (n_raw, n_valid, n_repeated, n_rejected), *_ = con.execute(
            "select count(*), count(case when rejection_reason is null and not is_duplicate "
            "then 1 end), count(case when is_duplicate then 1 end), count(rejection_reason) "
            f"from {validated}"
        ).fetchall()
        reasons = con.execute(
            f"select rejection_reason, count(*) as n from {validated} "
            "where rejection_reason is not null group by all order by n desc, rejection_reason"
        ).fetchall()
        matched = None
        if table_exists(con, schema, "fct_lf_votes"):
            matched = con.execute(
                f"select count(*) from {qualified(schema, 'stg_golden_labels')} as g "
                f"semi join {qualified(schema, 'fct_lf_votes')} as v on g.output_id = v.output_id"
            ).fetchall()[0][0]
    except duckdb.Error as exc:  # the view reads the gold file: it can fail as the build did
        return f"gold: cannot summarise the gold set ({first_line(exc)})"
    if n_raw == 0:
        return None
    line = (
        f"gold: {n_raw:,} rows read: {n_valid:,} valid, {n_repeated:,} repeated, "
        f"{n_rejected:,} rejected"
        + (f" ({', '.join(f'{r} {n:,}' for r, n in reasons)})" if reasons else "")
    )
    return line + (f"; {matched:,} match an output" if matched is not None else "")


def run_pipeline(
    project: Project,
    *,
    events_path: Path | None = None,
    truth_path: Path | None = None,
    n_events: int = 200_000,
    seed: int = 7,
    label_config: LabelJobConfig | None = None,
    echo: Callable[[str], None] = print,
) -> PipelineResult:
    """:func:`run` with the fields of a :class:`RunConfig` as keyword arguments."""
    config = RunConfig(
        events_path=events_path,
        truth_path=truth_path,
        n_events=n_events,
        seed=seed,
        label=label_config,
    )
    return run(project, config, echo=echo)
