"""The README's generated figures: named blocks between markers, and how to render them.

A block is written in README.md as::

    <!-- figure:NAME -->
    ```text
    ...
    ```
    <!-- /figure:NAME -->

``scripts/readme_figures.py`` runs the default sample end to end and rewrites every block;
the test suite renders the same blocks from its own run of the default sample and fails when
README.md disagrees, so a figure in the README is never older than the code.
"""

from __future__ import annotations

import re
from pathlib import Path

from flywheel.errors import FlywheelError

_BLOCK = re.compile(
    r"(?P<open><!-- figure:(?P<name>[a-z0-9_-]+) -->\n```text\n)(?P<body>.*?)(?P<close>```\n"
    r"<!-- /figure:(?P=name) -->)",
    re.DOTALL,
)


def read_blocks(readme: Path) -> dict[str, str]:
    """``{name: text}`` of every figure block in ``readme`` (text without the fences)."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(readme.read_text(encoding="utf-8"))}


def write_blocks(readme: Path, blocks: dict[str, str]) -> list[str]:
    """Replace the named blocks' text in ``readme``; return the names that changed.

    Raises
    ------
    FlywheelError
        When a block to write has no markers in the README.
    """
    text = readme.read_text(encoding="utf-8")
    missing = sorted(set(blocks) - set(read_blocks(readme)))
    if missing:
        raise FlywheelError(f"{readme} has no figure block named {', '.join(missing)}")
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            return match[0]
        body = blocks[name] if blocks[name].endswith("\n") else blocks[name] + "\n"
        if body != match["body"]:
            changed.append(name)
        return match["open"] + body + match["close"]

    readme.write_text(_BLOCK.sub(replace, text), encoding="utf-8")
    return changed


def run_summary_text(stdout: str) -> str:
    """What ``flywheel run`` printed after its progress lines: the summary table (from its
    ``label task`` header on) and the flagged LFs after it."""
    lines = stdout.rstrip("\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("label task")]
    if not starts:
        raise FlywheelError("flywheel run printed no summary table")
    return "\n".join(lines[starts[-1] :])


def default_sample_block(n_rows: int, n_outputs: int, summary_table: str) -> str:
    """The ``default-sample`` block: the command, the sample's size, what it prints."""
    return (
        f"$ flywheel run    # the default sample: seed 7, {n_rows:,} raw rows, "
        f"{n_outputs:,} labelled outputs\n{summary_table}\n"
    )


def evaluate_block(evaluation_table: str) -> str:
    """The ``evaluate`` block: the command and what it prints."""
    return f"$ flywheel evaluate --truth data/sample/truth.parquet\n{evaluation_table}\n"
