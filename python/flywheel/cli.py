"""The flywheel command line: ``run | simulate | label | summary | export | evaluate | report``.

Every command is three small steps: argparse options -> one frozen config object (a
``_<command>_config`` function) -> one API call (a handler in :data:`COMMANDS`) -> a printed
line or table. Heavy modules (dbt, torch, scikit-learn) are imported by the handler that needs
them, so ``flywheel --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from flywheel import __version__
from flywheel.errors import FlywheelError
from flywheel.simulate import WORLDS  # names only: the simulator itself is imported on use
from flywheel.warehouse import first_line, memory_limit

if TYPE_CHECKING:
    from flywheel.evaluate import EvaluateConfig
    from flywheel.export import ExportConfig
    from flywheel.label_job import LabelJobConfig, TaskRun
    from flywheel.pipeline import RunConfig, SimulateConfig
    from flywheel.project import Project
    from flywheel.report import ReportConfig
    from flywheel.summary import SummaryConfig

#: DuckDB memory_limit of ``flywheel label`` (the library, LabelJobConfig, leaves it alone)
LABEL_MEMORY_LIMIT = "256MB"
#: DuckDB memory_limit of the commands that read the warehouse (summary, export, evaluate,
#: report): they aggregate in SQL and stream, so the limit only stops DuckDB from caching
#: every table they scan (memory flat in the number of outputs; DuckDB spills if it must)
READ_MEMORY_LIMIT = "512MB"

Handler = Callable[[argparse.Namespace], int]


def _class_balance(value: str) -> str | float:
    if value in {"uniform", "ratings", "golden"}:
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 'uniform', 'ratings', 'golden' or P(good) as a number in (0, 1)"
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


def _add_read_memory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-limit", default=READ_MEMORY_LIMIT,
        help=f"DuckDB memory_limit of this command (default: {READ_MEMORY_LIMIT}; 'none' for "
        "the profile's). It aggregates in SQL and streams what leaves the warehouse; the limit "
        "keeps DuckDB from caching every table it scans, so memory does not grow with them",
    )  # fmt: skip


def _add_label_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "label model",
        "Any votes table works: one row per output, an id column, optionally a task column, "
        "and one INTEGER column per labeling function (name starting with --lf-prefix) "
        "voting 1 (good), 0 (bad) or -1 (abstain). With a task column and an LF registry "
        "(--lf-registry: a table of lf_name, label_task), a task's LFs are the registry's "
        "rows for it; without a registry (--lf-registry '') every task uses every LF column; "
        "without a task column (--task-column '') the whole table is one task named "
        "--task-name.",
    )
    group.add_argument(
        "--model", default="auto", metavar="MODEL",
        help="label model: snorkel (Snorkel's LabelModel), dawid-skene (Dawid-Skene "
        "EM, learns P(good) itself, clamps the gold set), majority (share of good votes, 0.5 "
        "without votes) or auto (per task, the lowest out-of-fold log-loss on the gold set: "
        "Snorkel at 50-1000 epochs with the prior from the gold set, Dawid-Skene with its "
        "prior learned or from the gold set, majority; snorkel with a uniform prior without "
        "gold). Default: auto",
    )  # fmt: skip
    group.add_argument("--label-seed", type=int, default=123, help="label model seed (snorkel)")
    group.add_argument("--epochs", type=int, default=500, help="label model epochs (snorkel)")
    group.add_argument(
        "--class-balance", type=_class_balance, default="uniform",
        help="prior P(good): 'uniform' (default), 'ratings' (from explicit ratings), 'golden' "
        "(from the gold set: (n_good + 0.5) / (n_gold + 1) per task; also fixes Dawid-Skene's "
        "prior) or a number (snorkel only)",
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
        "--lf-registry", default="lf_registry",
        help="LF registry table with lf_name and label_task columns: which LFs belong to which "
        "task (default: lf_registry, built by dbt; '' for none: every task uses every LF "
        "column named --lf-prefix*)",
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
        "--golden-column", default="golden_label",
        help="gold set column, a clean human label: 1 good / 0 bad / NULL (default: "
        "golden_label, no gold set if the votes table has none; '' for none); Dawid-Skene "
        "clamps it, --model auto selects by it, every run records its golden_* metrics",
    )  # fmt: skip
    group.add_argument(
        "--exclude-lf", dest="exclude_lfs", action="append", default=None, metavar="NAME",
        help="leave this LF out of the fit (repeatable); registry rows with in_label_model "
        "false are always left out",
    )  # fmt: skip
    group.add_argument(
        "--exclude-flagged", action="store_true",
        help="leave out, per task, the LFs lf_validation flags (is_flagged; run dbt build first)",
    )  # fmt: skip
    group.add_argument(
        "--majority-column", default="p_good_majority",
        help="the votes table's majority-vote P(good) column (default: p_good_majority; '' "
        "for none: majority_accuracy_vs_ratings is then NULL)",
    )  # fmt: skip
    group.add_argument(
        "--memory-limit", default=LABEL_MEMORY_LIMIT,
        help=f"DuckDB memory_limit while labelling (default: {LABEL_MEMORY_LIMIT}; 'none' "
        "for DuckDB's own, 80%% of RAM). The job reads one row per distinct vote pattern; "
        "the limit stops DuckDB from caching the whole scanned votes table, so memory does "
        "not grow with its size (DuckDB spills to disk if it ever needs more)",
    )  # fmt: skip


def _add_run_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run", help="simulate sample events (unless --events), build, label, summarise"
    )
    _add_project_options(run)
    run.add_argument("--events", type=Path, default=None, help="raw events: parquet, csv or jsonl")
    run.add_argument(
        "--truth", type=Path, default=None,
        help="per-output truth file (output_id, is_good) to score labels against",
    )  # fmt: skip
    run.add_argument(
        "--golden", type=Path, default=None, metavar="FILE",
        help="gold set: a few outputs a person labelled (output_id, label 1/0, optional "
        "labeled_by, labeled_at; parquet, csv or jsonl); validates the LFs (lf_validation) and "
        "is used by the label job. The simulated sample writes one: data/sample/golden_labels.csv",
    )  # fmt: skip
    run.add_argument("--n-events", type=int, default=200_000, help="size of the simulated sample")
    run.add_argument("--seed", type=int, default=7, help="simulator seed")
    run.add_argument(
        "--incremental", action="store_true",
        help="build only what changed since the last build on this warehouse (the events source "
        "grew: rows appended, none replaced); default: rebuild everything from the events given",
    )  # fmt: skip
    _add_label_options(run)


def _add_simulate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("simulate", help="write a simulated event stream and its truth")
    sim.add_argument("--out", type=Path, default=Path("data/sample"), help="output directory")
    sim.add_argument("--n-events", type=int, default=200_000, help="approximate raw rows")
    sim.add_argument("--seed", type=int, default=7, help="simulator seed")
    sim.add_argument("--days", type=int, default=14, help="days of traffic")
    sim.add_argument("--format", dest="fmt", choices=["parquet", "csv", "jsonl"], default="parquet")
    sim.add_argument(
        "--world", default="default", metavar="NAME",
        help="the simulated world, one of: " + ", ".join(WORLDS) + " (default: default, "
        "today's); the others break an assumption of the labeling functions",
    )  # fmt: skip
    sim.add_argument(
        "--golden-size", type=int, default=200, metavar="N",
        help="outputs per surface in the simulated gold set golden_labels.csv, drawn "
        "uniformly (0: none)",
    )  # fmt: skip


def _add_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export", help="write training or eval examples as JSONL (chat shape) or parquet"
    )
    _add_project_options(export)
    _add_read_memory_option(export)
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
    export.add_argument(
        "--no-text", dest="with_text", action="store_false",
        help="leave out request_text and output_text (JSONL: no messages key; the other keys "
        "of the same examples stay)",
    )  # fmt: skip
    export.add_argument(
        "--with-user-id", action="store_true",
        help="parquet only: also write user_id, which is left out by default (JSONL never "
        "has it)",
    )  # fmt: skip


def _add_report_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="train one classifier on ratings, majority vote and probabilistic labels; "
        "score each on held-out truth",
    )
    _add_project_options(evaluate)
    _add_read_memory_option(evaluate)
    evaluate.add_argument("--truth", type=Path, required=True, help="per-output truth file")
    evaluate.add_argument("--seed", type=int, default=0, help="classifier seed")
    evaluate.add_argument("--bag-of-words", action="store_true",
                          help="add hashed bag-of-words text features (slow)")  # fmt: skip

    report = commands.add_parser("report", help="write a self-contained HTML report")
    _add_project_options(report)
    _add_read_memory_option(report)
    report.add_argument("--out", type=Path, default=Path("flywheel_report.html"))
    report.add_argument("--truth", type=Path, default=None,
                        help="also score labels and calibration against this truth")  # fmt: skip
    report.add_argument("--evaluate", action="store_true",
                        help="include `flywheel evaluate`'s table (needs --truth)")  # fmt: skip
    report.add_argument("--seed", type=int, default=0, help="evaluate's classifier seed")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="flywheel",
        description="Implicit feedback from an AI product's events -> probabilistic labels.",
    )
    parser.add_argument("--version", action="version", version=f"flywheel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_parser(commands)
    _add_simulate_parser(commands)
    label = commands.add_parser("label", help="fit the label models on the built vote table")
    _add_project_options(label)
    _add_label_options(label)
    summary = commands.add_parser("summary", help="print the per-task label summary")
    _add_project_options(summary)
    _add_read_memory_option(summary)
    summary.add_argument("--truth", type=Path, default=None, help="score against this truth file")
    _add_export_parser(commands)
    _add_report_parsers(commands)
    return parser


# --- one config per command, from its options ---------------------------------------------


def _project(args: argparse.Namespace) -> Project:
    from flywheel.project import load_project

    return load_project(args.project_dir, args.db)


def _memory_limit(value: str) -> str | None:
    value = value.strip()
    return None if value.lower() in ("", "none") else value


def _label_config(args: argparse.Namespace, schema: str) -> LabelJobConfig:
    from flywheel.label_job import LabelJobConfig

    return LabelJobConfig(
        schema=schema,
        votes_table=args.votes_table,
        registry_table=args.lf_registry or None,
        id_column=args.id_column,
        task_column=args.task_column or None,
        task_name=args.task_name,
        lf_prefix=args.lf_prefix,
        gold_column=args.gold_column or None,
        golden_column=args.golden_column or None,
        exclude_lfs=tuple(args.exclude_lfs or ()),
        exclude_flagged=args.exclude_flagged,
        majority_column=args.majority_column or None,
        model=args.model,
        seed=args.label_seed,
        n_epochs=args.epochs,
        class_balance=args.class_balance,
        min_rows=args.min_rows,
        tasks=tuple(args.tasks) if args.tasks else None,
        memory_limit=_memory_limit(args.memory_limit),
    )


def _simulate_config(args: argparse.Namespace) -> SimulateConfig:
    from flywheel.pipeline import SimulateConfig

    return SimulateConfig(
        out=args.out,
        n_events=args.n_events,
        seed=args.seed,
        days=args.days,
        fmt=args.fmt,
        world=args.world,
        golden_size=args.golden_size,
    )


def _run_config(args: argparse.Namespace, schema: str) -> RunConfig:
    from flywheel.pipeline import RunConfig

    return RunConfig(
        events_path=args.events,
        truth_path=args.truth,
        golden_path=args.golden,
        n_events=args.n_events,
        seed=args.seed,
        label=_label_config(args, schema),
        incremental=args.incremental,
    )


def _summary_config(args: argparse.Namespace) -> SummaryConfig:
    from flywheel.summary import SummaryConfig

    return SummaryConfig(truth_path=args.truth)


def _export_config(args: argparse.Namespace) -> ExportConfig:
    from flywheel.export import ExportConfig

    return ExportConfig(
        out=args.out,
        fmt=args.fmt,
        dataset=args.dataset,
        task=args.task,
        model_version=args.model_version,
        since=args.since,
        until=args.until,
        min_confidence=args.min_confidence,
        with_text=args.with_text,
        with_user_id=args.with_user_id,
    )


def _evaluate_config(args: argparse.Namespace) -> EvaluateConfig:
    from flywheel.evaluate import EvaluateConfig

    return EvaluateConfig(truth_path=args.truth, seed=args.seed, bag_of_words=args.bag_of_words)


def _report_config(args: argparse.Namespace) -> ReportConfig:
    from flywheel.report import ReportConfig

    return ReportConfig(out=args.out, truth_path=args.truth, evaluate=args.evaluate, seed=args.seed)


# --- one handler per command: config -> one API call -> output -----------------------------


def _simulate(args: argparse.Namespace) -> int:
    from flywheel.pipeline import simulate_sample

    sim = simulate_sample(_simulate_config(args))
    print(
        f"wrote {sim.n_rows:,} rows ({sim.n_outputs:,} outputs, {sim.n_duplicates:,} "
        f"duplicates, {sim.n_malformed:,} malformed) to {sim.events_path}; "
        f"truth in {sim.truth_path}"
        + (f"; gold set in {sim.golden_path}" if sim.golden_path else "")
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from flywheel.lf_flags import format_lf_flags
    from flywheel.pipeline import run
    from flywheel.summary import format_summary

    project = _project(args)
    result = run(project, _run_config(args, project.schema))
    print()
    print(format_summary(result.summaries))
    flags = format_lf_flags(result.lf_flags)
    if flags:
        print()
        print(flags)
    return 0


def _label(args: argparse.Namespace) -> int:
    from flywheel.dbt import AFTER_LABELS
    from flywheel.label_job import run_label_job

    project = _project(args)
    config = _label_config(args, project.schema)
    with project.connect(create=False) as con:
        runs = run_label_job(con, config)
    for task_run in runs:
        print(
            f"{task_run.label_task}: {task_run.n_rows:,} outputs, {task_run.n_patterns:,} "
            f"patterns, {task_run.n_lfs} LFs -> label_model_patterns (run {task_run.run_id})"
        )
        detail = _label_detail(task_run)
        if detail:
            print(f"  {detail}")
    print(f"next: dbt build --selector {AFTER_LABELS}")
    return 0


def _label_detail(task_run: TaskRun) -> str:
    """How the model was chosen and scored on gold, and which LFs were left out ('' if none)."""
    parts = []
    if task_run.model_selected_by != "config" or task_run.n_golden:
        parts.append(f"{task_run.label_model} (by {task_run.model_selected_by})")
    if task_run.golden_log_loss is not None:
        oof = ", out of fold" if task_run.label_model == "dawid-skene" else ""
        parts.append(
            f"gold log-loss {task_run.golden_log_loss:.3f} on {task_run.n_golden:,} gold "
            f"outputs{oof}"
        )
    if task_run.excluded_lfs:
        parts.append(f"left out: {task_run.excluded_lfs.replace(',', ', ')}")
    return "; ".join(parts)


def _summary(args: argparse.Namespace) -> int:
    from flywheel.lf_flags import format_lf_flags, read_lf_flags
    from flywheel.summary import format_summary, run_summary

    project, config = _project(args), _summary_config(args)
    with (
        project.connect(read_only=True) as con,
        memory_limit(con, _memory_limit(args.memory_limit)),
    ):
        print(format_summary(run_summary(con, project.schema, config)))
        flags = format_lf_flags(read_lf_flags(con, project.schema))
    if flags:
        print()
        print(flags)
    return 0


def _export(args: argparse.Namespace) -> int:
    from flywheel.export import run_export

    project, config = _project(args), _export_config(args)
    with (
        project.connect(read_only=True) as con,
        memory_limit(con, _memory_limit(args.memory_limit)),
    ):
        n = run_export(con, project.schema, config)
    print(f"wrote {n:,} {config.dataset} examples to {config.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from flywheel.evaluate import format_evaluation, run_evaluation

    project, config = _project(args), _evaluate_config(args)
    with (
        project.connect(read_only=True) as con,
        memory_limit(con, _memory_limit(args.memory_limit)),
    ):
        print(format_evaluation(run_evaluation(con, project.schema, config)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from flywheel.report import write_report

    project, config = _project(args), _report_config(args)
    with (
        project.connect(read_only=True) as con,
        memory_limit(con, _memory_limit(args.memory_limit)),
    ):
        path = write_report(con, project.schema, config)
    print(f"wrote {path}")
    return 0


#: command name -> handler
COMMANDS: dict[str, Handler] = {
    "run": _run,
    "simulate": _simulate,
    "label": _label,
    "summary": _summary,
    "export": _export,
    "evaluate": _evaluate,
    "report": _report,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status.

    Parameters
    ----------
    argv
        The arguments after ``flywheel`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 2 for a problem the user can fix (one line on stderr, no traceback),
        including a warehouse locked by another process; 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except FlywheelError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"flywheel: error: {message}", file=sys.stderr)
        return 2
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        print(
            "flywheel: error: the warehouse is locked by another process (a dbt run, a "
            f"notebook, the DuckDB CLI?): close it and retry ({first_line(exc)})",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("flywheel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
