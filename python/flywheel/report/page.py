"""The report page: charts from :mod:`flywheel.report.svg`, HTML from Jinja2 templates.

Each section builder takes the section's data (:mod:`flywheel.report.data`), draws its charts
and renders its macro of ``templates/sections.html.j2``; :func:`render_page` puts the sections
into ``templates/report.html.j2``. The environment autoescapes: charts are passed as Markup,
every other value is escaped by the template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from flywheel import __version__
from flywheel.evaluate import ARMS, OVERALL, EvaluationResult
from flywheel.report.data import (
    MIN_TRUTH_BIN,
    CalibrationBin,
    DistributionBin,
    DriftData,
    LfRow,
    QualityDay,
    ReportData,
    ReportParameters,
)
from flywheel.report.svg import (
    FLAG,
    MUTED,
    PALETTE,
    Series,
    date_ticks,
    hbar_chart,
    padded_range,
    xy_chart,
)

#: at most this many flagged rows in the drift table
MAX_DRIFT_ROWS = 60
NAV = (
    ("overview", "Overview"),
    ("lfs", "Labeling functions"),
    ("distribution", "Label distribution"),
    ("calibration", "Calibration"),
    ("quality", "Quality by version"),
    ("drift", "Drift"),
)


def pct(value: float | None, digits: int = 1) -> str:
    """``12.3%``; ``–`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 3) -> str:
    """``0.123``; ``–`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def count(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


@cache
def environment() -> Environment:
    """The Jinja2 environment of the report templates (autoescape on, strict undefined)."""
    env = Environment(
        loader=PackageLoader("flywheel.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=pct, num=num, count=count)
    return env


def _macro(name: str, *args: Any) -> Markup:
    """Render the section macro ``name`` of ``sections.html.j2``."""
    module = environment().get_template("sections.html.j2").module
    return Markup(getattr(module, name)(*args))


def _empty_chart(title: str) -> Markup:
    return xy_chart(title, [], x_label="–", y_label="–", x_range=(0, 1), y_range=(0, 1))


def _by_task(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Rows grouped by their ``label_task``, tasks sorted, rows in their order."""
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.label_task, []).append(row)
    return dict(sorted(groups.items()))


def overview_section(data: ReportData) -> Markup:
    """The overview table: outputs, coverage, mean P(good) per task, quality against truth.

    Parameters
    ----------
    data
        The report's data; its ``summaries`` are :func:`flywheel.summary.summarize`'s.

    Returns
    -------
    Markup
        The ``<section id="overview">`` element.
    """
    return _macro("overview", data.summaries, data.has_truth)


def lf_section(lfs: Sequence[LfRow]) -> Markup:
    """The LF validation table per task and a coverage / accuracy chart per task.

    Parameters
    ----------
    lfs
        lf_validation rows, in task and LF order.

    Returns
    -------
    Markup
        The ``<section id="lfs">`` element.
    """
    tasks = _by_task(lfs)
    charts = [
        hbar_chart(
            f"{task}: LF coverage and accuracy",
            [r.lf_name for r in rows],
            [
                ("coverage", PALETTE[0], [r.coverage for r in rows]),
                ("accuracy vs gold", PALETTE[3], [r.golden_accuracy for r in rows]),
                ("accuracy vs ratings", PALETTE[1], [r.ratings_accuracy for r in rows]),
                ("learned accuracy (label model)", PALETTE[2], [r.learned_accuracy for r in rows]),
            ],
            x_label="share of outputs (coverage) or of votes (accuracy)",
            width=410,
        )
        for task, rows in tasks.items()
    ] or [_empty_chart("No labeling functions")]
    return _macro("lfs", list(tasks.items()), charts)


def _histogram(task: str, rows: Sequence[DistributionBin]) -> Markup:
    total = rows[0].n_task_outputs
    mids = [(r.bin_lower + r.bin_upper) / 2 for r in rows]
    width = rows[0].bin_upper - rows[0].bin_lower
    covered = [r.share_covered for r in rows]
    tips = [f"P(good) {r.bin_lower:.2f}-{r.bin_upper:.2f}: " for r in rows]
    top = max((r.share_covered + r.share_uncovered for r in rows), default=1.0)
    return xy_chart(
        f"{task}: P(good) of {total:,} outputs",
        [
            Series(
                "covered (an LF voted)",
                list(zip(mids, covered, strict=True)),
                PALETTE[0],
                "bars",
                bar_width=width,
                tips=[f"{t}{r.n_covered:,}" for t, r in zip(tips, rows, strict=True)],
            ),
            Series(
                "uncovered (all LFs abstained)",
                list(zip(mids, [r.share_uncovered for r in rows], strict=True)),
                PALETTE[1],
                "bars",
                bar_width=width,
                base=covered,
                tips=[f"{t}{r.n_uncovered:,}" for t, r in zip(tips, rows, strict=True)],
            ),
        ],
        x_label="P(good) from the label model",
        y_label="share of the task's outputs",
        x_range=(0.0, 1.0),
        y_range=(0.0, top * 1.08 or 1.0),
        y_percent=True,
    )


def distribution_section(bins: Sequence[DistributionBin], parameters: ReportParameters) -> Markup:
    """Histogram of P(good) per task, covered and uncovered outputs stacked.

    Parameters
    ----------
    bins
        rpt_label_distribution rows, in task and bin order.
    parameters
        The report's bins (the note names the bin width).

    Returns
    -------
    Markup
        The ``<section id="distribution">`` element.
    """
    charts = [_histogram(task, rows) for task, rows in _by_task(bins).items()]
    return _macro("distribution", charts, 1 / parameters.histogram_bins)


def _reliability(task: str, rows: Sequence[CalibrationBin], has_truth: bool) -> Markup:
    rated = [r for r in rows if r.n_rated > 0]
    series = [
        Series(
            "explicit ratings (n rated beside each point)",
            [(r.mean_p_good_rated or 0.0, r.share_rated_good) for r in rated],
            PALETTE[3],
            "line",
            labels=[f"{r.n_rated}" for r in rated],
            tips=[
                f"{r.n_rated} rated, P(good) {r.mean_p_good_rated:.2f}, "
                f"rated good {r.share_rated_good:.0%}"
                for r in rated
            ],
        )
    ]
    if has_truth:
        scored = [r for r in rows if r.n_truth >= MIN_TRUTH_BIN]
        series.append(
            Series(
                "truth (all outputs)",
                [(r.mean_p_good_truth or 0.0, r.share_truly_good) for r in scored],
                PALETTE[0],
                "line",
                tips=[
                    f"{r.n_truth:,} outputs, P(good) {r.mean_p_good_truth:.2f}, "
                    f"good {r.share_truly_good:.0%}"
                    for r in scored
                ],
            )
        )
    return xy_chart(
        f"{task}: reliability of P(good)",
        series,
        x_label="mean P(good) in the bin",
        y_label="observed share good",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        y_percent=True,
        diagonal="perfect calibration",
        width=400,
        height=330,
    )


def calibration_section(
    bins: Sequence[CalibrationBin], has_truth: bool, parameters: ReportParameters
) -> Markup:
    """Reliability curves per task against ratings (and truth), and the counts per bin.

    Parameters
    ----------
    bins
        rpt_calibration_ratings rows (with their truth columns when ``has_truth``).
    has_truth
        Draw the curve against truth and show its counts.
    parameters
        The report's bins.

    Returns
    -------
    Markup
        The ``<section id="calibration">`` element.
    """
    tasks = _by_task(bins)
    charts = [_reliability(task, rows, has_truth) for task, rows in tasks.items()]
    ordered = [b for rows in tasks.values() for b in rows]
    return _macro(
        "calibration", charts, ordered, parameters.calibration_bins, has_truth, MIN_TRUTH_BIN
    )


def quality_section(days: Sequence[QualityDay], parameters: ReportParameters) -> Markup:
    """Mean P(good) per day, one line per model version, one chart per surface.

    Parameters
    ----------
    days
        output_quality_daily rows; days with fewer than ``parameters.min_daily_outputs``
        outputs (or no P(good)) are not drawn, but every day sets the x axis.
    parameters
        The report's thresholds.

    Returns
    -------
    Markup
        The ``<section id="quality">`` element.
    """
    all_days = [d.shown_date for d in days]
    x_range = (
        (min(all_days).toordinal() - 0.5, max(all_days).toordinal() + 0.5)
        if all_days
        else (0.0, 1.0)
    )
    charts = []
    for surface in sorted({d.surface for d in days}):
        kept = [
            d
            for d in days
            if d.surface == surface
            and d.n_outputs >= parameters.min_daily_outputs
            and d.mean_p_good is not None
        ]
        versions = sorted({d.model_version for d in kept})
        series = []
        for i, version in enumerate(versions):
            line = [d for d in kept if d.model_version == version]
            series.append(
                Series(
                    version,
                    [(float(d.shown_date.toordinal()), d.mean_p_good) for d in line],
                    PALETTE[i % len(PALETTE)],
                    "line",
                    tips=[
                        f"{version} {d.shown_date}: mean P(good) {d.mean_p_good:.3f} over "
                        f"{d.n_outputs:,} outputs (coverage {d.coverage:.0%})"
                        for d in line
                    ],
                )
            )
        charts.append(
            xy_chart(
                f"{surface}: mean P(good) per day by model version",
                series,
                x_label="day shown (UTC)",
                y_label="mean P(good), covered outputs",
                x_range=x_range,
                y_range=padded_range([d.mean_p_good for d in kept]),
                x_ticks=date_ticks(all_days),
            )
        )
    return _macro("quality", charts, parameters.min_daily_outputs)


def _drift_charts(drift: DriftData) -> list[Markup]:
    charts = []
    for metric in drift.metrics:
        points = [
            d
            for d in drift.days
            if (d.label_task, d.metric_kind, d.metric_name)
            == (metric.label_task, metric.metric_kind, metric.metric_name)
        ]
        x = [float(d.shown_date.toordinal()) for d in points]
        flags = [d for d in points if d.is_flagged]
        series = [
            Series(
                "daily rate", [(xi, d.rate) for xi, d in zip(x, points, strict=True)], PALETTE[0]
            ),
            Series(
                "baseline (trailing days)",
                [
                    (xi, d.baseline_rate)
                    for xi, d in zip(x, points, strict=True)
                    if d.baseline_rate is not None
                ],
                MUTED,
                "dashed",
            ),
        ]
        if flags:
            series.append(
                Series(
                    "flagged day",
                    [(float(d.shown_date.toordinal()), d.rate) for d in flags],
                    FLAG,
                    "points",
                    tips=[
                        f"{d.shown_date}: rate {d.rate:.1%}, z {d.z_score or 0.0:+.1f}"
                        for d in flags
                    ],
                )
            )
        values = [d.rate for d in points] + [
            d.baseline_rate for d in points if d.baseline_rate is not None
        ]
        charts.append(
            xy_chart(
                f"{metric.metric_name} ({metric.label_task}), max |z| {metric.max_abs_z:.1f}",
                series,
                x_label="day shown (UTC)",
                y_label="share of the task's outputs",
                x_range=(min(x, default=0.0) - 0.5, max(x, default=1.0) + 0.5),
                y_range=padded_range(values, floor=0.0),
                x_ticks=date_ticks([d.shown_date for d in points]),
                y_percent=True,
            )
        )
    return charts or [
        xy_chart(
            "No drift metrics", [], x_label="day", y_label="rate", x_range=(0, 1), y_range=(0, 1)
        )
    ]


def drift_section(drift: DriftData, parameters: ReportParameters) -> Markup:
    """Flagged drift rows (largest |z| first) and the daily rates of the most moved metrics.

    Parameters
    ----------
    drift
        rpt_drift_top (drawn metrics), rpt_drift_top_daily and rpt_drift_flags rows.
    parameters
        The report's thresholds (the note names the minimum outputs per day).

    Returns
    -------
    Markup
        The ``<section id="drift">`` element: the first :data:`MAX_DRIFT_ROWS` flags, or a
        "No drift flags" note, and one chart per drawn metric.
    """
    return _macro(
        "drift", drift.flags, MAX_DRIFT_ROWS, _drift_charts(drift), parameters.min_daily_outputs
    )


def evaluation_section(result: EvaluationResult) -> Markup:
    """The :func:`flywheel.evaluate.evaluate` table, and accuracy and AUC by training labels.

    Parameters
    ----------
    result
        :func:`flywheel.evaluate.evaluate`'s result.

    Returns
    -------
    Markup
        The ``<section id="evaluation">`` element.
    """
    labels = dict(ARMS)
    groups = [*result.tasks, OVERALL]
    arms = [arm for arm, _ in ARMS if any(s.arm == arm for s in result.scores)]
    colors = dict(
        zip([a for a, _ in ARMS], (PALETTE[3], PALETTE[1], PALETTE[0], MUTED), strict=True)
    )
    scores = {(s.arm, s.label_task): s for s in result.scores}

    def values(arm: str, attr: str) -> list[float | None]:
        return [
            getattr(scores[(arm, task)], attr) if (arm, task) in scores else None for task in groups
        ]

    charts = [
        hbar_chart(
            f"Held-out {name} by training labels",
            groups,
            [(labels[a], colors[a], values(a, attr)) for a in arms],
            x_label=f"{name} against the truth of every eval-split output",
            x_range=x_range,
            x_percent=percent,
            value_format=fmt,
            width=520,
        )
        for name, attr, x_range, percent, fmt in (
            ("accuracy", "accuracy", (0.0, 1.0), True, "{:.1%}"),
            ("ROC AUC", "auc", (0.5, 1.0), False, "{:.3f}"),
        )
    ]
    return _macro("evaluation", result, labels, groups, charts)


def render_page(
    data: ReportData,
    evaluation: EvaluationResult | None = None,
    *,
    generated: datetime | None = None,
) -> str:
    """The whole HTML page.

    Parameters
    ----------
    data
        What the sections show (:func:`flywheel.report.data.load_report_data`).
    evaluation
        :func:`flywheel.evaluate.evaluate`'s result: adds the evaluation section.
    generated
        The time printed in the header (default now, UTC).

    Returns
    -------
    str
        The self-contained HTML document.
    """
    sections = [
        overview_section(data),
        lf_section(data.lfs),
        distribution_section(data.distribution, data.parameters),
        calibration_section(data.calibration, data.has_truth, data.parameters),
        quality_section(data.quality, data.parameters),
        drift_section(data.drift, data.parameters),
    ]
    nav = list(NAV)
    if evaluation is not None:
        sections.append(evaluation_section(evaluation))
        nav.append(("evaluation", "Evaluation"))
    first_day, last_day = data.days
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            n_outputs=data.n_outputs,
            first_day=first_day,
            last_day=last_day,
            schema=data.schema,
            generated=(generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            nav=nav,
            sections=sections,
        )
    )
