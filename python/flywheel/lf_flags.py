"""The labeling functions ``lf_validation`` flags, read for the CLI (``run``, ``summary``).

``lf_validation`` (dbt) decides: per task and LF, accuracy against the gold set and against the
explicit ratings with 95% Wilson intervals, the label model's learned accuracy, a flag and what
to do. This module only reads the flagged rows and words them for a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from flywheel.warehouse import qualified, table_exists

LF_VALIDATION = "lf_validation"


@dataclass(frozen=True)
class LfFlag:
    """One flagged LF of a task: a row of ``lf_validation`` with a flag (``is_flagged``: the
    evidence is against the LF; else its learned accuracy is degenerate)."""

    label_task: str
    lf_name: str
    flag: str
    accuracy_source: str | None
    accuracy: float | None
    accuracy_lower: float | None
    accuracy_upper: float | None
    n_judged: int
    learned_accuracy: float | None
    in_label_model: bool
    advice: str


def read_lf_flags(con: duckdb.DuckDBPyConnection, schema: str) -> list[LfFlag] | None:
    """The flagged LFs, in task and LF order; None when ``lf_validation`` is not built."""
    if not table_exists(con, schema, LF_VALIDATION):
        return None
    rows = con.execute(
        f"""
        select label_task, lf_name, flag, accuracy_source, judged_accuracy,
               judged_accuracy_lower, judged_accuracy_upper, n_judged_votes,
               learned_accuracy, in_label_model, advice
        from {qualified(schema, LF_VALIDATION)}
        where flag is not null and flag != 'not_enough_evidence'
        order by label_task, lf_index
        """
    ).fetchall()
    return [LfFlag(*row) for row in rows]


def format_lf_flags(flags: list[LfFlag] | None) -> str:
    """The flagged LFs as lines a person reads, then what to do about each kind of flag once
    ('' when none is flagged or nothing is built)."""
    if not flags:
        return ""
    lines = [f"{len(flags)} labeling function(s) flagged by lf_validation:"]
    actions: dict[str, list[str]] = {}
    for f in flags:
        evidence = []
        if f.accuracy is not None and f.accuracy_source is not None:
            against = "gold" if f.accuracy_source == "golden" else "ratings"
            evidence.append(
                f"accuracy vs {against} {f.accuracy:.0%} "
                f"(95% CI {f.accuracy_lower:.0%}-{f.accuracy_upper:.0%}, {f.n_judged:,} votes)"
            )
        if f.learned_accuracy is not None:
            evidence.append(f"learned {f.learned_accuracy:.1%}")
        if not f.in_label_model:
            evidence.append("left out of the fit")
        lines.append(
            f"  {f.label_task}.{f.lf_name}: {f.flag.replace('_', ' ')}"
            + (f" ({'; '.join(evidence)})" if evidence else "")
        )
        actions.setdefault(f.advice, []).append(f.lf_name)
    lines.append("what to do:")
    lines += [f"  {', '.join(names)}: {action}" for action, names in actions.items()]
    return "\n".join(lines)
