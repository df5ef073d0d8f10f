"""The label job's tables, written in one transaction: runs, LF weights, patterns, scoring.

``label_model_runs`` and ``label_model_lf_weights`` are appended to; the current labels are
replaced per re-fitted task: ``label_model_patterns`` (P(good) of every pattern the fit saw)
and the scoring parameters ``probabilistic_labels`` sums for any pattern,
``label_model_priors`` (one row per task) and ``label_model_scoring_weights`` (one row per
task and LF; see :mod:`flywheel.label_job.scoring`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from flywheel.label_job import scoring
from flywheel.label_job.scoring import PRIORS_TABLE, SCORING_WEIGHTS_TABLE
from flywheel.warehouse import qualified as _qualified
from flywheel.warehouse import quote_identifier as _q
from flywheel.warehouse import table_columns as _table_columns

if TYPE_CHECKING:
    from flywheel.label_job.config import LabelJobConfig
    from flywheel.label_job.fit import TaskResult

RUNS_TABLE = "label_model_runs"
WEIGHTS_TABLE = "label_model_lf_weights"
PATTERNS_TABLE = "label_model_patterns"
PATTERN_COLUMNS = ("run_id", "label_task", "n_outputs", "p_good")
"""Non-LF columns of ``label_model_patterns``: no LF column may have one of these names."""

_RUNS_COLUMNS = [
    ("run_id", "VARCHAR"), ("label_task", "VARCHAR"), ("fitted_at", "TIMESTAMP"),
    ("votes_table", "VARCHAR"), ("n_rows", "BIGINT"), ("n_patterns", "BIGINT"),
    ("n_lfs", "INTEGER"), ("lf_columns", "VARCHAR"), ("class_balance_good", "DOUBLE"),
    ("class_balance_source", "VARCHAR"), ("seed", "INTEGER"), ("n_epochs", "INTEGER"),
    ("lr", "DOUBLE"), ("l2", "DOUBLE"), ("train_loss", "DOUBLE"), ("n_rated", "BIGINT"),
    ("accuracy_vs_ratings", "DOUBLE"), ("auc_vs_ratings", "DOUBLE"),
    ("majority_accuracy_vs_ratings", "DOUBLE"), ("snorkel_version", "VARCHAR"),
    ("torch_version", "VARCHAR"), ("numpy_version", "VARCHAR"), ("duckdb_version", "VARCHAR"),
    ("flywheel_version", "VARCHAR"), ("label_model", "VARCHAR"), ("n_golden", "BIGINT"),
    ("golden_log_loss", "DOUBLE"), ("golden_accuracy", "DOUBLE"), ("golden_auc", "DOUBLE"),
    ("model_selected_by", "VARCHAR"), ("golden_candidate_losses", "VARCHAR"),
    ("excluded_lfs", "VARCHAR"),
]  # fmt: skip
_WEIGHTS_COLUMNS = [
    ("run_id", "VARCHAR"), ("label_task", "VARCHAR"), ("lf_name", "VARCHAR"),
    ("coverage", "DOUBLE"), ("learned_accuracy", "DOUBLE"), ("p_good_vote_given_good", "DOUBLE"),
    ("p_bad_vote_given_bad", "DOUBLE"), ("p_abstain_given_good", "DOUBLE"),
    ("p_abstain_given_bad", "DOUBLE"),
]  # fmt: skip


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a DataFrame to ``table`` (already quoted and qualified), matching by name."""
    view = f"_flywheel_insert_{uuid.uuid4().hex}"
    con.register(view, frame)
    try:
        con.execute(f"insert into {table} by name select * from {_q(view)}")
    finally:
        con.unregister(view)


def _ensure_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[tuple[str, str]]
) -> None:
    """Create an append-only table, or add the columns an older flywheel did not write."""
    qualified = _qualified(schema, table)
    defs = ", ".join(f"{_q(name)} {dtype}" for name, dtype in columns)
    con.execute(f"create table if not exists {qualified} ({defs})")
    existing = _table_columns(con, schema, table)
    for name, dtype in columns:
        if name not in existing:
            con.execute(f"alter table {qualified} add column {_q(name)} {dtype}")


def write(
    con: duckdb.DuckDBPyConnection,
    config: LabelJobConfig,
    tasks: Sequence[str],
    lf_columns: list[str],
    results: list[TaskResult],
) -> None:
    runs = pd.DataFrame(
        [{**asdict(r.run), "lf_columns": ",".join(r.run.lf_columns)} for r in results]
    )
    for col in ("accuracy_vs_ratings", "auc_vs_ratings", "majority_accuracy_vs_ratings"):
        runs[col] = runs[col].astype("float64")
    # The fits' weight frames also hold P(vote good | bad) and P(vote bad | good) at full
    # precision, for the scoring weights; the table keeps its columns.
    weights = pd.concat([r.weights for r in results], ignore_index=True)
    weights = weights[[name for name, _ in _WEIGHTS_COLUMNS]]
    patterns = pd.concat([r.patterns for r in results], ignore_index=True)
    scoring_weights, priors = _scoring_frames(results)

    patterns_t = _qualified(config.schema, PATTERNS_TABLE)
    lf_defs = ", ".join(f"{_q(c)} INTEGER" for c in lf_columns)
    patterns_ddl = (
        f"create table {patterns_t} (run_id VARCHAR, label_task VARCHAR, {lf_defs}, "
        "n_outputs BIGINT, p_good DOUBLE)"
    )
    existing = list(_table_columns(con, config.schema, PATTERNS_TABLE))
    # A changed LF set (or layout) makes the old patterns meaningless: recreate the table,
    # which also drops the labels of tasks this run did not re-fit.
    recreate = existing != ["run_id", "label_task", *lf_columns, "n_outputs", "p_good"]

    con.execute("begin transaction")
    try:
        _ensure_table(con, config.schema, RUNS_TABLE, _RUNS_COLUMNS)
        _ensure_table(con, config.schema, WEIGHTS_TABLE, _WEIGHTS_COLUMNS)
        if recreate:
            con.execute(f"drop table if exists {patterns_t}")
            con.execute(patterns_ddl)
        else:
            placeholders = ", ".join("?" for _ in tasks)
            con.execute(
                f"delete from {patterns_t} where label_task in ({placeholders})", list(tasks)
            )
        insert_frame(con, _qualified(config.schema, RUNS_TABLE), runs)
        insert_frame(con, _qualified(config.schema, WEIGHTS_TABLE), weights)
        insert_frame(con, patterns_t, patterns)
        for table, columns, frame in (
            (SCORING_WEIGHTS_TABLE, scoring.SCORING_WEIGHTS_COLUMNS, scoring_weights),
            (PRIORS_TABLE, scoring.PRIORS_COLUMNS, priors),
        ):
            _replace_tasks(con, config.schema, table, columns, None if recreate else tasks)
            insert_frame(con, _qualified(config.schema, table), frame)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # keep the original error visible
            con.execute("rollback")
        raise


def _scoring_frames(results: list[TaskResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``label_model_scoring_weights`` and ``label_model_priors`` rows of the fits."""
    _no_weights = scoring.weight_rows("", "", "", (), None)
    weight_frames, prior_rows = [], []
    for r in results:
        fit_scoring = scoring.scoring_of(r.run.label_model, r.run.class_balance_good, r.weights)
        weight_frames.append(
            scoring.weight_rows(
                r.run.run_id, r.run.label_task, r.run.label_model, r.run.lf_columns, fit_scoring
            )
        )
        prior_rows.append(
            scoring.prior_row(r.run.run_id, r.run.label_task, r.run.label_model, fit_scoring)
        )
    non_empty = [f for f in weight_frames if len(f)]
    weights = pd.concat(non_empty, ignore_index=True) if non_empty else _no_weights
    priors = pd.DataFrame(prior_rows, columns=[name for name, _ in scoring.PRIORS_COLUMNS])
    return weights, priors


def _replace_tasks(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns: list[tuple[str, str]],
    tasks: Sequence[str] | None,
) -> None:
    """Create ``table`` if needed and delete the rows of ``tasks`` (None: every row)."""
    _ensure_table(con, schema, table, columns)
    qualified = _qualified(schema, table)
    if tasks is None:
        con.execute(f"delete from {qualified}")
    elif tasks:
        placeholders = ", ".join("?" for _ in tasks)
        con.execute(f"delete from {qualified} where label_task in ({placeholders})", list(tasks))
