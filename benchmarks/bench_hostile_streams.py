"""Hostile event streams through the staging models, at a larger budget than the test suite.

Not part of the test suite. Runs the properties of ``python/tests/property/hostile_streams.py``
(the same generator and checks as ``python/tests/property/test_hostile_streams.py``) on many
streams, and prints what was tried and what broke: streams, rows, distinct hostile cases tried
(of those the generator knows), rows lost, builds run and failed, and per property the streams
that broke it, with the cases most often behind a failure and a few failing streams in full.

Each format runs in its own worker process with its own project copy (dbt's partial parse
stays warm: about two seconds a build, three builds a stream). Every violation is collected;
nothing stops at the first.

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/bench_hostile_streams.py                    # 200 streams, all formats
    python benchmarks/bench_hostile_streams.py --examples 30 --formats jsonl
    python benchmarks/bench_hostile_streams.py --project-source /tmp/scratch   # a scratch copy

Results are also written as JSON to ``benchmarks/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROPERTY_DIR = REPO_ROOT / "python" / "tests" / "property"
sys.path.insert(0, str(PROPERTY_DIR))


def run_worker(
    fmt: str, examples: int, seed: int, source: Path, out: Path, max_hostile: int
) -> None:
    """Check ``examples`` streams in ``fmt``; write one JSON record per stream to ``out``."""
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    from conftest import copy_staging_project
    from hostile_streams import check_stream, documented_reasons, streams
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix=f"bench_hostile_{fmt}_") as tmp:
        staging = copy_staging_project(Path(tmp) / "project", fmt, source)
        documented = documented_reasons(staging.project.root)

        @hypothesis_seed(seed)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(stream=streams(fmt, max_hostile=max_hostile))
        def check(stream) -> None:
            started = time.monotonic()
            result = check_stream(stream, staging.project, staging.events_path, documented)
            records.append({
                "format": fmt,
                "rows": result.rows_written,
                "cases": sorted(stream.cases),
                "rows_lost": result.rows_lost,
                "builds": result.builds,
                "builds_failed": result.builds_failed,
                "violations": result.violations,
                "failed_cases": sorted(result.failed_cases),
                "seconds": time.monotonic() - started,
                "report": None if result.ok else result.report()[:6000],
            })  # fmt: skip
            with out.open("w") as handle:  # written as it goes: a crash keeps what was done
                json.dump(records, handle)

        check()
    with out.open("w") as handle:
        json.dump(records, handle)


def main(argv: list[str] | None = None) -> int:
    from hostile_streams import FORMATS, all_cases

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--examples", type=int, default=200, help="streams in all (split by format)"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    parser.add_argument(
        "--seed", type=int, default=20261201, help="hypothesis seed (per format + i)"
    )
    parser.add_argument(
        "--max-hostile", type=int, default=12, help="hostile cases per stream, at most"
    )
    parser.add_argument("--jobs", type=int, default=min(3, os.cpu_count() or 1),
                        help="worker processes (one format each at a time)")  # fmt: skip
    parser.add_argument("--project-source", type=Path, default=REPO_ROOT,
                        help="the dbt project to copy (default: this repository)")  # fmt: skip
    parser.add_argument("--show", type=int, default=3, help="failing streams printed in full")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        run_worker(args.worker, args.examples, args.seed, args.project_source.resolve(),
                   args.out, args.max_hostile)  # fmt: skip
        return 0

    formats = [f for f in args.formats.split(",") if f]
    per_format = {f: args.examples // len(formats) + (i < args.examples % len(formats))
                  for i, f in enumerate(formats)}  # fmt: skip
    started = time.monotonic()
    records: list[dict] = []
    crashed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_hostile_") as tmp:
        pending = list(formats)
        running: list[tuple[str, subprocess.Popen, Path]] = []
        while pending or running:
            while pending and len(running) < args.jobs:
                fmt = pending.pop(0)
                out = Path(tmp) / f"{fmt}.json"
                command = [
                    sys.executable, __file__, "--worker", fmt, "--out", str(out),
                    "--examples", str(per_format[fmt]),
                    "--seed", str(args.seed + FORMATS.index(fmt)),
                    "--max-hostile", str(args.max_hostile),
                    "--project-source", str(args.project_source),
                ]  # fmt: skip
                log = (Path(tmp) / f"{fmt}.log").open("w")
                running.append((fmt, subprocess.Popen(command, stdout=log, stderr=log), out))
                print(f"  started {fmt}: {per_format[fmt]} streams", flush=True)
            time.sleep(1)
            for item in list(running):
                fmt, process, out = item
                if process.poll() is None:
                    continue
                running.remove(item)
                got = json.loads(out.read_text()) if out.exists() else []
                records += got
                if process.returncode != 0:
                    tail = (Path(tmp) / f"{fmt}.log").read_text()[-3000:]
                    crashed.append(f"{fmt} worker exited {process.returncode}:\n{tail}")
                print(f"  done {fmt}: {len(got)} streams, "
                      f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    elapsed = time.monotonic() - started
    summary = summarize(records, formats, all_cases)
    summary.update(elapsed_seconds=round(elapsed, 1), arguments=vars(args) | {
        "project_source": str(args.project_source)}, worker_crashes=crashed)  # fmt: skip
    print_summary(summary, records, args.show)
    for crash in crashed:
        print(crash)
    results = REPO_ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results / f"bench_hostile_streams-{stamp}.json"
    path.write_text(json.dumps(summary | {"streams_detail": records}, indent=1, default=str))
    print(f"\nwritten {path.relative_to(REPO_ROOT)}")
    return 0 if summary["streams_failed"] == 0 and not crashed else 1


def summarize(records: list[dict], formats: list[str], all_cases) -> dict:
    tried = Counter(case for r in records for case in r["cases"])
    known = set().union(*(all_cases(f) for f in formats))
    by_property = Counter(p for r in records for p in r["violations"])
    failed_expected = Counter(case for r in records for case in r["failed_cases"])
    failed_build_cases = Counter(case for r in records if r["builds_failed"] for case in r["cases"])
    # a case behind failed builds: every stream that had it failed to build
    crash_cases = sorted(c for c, n in failed_build_cases.items() if n == tried[c])
    return {
        "streams": len(records),
        "streams_by_format": dict(Counter(r["format"] for r in records)),
        "rows": sum(r["rows"] for r in records),
        "distinct_cases_tried": len(tried),
        "distinct_cases_known": len(known),
        "cases_never_tried": sorted(known - set(tried)),
        "rows_lost": sum(r["rows_lost"] for r in records),
        "builds": sum(r["builds"] for r in records),
        "builds_failed": sum(r["builds_failed"] for r in records),
        "streams_failed": sum(1 for r in records if r["violations"]),
        "streams_failed_by_property": dict(by_property),
        "cases_with_unexpected_outcome": {
            c: f"{n}/{tried[c]}" for c, n in failed_expected.most_common()
        },
        "cases_whose_every_stream_failed_to_build": {c: tried[c] for c in crash_cases},
        "seconds_per_stream": round(sum(r["seconds"] for r in records) / max(1, len(records)), 2),
    }


def print_summary(summary: dict, records: list[dict], show: int) -> None:
    print("\nhostile streams through staging")
    for key in ("streams", "streams_by_format", "rows", "distinct_cases_tried",
                "distinct_cases_known", "rows_lost", "builds", "builds_failed",
                "streams_failed", "streams_failed_by_property", "seconds_per_stream",
                "elapsed_seconds"):  # fmt: skip
        print(f"  {key:<34} {summary[key]}")
    if summary["cases_never_tried"]:
        print(f"  {'cases_never_tried':<34} {', '.join(summary['cases_never_tried'])}")
    if summary["cases_with_unexpected_outcome"]:
        print("  cases with an unexpected outcome (streams / streams with the case):")
        for case, share in summary["cases_with_unexpected_outcome"].items():
            print(f"    {case:<32} {share}")
    if summary["cases_whose_every_stream_failed_to_build"]:
        print("  cases whose every stream failed to build (streams):")
        for case, n in summary["cases_whose_every_stream_failed_to_build"].items():
            print(f"    {case:<32} {n}")
    failing = [r for r in records if r["report"]]
    failing.sort(key=lambda r: r["rows"])
    for record in failing[:show]:
        print(f"\n--- a failing {record['format']} stream ({record['rows']} rows) ---")
        print(record["report"])


if __name__ == "__main__":
    raise SystemExit(main())
