"""Per-task summary of the labels, and their quality against the simulator's truth."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from flywheel.dbt import RELABEL_HINT
from flywheel.errors import FlywheelError
from flywheel.warehouse import (
    Scores,
    attach_truth,
    qualified,
    quote_identifier,
    require_table,
    scores_by_group,
)


@dataclass(frozen=True)
class TaskSummary:
    """Labels of one task, and when a truth file is given, their quality.

    Quality is scored on the covered outputs (at least one LF voted: the outputs the labels are
    used for), for the label model and for majority vote alike (majority vote as a probability:
    the share of votes that say good; a tie scores half right): accuracy at 0.5, ROC AUC, and
    Brier score (lower is better). Explicit ratings are scored on the rated outputs, the only
    ones they label. Every figure is aggregated in SQL
    (:func:`flywheel.warehouse.scores_by_group`): memory does not grow with the outputs.
    """

    label_task: str
    n_outputs: int
    coverage: float
    mean_p_good: float
    share_labeled_good: float
    n_rated: int
    n_scored: int | None = None
    true_good_share: float | None = None
    label_model_accuracy: float | None = None
    label_model_auc: float | None = None
    label_model_brier: float | None = None
    majority_accuracy: float | None = None
    majority_auc: float | None = None
    majority_brier: float | None = None
    ratings_accuracy: float | None = None


@dataclass(frozen=True)
class SummaryConfig:
    """What ``flywheel summary`` prints.

    Attributes
    ----------
    truth_path
        Per-output truth file (``output_id``, ``is_good``; parquet, csv or jsonl) to score the
        labels against; None: the label summary alone.
    """

    truth_path: Path | None = None


def run_summary(
    con: duckdb.DuckDBPyConnection, schema: str, config: SummaryConfig
) -> list[TaskSummary]:
    """:func:`summarize` with the settings of a :class:`SummaryConfig`."""
    return summarize(con, schema, config.truth_path)


def summarize(
    con: duckdb.DuckDBPyConnection, schema: str, truth_path: Path | str | None = None
) -> list[TaskSummary]:
    """Summarise ``probabilistic_labels`` per task, and score it against a truth file.

    Parameters
    ----------
    con, schema
        The built warehouse and the schema dbt built into.
    truth_path
        Per-output truth (``output_id``, ``is_good``), read once with
        :func:`flywheel.warehouse.attach_truth`; None: no scores.

    Returns
    -------
    list of TaskSummary
        One per label task, in task order.
    """
    require_table(con, schema, "probabilistic_labels", "run `flywheel run` first")
    labels = qualified(schema, "probabilistic_labels")
    rows = con.execute(
        f"""
        select label_task, count(*), avg(is_covered::int), avg(p_good),
               avg(label), count(explicit_label)
        from {labels} group by label_task order by label_task
        """
    ).fetchall()
    summaries = []
    for task, n, coverage, mean_p, share_good, n_rated in rows:
        if mean_p is None:
            raise FlywheelError(f"probabilistic_labels has no p_good for {task}: {RELABEL_HINT}")
        summaries.append(TaskSummary(task, n, coverage, mean_p, share_good, n_rated))
    if truth_path is None:
        return summaries
    return _score(con, labels, attach_truth(con, truth_path), summaries)


def _score(
    con: duckdb.DuckDBPyConnection, labels: str, truth: str, summaries: list[TaskSummary]
) -> list[TaskSummary]:
    """``summaries`` with their scores against ``truth``, every one aggregated in SQL."""
    scored = (
        "(select l.label_task, l.p_good, coalesce(l.p_good_majority, 0.5) as p_majority, "
        "l.explicit_label, l.is_covered, t.is_good "
        f"from {labels} as l inner join {quote_identifier(truth)} as t "
        "on l.output_id = t.output_id where t.is_good is not null) as scored"
    )

    def by_task(p_good: str, where: str) -> dict[str, Scores]:
        found = scores_by_group(con, scored, ["label_task"], p_good, "is_good", where=where)
        return {str(key[0]): value for key, value in found.items()}

    label_model = by_task("p_good", "is_covered")
    majority = by_task("p_majority", "is_covered")
    ratings = by_task("explicit_label", "explicit_label is not null")
    shares = dict(
        con.execute(f"select label_task, avg(is_good) from {scored} group by 1").fetchall()
    )
    nan = Scores(0, 0, math.nan, math.nan, math.nan)
    out = []
    for s in summaries:
        lm, mv = label_model.get(s.label_task, nan), majority.get(s.label_task, nan)
        rated = ratings.get(s.label_task)
        out.append(
            replace(
                s,
                n_scored=lm.n,
                true_good_share=shares.get(s.label_task),
                label_model_accuracy=lm.accuracy,
                label_model_auc=lm.auc,
                label_model_brier=lm.brier,
                majority_accuracy=mv.accuracy,
                majority_auc=mv.auc,
                majority_brier=mv.brier,
                ratings_accuracy=rated.accuracy if rated is not None else None,
            )
        )
    return out


def format_summary(summaries: list[TaskSummary]) -> str:
    """The summary as a fixed-width text table."""

    def pct(x: float | None) -> str:
        return "   -  " if x is None or x != x else f"{100 * x:5.1f}%"

    def num(x: float | None) -> str:
        return "  -  " if x is None or x != x else f"{x:.3f}"

    scored = any(s.n_scored is not None for s in summaries)
    head = f"{'label task':<16} {'outputs':>8} {'covered':>7} {'P(good)':>7} {'rated':>6}"
    if scored:
        head += (
            f" | {'true':>6} | {'label model':>20} | {'majority vote':>20} | {'ratings only':>12}\n"
            f"{'':<16} {'':>8} {'':>7} {'':>7} {'':>6} | {'good':>6} |"
            f" {'acc':>6} {'AUC':>6} {'Brier':>6} | {'acc':>6} {'AUC':>6} {'Brier':>6}"
            f" | {'acc':>5} {'cov':>6}"
        )
    lines = [head]
    for s in summaries:
        line = (
            f"{s.label_task:<16} {s.n_outputs:>8} {pct(s.coverage):>7} {num(s.mean_p_good):>7}"
            f" {s.n_rated:>6}"
        )
        if scored:
            line += (
                f" | {pct(s.true_good_share):>6} |"
                f" {pct(s.label_model_accuracy):>6} {num(s.label_model_auc):>6}"
                f" {num(s.label_model_brier):>6} |"
                f" {pct(s.majority_accuracy):>6} {num(s.majority_auc):>6}"
                f" {num(s.majority_brier):>6} |"
                f" {pct(s.ratings_accuracy):>5}"
                f" {pct(s.n_rated / s.n_outputs if s.n_outputs else None):>6}"
            )
        lines.append(line)
    return "\n".join(lines)
