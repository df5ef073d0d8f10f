"""One self-contained HTML report of the labels: tables and hand-written inline SVG charts.

The page has no external resource of any kind (no script, stylesheet, font or image is
fetched): the styles are inline, the charts are SVG elements, and it opens the same offline as
online. Sections:

1. overview: outputs, coverage, mean P(good) per task (and label quality against truth);
2. labeling functions: ``lf_validation`` (coverage, accuracy vs gold and ratings with
   intervals, learned accuracy, flags and what to do);
3. label distribution: ``rpt_label_distribution``, histogram of P(good) per task;
4. calibration: ``rpt_calibration_ratings`` against explicit ratings (and against truth);
5. quality by model version over time: ``output_quality_daily``;
6. drift: ``rpt_drift_flags`` and the rates of the most moved metrics (``rpt_drift_top*``);
7. evaluation: the :mod:`flywheel.evaluate` table, when asked for.

Modules: :mod:`~flywheel.report.svg` (charts), :mod:`~flywheel.report.data` (the warehouse,
read once), :mod:`~flywheel.report.page` (sections and page, Jinja2 templates in
``templates/``). The aggregations are dbt models: ``models/marts/reporting``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from flywheel.errors import FlywheelError
from flywheel.evaluate import EvaluationResult, evaluate
from flywheel.report.data import REQUIRED_TABLES, ReportData, load_report_data
from flywheel.report.page import drift_section, render_page
from flywheel.report.svg import PALETTE

__all__ = [
    "PALETTE",
    "REQUIRED_TABLES",
    "ReportConfig",
    "ReportData",
    "drift_section",
    "load_report_data",
    "render_page",
    "render_report",
    "write_report",
]


@dataclass(frozen=True)
class ReportConfig:
    """What ``flywheel report`` writes.

    Attributes
    ----------
    out
        The HTML file to write (its directory must exist).
    truth_path
        Per-output truth file (``output_id``, ``is_good``): adds label quality to the overview
        and a calibration curve against truth.
    evaluate
        Add :func:`flywheel.evaluate.evaluate`'s section (needs ``truth_path``).
    seed
        The evaluation classifier's seed.
    """

    out: Path = Path("flywheel_report.html")
    truth_path: Path | None = None
    evaluate: bool = False
    seed: int = 0


def _write(page: str, out: Path) -> Path:
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise FlywheelError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return out


def _check_paths(out: Path, truth_path: Path | None) -> None:
    if truth_path is not None and not truth_path.is_file():
        raise FlywheelError(f"truth file {truth_path} not found")
    parent = out.parent.resolve()
    if not parent.is_dir():
        raise FlywheelError(f"cannot write {out}: directory {parent} does not exist")


def write_report(con: duckdb.DuckDBPyConnection, schema: str, config: ReportConfig) -> Path:
    """Write the HTML report of the built warehouse; return its path.

    Parameters
    ----------
    con, schema
        The warehouse (built by ``flywheel run``, the rpt_* models included) and its schema.
    config
        Where to write, the truth file, whether to evaluate.

    Returns
    -------
    Path
        ``config.out``.

    Raises
    ------
    FlywheelError
        ``--evaluate`` without truth, a missing table or truth file, an unwritable path.
    """
    if config.evaluate and config.truth_path is None:
        raise FlywheelError("report --evaluate needs --truth (the per-output truth)")
    _check_paths(config.out, config.truth_path)
    data = load_report_data(con, schema, config.truth_path)
    evaluation = None
    if config.evaluate and config.truth_path is not None:
        evaluation = evaluate(con, schema, config.truth_path, seed=config.seed)
    return _write(render_page(data, evaluation), config.out)


def render_report(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    out_path: Path | str,
    *,
    truth_path: Path | str | None = None,
    evaluation: EvaluationResult | None = None,
) -> Path:
    """Write the report with an evaluation computed by the caller (the pre-ReportConfig API).

    Parameters
    ----------
    con, schema
        The built warehouse and its schema.
    out_path
        The HTML file to write.
    truth_path
        Per-output truth file, as :attr:`ReportConfig.truth_path`.
    evaluation
        :func:`flywheel.evaluate.evaluate`'s result, or None for no evaluation section.

    Returns
    -------
    Path
        ``out_path``.
    """
    out = Path(out_path)
    truth = Path(truth_path) if truth_path is not None else None
    _check_paths(out, truth)
    return _write(render_page(load_report_data(con, schema, truth), evaluation), out)
