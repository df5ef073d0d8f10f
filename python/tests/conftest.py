"""Shared fixtures: a copy of the dbt project with its own DuckDB file and simulated events."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from flywheel.pipeline import PipelineResult, run_pipeline
from flywheel.project import Project, load_project
from flywheel.simulate import SimulationResult, simulate

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_ITEMS = [
    "dbt_project.yml",
    "profiles.yml",
    "selectors.yml",
    "models",
    "macros",
    "seeds",
    "tests",
]
#: size of the simulated stream the functional tests share (about 23k outputs)
FUNCTIONAL_N_EVENTS = 60_000
FUNCTIONAL_SEED = 11


def _copy_project(destination: Path) -> Path:
    """Copy the dbt project (not its data, warehouse or build artefacts) to ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for item in PROJECT_ITEMS:
        source = REPO_ROOT / item
        if source.is_dir():
            shutil.copytree(source, destination / item)
        else:
            shutil.copy2(source, destination / item)
    return destination


@pytest.fixture(scope="session")
def copy_project() -> Callable[[Path], Path]:
    """A function that copies the dbt project to a directory and returns that directory."""
    return _copy_project


@dataclass(frozen=True)
class Built:
    """The whole pipeline, run once on a simulated stream, in a temporary project copy."""

    project: Project
    sim: SimulationResult
    result: PipelineResult

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


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Simulate, dbt build (unit and data tests included), label, dbt build the labels."""
    root = _copy_project(tmp_path_factory.mktemp("project"))
    sim = simulate(root / "data" / "sim", n_events=FUNCTIONAL_N_EVENTS, seed=FUNCTIONAL_SEED)
    saved = os.environ.pop("FLYWHEEL_DUCKDB_PATH", None)
    try:
        project = load_project(root)
        result = run_pipeline(
            project, events_path=sim.events_path, truth_path=sim.truth_path, echo=lambda _: None
        )
    finally:
        if saved is None:
            os.environ.pop("FLYWHEEL_DUCKDB_PATH", None)
        else:
            os.environ["FLYWHEEL_DUCKDB_PATH"] = saved
    return Built(project, sim, result)


@pytest.fixture(autouse=True)
def _isolate_warehouse_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test inherits the warehouse path of the shell; dbt sends no usage stats."""
    monkeypatch.delenv("FLYWHEEL_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    yield
