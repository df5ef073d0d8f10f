"""The whole job, end to end: events -> dbt (votes) -> label model -> dbt (labels) -> summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flywheel.dbt import run_dbt
from flywheel.errors import FlywheelError
from flywheel.label_job import LabelJobConfig, TaskRun, run_label_job
from flywheel.project import Project
from flywheel.summary import TaskSummary, summarize

SAMPLE_DIR = Path("data") / "sample"
#: selectors.yml: what the label job reads, and what is built from its tables
BEFORE_LABELS, AFTER_LABELS = "before_labels", "after_labels"


@dataclass(frozen=True)
class PipelineResult:
    """What one end-to-end run produced."""

    events_path: Path
    truth_path: Path | None
    runs: list[TaskRun]
    summaries: list[TaskSummary]


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
    """Run everything on the project's DuckDB warehouse.

    Parameters
    ----------
    project
        The resolved project (see :func:`flywheel.project.load_project`).
    events_path
        Raw events (parquet, csv or jsonl). None: simulate ``n_events`` sample events into
        ``data/sample/`` under the project, with their truth file.
    truth_path
        Per-output truth (``output_id``, ``is_good``) to score the labels against; defaults to
        the simulator's when it simulated.
    n_events, seed
        Size and seed of the simulated sample.
    label_config
        Label job settings (schema defaults to the project's target schema).
    echo
        Where progress lines go.
    """
    started = time.monotonic()

    def step(message: str) -> None:
        echo(f"[{time.monotonic() - started:6.1f}s] {message}")

    if events_path is None:
        from flywheel.simulate import simulate

        step(f"simulating ~{n_events:,} sample events (seed {seed})")
        sim = simulate(project.root / SAMPLE_DIR, n_events=n_events, seed=seed)
        step(
            f"wrote {sim.n_rows:,} raw rows for {sim.n_outputs:,} outputs "
            f"({sim.n_duplicates:,} duplicate deliveries, {sim.n_malformed:,} malformed) "
            f"to {sim.events_path}"
        )
        events_path, truth_path = sim.events_path, truth_path or sim.truth_path
    elif not events_path.is_file():
        raise FlywheelError(f"events file {events_path} not found")

    dbt_vars = {"flywheel__events_path": str(events_path.resolve())}
    step(f"dbt build: staging, sessions, signals, votes -> {project.db_path}")
    run_dbt(project, ["build", "--selector", BEFORE_LABELS], dbt_vars=dbt_vars, echo=echo)

    config = label_config or LabelJobConfig(schema=project.schema)
    step("label job: fitting one label model per task on vote patterns")
    con = project.connect()
    try:
        runs = run_label_job(con, config)
    finally:
        con.close()
    for run in runs:
        step(
            f"  {run.label_task}: {run.n_rows:,} outputs, {run.n_patterns:,} patterns, "
            f"{run.n_lfs} LFs, loss {run.train_loss:.2e}"
        )

    step("dbt build: probabilistic labels and what depends on them")
    run_dbt(project, ["build", "--selector", AFTER_LABELS], dbt_vars=dbt_vars, echo=echo)

    con = project.connect()
    try:
        summaries = summarize(con, project.schema, truth_path)
    finally:
        con.close()
    step("done")
    return PipelineResult(events_path, truth_path, runs, summaries)
