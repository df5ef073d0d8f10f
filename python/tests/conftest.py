"""Shared fixtures: a copy of the dbt project with its own DuckDB file and simulated events."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from flywheel.cli import main
from flywheel.pipeline import SAMPLE_DIR, SimulateConfig, simulate_sample
from flywheel.project import Project, load_project
from flywheel.project import copy_project as copy_dbt_project
from flywheel.simulate import SimulationResult
from flywheel.summary import TaskSummary, summarize

REPO_ROOT = Path(__file__).resolve().parents[2]


def _copy_project(destination: Path) -> Path:
    """Copy the dbt project (not its data, warehouse or build artefacts) to ``destination``."""
    return copy_dbt_project(REPO_ROOT, destination)


@pytest.fixture(scope="session")
def copy_project() -> Callable[[Path], Path]:
    """A function that copies the dbt project to a directory and returns that directory."""
    return _copy_project


@dataclass(frozen=True)
class Built:
    """``flywheel run`` on the default sample (the README's figures), in a temporary project copy.

    Attributes
    ----------
    project
        The project copy and its warehouse.
    sim
        The default sample (what ``flywheel run`` simulates without ``--events``).
    stdout
        What ``flywheel run`` printed: progress lines, then the summary table.
    """

    project: Project
    sim: SimulationResult
    stdout: str

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run SQL on the built warehouse and fetch every row."""
        # dbt-duckdb keeps its connection open in this process: open the file the same way
        con = self.project.connect()
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A connection to the built warehouse (close it)."""
        return self.project.connect()

    def summaries(self) -> list[TaskSummary]:
        """``summarize()`` of the built warehouse against the sample's truth."""
        con = self.connect()
        try:
            return summarize(con, self.project.schema, self.sim.truth_path)
        finally:
            con.close()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``flywheel run --events SAMPLE --truth TRUTH`` through the CLI, once per session.

    The sample is the default one (``SimulateConfig()``: what ``flywheel run`` simulates when
    given no events, and what ``scripts/demo.sh`` prints), so the README's default-sample
    figures can be checked against this very run. dbt builds with its unit and data tests.
    """
    root = _copy_project(tmp_path_factory.mktemp("project"))
    sim = simulate_sample(SimulateConfig(out=root / SAMPLE_DIR))
    saved = os.environ.pop("FLYWHEEL_DUCKDB_PATH", None)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            status = main(
                [
                    "run", "--project-dir", str(root), "--db", str(root / "flywheel.duckdb"),
                    "--events", str(sim.events_path), "--truth", str(sim.truth_path),
                ]
            )  # fmt: skip
        project = load_project(root, root / "flywheel.duckdb")
    finally:
        if saved is None:
            os.environ.pop("FLYWHEEL_DUCKDB_PATH", None)
        else:
            os.environ["FLYWHEEL_DUCKDB_PATH"] = saved
    assert status == 0, out.getvalue()[-2000:]
    return Built(project, sim, out.getvalue())


@pytest.fixture(autouse=True)
def _isolate_warehouse_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test inherits the warehouse path of the shell; dbt sends no usage stats."""
    monkeypatch.delenv("FLYWHEEL_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    yield
