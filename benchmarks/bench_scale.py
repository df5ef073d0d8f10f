"""The whole flywheel job at scale: per stage, per model, against DuckDB's own floor.

Not part of the test suite. For each size of ``--sizes`` (raw events; default 1e6,1e7), in a
fresh copy of the project under a temporary directory:

1. **simulate** ``flywheel.simulate.simulate`` (parquet, ``--seed``, no gold), in a subprocess;
2. **run** ``flywheel run --events ... --db ...`` as a subprocess, on all but the last 1% of
   the events by received_at: its wall time, split into
   stages (dbt ``before_labels``, label job, dbt ``after_labels``, summary) by the ``[ 12.3s]``
   progress lines the CLI prints, and the peak RSS of its process tree (``/proc`` of the
   process and its descendants summed, sampled every ``--sample-seconds``, and ``ru_maxrss``
   from ``os.wait4``). dbt overwrites ``target/run_results.json`` at the end of each build, so
   the sampler copies every new version: per-model execution times of both builds (the 10
   slowest printed, all in the JSON). Also the warehouse file's size and events per second
   (raw rows / the run's wall time);
3. **incremental**: the hourly step of analytics CI, ``dbt build --exclude-resource-type
   unit_test`` on the whole events file (the source grew by the last 1%), incremental on the
   run's warehouse: wall time, peak RSS, its slowest models, and the ratio to the full run;
   then the same build once more with nothing new (the fixed cost); ``--no-incremental``
   skips this step;
4. **floor**, each in its own subprocess on the same events file with DuckDB's default
   settings: ``create table t as select * from read_parquet(events) order by user_id,
   occurred_at`` into a fresh database file (the *sort floor*), and a one-pass window
   sessionization (``lag(occurred_at)`` per user in client time, a gap over 30 minutes
   starts a session, a running ``sum`` numbers them) written to a table; the ratio of the
   full run (without simulate) to the sort floor;
5. at the largest size (or those of ``--commands-at``), every other CLI
   command on the built warehouse, each a subprocess with its wall time and peak RSS:
   ``summary``, ``export`` (training examples, parquet), ``evaluate --truth`` and ``report``.

Wall times on a shared machine are noisy: the load average at the start and end is in the
JSON. A 1e7-event run took ~24 minutes on 2 cores before the models were tuned.

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/bench_scale.py                          # 1e6 and 1e7 events
    python benchmarks/bench_scale.py --sizes 1e6,2e6 --keep   # keep the warehouses
    python benchmarks/bench_scale.py --sizes 1e6 --no-commands

Prints markdown tables; writes every figure as JSON to ``benchmarks/results/``
(git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from _machine import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
FLYWHEEL = Path(sys.executable).with_name("flywheel")
DBT = Path(sys.executable).with_name("dbt")
#: the share of the events (the last received) the incremental build adds
NEW_SHARE = 0.01
RESULT_MARK = "BENCH_RESULT "
#: progress lines of `flywheel run` that start a stage (pipeline.run's messages)
STAGE_MARKS = {
    "dbt build: staging": "dbt before_labels",
    "label job:": "label job",
    "dbt build: probabilistic": "dbt after_labels",
}
PROGRESS = re.compile(r"^\[\s*([0-9.]+)s\] (.*)$")
SESSION_GAP_SECONDS = 30 * 60

SORT_FLOOR_SQL = """
create table t as
select * from read_parquet({events}) order by user_id, occurred_at
"""
SESSION_FLOOR_SQL = f"""
create table sessions as
with typed as (
    select *, try_cast(occurred_at as timestamp) as occurred_ts
    from read_parquet({{events}})
),
flagged as (
    select
        *,
        case
            when lag(occurred_ts) over w is null
                or epoch(occurred_ts) - epoch(lag(occurred_ts) over w) > {SESSION_GAP_SECONDS}
                then 1 else 0
        end as is_session_start
    from typed
    window w as (partition by user_id order by occurred_ts)
)
select
    *,
    sum(is_session_start) over (
        partition by user_id order by occurred_ts rows between unbounded preceding and current row
    ) as session_number
from flagged
"""


# --- measuring subprocesses ------------------------------------------------------------


@dataclass
class Measured:
    """One subprocess: wall time, peak RSS of its tree, its output."""

    cmd: list[str]
    wall_seconds: float
    peak_rss_mb: float  # the sampled sum over the process tree
    maxrss_mb: float  # ru_maxrss of the largest single process (os.wait4)
    returncode: int
    stdout: str
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # run_results.json versions

    def result(self) -> dict[str, Any]:
        for line in self.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK) :])
        raise RuntimeError(f"no result from {self.cmd}:\n{self.stdout[-3000:]}")


def _tree_rss_kb(root: int) -> int:
    """Resident memory (kB) of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm") as f:
                resident_pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        pid = int(entry)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_measured(
    cmd: list[str],
    *,
    sample_seconds: float = 0.2,
    watch: Path | None = None,
    env: dict[str, str] | None = None,
    echo: bool = False,
) -> Measured:
    """Run ``cmd``; sample its tree's RSS, timestamp its output lines, copy ``watch`` on change."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
    )
    lines: list[tuple[float, str]] = []
    snapshots: list[dict[str, Any]] = []
    peak_kb = 0
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - started, line.rstrip("\n")))
            if echo:
                print(f"      | {line.rstrip()}", flush=True)

    def sample() -> None:
        nonlocal peak_kb
        seen = None
        while not done.is_set():
            peak_kb = max(peak_kb, _tree_rss_kb(proc.pid))
            if watch is not None:
                try:
                    stamp = watch.stat().st_mtime_ns
                    if stamp != seen:
                        snapshots.append(json.loads(watch.read_text()))
                        seen = stamp
                except (OSError, ValueError):  # absent, or being written: next sample
                    pass
            done.wait(sample_seconds)

    reader = threading.Thread(target=read, daemon=True)
    sampler = threading.Thread(target=sample, daemon=True)
    reader.start()
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    done.set()
    sampler.join()
    if watch is not None and watch.is_file():  # the last version, if written after a sample
        last = json.loads(watch.read_text())
        if not snapshots or snapshots[-1] != last:
            snapshots.append(last)
    return Measured(
        cmd=cmd,
        wall_seconds=wall,
        peak_rss_mb=peak_kb / 1024,
        maxrss_mb=usage.ru_maxrss / 1024,
        returncode=proc.returncode,
        stdout="\n".join(line for _, line in lines),
        lines=lines,
        snapshots=snapshots,
    )


def check(m: Measured) -> Measured:
    if m.returncode != 0:
        raise RuntimeError(f"{' '.join(m.cmd)} exited {m.returncode}:\n{m.stdout[-4000:]}")
    return m


def child_cmd(mode: str, **kwargs: Any) -> list[str]:
    return [sys.executable, __file__, "--child", mode, "--child-args", json.dumps(kwargs)]


def child_main(mode: str, kwargs: dict[str, Any]) -> None:
    """The measured work that is not a CLI command, in a fresh process."""
    if mode == "simulate":
        from flywheel.simulate import simulate

        sim = simulate(
            Path(kwargs["out"]),
            n_events=kwargs["n_events"],
            seed=kwargs["seed"],
            fmt="parquet",
            golden_size=0,
        )
        out = {
            "events_path": str(sim.events_path),
            "truth_path": str(sim.truth_path),
            "n_rows": sim.n_rows,
            "n_outputs": sim.n_outputs,
        }
    elif mode in ("sort_floor", "session_floor"):
        sql = SORT_FLOOR_SQL if mode == "sort_floor" else SESSION_FLOOR_SQL
        events = "'" + kwargs["events"].replace("'", "''") + "'"
        with duckdb.connect(kwargs["db"]) as con:
            con.execute(sql.format(events=events))
            table = "t" if mode == "sort_floor" else "sessions"
            out = {"rows": con.execute(f"select count(*) from {table}").fetchone()[0]}  # type: ignore[index]
            if mode == "session_floor":
                out["sessions"] = con.execute(
                    "select count(*) from sessions where is_session_start = 1"
                ).fetchone()[0]  # type: ignore[index]
    else:
        raise ValueError(mode)
    print(RESULT_MARK + json.dumps(out), flush=True)


# --- one size ----------------------------------------------------------------------------


def dbt_builds(snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct dbt invocations among the copies of ``run_results.json``, in order."""
    builds: list[dict[str, Any]] = []
    for snap in snapshots:
        key = snap.get("metadata", {}).get("invocation_id")
        if not builds or builds[-1]["metadata"].get("invocation_id") != key:
            builds.append(snap)
    return builds


def stages(m: Measured, builds: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per stage of `flywheel run`, from when its progress lines arrived (the child
    runs unbuffered): startup (imports) until the first line; dbt before_labels from its
    ``dbt build`` line to the ``label job`` line; the label job until the second ``dbt build``
    line; dbt after_labels as dbt's own ``elapsed_time`` of that build (passing tests print
    nothing); the summary (computed, then printed) from there to the process's end."""
    at: dict[str, float] = {}
    for t, line in m.lines:
        match = PROGRESS.match(line)
        if match:
            at.setdefault("first", t)
            for prefix, stage in STAGE_MARKS.items():
                if match.group(2).startswith(prefix):
                    at.setdefault(stage, t)
    names = ["first", "dbt before_labels", "label job", "dbt after_labels"]
    if not all(name in at for name in names):
        return {}
    after = builds[-1]["elapsed_time"] if len(builds) >= 2 else m.wall_seconds
    after = min(after, m.wall_seconds - at["dbt after_labels"])
    return {
        "startup": round(at["first"], 2),
        "dbt before_labels": round(at["label job"] - at["dbt before_labels"], 2),
        "label job": round(at["dbt after_labels"] - at["label job"], 2),
        "dbt after_labels": round(after, 2),
        "summary": round(m.wall_seconds - at["dbt after_labels"] - after, 2),
    }


def model_times(builds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every node of every dbt build: name, type, status, execution seconds."""
    rows: list[dict[str, Any]] = []
    for i, build in enumerate(builds):
        for r in build.get("results", []):
            uid = r["unique_id"]
            rows.append(
                {
                    "build": "before_labels" if i == 0 else "after_labels",
                    "unique_id": uid,
                    "name": uid.split(".")[-1] if not uid.startswith("test.") else uid[5:],
                    "type": uid.split(".")[0],
                    "status": r["status"],
                    "seconds": round(r.get("execution_time") or 0.0, 3),
                }
            )
    return rows


def file_mb(path: Path) -> float:
    size = sum(p.stat().st_size for p in (path, path.with_name(path.name + ".wal")) if p.exists())
    return size / 2**20


def bench_size(args: argparse.Namespace, n: int, work: Path, commands: bool) -> dict[str, Any]:
    case = work / f"n{n}"
    if case.exists():
        shutil.rmtree(case)
    from flywheel.project import copy_project

    project = copy_project(REPO_ROOT, case / "project")
    db = case / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if k != "FLYWHEEL_DUCKDB_PATH"}
    env["PYTHONUNBUFFERED"] = "1"  # progress lines arrive when printed: they time the stages
    out: dict[str, Any] = {"n_events": n}

    print(f"\n== {human(n)} events: simulate", flush=True)
    m = check(
        run_measured(
            child_cmd("simulate", out=str(case / "data"), n_events=n, seed=args.seed),
            sample_seconds=args.sample_seconds,
        )
    )
    sim = m.result()
    events = Path(sim["events_path"])
    # the run reads all but the last 1% received; the hourly-style build then adds them
    first_events = case / "data" / "events_first_99pct.parquet"
    with duckdb.connect() as con:
        source = "'" + str(events).replace("'", "''") + "'"
        target = "'" + str(first_events).replace("'", "''") + "'"
        con.execute(
            f"copy (select * from read_parquet({source}) where received_at is null"
            f" or received_at < (select quantile_disc(received_at, {1 - NEW_SHARE})"
            f" from read_parquet({source}))) to {target} (format parquet)"
        )
        n_first = con.execute(f"select count(*) from read_parquet({target})").fetchone()[0]  # type: ignore[index]
    out["simulate"] = {
        **sim,
        "wall_seconds": m.wall_seconds,
        "peak_rss_mb": m.peak_rss_mb,
        "events_mb": file_mb(events),
    }

    print(f"== {human(n)} events: flywheel run", flush=True)
    m = check(
        run_measured(
            [
                str(FLYWHEEL),
                "run",
                "--project-dir",
                str(project),
                "--db",
                str(db),
                "--events",
                str(first_events),
                "--truth",
                sim["truth_path"],
            ],
            sample_seconds=args.sample_seconds,
            watch=project / "target" / "run_results.json",
            env=env,
            echo=args.verbose,
        )
    )
    builds = dbt_builds(m.snapshots)
    nodes = model_times(builds)
    out["run"] = {
        "wall_seconds": m.wall_seconds,
        "peak_rss_mb": m.peak_rss_mb,
        "maxrss_mb": m.maxrss_mb,
        "stages": stages(m, builds),
        "dbt_elapsed_seconds": [build.get("elapsed_time") for build in builds],
        "n_rows": n_first,
        "events_per_second": n_first / m.wall_seconds,
        "warehouse_mb": file_mb(db),
        "nodes": nodes,
        "stdout_tail": m.stdout.splitlines()[-40:],
    }
    if len(builds) < 2:
        print("   (warning: only one dbt run_results.json was caught)", flush=True)

    if not args.no_incremental:
        print(
            f"== {human(n)} events: incremental dbt build of the last {NEW_SHARE:.0%}", flush=True
        )
        run_env = {**env, "FLYWHEEL_DUCKDB_PATH": str(db)}
        dbt_vars = json.dumps({"flywheel__events_path": str(events)})
        dbt_common = [
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--vars",
            dbt_vars,
        ]
        incremental: dict[str, Any] = {"new_rows": sim["n_rows"] - n_first}
        # analytics CI's hourly step, `dbt build --exclude-resource-type unit_test` (models and
        # every data test; unit tests check SQL logic on fixtures, so they belong to the CI of a
        # change, not to each load): with the new events, then once more with nothing new (the
        # fixed cost: dbt's start, the data tests)
        for name in ("build", "build_nothing_new"):
            m = check(
                run_measured(
                    [str(DBT), "build", "--exclude-resource-type", "unit_test", *dbt_common],
                    sample_seconds=args.sample_seconds,
                    watch=project / "target" / "run_results.json",
                    env=run_env,
                    echo=args.verbose,
                )
            )
            runs = dbt_builds(m.snapshots)
            incremental[name] = {
                "wall_seconds": m.wall_seconds,
                "peak_rss_mb": m.peak_rss_mb,
                "nodes": model_times(runs[-1:]),  # the first copy may be the run's last build
            }
        dbt_run_seconds = out["run"]["stages"].get("dbt before_labels", float("nan")) + out["run"][
            "stages"
        ].get("dbt after_labels", float("nan"))
        incremental["ratio_to_full_run"] = (
            incremental["build"]["wall_seconds"] / out["run"]["wall_seconds"]
        )
        incremental["ratio_to_full_dbt_builds"] = (
            incremental["build"]["wall_seconds"] / dbt_run_seconds
        )
        out["incremental"] = incremental

    print(f"== {human(n)} events: floor", flush=True)
    for mode in ("sort_floor", "session_floor"):
        floor_db = case / f"{mode}.duckdb"
        m = check(
            run_measured(
                child_cmd(mode, events=str(events), db=str(floor_db)),
                sample_seconds=args.sample_seconds,
            )
        )
        out[mode] = {**m.result(), "wall_seconds": m.wall_seconds, "peak_rss_mb": m.peak_rss_mb}
        floor_db.unlink(missing_ok=True)
    out["ratio_run_to_sort_floor"] = out["run"]["wall_seconds"] / out["sort_floor"]["wall_seconds"]
    out["ratio_run_to_session_floor"] = (
        out["run"]["wall_seconds"] / out["session_floor"]["wall_seconds"]
    )

    if commands:
        print(f"== {human(n)} events: commands", flush=True)
        common = ["--project-dir", str(project), "--db", str(db)]
        cmds = {
            "summary": ["summary", *common, "--truth", sim["truth_path"]],
            "export": ["export", *common, str(case / "training_examples.parquet")],
            "evaluate": ["evaluate", *common, "--truth", sim["truth_path"]],
            "report": [
                "report",
                *common,
                "--out",
                str(case / "report.html"),
                "--truth",
                sim["truth_path"],
            ],
        }
        out["commands"] = {}
        for name, cmd in cmds.items():
            m = run_measured([str(FLYWHEEL), *cmd], sample_seconds=args.sample_seconds, env=env)
            out["commands"][name] = {
                "wall_seconds": m.wall_seconds,
                "peak_rss_mb": m.peak_rss_mb,
                "maxrss_mb": m.maxrss_mb,
                "returncode": m.returncode,
            }
            if m.returncode != 0:
                out["commands"][name]["stdout_tail"] = m.stdout.splitlines()[-20:]
    if not args.keep:
        shutil.rmtree(case, ignore_errors=True)
    return out


# --- report ------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def human(n: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div:
            return f"{n / div:g}{unit}"
    return str(n)


def print_report(report: dict[str, Any]) -> None:
    cases = report["sizes"]
    print("\n## Whole run\n")
    stage_names = ["simulate", "dbt before_labels", "label job", "dbt after_labels", "summary"]
    print(
        "| events | "
        + " | ".join(f"{s} (s)" for s in stage_names)
        + " | run (s) | events/s | peak RSS (MB) | warehouse (MB) | sort floor (s) "
        "| session floor (s) | run / sort floor | run / session floor |"
    )
    print("|---" * (len(stage_names) + 9) + "|")
    for c in cases:
        st = c["run"]["stages"]
        cells = [f"{c['simulate']['wall_seconds']:.1f}"]
        cells += [f"{st.get(s, float('nan')):.1f}" for s in stage_names[1:]]
        print(
            f"| {c['simulate']['n_rows']:,} | "
            + " | ".join(cells)
            + f" | {c['run']['wall_seconds']:.1f} | {c['run']['events_per_second']:,.0f}"
            f" | {c['run']['peak_rss_mb']:,.0f} | {c['run']['warehouse_mb']:,.0f}"
            f" | {c['sort_floor']['wall_seconds']:.1f} | {c['session_floor']['wall_seconds']:.1f}"
            f" | {c['ratio_run_to_sort_floor']:.1f} | {c['ratio_run_to_session_floor']:.1f} |"
        )
    print(f"\n## Incremental `dbt build`: the last {NEW_SHARE:.0%} of the events added\n")
    print(
        "| events | new rows | build (s) | peak RSS (MB) | build, nothing new (s) "
        "| build / full run | build / full run's dbt builds | slowest models (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in cases:
        inc = c.get("incremental")
        if not inc:
            continue
        models = [x for x in inc["build"]["nodes"] if x["type"] == "model"]
        slowest = ", ".join(
            f"{x['name']} {x['seconds']:.1f}"
            for x in sorted(models, key=lambda x: -x["seconds"])[:3]
        )
        build, idle = inc["build"], inc["build_nothing_new"]
        cells = [
            f"{c['simulate']['n_rows']:,}", f"{inc['new_rows']:,}", f"{build['wall_seconds']:.1f}",
            f"{build['peak_rss_mb']:,.0f}", f"{idle['wall_seconds']:.1f}",
            f"{inc['ratio_to_full_run']:.3f}", f"{inc['ratio_to_full_dbt_builds']:.3f}", slowest,
        ]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    for c in cases:
        models = [x for x in c["run"]["nodes"] if x["type"] in ("model", "seed")]
        tests = [x for x in c["run"]["nodes"] if x["type"] in ("test", "unit_test")]
        print(
            f"\n## Slowest models at {human(c['n_events'])} events "
            f"(models {sum(x['seconds'] for x in models):.1f} s, "
            f"tests {sum(x['seconds'] for x in tests):.1f} s in all)\n"
        )
        print("| model | build | seconds |\n|---|---|---|")
        for x in sorted(models, key=lambda x: -x["seconds"])[: report["args"]["top"]]:
            print(f"| {x['name']} | {x['build']} | {x['seconds']:.1f} |")
        print("\n| slowest tests | build | seconds |\n|---|---|---|")
        for x in sorted(tests, key=lambda x: -x["seconds"])[:5]:
            print(f"| {x['name'][:70]} | {x['build']} | {x['seconds']:.1f} |")
        if "commands" in c:
            print(f"\n## Commands at {human(c['n_events'])} events\n")
            print("| command | wall (s) | peak RSS (MB) | exit |\n|---|---|---|---|")
            for name, x in c["commands"].items():
                print(
                    f"| {name} | {x['wall_seconds']:.1f} | {x['peak_rss_mb']:,.0f} "
                    f"| {x['returncode']} |"
                )
    measured = [c for c in cases if "commands" in c]
    if len(measured) >= 2:
        small, large = measured[0], measured[-1]
        print(
            f"\n## Commands: peak RSS at {human(large['n_events'])} / at "
            f"{human(small['n_events'])} events\n"
        )
        print(
            "| command | RSS small (MB) | RSS large (MB) | ratio | wall small (s) "
            "| wall large (s) |"
        )
        print("|---|---|---|---|---|---|")
        for name, x in large["commands"].items():
            y = small["commands"][name]
            print(
                f"| {name} | {y['peak_rss_mb']:,.0f} | {x['peak_rss_mb']:,.0f} "
                f"| {x['peak_rss_mb'] / y['peak_rss_mb']:.2f} | {y['wall_seconds']:.1f} "
                f"| {x['wall_seconds']:.1f} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="raw events per run (up to 5e7)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument(
        "--commands-at",
        default=None,
        help="time every CLI command at these sizes (comma-separated; default: the largest of "
        "--sizes); at two or more, the ratio of peak RSS of the largest to the smallest",
    )
    parser.add_argument("--no-commands", action="store_true", help="skip the CLI commands")
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the hourly incremental builds"
    )
    parser.add_argument("--top", type=int, default=10, help="slowest models to print")
    parser.add_argument("--sample-seconds", type=float, default=0.2, help="RSS sampling period")
    parser.add_argument("--workdir", type=Path, default=None, help="where the data goes")
    parser.add_argument("--keep", action="store_true", help="keep data and warehouses")
    parser.add_argument("--verbose", action="store_true", help="echo flywheel run's output")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, json.loads(args.child_args))
        return 0

    sizes = parse_sizes(args.sizes)
    commands_at = (
        set() if args.no_commands else set(parse_sizes(args.commands_at or str(max(sizes))))
    )
    work = args.workdir or Path(tempfile.mkdtemp(prefix="flywheel-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {"duckdb": duckdb.__version__},
        "git_commit": subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "args": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if not k.startswith("child")
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "sizes": [],
    }
    try:
        for n in sizes:
            report["sizes"].append(bench_size(args, n, work, commands=n in commands_at))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        report["total_seconds"] = (datetime.now(UTC) - started).total_seconds()
        report["load_average_at_end"] = os.getloadavg()
        args.out_dir.mkdir(parents=True, exist_ok=True)
        out = args.out_dir / f"bench_scale-{started:%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_report(report)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
