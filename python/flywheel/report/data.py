"""Everything the report shows, read from the warehouse once, into typed dataclasses.

:func:`load_report_data` reads each ``rpt_*`` table of ``models/marts/reporting`` once (their
bins and thresholds too: ``rpt_parameters``), ``output_quality_daily`` once, calls
:func:`flywheel.summary.summarize` once, and, given a truth file, reads it once with
:func:`flywheel.warehouse.attach_truth` for the calibration curve against truth (the only
aggregation here: the truth file is not in the warehouse).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from flywheel.errors import FlywheelError
from flywheel.summary import TaskSummary, summarize
from flywheel.warehouse import attach_truth, qualified, quote_identifier

#: the tables the report reads besides ``probabilistic_labels`` (through summarize)
REPORT_TABLES = (
    "rpt_parameters",
    "lf_validation",
    "rpt_label_distribution",
    "rpt_calibration_ratings",
    "output_quality_daily",
    "rpt_drift_top",
    "rpt_drift_top_daily",
    "rpt_drift_flags",
)
REQUIRED_TABLES = ("probabilistic_labels", *REPORT_TABLES)
#: calibration bins with fewer outputs with truth are not drawn
MIN_TRUTH_BIN = 20

Row = TypeVar("Row")


@dataclass(frozen=True)
class ReportParameters:
    """The report's bins and thresholds: the dbt vars ``flywheel__report_*`` (rpt_parameters)."""

    histogram_bins: int
    calibration_bins: int
    min_daily_outputs: int
    drift_top_metrics: int


@dataclass(frozen=True)
class LfRow:
    """One labeling function of a task, validated (lf_validation)."""

    label_task: str
    lf_name: str
    polarity: str
    in_label_model: bool
    n_votes: int
    coverage: float
    overlaps: float
    conflicts: float
    n_golden_votes: int
    golden_accuracy: float | None
    golden_accuracy_lower: float | None
    golden_accuracy_upper: float | None
    n_rated_votes: int
    ratings_accuracy: float | None
    ratings_accuracy_lower: float | None
    ratings_accuracy_upper: float | None
    learned_accuracy: float | None
    flag: str | None
    advice: str | None


@dataclass(frozen=True)
class DistributionBin:
    """One P(good) histogram bin of a task (rpt_label_distribution)."""

    label_task: str
    p_good_bin: int
    bin_lower: float
    bin_upper: float
    n_covered: int
    n_uncovered: int
    n_task_outputs: int
    share_covered: float
    share_uncovered: float


@dataclass(frozen=True)
class CalibrationBin:
    """One calibration bin of a task: ratings (rpt_calibration_ratings), truth when given."""

    label_task: str
    p_good_bin: int
    bin_lower: float
    bin_upper: float
    n_rated: int
    mean_p_good_rated: float | None
    share_rated_good: float | None
    n_truth: int = 0
    mean_p_good_truth: float | None = None
    share_truly_good: float | None = None


@dataclass(frozen=True)
class QualityDay:
    """One surface x model version x day of output_quality_daily."""

    surface: str
    model_version: str
    shown_date: date
    n_outputs: int
    mean_p_good: float | None
    coverage: float


@dataclass(frozen=True)
class DriftMetric:
    """A metric the drift charts draw (rpt_drift_top, ``is_drawn``), in rank order."""

    label_task: str
    metric_kind: str
    metric_name: str
    max_abs_z: float
    drift_rank: int


@dataclass(frozen=True)
class DriftDay:
    """One day of a drawn drift metric (rpt_drift_top_daily)."""

    label_task: str
    metric_kind: str
    metric_name: str
    shown_date: date
    rate: float
    baseline_rate: float | None
    z_score: float | None
    is_flagged: bool


@dataclass(frozen=True)
class DriftFlag:
    """One flagged (task, day, metric) row (rpt_drift_flags), largest |z| first."""

    label_task: str
    shown_date: date
    metric_kind: str
    metric_name: str
    n_outputs: int
    rate: float
    baseline_rate: float
    rate_change: float
    z_score: float


@dataclass(frozen=True)
class DriftData:
    """The drift section: drawn metrics, their days, and every flagged row."""

    metrics: list[DriftMetric]
    days: list[DriftDay]
    flags: list[DriftFlag]


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows.

    Attributes
    ----------
    schema
        The schema dbt built into.
    summaries
        :func:`flywheel.summary.summarize` per task (scored against truth when given).
    has_truth
        A truth file was given: quality columns and the calibration curve against truth.
    parameters, lfs, distribution, calibration, quality, drift
        One per section, from the rpt_* tables and output_quality_daily.
    """

    schema: str
    summaries: list[TaskSummary]
    has_truth: bool
    parameters: ReportParameters
    lfs: list[LfRow]
    distribution: list[DistributionBin]
    calibration: list[CalibrationBin]
    quality: list[QualityDay]
    drift: DriftData

    @property
    def n_outputs(self) -> int:
        """Outputs in probabilistic_labels, over every task."""
        return sum(s.n_outputs for s in self.summaries)

    @property
    def days(self) -> tuple[date | None, date | None]:
        """First and last day outputs were shown (None when there is none)."""
        days = [q.shown_date for q in self.quality]
        return (min(days), max(days)) if days else (None, None)


def require_report_tables(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Raise a one-line error naming the tables the report needs and ``schema`` lacks.

    Parameters
    ----------
    con, schema
        The warehouse and the schema dbt built into.

    Raises
    ------
    FlywheelError
        When any of :data:`REQUIRED_TABLES` is missing.
    """
    names = ", ".join("?" for _ in REQUIRED_TABLES)
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = "
        f"current_database() and table_schema = ? and table_name in ({names})",
        [schema, *REQUIRED_TABLES],
    ).fetchall()
    found = {str(name) for (name,) in rows}
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        raise FlywheelError(
            f"{schema} has no {', '.join(missing)}: run `flywheel run` (or `dbt build`) first"
        )


def read_rows(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    row_type: type[Row],
    *,
    where: str = "",
    order_by: str,
) -> list[Row]:
    """Read the columns named like ``row_type``'s fields from ``schema.table``, one query.

    Parameters
    ----------
    con, schema, table
        Where to read.
    row_type
        A dataclass whose fields without a default are columns of the table, in constructor
        order (fields with a default are not read).
    where, order_by
        SQL of the filter (optional) and of the order.

    Returns
    -------
    list
        One ``row_type`` per row.
    """
    fields = [
        f.name
        for f in dataclasses.fields(row_type)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING
    ]
    columns = ", ".join(quote_identifier(name) for name in fields)
    sql = f"select {columns} from {qualified(schema, table)}"
    if where:
        sql += f" where {where}"
    rows: list[tuple[Any, ...]] = con.execute(f"{sql} order by {order_by}").fetchall()
    return [row_type(*row) for row in rows]


def read_parameters(con: duckdb.DuckDBPyConnection, schema: str) -> ReportParameters:
    """The report's bins and thresholds from ``rpt_parameters``.

    Raises
    ------
    FlywheelError
        When a parameter is missing (rpt_parameters was built by another version).
    """
    rows = con.execute(
        f"select parameter_name, parameter_value from {qualified(schema, 'rpt_parameters')}"
    ).fetchall()
    values = {str(name): int(value) for name, value in rows}
    names = [f.name for f in dataclasses.fields(ReportParameters)]
    missing = [n for n in names if n not in values]
    if missing:
        raise FlywheelError(
            f"{schema}.rpt_parameters has no {', '.join(missing)}: run `dbt build` again"
        )
    return ReportParameters(**{n: values[n] for n in names})


def _truth_calibration(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    truth_path: Path,
    bins: list[CalibrationBin],
    n_bins: int,
) -> list[CalibrationBin]:
    """``bins`` with their outputs scored against the truth file (read once), same bins."""
    truth = quote_identifier(attach_truth(con, truth_path))
    rows = con.execute(
        f"""
        select l.label_task,
               cast(least(floor(l.p_good * {n_bins:d}), {n_bins - 1:d}) as integer) as p_good_bin,
               count(t.is_good), avg(case when t.is_good is not null then l.p_good end),
               avg(t.is_good)
        from {qualified(schema, "probabilistic_labels")} as l
        inner join {truth} as t on l.output_id = t.output_id
        where l.p_good is not null
        group by 1, 2
        """
    ).fetchall()
    scored = {(task, b): (int(n), mean_p, good) for task, b, n, mean_p, good in rows}
    out = []
    for b in bins:
        hit = scored.get((b.label_task, b.p_good_bin))
        if hit is not None:
            n, mean_p, good = hit
            b = replace(b, n_truth=n, mean_p_good_truth=mean_p, share_truly_good=good)
        out.append(b)
    return out


def load_report_data(
    con: duckdb.DuckDBPyConnection, schema: str, truth_path: Path | None = None
) -> ReportData:
    """Read what the report shows: each table once, the truth file (when given) once.

    Parameters
    ----------
    con, schema
        The built warehouse (``dbt build`` after ``flywheel label``) and its schema.
    truth_path
        Per-output truth (``output_id``, ``is_good``) to score the labels and their
        calibration against; None: no truth columns.

    Returns
    -------
    ReportData
        The data of every section.

    Raises
    ------
    FlywheelError
        When a table is missing, the labels have no P(good), or the truth file is unreadable.
    """
    if truth_path is not None and not truth_path.is_file():
        raise FlywheelError(f"truth file {truth_path} not found")
    require_report_tables(con, schema)
    summaries = summarize(con, schema, truth_path)
    parameters = read_parameters(con, schema)
    task_bin = "label_task, p_good_bin"
    distribution = read_rows(
        con, schema, "rpt_label_distribution", DistributionBin, order_by=task_bin
    )
    if not distribution:
        raise FlywheelError("probabilistic_labels has no p_good: run `flywheel run` first")
    calibration = read_rows(
        con, schema, "rpt_calibration_ratings", CalibrationBin, order_by=task_bin
    )
    if truth_path is not None:
        calibration = _truth_calibration(
            con, schema, truth_path, calibration, parameters.calibration_bins
        )
    drift = DriftData(
        metrics=read_rows(
            con, schema, "rpt_drift_top", DriftMetric, where="is_drawn", order_by="drift_rank"
        ),
        days=read_rows(
            con, schema, "rpt_drift_top_daily", DriftDay, order_by="drift_rank, shown_date"
        ),
        flags=read_rows(con, schema, "rpt_drift_flags", DriftFlag, order_by="flag_rank"),
    )
    return ReportData(
        schema=schema,
        summaries=summaries,
        has_truth=truth_path is not None,
        parameters=parameters,
        lfs=read_rows(con, schema, "lf_validation", LfRow, order_by="label_task, lf_index"),
        distribution=distribution,
        calibration=calibration,
        quality=read_rows(
            con,
            schema,
            "output_quality_daily",
            QualityDay,
            order_by="surface, model_version, shown_date",
        ),
        drift=drift,
    )
