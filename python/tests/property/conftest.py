"""Fixtures of the hostile-stream properties: one staging project copy per file format.

Each copy reads its events from one fixed path, so the dbt vars never change between builds
and dbt's partial parsing stays warm (a build of staging then takes about two seconds).
``FLYWHEEL_HOSTILE_PROJECT_SOURCE`` names another project directory to copy instead of this
repository (e.g. a scratch copy with a deliberate bug, to see the properties catch it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flywheel.project import DB_ENV_VAR, Project, copy_project, load_project

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE_ENV_VAR = "FLYWHEEL_HOSTILE_PROJECT_SOURCE"


@dataclass(frozen=True)
class StagingProject:
    """A project copy and the one events file its builds read."""

    project: Project
    events_path: Path


def copy_staging_project(destination: Path, fmt: str, source: Path | None = None) -> StagingProject:
    """Copy the dbt project (from ``source``, default this repository) for events in ``fmt``."""
    source = source or Path(os.environ.get(SOURCE_ENV_VAR) or REPO_ROOT)
    copy_project(source, destination)
    saved = os.environ.get(DB_ENV_VAR)
    project = load_project(destination, destination / "staging.duckdb")
    if saved is None:  # load_project exports the path; the builds set it themselves
        os.environ.pop(DB_ENV_VAR, None)
    else:
        os.environ[DB_ENV_VAR] = saved
    return StagingProject(project, destination / f"events.{fmt}")


@pytest.fixture(scope="session")
def staging_projects(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, StagingProject]]:
    """A staging project copy per format (parquet, csv, jsonl), made on first use."""
    made: dict[str, StagingProject] = {}

    class Lazy(dict[str, StagingProject]):
        def __missing__(self, fmt: str) -> StagingProject:
            made[fmt] = copy_staging_project(tmp_path_factory.mktemp(f"hostile_{fmt}"), fmt)
            self[fmt] = made[fmt]
            return made[fmt]

    yield Lazy()
