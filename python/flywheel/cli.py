"""The flywheel command line: ``flywheel run | simulate | label | summary``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from flywheel import __version__
from flywheel.errors import FlywheelError


def _class_balance(value: str) -> str | float:
    if value in {"uniform", "ratings"}:
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 'uniform', 'ratings' or P(good) as a number in (0, 1)"
        ) from None


def _add_project_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-dir", type=Path, default=None,
        help="the flywheel dbt project (default: the nearest dbt_project.yml at or above cwd)",
    )  # fmt: skip
    parser.add_argument(
        "--db", type=Path, default=None,
        help="DuckDB warehouse file (default: $FLYWHEEL_DUCKDB_PATH, else profiles.yml's path)",
    )  # fmt: skip


def _add_label_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label-seed", type=int, default=123, help="label model seed")
    parser.add_argument("--epochs", type=int, default=500, help="label model epochs")
    parser.add_argument(
        "--class-balance", type=_class_balance, default="uniform",
        help="prior P(good): 'uniform' (default), 'ratings' (from explicit ratings) or a number",
    )  # fmt: skip
    parser.add_argument(
        "--min-rows", type=int, default=50, help="refuse to fit a task with fewer outputs"
    )
    parser.add_argument(
        "--task", dest="tasks", action="append", default=None,
        help="fit only this label task (repeatable; default: every task in label_tasks)",
    )  # fmt: skip
    parser.add_argument("--votes-table", default="fct_lf_votes", help="table of LF votes")
    parser.add_argument("--tasks-table", default="label_tasks", help="label task registry")


def _label_config(args: argparse.Namespace, schema: str):  # noqa: ANN202
    from flywheel.label_job import LabelJobConfig

    return LabelJobConfig(
        schema=schema,
        votes_table=args.votes_table,
        tasks_table=args.tasks_table,
        seed=args.label_seed,
        n_epochs=args.epochs,
        class_balance=args.class_balance,
        min_rows=args.min_rows,
        tasks=tuple(args.tasks) if args.tasks else None,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flywheel",
        description="Implicit feedback from an AI product's events -> probabilistic labels.",
    )
    parser.add_argument("--version", action="version", version=f"flywheel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="simulate sample events (unless --events), build, label, summarise"
    )
    _add_project_options(run)
    run.add_argument("--events", type=Path, default=None, help="raw events: parquet, csv or jsonl")
    run.add_argument(
        "--truth", type=Path, default=None,
        help="per-output truth parquet (output_id, is_good) to score labels against",
    )  # fmt: skip
    run.add_argument("--n-events", type=int, default=200_000, help="size of the simulated sample")
    run.add_argument("--seed", type=int, default=7, help="simulator seed")
    _add_label_options(run)

    sim = commands.add_parser("simulate", help="write a simulated event stream and its truth")
    sim.add_argument("--out", type=Path, default=Path("data/sample"), help="output directory")
    sim.add_argument("--n-events", type=int, default=200_000)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--days", type=int, default=14)
    sim.add_argument("--format", dest="fmt", choices=["parquet", "csv", "jsonl"], default="parquet")

    label = commands.add_parser("label", help="fit the label models on the built vote table")
    _add_project_options(label)
    _add_label_options(label)

    summary = commands.add_parser("summary", help="print the per-task label summary")
    _add_project_options(summary)
    summary.add_argument("--truth", type=Path, default=None, help="score against this truth file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a problem the user can fix)."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except FlywheelError as exc:
        print(f"flywheel: error: {exc}", file=sys.stderr)
        return 2
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        print(
            "flywheel: error: the warehouse is locked by another process (a dbt run, a "
            f"notebook, the DuckDB CLI?): close it and retry ({exc})",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("flywheel: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from flywheel.project import load_project
    from flywheel.summary import format_summary, summarize

    if args.command == "simulate":
        from flywheel.simulate import simulate

        sim = simulate(
            args.out, n_events=args.n_events, seed=args.seed, days=args.days, fmt=args.fmt
        )
        print(
            f"wrote {sim.n_rows:,} rows ({sim.n_outputs:,} outputs, {sim.n_duplicates:,} "
            f"duplicates, {sim.n_malformed:,} malformed) to {sim.events_path}; "
            f"truth in {sim.truth_path}"
        )
        return 0

    project = load_project(args.project_dir, args.db)
    if args.command == "run":
        from flywheel.pipeline import run_pipeline

        result = run_pipeline(
            project,
            events_path=args.events,
            truth_path=args.truth,
            n_events=args.n_events,
            seed=args.seed,
            label_config=_label_config(args, project.schema),
        )
        print()
        print(format_summary(result.summaries))
        return 0
    if args.command == "label":
        from flywheel.label_job import run_label_job

        con = project.connect()
        try:
            runs = run_label_job(con, _label_config(args, project.schema))
        finally:
            con.close()
        for run in runs:
            print(
                f"{run.label_task}: {run.n_rows:,} outputs, {run.n_patterns:,} patterns, "
                f"{run.n_lfs} LFs -> label_model_patterns (run {run.run_id})"
            )
        print("next: dbt build -s probabilistic_labels+")
        return 0
    con = project.connect(read_only=True)
    try:
        print(format_summary(summarize(con, project.schema, args.truth)))
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
