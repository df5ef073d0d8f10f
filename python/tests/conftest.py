"""Shared fixtures: a copy of the dbt project with its own DuckDB file and simulated events."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_ITEMS = ["dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests"]


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


@pytest.fixture(autouse=True)
def _isolate_warehouse_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test inherits (or leaks) the warehouse path of the shell or of another test."""
    monkeypatch.delenv("FLYWHEEL_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    yield


@pytest.fixture(scope="session")
def copy_project():  # noqa: ANN201
    """A function that copies the dbt project to a directory and returns that directory."""
    return _copy_project
