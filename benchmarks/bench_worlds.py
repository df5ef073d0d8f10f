"""Label quality in every simulated world: flywheel's label models against the baselines.

Not part of the test suite. For each world of :data:`flywheel.simulate.WORLDS` (today's
``default`` and five where an assumption of the labeling functions fails), in a fresh copy
of the project:

1. simulate the world (``--n-events``, ``--seed``) with a gold set of ``--golden-size``
   outputs per surface, drawn uniformly (what an annotation queue returns);
2. ``dbt run --selector before_labels`` with the gold file (``flywheel run --golden``);
3. fit every method on the vote patterns and score P(good) of every output that is NOT in
   the gold set against the simulator's truth: ROC AUC, accuracy at 0.5 (ties half),
   Brier score, and the class prior's error (|learned or assumed prior - true good share|);
4. ``dbt run --select lf_validation`` after the default fit with gold, and compare its flags
   with the LFs that point the wrong way on the truth (accuracy over all their votes below
   0.5: with thousands of votes, the truth's interval is a point).

Methods (one row each):

* ``default`` -- ``LabelJobConfig()`` as shipped (``model='auto'``), without gold: what
  ``flywheel run`` does without ``--golden`` (Snorkel's label model, uniform prior);
  ``default + gold`` -- the same with the gold set: per task, the candidate (Snorkel at 50 to
  1000 epochs, Dawid-Skene, majority, each prior uniform / learned / from the gold set) with
  the lowest out-of-fold gold log-loss;
* ``dawid-skene`` -- Dawid-Skene EM alone, its prior learned; ``dawid-skene + gold`` -- with
  the gold outputs clamped; ``majority`` -- the share of good votes, 0.5 without votes;
* ``best single LF`` -- per task, the LF whose vote (1 good, 0 bad, 0.5 abstain) has the
  highest AUC against the truth: an oracle choice, the best any one LF could do;
* ``ratings only`` -- the explicit rating where there is one, else 0.5.

Figures are per task, then averaged over the three tasks (every task counts the same).

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/bench_worlds.py                       # every world, 200k events each
    python benchmarks/bench_worlds.py --worlds default,rare_good --n-events 100000
    python benchmarks/bench_worlds.py --write-readme        # and rewrite the README's table

Prints a markdown table; writes per-task figures as JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flywheel import metrics
from flywheel.dbt import BEFORE_LABELS, run_dbt
from flywheel.label_job import LabelJobConfig, run_label_job
from flywheel.project import Project, copy_project, load_project
from flywheel.readme import write_blocks
from flywheel.simulate import WORLDS, simulate
from flywheel.warehouse import quote_identifier, quote_literal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: name -> label job settings (on top of the project's schema); golden_column None: no gold
METHODS: dict[str, dict[str, object]] = {
    "default": {"golden_column": None},
    "default + gold": {},
    "dawid-skene": {"model": "dawid-skene", "golden_column": None},
    "dawid-skene + gold": {"model": "dawid-skene"},
    "majority": {"model": "majority", "golden_column": None},
}
BASELINES = ("best single LF", "ratings only")


@dataclass(frozen=True)
class Score:
    """One method on one task of one world (outputs outside the gold set)."""

    world: str
    label_task: str
    method: str
    auc: float
    accuracy: float
    brier: float
    prior: float | None
    prior_error: float | None
    label_model: str | None


@dataclass(frozen=True)
class LfCheck:
    """One LF of one world: its accuracy on the truth and what lf_validation says of it."""

    world: str
    label_task: str
    lf_name: str
    n_votes: int
    n_golden_votes: int
    true_accuracy: float | None
    is_wrong_way: bool
    flag: str | None
    is_flagged: bool


def _query(project: Project, sql: str) -> list[tuple[object, ...]]:
    con = project.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _scores_of(
    world: str, task: str, method: str, p: np.ndarray, y: np.ndarray, prior: float | None
) -> Score:
    true_share = float(y.mean())
    return Score(
        world=world,
        label_task=task,
        method=method,
        auc=metrics.auc(p, y),
        accuracy=metrics.accuracy(p, y),
        brier=metrics.brier(p, y),
        prior=prior,
        prior_error=None if prior is None else abs(prior - true_share),
        label_model=None,
    )


def _outputs(project: Project, lfs: list[str], truth: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per task: the votes, rating and truth of every output outside the gold set."""
    cols = ", ".join(f"v.{quote_identifier(c)}" for c in lfs)
    rows = _query(
        project,
        f"""
        select v.label_task, v.output_id, cast(t.is_good as integer), v.explicit_label, {cols}
        from fct_lf_votes as v
        inner join read_parquet({quote_literal(str(truth))}) as t on v.output_id = t.output_id
        where v.golden_label is null
        order by v.label_task, v.output_id
        """,
    )
    out: dict[str, dict[str, np.ndarray]] = {}
    for task in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == task]
        out[task] = {
            "output_id": np.array([r[1] for r in mine]),
            "y": np.array([r[2] for r in mine], dtype=bool),
            "rating": np.array([np.nan if r[3] is None else r[3] for r in mine], dtype=float),
            "votes": np.array([r[4:] for r in mine], dtype=np.int8),
        }
    return out


def _labels(project: Project, lfs: list[str]) -> dict[str, dict[str, float]]:
    """Per task: output_id -> P(good) of the current fit (votes joined to its patterns)."""
    on = " and ".join(f"v.{quote_identifier(c)} = p.{quote_identifier(c)}" for c in lfs)
    rows = _query(
        project,
        f"""
        select v.label_task, v.output_id, p.p_good
        from fct_lf_votes as v
        inner join label_model_patterns as p on v.label_task = p.label_task and {on}
        where v.golden_label is null
        """,
    )
    labels: dict[str, dict[str, float]] = {}
    for task, output_id, p_good in rows:
        labels.setdefault(str(task), {})[str(output_id)] = float(p_good)
    return labels


def evaluate_world(
    world: str, n_events: int, seed: int, golden_size: int, workdir: Path
) -> tuple[list[Score], list[LfCheck], dict[str, float]]:
    """Simulate, build and label one world; its scores, LF checks and stage timings."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    root = copy_project(ROOT, workdir / world)
    sim = simulate(
        root / "data", n_events=n_events, seed=seed, world=world, golden_size=golden_size
    )
    assert sim.golden_path is not None
    timings["simulate_s"] = time.monotonic() - started
    project = load_project(root, root / "warehouse.duckdb")
    dbt_vars = {
        "flywheel__events_path": str(sim.events_path),
        "flywheel__golden_labels_path": str(sim.golden_path),
    }
    mark = time.monotonic()
    for args in (["seed"], ["run", "--selector", BEFORE_LABELS]):  # the models, not their tests
        run_dbt(project, args, dbt_vars=dbt_vars, echo=lambda _: None)
    timings["dbt_s"] = time.monotonic() - mark
    registry = _query(project, "select lf_name, label_task from lf_registry order by lf_position")
    lfs = [str(name) for name, _ in registry]
    outputs = _outputs(project, lfs, sim.truth_path)
    scores: list[Score] = []

    mark = time.monotonic()
    for method, settings in METHODS.items():
        config = replace(LabelJobConfig(schema=project.schema), **settings)  # type: ignore[arg-type]
        con = project.connect()
        try:
            runs = {r.label_task: r for r in run_label_job(con, config)}
        finally:
            con.close()
        labels = _labels(project, lfs)
        for task, data in outputs.items():
            run = runs[task]
            p = np.array([labels[task][o] for o in data["output_id"]])
            prior = None if math.isnan(run.class_balance_good) else run.class_balance_good
            score = _scores_of(world, task, method, p, data["y"], prior)
            scores.append(replace(score, label_model=run.label_model))
        if method == "default + gold":  # the flags of the default fit with gold
            run_dbt(
                project, ["run", "--select", "lf_validation"], dbt_vars=dbt_vars,
                echo=lambda _: None,
            )  # fmt: skip
            checks = _lf_checks(project, world, sim.truth_path)
    timings["label_s"] = time.monotonic() - mark

    for task, data in outputs.items():
        task_lfs = [i for i, (_, t) in enumerate(registry) if t == task]
        best = max(
            (_scores_of(world, task, "best single LF", _lf_score(data["votes"][:, i]),
                        data["y"], None) for i in task_lfs),
            key=lambda s: s.auc,
        )  # fmt: skip
        scores.append(best)
        ratings = np.where(np.isnan(data["rating"]), 0.5, data["rating"])
        scores.append(_scores_of(world, task, "ratings only", ratings, data["y"], None))
    timings["total_s"] = time.monotonic() - started
    return scores, checks, timings


def _lf_score(votes: np.ndarray) -> np.ndarray:
    """One LF's vote as a score: 1 good, 0 bad, 0.5 abstain."""
    return np.where(votes == -1, 0.5, votes.astype(float))


def _lf_checks(project: Project, world: str, truth: Path) -> list[LfCheck]:
    rows = _query(
        project,
        f"""
        with truth_votes as (
            select l.label_task, l.lf_name, count(*) as n_votes,
                   avg(case when l.vote = cast(t.is_good as integer) then 1.0 else 0.0 end) as acc
            from int_lf_votes_long as l
            inner join read_parquet({quote_literal(str(truth))}) as t on l.output_id = t.output_id
            where l.vote != -1
            group by all
        )
        select v.label_task, v.lf_name, coalesce(tv.n_votes, 0), v.n_golden_votes, tv.acc,
               v.flag, v.is_flagged
        from lf_validation as v
        left join truth_votes as tv on v.label_task = tv.label_task and v.lf_name = tv.lf_name
        order by v.label_task, v.lf_index
        """,
    )
    return [
        LfCheck(
            world=world,
            label_task=str(task),
            lf_name=str(lf),
            n_votes=int(n),
            n_golden_votes=int(n_gold),
            true_accuracy=None if acc is None else float(acc),
            is_wrong_way=acc is not None and float(acc) < 0.5,
            flag=None if flag is None else str(flag),
            is_flagged=bool(flagged),
        )  # fmt: skip
        for task, lf, n, n_gold, acc, flag, flagged in rows
    ]


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return sum(present) / len(present) if present else None


def table(scores: list[Score], checks: list[LfCheck]) -> str:
    """The per-world table (fixed width): every method's figures averaged over the tasks, and
    which of the world's wrong-way LFs lf_validation flags after the default fit with gold."""

    def fmt(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = [("world", "method", "AUC", "accuracy", "Brier", "prior err")]
    notes = []
    for world in dict.fromkeys(s.world for s in scores):
        for method in [*METHODS, *BASELINES]:
            mine = [s for s in scores if s.world == world and s.method == method]
            rows.append((
                world, method, fmt(_mean([s.auc for s in mine])),
                fmt(_mean([s.accuracy for s in mine])), fmt(_mean([s.brier for s in mine])),
                fmt(_mean([s.prior_error for s in mine]), 2),
            ))  # fmt: skip
        wrong = [c for c in checks if c.world == world and c.is_wrong_way]
        notes.append(
            f"{world}: {sum(c.is_flagged for c in wrong)} of {len(wrong)} wrong-way LFs flagged"
            + (
                " (" + ", ".join(
                    f"{c.lf_name} right {c.true_accuracy:.0%}, {c.n_golden_votes} gold votes: "
                    f"{c.flag or 'not flagged'}"
                    for c in wrong if c.true_accuracy is not None
                ) + ")"
                if wrong else ""
            )
        )  # fmt: skip
    gold = [
        s.prior_error for s in scores if s.method == "default + gold" and s.prior_error is not None
    ]
    if gold:
        notes.append(
            f"default + gold: class prior within 0.05 of the truth on "
            f"{sum(e <= 0.05 for e in gold)} of {len(gold)} tasks (largest error {max(gold):.3f})"
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        if k > 1 and row[0] != rows[k - 1][0]:
            lines.append("")
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join([*lines, "", *notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worlds", default=",".join(WORLDS), help="comma-separated names")
    parser.add_argument("--n-events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--golden-size", type=int, default=200, help="gold outputs per surface")
    parser.add_argument("--write-readme", action="store_true", help="rewrite README's table")
    args = parser.parse_args(argv)
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    scores: list[Score] = []
    checks: list[LfCheck] = []
    timings: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="flywheel-worlds-") as tmp:
        for world in worlds:
            s, c, t = evaluate_world(world, args.n_events, args.seed, args.golden_size, Path(tmp))
            scores += s
            checks += c
            timings[world] = t
            print(f"{world}: {t['total_s']:.0f} s", file=sys.stderr)
    text = table(scores, checks)
    header = (
        f"{args.n_events:,} simulated events per world, seed {args.seed}, gold "
        f"{args.golden_size} outputs per surface; figures on the outputs outside the gold set, "
        "averaged over the three tasks (`python benchmarks/bench_worlds.py`)"
    )
    print(header)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"worlds-{stamp}.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "scores": [asdict(s) for s in scores],
                "lf_checks": [asdict(c) for c in checks],
                "timings": timings,
            },
            indent=2,
        )
    )
    if args.write_readme:
        write_blocks(ROOT / "README.md", {"worlds": header + "\n\n" + text})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
