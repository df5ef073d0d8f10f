"""Benchmark the flywheel label job at warehouse scale, and against pandas + Snorkel.

Not part of the test suite. Three parts, each measured in SEPARATE SUBPROCESSES (wall time,
and the subprocess's own peak RSS, ``ru_maxrss`` from ``os.wait4`` in a small launcher):

1. **scale** -- vote tables of 1M, 10M and 100M rows written directly in DuckDB with SQL
   (3 tasks x 10 sparse LFs, coverage 2-60%, accuracy 0.55-0.95, both polarities, drawn
   from a hidden truth with DuckDB's ``hash``; an ``lf_registry`` table says which LFs belong
   to which task, and a ``p_good_majority`` column holds the majority vote, as dbt builds
   them), labelled with ``flywheel label`` (the CLI),
   once as is (the CLI caps DuckDB's memory at ``--memory-limit 256MB``) and once with
   ``--memory-limit none`` (DuckDB's own limit, 80% of RAM). The job reads distinct vote
   patterns only, so its own memory does not grow with the number of rows; DuckDB's
   buffer cache of the scanned table does, up to DuckDB's memory limit: the second run
   shows what the CLI's default cap saves.
2. **patterns** -- one task with 25 dense LFs: hundreds of thousands of distinct patterns.
   Labelled through the Python API with the default ``chunk_patterns`` and unchunked, to
   show the chunked overlap/prediction computation keeping memory bounded.
3. **compare** -- what a user would do without flywheel, on the same data: a signals table
   (a few boolean/numeric signals drawn from a hidden truth), labeling functions defined
   ONCE as data (name, vote, SQL condition, Python predicate), then

   * flywheel: SQL builds the vote table, ``flywheel label`` fits on the patterns, SQL joins
     P(good) back to the outputs (three subprocesses, like dbt / flywheel / dbt);
   * baseline: pandas reads the signals, Snorkel's ``PandasLFApplier`` applies the same
     LFs as ``@labeling_function``\\ s, ``LabelModel.fit`` on the full matrix,
     ``predict_proba``, and the labels are written back (one subprocess).

   Reported: both wall times and peak RSS, their ratios, and the largest absolute
   difference of P(good) per output between the two (the pattern fit is exact, so ~0).

Hash-based draws (``hash(row, salt)``) are used instead of ``setseed`` + ``random()``
because DuckDB's ``random()`` is not reproducible across threads; ``--seed`` salts them.

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/bench_label_job.py                          # everything
    python benchmarks/bench_label_job.py --sizes 1e6,1e7 --compare-sizes 1e5,1e6 \\
        --patterns-rows 5e5                                       # a quicker subset

Results are printed as tables and written as JSON to ``benchmarks/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from _machine import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED_SETTINGS = {"seed": 123, "lr": 0.01, "l2": 0.0}
RESULT_MARK = "BENCH_RESULT "


# --- labeling functions, defined once ----------------------------------------------------


@dataclass(frozen=True)
class LF:
    """One labeling function, for both paths: SQL for flywheel, Python for Snorkel."""

    name: str
    vote: int  # 1 good, 0 bad
    sql: str  # condition over the signals table's columns
    python: Callable[[Any], bool]  # the same condition over a row (a pandas Series)


LFS: list[LF] = [
    LF("lf_accepted_retained", 1, "is_accepted and not is_reverted",
       lambda x: bool(x.is_accepted and not x.is_reverted)),
    LF("lf_reverted", 0, "is_reverted", lambda x: bool(x.is_reverted)),
    LF("lf_rejected_quickly", 0, "not is_accepted and dwell_seconds < 2",
       lambda x: bool(not x.is_accepted and x.dwell_seconds < 2)),
    LF("lf_long_dwell", 1, "dwell_seconds > 25", lambda x: bool(x.dwell_seconds > 25)),
    LF("lf_light_edit", 1, "is_accepted and share_rewritten < 0.05",
       lambda x: bool(x.is_accepted and x.share_rewritten < 0.05)),
    LF("lf_heavy_rewrite", 0, "share_rewritten > 0.5", lambda x: bool(x.share_rewritten > 0.5)),
    LF("lf_copied", 1, "n_copies > 0", lambda x: bool(x.n_copies > 0)),
    LF("lf_copied_twice", 1, "n_copies >= 2", lambda x: bool(x.n_copies >= 2)),
    LF("lf_rephrased", 0, "is_rephrased", lambda x: bool(x.is_rephrased)),
    LF("lf_abandoned", 0, "is_session_abandoned", lambda x: bool(x.is_session_abandoned)),
]  # fmt: skip
SIGNAL_COLUMNS = [
    "is_accepted", "is_reverted", "dwell_seconds", "share_rewritten", "n_copies",
    "is_rephrased", "is_session_abandoned",
]  # fmt: skip


# --- data, written in DuckDB with SQL ----------------------------------------------------


def majority_sql(lf_names: list[str]) -> str:
    """P(good) by majority vote, as ``fct_lf_votes`` computes it: the share of non-abstain
    votes that are 1, NULL when every LF abstains."""
    good = " + ".join(f"(case when {c} = 1 then 1 else 0 end)" for c in lf_names)
    voted = " + ".join(f"(case when {c} in (0, 1) then 1 else 0 end)" for c in lf_names)
    return f"cast({good} as double) / nullif({voted}, 0)"


def _uniform_macro(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """``u(i, salt)``: a reproducible uniform draw in [0, 1) per row and salt."""
    con.execute(
        "create or replace temp macro u(i, salt) as "
        f"(hash(i, salt + {int(seed) * 1000}) % 1000000007) / 1000000007.0"
    )


@dataclass(frozen=True)
class SyntheticLF:
    task: str
    index: int
    vote: int
    coverage: float
    accuracy: float
    p_fire_good: float  # P(votes | truly good)
    p_fire_bad: float  # P(votes | truly bad)


SCALE_TASKS = {"code": 0.60, "chat": 0.50, "search": 0.55}  # task -> P(good)


def scale_lfs(seed: int, n_lfs: int = 10, dense: bool = False) -> list[SyntheticLF]:
    """Polarity LFs (each votes one way when it fires, like flywheel's) with a target
    coverage and accuracy; conditionally independent given the truth."""
    rng = random.Random(seed)
    tasks = {"dense": 0.55} if dense else SCALE_TASKS
    lfs = []
    for task, p in tasks.items():
        for k in range(n_lfs):
            vote = k % 2 if not dense else rng.randint(0, 1)
            accuracy = rng.uniform(0.55, 0.95)
            coverage = rng.uniform(0.5, 0.95) if dense else rng.uniform(0.02, 0.60)
            p_vote_class = p if vote == 1 else 1 - p
            # P(fire | class the LF votes for) must stay <= 1.
            coverage = min(coverage, 0.98 * p_vote_class / accuracy)
            right = accuracy * coverage / p_vote_class
            wrong = (1 - accuracy) * coverage / (1 - p_vote_class)
            p_good, p_bad = (right, wrong) if vote == 1 else (wrong, right)
            lfs.append(SyntheticLF(task, k, vote, coverage, accuracy, p_good, p_bad))
    return lfs


def write_scale_votes(path: Path, n: int, seed: int) -> dict[str, Any]:
    """``bench_votes``: one row per output, 3 tasks, 30 LF columns and ``p_good_majority``;
    ``lf_registry`` (``lf_name``, ``label_task``): each task's 10 LFs."""
    lfs = scale_lfs(seed)
    tasks = list(SCALE_TASKS)
    cols = []
    names = [f"lf_{lf.task}_{lf.index}" for lf in lfs]
    for j, lf in enumerate(lfs):
        t = tasks.index(lf.task)
        fire = (
            f"u(i, {100 + j}) < case when is_good = 1 then {lf.p_fire_good!r} "
            f"else {lf.p_fire_bad!r} end"
        )
        cols.append(
            f"(case when t = {t} and {fire} then {lf.vote} else -1 end)::integer as {names[j]}"
        )
    p_good = " ".join(f"when {i} then {p!r}" for i, p in enumerate(SCALE_TASKS.values()))
    task_names = "[" + ", ".join(f"'{t}'" for t in tasks) + "]"
    sql = f"""
        create table bench_votes as
        with base as (
            select i, (i % {len(tasks)})::integer as t from range({n}) as r(i)
        ),
        truth as (
            select i, t, (u(i, 1) < case t {p_good} end)::integer as is_good from base
        ),
        voted as (
            select
                i as output_id,
                {task_names}[t + 1] as label_task,
                is_good,
                (case when u(i, 2) < 0.01 then
                    case when u(i, 3) < 0.92 then is_good else 1 - is_good end
                end)::integer as explicit_label,
                {", ".join(cols)}
            from truth
        )
        select *, {majority_sql(names)} as p_good_majority from voted
    """
    started = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        _uniform_macro(con, seed)
        con.execute(sql)
        con.execute(
            "create table lf_registry as select * from (values "
            + ", ".join(f"('{name}', '{lf.task}')" for name, lf in zip(names, lfs, strict=True))
            + ") as v(lf_name, label_task)"
        )
        con.execute("checkpoint")
    return {"seconds": time.perf_counter() - started, "lfs": [asdict(lf) for lf in lfs]}


def write_dense_votes(path: Path, n: int, n_lfs: int, seed: int) -> dict[str, Any]:
    """``dense_votes``: one task, ``n_lfs`` dense LFs -> about one distinct pattern per row
    (and ``p_good_majority``, as in the other vote tables)."""
    lfs = scale_lfs(seed + 1, n_lfs=n_lfs, dense=True)
    cols = [
        f"(case when u(i, {100 + j}) < case when is_good = 1 then {lf.p_fire_good!r} "
        f"else {lf.p_fire_bad!r} end then {lf.vote} else -1 end)::integer as lf_{j:02d}"
        for j, lf in enumerate(lfs)
    ]
    started = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        _uniform_macro(con, seed)
        con.execute(
            f"""
            create table dense_votes as
            with truth as (select i, (u(i, 1) < 0.55)::integer as is_good from range({n}) r(i)),
            voted as (select i as output_id, is_good, {", ".join(cols)} from truth)
            select *, {majority_sql([f"lf_{j:02d}" for j in range(len(lfs))])} as p_good_majority
            from voted
            """
        )
        con.execute("checkpoint")
    return {"seconds": time.perf_counter() - started}


def write_signals(path: Path, n: int, seed: int) -> dict[str, Any]:
    """``signals``: one row per code suggestion, behavioural signals from a hidden truth."""

    def by_truth(good: float, bad: float) -> str:
        return f"case when is_good = 1 then {good} else {bad} end"

    sql = f"""
        create table signals as
        with truth as (
            select i, (u(i, 1) < 0.6)::integer as is_good from range({n}) as r(i)
        ),
        decided as (
            select i, is_good, u(i, 2) < {by_truth(0.75, 0.30)} as is_accepted from truth
        )
        select
            i as output_id,
            is_good,
            is_accepted,
            is_accepted and u(i, 3) < {by_truth(0.04, 0.35)} as is_reverted,
            -ln(1 - u(i, 4)) * {by_truth(12.0, 6.0)} as dwell_seconds,
            case
                when not is_accepted then 0.0
                when u(i, 12) < {by_truth(0.5, 0.3)} then 0.0  -- kept as is
                else pow(u(i, 5), {by_truth(5.0, 0.5)})
            end as share_rewritten,
            (case when u(i, 6) < {by_truth(0.30, 0.08)}
                then 1 + floor(-ln(1 - u(i, 7)) * 0.8) else 0 end)::integer as n_copies,
            u(i, 8) < {by_truth(0.08, 0.35)} as is_rephrased,
            u(i, 9) < {by_truth(0.04, 0.20)} as is_session_abandoned,
            (case when u(i, 10) < 0.01 then
                case when u(i, 11) < 0.92 then is_good else 1 - is_good end
            end)::integer as explicit_label
        from decided
    """
    started = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        _uniform_macro(con, seed)
        con.execute(sql)
        con.execute("checkpoint")
        stats = lf_stats(con)
    return {"seconds": time.perf_counter() - started, "lfs": stats}


def lf_stats(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Coverage and accuracy (against the hidden truth) of each LF on the signals table."""
    parts = ", ".join(
        f"avg(({lf.sql})::integer), avg((is_good = {lf.vote})::integer) filter (where {lf.sql})"
        for lf in LFS
    )
    row = con.execute(f"select {parts} from signals").fetchall()[0]
    return [
        {"name": lf.name, "vote": lf.vote, "coverage": row[2 * j], "accuracy": row[2 * j + 1]}
        for j, lf in enumerate(LFS)
    ]


def votes_sql() -> str:
    """The flywheel path's vote table: one CASE per LF over the signals and the majority
    vote ``p_good_majority`` (what dbt builds)."""
    cols = ", ".join(
        f"(case when {lf.sql} then {lf.vote} else -1 end)::integer as {lf.name}" for lf in LFS
    )
    return (
        "create or replace table votes as "
        f"with voted as (select output_id, explicit_label, {cols} from signals) "
        f"select *, {majority_sql([lf.name for lf in LFS])} as p_good_majority from voted"
    )


def labels_sql() -> str:
    """Join P(good) back to the outputs (what the probabilistic_labels model does)."""
    on = " and ".join(f"v.{lf.name} = p.{lf.name}" for lf in LFS)
    return (
        "create or replace table labels_flywheel as "
        f"select v.output_id, p.p_good from votes v join label_model_patterns p on {on}"
    )


# --- subprocesses ------------------------------------------------------------------------


@dataclass
class Measured:
    wall_seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    def result(self) -> dict[str, Any]:
        """The JSON a ``--child`` printed last."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        return {}


# Linux's ru_maxrss of a child counts the memory image it was forked from (the parent's RSS
# at fork, kept across exec), so a large parent would inflate every measurement. A small
# launcher process forks the measured command instead and reports its wall time and rusage.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = code = os.waitstatus_to_exitcode(status)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    json.dump({"wall_seconds": wall, "maxrss_kib": usage.ru_maxrss, "returncode": code}, f)
"""


def run_measured(cmd: list[str]) -> Measured:
    """Run ``cmd`` in a subprocess: its wall time and ITS OWN peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as usage_file,
    ):
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, usage_file.name, *cmd],
            stdout=out,
            stderr=err,
            cwd=REPO_ROOT,
            check=True,
        )
        usage = json.loads(Path(usage_file.name).read_text())
        out.seek(0)
        err.seek(0)
        measured = Measured(
            wall_seconds=usage["wall_seconds"],
            peak_rss_mb=usage["maxrss_kib"] / 1024,  # KiB on Linux
            returncode=usage["returncode"],
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
    if measured.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:6])} ... exited {measured.returncode}:\n{measured.stderr[-3000:]}"
        )
    return measured


def run_best(cmd: list[str], repeat: int) -> tuple[dict[str, Any], Measured]:
    """Run ``cmd`` ``repeat`` times: the fastest wall time and the largest peak RSS.

    Repeats smooth out one-off start-up costs (torch's first fit on a cold machine varies
    by seconds); the peak RSS is the worst of the runs.
    """
    runs = [run_measured(cmd) for _ in range(max(1, repeat))]
    best = {
        "wall_seconds": min(m.wall_seconds for m in runs),
        "peak_rss_mb": max(m.peak_rss_mb for m in runs),
        "all_wall_seconds": [m.wall_seconds for m in runs],
    }
    return best, runs[-1]


def child_cmd(mode: str, **kwargs: Any) -> list[str]:
    return [sys.executable, __file__, "--child", mode, "--child-args", json.dumps(kwargs)]


def cli_cmd(project: Path, db: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flywheel.cli",
        "label",
        "--project-dir",
        str(project),
        "--db",
        str(db),
        *args,
    ]


def child_main(mode: str, kwargs: dict[str, Any]) -> None:
    """What runs inside a measured subprocess."""
    if mode == "import":  # the floor: interpreter + flywheel + torch + snorkel + duckdb
        import flywheel.label_job  # noqa: F401

        out: dict[str, Any] = {}
    elif mode == "sql":
        with duckdb.connect(kwargs["db"]) as con:
            con.execute(kwargs["sql"])
        out = {}
    elif mode == "label":
        from flywheel.label_job import LabelJobConfig, run_label_job

        with duckdb.connect(kwargs["db"]) as con:
            runs = run_label_job(con, LabelJobConfig(**kwargs["config"]))
        out = {"runs": [{"task": r.label_task, "n_patterns": r.n_patterns} for r in runs]}
    elif mode == "baseline":
        out = baseline(kwargs["db"], kwargs["epochs"])
    else:
        raise SystemExit(f"unknown child mode {mode}")
    print(RESULT_MARK + json.dumps(out), flush=True)


def baseline(db: str, epochs: int) -> dict[str, Any]:
    """The user without flywheel: pandas + PandasLFApplier + LabelModel on the full matrix."""
    import pandas as pd
    from snorkel.labeling import PandasLFApplier, labeling_function
    from snorkel.labeling.model import LabelModel

    stages: dict[str, float] = {}
    t = time.perf_counter()
    with duckdb.connect(db) as con:
        df = con.execute(f"select output_id, {', '.join(SIGNAL_COLUMNS)} from signals").df()
    stages["read_signals"] = time.perf_counter() - t

    def make(lf: LF):  # noqa: ANN202
        @labeling_function(name=lf.name)
        def apply(x):  # noqa: ANN001, ANN202
            return lf.vote if lf.python(x) else -1

        return apply

    t = time.perf_counter()
    L = PandasLFApplier([make(lf) for lf in LFS]).apply(df, progress_bar=False)
    stages["apply_lfs"] = time.perf_counter() - t
    t = time.perf_counter()
    model = LabelModel(cardinality=2, verbose=False)
    model.fit(L, class_balance=[0.5, 0.5], n_epochs=epochs, progress_bar=False, **SEED_SETTINGS)
    stages["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    p_good = model.predict_proba(L)[:, 1]
    stages["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    labels = pd.DataFrame({"output_id": df["output_id"].to_numpy(), "p_good": p_good})
    with duckdb.connect(db) as con:
        con.register("labels_df", labels)
        con.execute("create or replace table labels_baseline as select * from labels_df")
    stages["write_labels"] = time.perf_counter() - t
    return {"stages": stages}


# --- the three parts ---------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip() and float(s) > 0]


def human(n: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size and n % (size // 10) == 0:
            value = n / size
            return f"{value:g}{unit}"
    return str(n)


def file_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def scale_part(args: argparse.Namespace, work: Path, project: Path) -> list[dict[str, Any]]:
    rows = []
    for n in parse_sizes(args.sizes):
        db = work / f"scale_{n}.duckdb"
        print(f"[scale {human(n)}] writing bench_votes ...", flush=True)
        gen = write_scale_votes(db, n, args.seed)
        # Each task's LFs from the lf_registry table; majority vote from p_good_majority.
        common = ["--votes-table", "bench_votes", "--lf-registry", "lf_registry"]
        common += ["--majority-column", "p_good_majority"]
        # P(good) per task from the 1% explicit ratings: with one-polarity LFs the prior matters.
        common += ["--class-balance", "ratings", "--epochs", str(args.epochs)]
        common += ["--label-seed", str(SEED_SETTINGS["seed"])]
        row: dict[str, Any] = {
            "n_rows": n,
            "generate_seconds": gen["seconds"],
            "db_mb": file_mb(db),
        }
        variants = [("cli_default", [])]
        if args.memory_limit:
            variants.append(
                (f"memory_limit={args.memory_limit}", ["--memory-limit", args.memory_limit])
            )
        for name, extra in variants:
            print(f"[scale {human(n)}] flywheel label ({name}) ...", flush=True)
            row[name], _ = run_best(cli_cmd(project, db, *common, *extra), args.repeat)
        with duckdb.connect(str(db), read_only=True) as con:
            runs = con.execute(
                "select label_task, n_rows, n_patterns from label_model_runs "
                "qualify row_number() over (partition by label_task order by fitted_at desc) = 1"
            ).fetchall()
            row["n_patterns"] = sum(r[2] for r in runs)
            assert sum(r[1] for r in runs) == n, runs
            row.update(scale_accuracy(con))
        print(f"[scale {human(n)}] {json.dumps(row)}", flush=True)
        rows.append(row)
        if not args.keep:
            for p in db.parent.glob(db.name + "*"):
                p.unlink()
    return rows


def scale_accuracy(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Accuracy of the labels and of majority vote against the hidden truth (all outputs)."""
    lfs = [r[0] for r in con.execute("describe bench_votes").fetchall() if r[0].startswith("lf_")]
    keys = ", ".join(["label_task", *lfs])
    # A tie (or, for majority vote, no vote at all) is a coin flip: half right.
    right = "case when {p} > 0.5 then is_good when {p} < 0.5 then 1 - is_good else 0.5 end"
    row = con.execute(
        f"""
        with grouped as (
            select {keys}, p_good_majority, is_good, count(*) as n from bench_votes group by all
        )
        select
            sum(n * ({right.format(p="p.p_good")})) / sum(n),
            sum(n * ({right.format(p="coalesce(g.p_good_majority, 0.5)")})) / sum(n)
        from grouped as g join label_model_patterns as p using ({keys})
        """
    ).fetchall()[0]
    return {"label_model_accuracy": row[0], "majority_accuracy": row[1]}


def patterns_part(args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    n = int(float(args.patterns_rows))
    if n <= 0:
        return None
    db = work / "patterns.duckdb"
    print(f"[patterns {human(n)}] writing dense_votes ({args.patterns_lfs} LFs) ...", flush=True)
    gen = write_dense_votes(db, n, args.patterns_lfs, args.seed)
    out: dict[str, Any] = {
        "n_rows": n,
        "n_lfs": args.patterns_lfs,
        **{"generate_seconds": gen["seconds"]},
    }
    from flywheel.labelmodel import DEFAULT_CHUNK_PATTERNS

    for name, chunk in (("chunked", DEFAULT_CHUNK_PATTERNS), ("unchunked", 2**62)):
        config = {
            "votes_table": "dense_votes",
            "task_column": None,
            "registry_table": None,
            "majority_column": "p_good_majority",
            "gold_column": None,
            "task_name": "dense",
            "n_epochs": args.epochs,
            "chunk_patterns": chunk,
            "memory_limit": "256MB",  # as the CLI
            **SEED_SETTINGS,
        }
        print(f"[patterns {human(n)}] label job, {name} ...", flush=True)
        best, m = run_best(child_cmd("label", db=str(db), config=config), args.repeat)
        out["n_patterns"] = m.result()["runs"][0]["n_patterns"]
        out[name] = {"chunk_patterns": chunk if chunk < 2**62 else None, **best}
    print(f"[patterns] {json.dumps(out)}", flush=True)
    if not args.keep:
        for p in db.parent.glob(db.name + "*"):
            p.unlink()
    return out


def compare_part(
    args: argparse.Namespace, work: Path, project: Path, floor_mb: float
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seconds_per_row = None  # baseline cost, learned from the previous size
    mb_per_row = None  # baseline memory above the import floor, per row
    available_mb = _available_memory_mb()
    for n in parse_sizes(args.compare_sizes):
        db = work / f"compare_{n}.duckdb"
        print(f"[compare {human(n)}] writing signals ...", flush=True)
        gen = write_signals(db, n, args.seed)
        row: dict[str, Any] = {"n_rows": n, "generate_seconds": gen["seconds"], "lfs": gen["lfs"]}

        steps = {
            "votes_sql": child_cmd("sql", db=str(db), sql=votes_sql()),
            "label_job": cli_cmd(
                project,
                db,
                "--votes-table",
                "votes",
                "--task-column",
                "",
                "--lf-registry",
                "",
                "--majority-column",
                "p_good_majority",
                "--task-name",
                "code",
                "--epochs",
                str(args.epochs),
                "--label-seed",
                str(SEED_SETTINGS["seed"]),
            ),
            "labels_sql": child_cmd("sql", db=str(db), sql=labels_sql()),
        }
        fw: dict[str, Any] = {"steps": {}}
        for name, cmd in steps.items():
            print(f"[compare {human(n)}] flywheel: {name} ...", flush=True)
            fw["steps"][name], _ = run_best(cmd, args.repeat)
        fw["wall_seconds"] = sum(s["wall_seconds"] for s in fw["steps"].values())
        fw["peak_rss_mb"] = max(s["peak_rss_mb"] for s in fw["steps"].values())
        row["flywheel"] = fw

        reason = None
        if n > args.baseline_max_rows:
            reason = f"n > --baseline-max-rows {human(int(args.baseline_max_rows))}"
        elif seconds_per_row is not None and seconds_per_row * n > 60 * args.baseline_max_minutes:
            reason = (
                f"estimated {seconds_per_row * n / 60:.0f} min > --baseline-max-minutes "
                f"{args.baseline_max_minutes:g}"
            )
        elif mb_per_row is not None and floor_mb + mb_per_row * n > 0.8 * available_mb:
            reason = (
                f"estimated {(floor_mb + mb_per_row * n) / 1024:.1f} GiB > 80% of the "
                f"{available_mb / 1024:.1f} GiB available"
            )
        if reason:
            print(f"[compare {human(n)}] baseline skipped: {reason}", flush=True)
            row["baseline"] = {"skipped": reason}
        else:
            print(
                f"[compare {human(n)}] baseline: pandas + PandasLFApplier + LabelModel ...",
                flush=True,
            )
            m = run_measured(child_cmd("baseline", db=str(db), epochs=args.epochs))
            row["baseline"] = {
                "wall_seconds": m.wall_seconds,
                "peak_rss_mb": m.peak_rss_mb,
                "stages": m.result()["stages"],
            }
            seconds_per_row = m.wall_seconds / n
            mb_per_row = max(m.peak_rss_mb - floor_mb, 0.0) / n
            with duckdb.connect(str(db), read_only=True) as con:
                matched, max_diff, flips = con.execute(
                    """
                    select count(*), max(abs(f.p_good - b.p_good)),
                           count(*) filter (where (f.p_good > 0.5) <> (b.p_good > 0.5))
                    from labels_flywheel f join labels_baseline b using (output_id)
                    """
                ).fetchall()[0]
            assert matched == n, (matched, n)
            row["agreement"] = {
                "outputs_compared": matched,
                "max_abs_diff_p_good": max_diff,
                "labels_that_differ": flips,
            }
            row["time_ratio"] = m.wall_seconds / fw["wall_seconds"]
            row["rss_ratio"] = m.peak_rss_mb / fw["peak_rss_mb"]
        print(
            f"[compare {human(n)}] {json.dumps({k: v for k, v in row.items() if k != 'lfs'})}",
            flush=True,
        )
        rows.append(row)
        if not args.keep:
            for p in db.parent.glob(db.name + "*"):
                p.unlink()
    return rows


def _available_memory_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


# --- report ------------------------------------------------------------------------------


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"


def print_report(report: dict[str, Any]) -> None:
    print()
    print(
        f"import floor (python + flywheel + torch + snorkel): "
        f"{report['import_floor']['peak_rss_mb']:,.0f} MB peak RSS"
    )
    if report["scale"]:
        limit = next((k for k in report["scale"][0] if k.startswith("memory_limit=")), None)
        print(
            "\nflywheel label at scale: 3 tasks x 10 sparse LFs, --class-balance ratings, the "
            "CLI in a subprocess\n(acc LM / acc MV: label model / majority vote accuracy vs the "
            "hidden truth, all outputs, a tie or no vote half right)"
        )
        cols = ["cli_default", *([limit] if limit else [])]
        print(f"{'':>6} {'':>7} {'':>9} | " + " | ".join(f"{c:<19}" for c in cols))
        head = f"{'rows':>6} {'db MB':>7} {'patterns':>9}"
        head += "".join(f" | {'wall s':>7} {'peak RSS MB':>11}" for _ in cols)
        print(head + f" | {'acc LM':>6} {'acc MV':>6}")
        for r in report["scale"]:
            line = f"{human(r['n_rows']):>6} {r['db_mb']:>7,.0f} {r['n_patterns']:>9,}"
            for c in cols:
                line += f" | {r[c]['wall_seconds']:>7,.1f} {r[c]['peak_rss_mb']:>11,.0f}"
            line += f" | {r['label_model_accuracy']:>6.1%} {r['majority_accuracy']:>6.1%}"
            print(line)
    p = report["patterns"]
    if p:
        print(
            f"\nmany distinct patterns ({human(p['n_rows'])} rows, {p['n_lfs']} dense LFs, "
            f"{p['n_patterns']:,} patterns; Python API in a subprocess)"
        )
        for name in ("chunked", "unchunked"):
            v = p[name]
            chunk = (
                f"chunk_patterns={v['chunk_patterns']:,}" if v["chunk_patterns"] else "one block"
            )
            print(
                f"  {name:<10} ({chunk:<22}) wall {v['wall_seconds']:7.1f} s   "
                f"peak RSS {v['peak_rss_mb']:7,.0f} MB"
            )
    if report["compare"]:
        print(
            "\nflywheel vs pandas + Snorkel PandasLFApplier + LabelModel (same 10 LFs, same data)"
        )
        print(
            f"{'rows':>6} | {'flywheel s':>10} {'RSS MB':>7} | {'baseline s':>10} {'RSS MB':>7} | "
            f"{'time x':>7} {'RSS x':>6} | {'max |dP|':>9} {'flips':>5}"
        )
        for r in report["compare"]:
            fw, b = r["flywheel"], r["baseline"]
            line = (
                f"{human(r['n_rows']):>6} | "
                f"{fw['wall_seconds']:>10,.1f} {fw['peak_rss_mb']:>7,.0f} | "
            )
            if "skipped" in b:
                line += f"skipped: {b['skipped']}"
            else:
                a = r["agreement"]
                line += (
                    f"{b['wall_seconds']:>10,.1f} {b['peak_rss_mb']:>7,.0f} | "
                    f"{r['time_ratio']:>6.1f}x {r['rss_ratio']:>5.1f}x | "
                    f"{a['max_abs_diff_p_good']:>9.1e} {a['labels_that_differ']:>5}"
                )
            print(line)
        steps = report["compare"][-1]["flywheel"]["steps"]
        print(
            "  flywheel steps at the largest size: "
            + ", ".join(
                f"{k} {v['wall_seconds']:.1f} s / {v['peak_rss_mb']:,.0f} MB"
                for k, v in steps.items()
            )
        )
        done = [r for r in report["compare"] if "stages" in r["baseline"]]
        if done:
            stages = done[-1]["baseline"]["stages"]
            print(
                f"  baseline stages at {human(done[-1]['n_rows'])}: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
            )
        print(
            "  LFs (coverage, accuracy vs hidden truth): "
            + ", ".join(
                f"{lf['name'][3:]} {lf['coverage']:.0%}/{lf['accuracy']:.2f}"
                for lf in report["compare"][0]["lfs"]
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="scale part: vote-table rows")
    parser.add_argument(
        "--compare-sizes", default="1e5,1e6,1e7", help="comparison with pandas + Snorkel: rows"
    )
    parser.add_argument(
        "--patterns-rows", default="5e6", help="many-patterns part: rows (0 to skip)"
    )
    parser.add_argument("--patterns-lfs", type=int, default=25, help="many-patterns part: LFs")
    parser.add_argument(
        "--memory-limit",
        default="none",
        help="scale part: also run with this --memory-limit (default: none, i.e. DuckDB's "
        "own limit; '' to skip)",
    )
    parser.add_argument("--epochs", type=int, default=500, help="label model epochs (both paths)")
    parser.add_argument("--seed", type=int, default=7, help="data seed")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="run each flywheel step this many times: fastest wall, largest RSS (baseline: once)",
    )
    parser.add_argument(
        "--baseline-max-rows",
        type=float,
        default=1e7,
        help="skip the pandas + Snorkel baseline above this many rows",
    )
    parser.add_argument(
        "--baseline-max-minutes",
        type=float,
        default=45,
        help="skip the baseline when its time, extrapolated from the previous size, exceeds this",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the DuckDB files go")
    parser.add_argument("--keep", action="store_true", help="keep the DuckDB files")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, json.loads(args.child_args))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="flywheel-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    project = work / "project"
    project.mkdir(exist_ok=True)
    for name in ("dbt_project.yml", "profiles.yml"):  # all that `flywheel label` reads
        shutil.copy(REPO_ROOT / name, project / name)
    os.environ.pop("FLYWHEEL_DUCKDB_PATH", None)

    import numpy
    import snorkel
    import torch

    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {
            "duckdb": duckdb.__version__,
            "snorkel": snorkel.__version__,
            "torch": torch.__version__,
            "numpy": numpy.__version__,
        },
        "args": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if not k.startswith("child")
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    try:
        m = run_measured(child_cmd("import"))
        report["import_floor"] = {"wall_seconds": m.wall_seconds, "peak_rss_mb": m.peak_rss_mb}
        report["scale"] = scale_part(args, work, project)
        report["patterns"] = patterns_part(args, work)
        report["compare"] = compare_part(args, work, project, m.peak_rss_mb)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["total_seconds"] = (datetime.now(UTC) - started).total_seconds()
    report["load_average_at_end"] = os.getloadavg()
    print_report(report)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"bench_label_job-{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    print(f"\nwrote {out}")
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
