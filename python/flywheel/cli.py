"""The flywheel command line: ``run | simulate | label | summary | export | evaluate | report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
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
    memory_limit = "256MB"  # the library (LabelJobConfig) leaves DuckDB's own limit alone
    group = parser.add_argument_group(
        "label model",
        "Any votes table works: one row per output, an id column, optionally a task column, "
        "and one INTEGER column per labeling function (name starting with --lf-prefix) "
        "voting 1 (good), 0 (bad) or -1 (abstain). With a task column and a task registry "
        "(--tasks-table), a task's LFs are the columns starting with its lf_prefix; without "
        "a registry (--tasks-table '') every task uses every LF column; without a task "
        "column (--task-column '') the whole table is one task named --task-name.",
    )
    group.add_argument("--label-seed", type=int, default=123, help="label model seed")
    group.add_argument("--epochs", type=int, default=500, help="label model epochs")
    group.add_argument(
        "--class-balance", type=_class_balance, default="uniform",
        help="prior P(good): 'uniform' (default), 'ratings' (from explicit ratings) or a number",
    )  # fmt: skip
    group.add_argument(
        "--min-rows", type=int, default=50, help="refuse to fit a task with fewer outputs"
    )
    group.add_argument(
        "--task", dest="tasks", action="append", default=None,
        help="fit only this label task (repeatable; default: every task)",
    )  # fmt: skip
    group.add_argument(
        "--votes-table", default="fct_lf_votes",
        help="table of LF votes, one row per output (default: fct_lf_votes)",
    )  # fmt: skip
    group.add_argument(
        "--tasks-table", default="label_tasks",
        help="task registry with label_task and lf_prefix columns (default: label_tasks; "
        "'' for none: every task uses every LF column)",
    )  # fmt: skip
    group.add_argument(
        "--id-column", default="output_id",
        help="output id column of the votes table (default: output_id)",
    )  # fmt: skip
    group.add_argument(
        "--task-column", default="label_task",
        help="column naming each row's label task (default: label_task; '' for none: the "
        "whole table is one task, see --task-name)",
    )  # fmt: skip
    group.add_argument(
        "--task-name", default="default",
        help="the task's name when there is no task column (default: default)",
    )  # fmt: skip
    group.add_argument(
        "--lf-prefix", default="lf_",
        help="LF columns are those whose names start with this (default: lf_)",
    )  # fmt: skip
    group.add_argument(
        "--gold-column", default="explicit_label",
        help="explicit rating column, 1 good / 0 bad / NULL (default: explicit_label; '' for "
        "none); used by --class-balance ratings and the *_vs_ratings metrics",
    )  # fmt: skip
    group.add_argument(
        "--memory-limit", default=memory_limit,
        help=f"DuckDB memory_limit while labelling (default: {memory_limit}; 'none' "
        "for DuckDB's own, 80%% of RAM). The job reads one row per distinct vote pattern; "
        "the limit stops DuckDB from caching the whole scanned votes table, so memory does "
        "not grow with its size (DuckDB spills to disk if it ever needs more)",
    )  # fmt: skip


def _label_config(args: argparse.Namespace, schema: str):  # noqa: ANN202
    from flywheel.label_job import LabelJobConfig

    return LabelJobConfig(
        schema=schema,
        votes_table=args.votes_table,
        tasks_table=args.tasks_table or None,
        id_column=args.id_column,
        task_column=args.task_column or None,
        task_name=args.task_name,
        lf_prefix=args.lf_prefix,
        gold_column=args.gold_column or None,
        seed=args.label_seed,
        n_epochs=args.epochs,
        class_balance=args.class_balance,
        min_rows=args.min_rows,
        tasks=tuple(args.tasks) if args.tasks else None,
        memory_limit=None
        if args.memory_limit.strip().lower() in ("", "none")
        else args.memory_limit.strip(),
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

    export = commands.add_parser(
        "export", help="write training or eval examples as JSONL (chat shape) or parquet"
    )
    _add_project_options(export)
    export.add_argument("out", type=Path, help="output file (.jsonl or .parquet)")
    export.add_argument("--format", dest="fmt", choices=["jsonl", "parquet"], default=None,
                        help="default: from the file suffix")  # fmt: skip
    export.add_argument("--dataset", choices=["train", "eval"], default="train",
                        help="training_examples (default) or eval_examples")  # fmt: skip
    export.add_argument("--task", default=None, help="only this label task")
    export.add_argument("--model-version", default=None, help="only this model version")
    export.add_argument("--since", type=date.fromisoformat, default=None,
                        help="first day shown, YYYY-MM-DD (inclusive)")  # fmt: skip
    export.add_argument("--until", type=date.fromisoformat, default=None,
                        help="last day shown, YYYY-MM-DD (inclusive)")  # fmt: skip
    export.add_argument("--min-confidence", type=float, default=None,
                        help="only labels at least this sure (0..1)")  # fmt: skip

    evaluate = commands.add_parser(
        "evaluate",
        help="train one classifier on ratings, majority vote and probabilistic labels; "
        "score each on held-out truth",
    )
    _add_project_options(evaluate)
    evaluate.add_argument("--truth", type=Path, required=True, help="per-output truth parquet")
    evaluate.add_argument("--seed", type=int, default=0, help="classifier seed")
    evaluate.add_argument("--bag-of-words", action="store_true",
                          help="add hashed bag-of-words text features (slow)")  # fmt: skip

    report = commands.add_parser("report", help="write a self-contained HTML report")
    _add_project_options(report)
    report.add_argument("--out", type=Path, default=Path("flywheel_report.html"))
    report.add_argument("--truth", type=Path, default=None,
                        help="also score labels and calibration against this truth")  # fmt: skip
    report.add_argument("--evaluate", action="store_true",
                        help="include `flywheel evaluate`'s table (needs --truth)")  # fmt: skip
    report.add_argument("--seed", type=int, default=0, help="evaluate's classifier seed")
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
        if args.command == "summary":
            print(format_summary(summarize(con, project.schema, args.truth)))
        elif args.command == "export":
            from flywheel.export import export_examples

            n = export_examples(
                con,
                project.schema,
                args.out,
                fmt=args.fmt,
                dataset=args.dataset,
                task=args.task,
                model_version=args.model_version,
                since=args.since,
                until=args.until,
                min_confidence=args.min_confidence,
            )
            print(f"wrote {n:,} {args.dataset} examples to {args.out}")
        elif args.command == "evaluate":
            from flywheel.evaluate import evaluate, format_evaluation

            result = evaluate(
                con, project.schema, args.truth, seed=args.seed, bag_of_words=args.bag_of_words
            )
            print(format_evaluation(result))
        else:
            from flywheel.report import render_report

            evaluation = None
            if args.evaluate:
                if args.truth is None:
                    raise FlywheelError("report --evaluate needs --truth (the per-output truth)")
                from flywheel.evaluate import evaluate

                evaluation = evaluate(con, project.schema, args.truth, seed=args.seed)
            path = render_report(
                con, project.schema, args.out, truth_path=args.truth, evaluation=evaluation
            )
            print(f"wrote {path}")
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
