"""The README's default-sample figures are what this commit prints.

The session fixture `built` is `flywheel run` on the default sample; the README's `default-sample`
block must be exactly its output (regenerate with `python scripts/readme_figures.py --write`).
The `evaluate` block is checked in test_cli.py, against `flywheel evaluate` on the same run.
"""

from __future__ import annotations

from pathlib import Path

from flywheel.readme import default_sample_block, read_blocks, run_summary_text

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_default_sample_block_is_this_run(built) -> None:
    ((n_outputs,),) = built.query("select count(*) from probabilistic_labels")
    table = run_summary_text(built.stdout)
    expected = default_sample_block(built.sim.n_rows, n_outputs, table)
    assert read_blocks(README).get("default-sample") == expected, (
        "README.md's default-sample figures are stale: run python scripts/readme_figures.py --write"
    )
