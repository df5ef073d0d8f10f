"""Where the dbt project and its DuckDB warehouse are, resolved the way dbt resolves them."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2
import yaml

from flywheel.errors import FlywheelError

DB_ENV_VAR = "FLYWHEEL_DUCKDB_PATH"
PROFILE_NAME = "flywheel"
PROJECT_ITEMS = (
    "dbt_project.yml", "profiles.yml", "selectors.yml", "models", "macros", "seeds", "tests",
)  # fmt: skip
"""What a dbt project of flywheel is made of (no data, warehouse or build artefacts)."""


def copy_project(source: Path, destination: Path) -> Path:
    """Copy the dbt project at ``source`` (its :data:`PROJECT_ITEMS`) to ``destination``.

    For tests and benchmarks that build a warehouse of their own; returns ``destination``.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for item in PROJECT_ITEMS:
        if (source / item).is_dir():
            shutil.copytree(source / item, destination / item)
        else:
            shutil.copy2(source / item, destination / item)
    return destination


@dataclass(frozen=True)
class Project:
    """The dbt project flywheel runs in.

    Attributes
    ----------
    root
        Directory holding ``dbt_project.yml`` and ``profiles.yml``.
    db_path
        Absolute path of the DuckDB warehouse file.
    schema
        Target schema dbt builds into (and the label job writes to).
    """

    root: Path
    db_path: Path
    schema: str

    def connect(self, *, read_only: bool = False, create: bool = True) -> duckdb.DuckDBPyConnection:
        """Open the warehouse, with a clear error when another process holds its lock.

        Parameters
        ----------
        read_only
            Open it read-only (several readers may share the file; a missing file is an
            error).
        create
            Create the file when it does not exist (only when not ``read_only``); False: a
            missing warehouse is an error, as for a reader.

        Returns
        -------
        duckdb.DuckDBPyConnection
            In the UTC time zone, with the ``settings`` of the profile's target applied the
            way dbt-duckdb applies them (``SET key = 'value'`` after a plain
            ``duckdb.connect``: a connection in the same process as dbt must open the file
            with the same configuration), so DuckDB's ``threads`` and ``memory_limit`` are
            the profile's; close it (or use it as a context manager).
        """
        if (read_only or not create) and not self.db_path.exists():
            raise FlywheelError(
                f"warehouse {self.db_path} does not exist: run `flywheel run` or `dbt build` first"
            )
        try:
            con = duckdb.connect(str(self.db_path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise FlywheelError(
                    f"the warehouse {self.db_path} is locked by another process "
                    "(a dbt run, a notebook, the DuckDB CLI?): wait for it or close it, then retry"
                ) from exc
            raise FlywheelError(f"cannot open the warehouse {self.db_path}: {exc}") from exc
        con.execute("set TimeZone = 'UTC'")
        settings = _profile_target(self.root).get("settings") or {}
        if not isinstance(settings, dict):
            con.close()
            raise FlywheelError(f"{self.root / 'profiles.yml'}: settings must be a mapping")
        try:
            for key, value in settings.items():
                escaped = str(value).replace("'", "''")
                con.execute(f"SET {key} = '{escaped}'")
        except duckdb.Error as exc:
            con.close()
            raise FlywheelError(
                f"{self.root / 'profiles.yml'}: DuckDB rejects setting {key} = {value!r} "
                f"({str(exc).strip().splitlines()[0]})"
            ) from exc
        return con


def find_project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) holding ``dbt_project.yml``."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "dbt_project.yml").is_file():
            return directory
    raise FlywheelError(
        f"no dbt_project.yml in {here} or above: run flywheel from the flywheel project "
        "directory or pass --project-dir"
    )


def load_project(project_dir: Path | None = None, db_path: Path | None = None) -> Project:
    """Resolve the project and its warehouse.

    The warehouse path is, in order: ``db_path``; the ``FLYWHEEL_DUCKDB_PATH`` environment
    variable; the ``path`` of the default target in ``profiles.yml`` (rendered with
    ``env_var``). A relative path is taken from the project root, and the result is exported
    as ``FLYWHEEL_DUCKDB_PATH`` so that dbt, run from here, opens the same file.
    """
    root = find_project_root(project_dir) if project_dir is None else project_dir.resolve()
    if not (root / "dbt_project.yml").is_file():
        raise FlywheelError(f"{root} has no dbt_project.yml: pass the flywheel project directory")
    target = _profile_target(root)
    if db_path is None:
        env_path = os.environ.get(DB_ENV_VAR)
        db_path = Path(env_path) if env_path else Path(str(target.get("path", "flywheel.duckdb")))
    if not db_path.is_absolute():
        db_path = root / db_path
    db_path = db_path.resolve()
    os.environ[DB_ENV_VAR] = str(db_path)
    return Project(root=root, db_path=db_path, schema=str(target.get("schema", "main")))


def _profile_target(root: Path) -> dict[str, object]:
    path = root / "profiles.yml"
    if not path.is_file():
        raise FlywheelError(f"{path} not found: the project ships one; restore it")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = lambda name, default=None: os.environ.get(name, default)
    try:
        profiles = yaml.safe_load(env.from_string(path.read_text()).render())
        profile = profiles[PROFILE_NAME]
        target_name = os.environ.get("DBT_TARGET", profile.get("target", "dev"))
        target = profile["outputs"][target_name]
    except (yaml.YAMLError, jinja2.TemplateError, KeyError, TypeError) as exc:
        raise FlywheelError(f"{path}: no usable '{PROFILE_NAME}' profile ({exc})") from exc
    if target.get("type") != "duckdb":
        raise FlywheelError(
            f"{path}: the flywheel CLI (label job, summary, export, evaluate, report) runs on a "
            f"duckdb target only, found {target.get('type')!r}; `dbt build --target "
            f"{target_name}` builds the models there (README: Apache Spark)"
        )
    return dict(target)
