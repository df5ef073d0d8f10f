"""Peak RSS and wall time of every flywheel command at two (or more) sizes of event stream.

Not part of the test suite. Issue 11's target: every command's peak RSS at 10x the outputs
within 1.5x of its value at the smaller size (``summary``, ``evaluate``, ``report``,
``export``, ``label``: aggregate in SQL, stream what leaves the warehouse, sample where a
classifier trains; DuckDB's threads and memory limit from ``profiles.yml``).

For each size it copies the dbt project to a work directory, simulates the events
(``flywheel simulate --n-events N``), builds the warehouse (``flywheel run --events ...
--truth ...``, measured too), then runs each command in its own subprocess and records its
wall time and *its own* peak RSS (``ru_maxrss`` from ``os.wait4`` in a small launcher, as
``bench_label_job.py`` does: a child forked from a large process would count that process's
memory too). ``label`` runs last (it writes a new fit; nothing after it reads one).

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/bench_commands.py                         # 2e5 and 2e6 events
    python benchmarks/bench_commands.py --sizes 1e6,1e7         # the issue's sizes
    python benchmarks/bench_commands.py --commands summary,evaluate --keep

It prints one table (each command's wall time and peak RSS per size, and the RSS ratio of
the largest size to the smallest beside the ratio of their outputs) and writes it, with the
machine and arguments, as JSON to ``benchmarks/results/bench_commands-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "python"))

from flywheel.project import copy_project  # noqa: E402

#: the issue's target: peak RSS at the largest size within this factor of the smallest
TARGET_RSS_RATIO = 1.5
#: every command measured, in the order run (label last: it writes a new fit)
COMMANDS: tuple[str, ...] = (
    "summary",
    "evaluate",
    "report",
    "export_jsonl",
    "export_parquet",
    "label",
)

# Linux's ru_maxrss of a child counts the memory image it was forked from (the parent's RSS
# at fork, kept across exec): a small launcher forks the measured command instead.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    json.dump({"wall_seconds": wall, "maxrss_kib": usage.ru_maxrss,
               "returncode": os.waitstatus_to_exitcode(status)}, f)
"""


@dataclass(frozen=True)
class Measured:
    """One command at one size: wall seconds and its own peak RSS (MB)."""

    wall_seconds: float
    peak_rss_mb: float


def run_measured(cmd: list[str], cwd: Path) -> Measured:
    """Run ``cmd`` in a subprocess: its wall time and its own peak RSS; raise if it fails."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.NamedTemporaryFile(suffix=".json") as usage_file,
    ):
        env = {k: v for k, v in os.environ.items() if k != "FLYWHEEL_DUCKDB_PATH"}
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, usage_file.name, *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            check=True,
        )
        usage = json.loads(Path(usage_file.name).read_text())
        if usage["returncode"] != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {usage['returncode']}:\n{tail}")
    return Measured(usage["wall_seconds"], usage["maxrss_kib"] / 1024)  # KiB on Linux


def flywheel(*args: str) -> list[str]:
    return [sys.executable, "-m", "flywheel.cli", *args]


def command_args(name: str, project: Path, db: Path, truth: Path) -> list[str]:
    """The CLI arguments of one measured command."""
    where = ["--project-dir", str(project), "--db", str(db)]
    return {
        "summary": ["summary", *where, "--truth", str(truth)],
        "evaluate": ["evaluate", *where, "--truth", str(truth)],
        "report": ["report", *where, "--truth", str(truth), "--out", str(project / "r.html")],
        "export_jsonl": ["export", *where, str(project / "train.jsonl")],
        "export_parquet": ["export", *where, str(project / "train.parquet")],
        "label": ["label", *where],
    }[name]


def bench_size(n_events: int, work: Path, commands: list[str], seed: int) -> dict[str, Any]:
    """Simulate, build, then measure every command on ``n_events`` events."""
    project = copy_project(REPO_ROOT, work / "project")
    data, db = work / "data", work / "warehouse.duckdb"
    print(f"[{n_events:,} events] simulate, build", flush=True)
    run_measured(
        flywheel("simulate", "--out", str(data), "--n-events", str(n_events), "--seed", str(seed)),
        project,
    )
    events, truth = data / "events.parquet", data / "truth.parquet"
    build = run_measured(
        flywheel(
            "run",
            "--project-dir",
            str(project),
            "--db",
            str(db),
            "--events",
            str(events),
            "--truth",
            str(truth),
        ),  # fmt: skip
        project,
    )
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("select count(*) from main.probabilistic_labels").fetchone()
    n_outputs = int(row[0]) if row else 0
    measured = {"run": build}
    for name in commands:
        print(f"[{n_events:,} events] {name}", flush=True)
        measured[name] = run_measured(flywheel(*command_args(name, project, db, truth)), project)
    return {
        "n_events": n_events,
        "n_outputs": n_outputs,
        "db_mb": db.stat().st_size / 2**20,
        "commands": {name: asdict(m) for name, m in measured.items()},
    }


def print_table(results: list[dict[str, Any]]) -> None:
    """Each command's wall time and peak RSS per size, and the RSS ratio last / first."""
    first, last = results[0], results[-1]
    head = f"{'command':<16}" + "".join(
        f" | {r['n_events']:>10,} ev: {'wall s':>7} {'RSS MB':>7}" for r in results
    )
    if len(results) > 1:
        head += f" | {'RSS ratio':>9}"
    print()
    print(
        "outputs: "
        + ", ".join(f"{r['n_outputs']:,} at {r['n_events']:,} events" for r in results)
        + (
            f" (x{last['n_outputs'] / first['n_outputs']:.1f})"
            if len(results) > 1 and first["n_outputs"]
            else ""
        )
    )
    print(head)
    print("-" * len(head))
    for name in first["commands"]:
        line = f"{name:<16}"
        for r in results:
            m = r["commands"][name]
            line += f" | {'':>14} {m['wall_seconds']:>7.1f} {m['peak_rss_mb']:>7.0f}"
        if len(results) > 1:
            ratio = last["commands"][name]["peak_rss_mb"] / first["commands"][name]["peak_rss_mb"]
            flag = "" if name == "run" or ratio <= TARGET_RSS_RATIO else " !"
            line += f" | {ratio:>8.2f}x{flag}"
        print(line)
    print(
        f"target: every command (not `run`, the build) within {TARGET_RSS_RATIO}x; '!' marks a miss"
    )


def parse_sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2e5,2e6", help="event counts (default: 2e5,2e6)")
    parser.add_argument(
        "--commands", default=",".join(COMMANDS), help=f"subset of {','.join(COMMANDS)}"
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build (temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    sizes = sorted(parse_sizes(args.sizes))
    commands = [c for c in args.commands.split(",") if c]
    unknown = sorted(set(commands) - set(COMMANDS))
    if not sizes or unknown:
        parser.error(f"need sizes, and commands from {', '.join(COMMANDS)} (got {unknown})")
    commands = [c for c in COMMANDS if c in commands]  # label last
    work = Path(tempfile.mkdtemp(prefix="bench_commands-", dir=args.workdir))
    started = dt.datetime.now(dt.UTC)
    try:
        results = [bench_size(n, work / f"n{n}", commands, args.seed) for n in sizes]
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    report = {
        "started": started.isoformat(),
        "arguments": vars(args) | {"workdir": str(args.workdir), "out_dir": str(args.out_dir)},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "settings": {
            k: os.environ.get(k)
            for k in ("FLYWHEEL_DUCKDB_THREADS", "FLYWHEEL_DUCKDB_MEMORY_LIMIT")
        },
        "results": results,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"bench_commands-{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
