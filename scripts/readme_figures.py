"""Regenerate the README's default-sample figures from a run at the current commit.

    python scripts/readme_figures.py           # print the blocks
    python scripts/readme_figures.py --write   # and rewrite them in README.md

Runs exactly what the README shows, in a temporary copy of the project: `flywheel run` on the
default sample, then `flywheel evaluate` against its truth. The test suite renders the same
blocks from its own run (python/tests/functional/test_readme.py) and fails when README.md
disagrees.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from flywheel.project import copy_project
from flywheel.readme import default_sample_block, evaluate_block, run_summary_text, write_blocks

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str) -> str:
    """``flywheel ARGV`` in its own process, as a user runs it; what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "flywheel.cli", *argv], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"flywheel {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the blocks in README.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(ROOT, Path(tmp))
        db = str(project / "flywheel.duckdb")
        printed = _run("run", "--project-dir", tmp, "--db", db)
        table = run_summary_text(printed)
        from pyarrow import parquet

        sample = project / "data" / "sample"
        n_rows = parquet.ParquetFile(sample / "events.parquet").metadata.num_rows
        with duckdb.connect(db, read_only=True) as con:
            ((n_outputs,),) = con.execute("select count(*) from probabilistic_labels").fetchall()
        evaluation = _run(
            "evaluate", "--project-dir", tmp, "--db", db, "--truth", str(sample / "truth.parquet")
        ).rstrip("\n")
    blocks = {
        "default-sample": default_sample_block(n_rows, n_outputs, table),
        "evaluate": evaluate_block(evaluation),
    }
    for name, text in blocks.items():
        print(f"--- {name}\n{text}")
    if args.write:
        changed = write_blocks(ROOT / "README.md", blocks)
        print(f"README.md: {', '.join(changed) or 'nothing'} changed")


if __name__ == "__main__":
    main()
