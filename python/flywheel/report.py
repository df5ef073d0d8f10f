"""One self-contained HTML report of the labels: tables and hand-written inline SVG charts.

The file has no external resource of any kind (no script, stylesheet, font or image is
fetched): the styles are inline, the charts are SVG elements written here, and it opens the same
offline as online. Sections:

1. overview: outputs, coverage, mean P(good) per task (and label quality against truth);
2. labeling functions: ``lf_summary`` per task, with the label model's learned accuracy;
3. label distribution: histogram of P(good) per task;
4. calibration: binned P(good) against explicit ratings (and against truth when given);
5. quality by model version over time: ``output_quality_daily``;
6. drift: flagged rows of ``drift_daily`` and the rates of the most moved metrics;
7. evaluation: the :mod:`flywheel.evaluate` table, when given.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from flywheel import __version__
from flywheel.errors import FlywheelError
from flywheel.evaluate import ARMS, OVERALL, EvaluationResult
from flywheel.summary import summarize

#: Okabe-Ito: distinguishable for the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000")
GRID, AXIS, MUTED, FLAG = "#e3e3e3", "#555", "#999", "#D55E00"
#: days with fewer outputs are left out of the quality-over-time chart (their mean is noise)
MIN_DAILY_OUTPUTS = 20
#: at most this many metrics in the drift chart, and flagged rows in its table
TOP_DRIFT_METRICS = 3
MAX_DRIFT_ROWS = 60
HISTOGRAM_BINS = 20
#: calibration bins with fewer outputs with truth are not drawn
MIN_TRUTH_BIN = 20
CALIBRATION_BINS = 10

REQUIRED_TABLES = (
    "lf_summary",
    "probabilistic_labels",
    "output_quality_daily",
    "drift_daily",
)


# ------------------------------------------------------------------------------------------
# SVG charts
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One legend entry of an x/y chart.

    ``kind``: ``line`` (with markers), ``dashed`` (no markers), ``points``, or ``bars``
    (``bar_width`` wide in x units, stacked on ``base`` when given). ``labels`` are drawn next
    to the points, ``tips`` are hover tooltips.
    """

    name: str
    points: Sequence[tuple[float, float]]
    color: str
    kind: str = "line"
    bar_width: float = 0.0
    base: Sequence[float] | None = None
    labels: Sequence[str] | None = None
    tips: Sequence[str] | None = None
    marker_color: Sequence[str] | None = None


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _padded_range(values: Sequence[float], *, floor: float | None = None) -> tuple[float, float]:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return (0.0, 1.0)
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.08 or 0.05
    lo, hi = lo - pad, hi + pad
    if floor is not None:
        lo = max(lo, floor)
    return lo, hi


def _fmt_tick(value: float, percent: bool) -> str:
    if percent:
        text = f"{100 * value:.1f}"
        return (text[:-2] if text.endswith(".0") else text) + "%"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _fit(text: str, width: float, char_width: float) -> str:
    """``textLength`` attributes that squeeze ``text`` into ``width`` when it is too long."""
    if char_width * len(text) <= width:
        return ""
    return f' textLength="{width:.0f}" lengthAdjust="spacingAndGlyphs"'


def _title(text: str, width: float) -> str:
    """A chart title centred in ``width``, squeezed to fit when it is long."""
    fit = _fit(text, width - 12, 7.4)
    return f'<text x="{width / 2:.1f}" y="18" class="ct"{fit}>{_e(text)}</text>'


def _legend(
    items: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[str, float]:
    """Legend swatches (name, color, kind) wrapped into rows; returns (svg, height)."""
    parts, x, y = [], x0, y0
    for name, color, kind in items:
        item_width = 26 + 6.6 * len(name)
        if x > x0 and x + item_width > x0 + width:
            x, y = x0, y + 18
        if kind == "bars":
            swatch = f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="14" height="10" fill="{color}"/>'
        elif kind == "points":
            swatch = f'<circle cx="{x + 7:.1f}" cy="{y - 4:.1f}" r="4" fill="{color}"/>'
        else:
            dash = ' stroke-dasharray="5 3"' if kind == "dashed" else ""
            swatch = (
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" '
                f'stroke="{color}" stroke-width="2.5"{dash}/>'
            )
        parts.append(swatch)
        parts.append(f'<text x="{x + 20:.1f}" y="{y:.1f}" class="lg">{_e(name)}</text>')
        x += item_width + 12
    return "".join(parts), y - y0 + 18


def xy_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_ticks: Sequence[tuple[float, str]] | None = None,
    y_percent: bool = False,
    x_percent: bool = False,
    diagonal: str | None = None,
    width: int = 400,
    height: int = 300,
) -> str:
    """An x/y chart (lines, points, bars) as an inline SVG element with title, axes, legend."""
    left, right, top = 58, 14, 34
    legend_items = [(s.name, s.color, s.kind) for s in series]
    if diagonal:
        legend_items.append((diagonal, MUTED, "dashed"))
    legend_svg, legend_h = _legend(legend_items, left, 0, width - left - right)
    bottom = 48 + legend_h
    total_h = height + legend_h
    plot_w, plot_h = width - left - right, total_h - top - bottom
    (x0, x1), (y0, y1) = x_range, y_range
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (min(max(y, y0), y1) - y0) / (y1 - y0) * plot_h

    out = [
        f'<svg class="chart" width="{width}" height="{total_h}" viewBox="0 0 {width} {total_h}" '
        f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>',
        _title(title, width),
    ]
    for tick in _nice_ticks(y0, y1):
        if y0 - 1e-12 <= tick <= y1 + 1e-12:
            ty = sy(tick)
            out.append(
                f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" '
                f'stroke="{GRID}"/><text x="{left - 6}" y="{ty + 4:.1f}" class="tk" '
                f'text-anchor="end">{_e(_fmt_tick(tick, y_percent))}</text>'
            )
    if x_ticks is None:
        x_ticks = [(t, _fmt_tick(t, x_percent)) for t in _nice_ticks(x0, x1, 6) if x0 <= t <= x1]
    for tick, label in x_ticks:
        tx = sx(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{top + plot_h}" x2="{tx:.1f}" y2="{top + plot_h + 4}" '
            f'stroke="{AXIS}"/><text x="{tx:.1f}" y="{top + plot_h + 16}" class="tk" '
            f'text-anchor="middle">{_e(label)}</text>'
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{AXIS}"/>'
    )
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        out.append(
            f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}" '
            f'stroke="{MUTED}" stroke-dasharray="5 3"/>'
        )
    for s in series:
        out.append(_draw_series(s, sx, sy, y0, left + plot_w))
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 34}" class="al" '
        f'text-anchor="middle"{_fit(x_label, plot_w, 6.6)}>{_e(x_label)}</text>'
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" class="al" '
        f'text-anchor="middle"{_fit(y_label, plot_h, 6.6)}>{_e(y_label)}</text>'
    )
    out.append(f'<g transform="translate(0 {top + plot_h + 56})">{legend_svg}</g>')
    out.append("</svg>")
    return "".join(out)


def _draw_series(s: Series, sx, sy, y_floor: float, right_edge: float) -> str:  # noqa: ANN001
    out = []
    points = [(x, y) for x, y in s.points if y is not None and math.isfinite(y)]
    tips = list(s.tips) if s.tips else [""] * len(s.points)
    labels = list(s.labels) if s.labels else [""] * len(s.points)
    if s.kind == "bars":
        bases = list(s.base) if s.base else [y_floor] * len(s.points)
        for (x, y), base, tip in zip(s.points, bases, tips, strict=False):
            top_y, base_y = sy(base + y), sy(base)
            bar_left, bar_right = sx(x - s.bar_width / 2), sx(x + s.bar_width / 2)
            out.append(
                f'<rect x="{bar_left + 0.5:.1f}" y="{top_y:.1f}" '
                f'width="{max(bar_right - bar_left - 1, 0.5):.1f}" '
                f'height="{max(base_y - top_y, 0):.1f}" fill="{s.color}">'
                f"<title>{_e(tip)}</title></rect>"
            )
        return "".join(out)
    if s.kind in ("line", "dashed") and len(points) > 1:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="5 3"' if s.kind == "dashed" else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>'
        )
    if s.kind in ("line", "points"):
        colors = list(s.marker_color) if s.marker_color else [s.color] * len(s.points)
        for (x, y), tip, label, color in zip(s.points, tips, labels, colors, strict=False):
            if y is None or not math.isfinite(y):
                continue
            out.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{color}">'
                f"<title>{_e(tip)}</title></circle>"
            )
            if label:
                near_right = sx(x) > right_edge - 24
                out.append(
                    f'<text x="{sx(x) + (-5 if near_right else 5):.1f}" y="{sy(y) - 5:.1f}" '
                    f'class="pl" text-anchor="{"end" if near_right else "start"}" '
                    f'fill="{s.color}">{_e(label)}</text>'
                )
    return "".join(out)


def hbar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    x_label: str,
    x_range: tuple[float, float] = (0.0, 1.0),
    x_percent: bool = True,
    width: int = 560,
    value_format: str = "{:.0%}",
) -> str:
    """Grouped horizontal bars: one group per category, one bar per (name, color, values)."""
    label_w = min(8 + 6.4 * max((len(c) for c in categories), default=4), 260)
    left, right, top = label_w, 40, 34
    bar_h, gap = 12, 8
    group_h = bar_h * len(series) + gap
    plot_h = group_h * len(categories)
    legend_svg, legend_h = _legend(
        [(name, color, "bars") for name, color, _ in series], left, 0, width - left - right
    )
    total_h = top + plot_h + 42 + legend_h
    plot_w = width - left - right
    x0, x1 = x_range

    def sx(x: float) -> float:
        return left + (min(max(x, x0), x1) - x0) / (x1 - x0) * plot_w

    out = [
        f'<svg class="chart" width="{width}" height="{total_h}" viewBox="0 0 {width} {total_h}" '
        f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>',
        _title(title, width),
    ]
    for tick in _nice_ticks(x0, x1, 5):
        if x0 <= tick <= x1:
            tx = sx(tick)
            out.append(
                f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{top + plot_h}" '
                f'stroke="{GRID}"/><text x="{tx:.1f}" y="{top + plot_h + 14}" class="tk" '
                f'text-anchor="middle">{_e(_fmt_tick(tick, x_percent))}</text>'
            )
    for i, category in enumerate(categories):
        gy = top + i * group_h + gap / 2
        out.append(
            f'<text x="{left - 6:.1f}" y="{gy + group_h / 2:.1f}" class="tk" '
            f'text-anchor="end">{_e(category)}</text>'
        )
        for j, (name, color, values) in enumerate(series):
            value = values[i]
            y = gy + j * bar_h
            if value is None or not math.isfinite(value):
                out.append(f'<text x="{left + 3}" y="{y + bar_h - 1:.1f}" class="pl">n/a</text>')
                continue
            out.append(
                f'<rect x="{left}" y="{y:.1f}" width="{max(sx(value) - left, 0.5):.1f}" '
                f'height="{bar_h - 1}" fill="{color}"><title>{_e(category)}, {_e(name)}: '
                f"{_e(value_format.format(value))}</title></rect>"
                f'<text x="{sx(value) + 3:.1f}" y="{y + bar_h - 2:.1f}" class="pl">'
                f"{_e(value_format.format(value))}</text>"
            )
    out.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS}"/>'
        f'<text x="{width / 2:.1f}" y="{top + plot_h + 30}" class="al" '
        f'text-anchor="middle"{_fit(x_label, width - 20, 6.6)}>{_e(x_label)}</text>'
        f'<g transform="translate(0 {top + plot_h + 48})">{legend_svg}</g></svg>'
    )
    return "".join(out)


def _date_ticks(days: Sequence[date], max_ticks: int = 7) -> list[tuple[float, str]]:
    if not days:
        return []
    first, last = min(days).toordinal(), max(days).toordinal()
    step = max(1, math.ceil((last - first + 1) / max_ticks))
    return [(float(d), date.fromordinal(d).strftime("%b %d")) for d in range(first, last + 1, step)]


# ------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fafafa; }
header { background: #16324f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #d6e2ee; }
nav { padding: 8px 32px; background: #eef2f6; border-bottom: 1px solid #d8dee4; }
nav a { margin-right: 16px; color: #16324f; text-decoration: none; }
main { padding: 8px 32px 40px; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 4px 20px 16px;
          margin: 18px 0; }
h2 { font-size: 18px; margin: 14px 0 6px; color: #16324f; }
h3 { font-size: 15px; margin: 14px 0 4px; }
p.note { color: #555; margin: 4px 0 10px; max-width: 1100px; }
p.empty { background: #eef7ee; border-left: 4px solid #009E73; padding: 8px 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 22px; align-items: flex-start; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 3px 9px; text-align: right; }
th { background: #f3f5f7; font-weight: 600; }
td.l, th.l { text-align: left; }
tr.flag td { background: #fff4ec; }
svg.chart { background: #fff; }
svg .ct { font: 600 13px system-ui, sans-serif; text-anchor: middle; fill: #222; }
svg .tk { font: 11px system-ui, sans-serif; fill: #444; }
svg .al { font: 12px system-ui, sans-serif; fill: #222; }
svg .lg { font: 11.5px system-ui, sans-serif; fill: #222; }
svg .pl { font: 10px system-ui, sans-serif; fill: #444; }
footer { color: #777; font-size: 12px; padding: 0 32px 24px; }
"""


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, left: int = 1, flags=None
) -> str:  # noqa: ANN001
    head = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for r, row in enumerate(rows):
        cells = "".join(
            f'<td class="l">{_e(v)}</td>' if i < left else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        cls = ' class="flag"' if flags and flags[r] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pct(x: float | None, digits: int = 1) -> str:
    return (
        "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"
    )


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _section(anchor: str, title: str, body: str, *, chart: bool = True) -> str:
    cls = "chart-section" if chart else "table-section"
    return f'<section id="{anchor}" class="{cls}"><h2>{_e(title)}</h2>{body}</section>'


# ------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------


def _overview(con: duckdb.DuckDBPyConnection, schema: str, truth_path: Path | None) -> str:
    summaries = summarize(con, schema, truth_path)
    headers = ["label task", "outputs", "LF coverage", "mean P(good)", "labelled good", "rated"]
    if truth_path is not None:
        headers += [
            "true good",
            "label model acc",
            "label model AUC",
            "majority acc",
            "majority AUC",
            "ratings acc",
        ]
    rows = []
    for s in summaries:
        row: list[object] = [
            s.label_task,
            f"{s.n_outputs:,}",
            _pct(s.coverage),
            _num(s.mean_p_good),
            _pct(s.share_labeled_good),
            f"{s.n_rated:,}",
        ]
        if truth_path is not None:
            row += [
                _pct(s.true_good_share),
                _pct(s.label_model_accuracy),
                _num(s.label_model_auc),
                _pct(s.majority_accuracy),
                _num(s.majority_auc),
                _pct(s.ratings_accuracy),
            ]
        rows.append(row)
    note = (
        "Quality columns score the labels of covered outputs (at least one LF voted) against "
        "the truth file; ratings are scored on the rated outputs only."
        if truth_path is not None
        else "Pass a truth file to score the labels against it."
    )
    return _section(
        "overview",
        "Overview",
        _table(headers, rows) + f'<p class="note">{_e(note)}</p>',
        chart=False,
    )


def _lf_section(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    rows = con.execute(
        f"""
        select s.label_task, s.lf_name, s.polarity, s.n_votes, s.coverage, s.overlaps,
               s.conflicts, s.correct, s.incorrect, s.empirical_accuracy
        from "{schema}"."lf_summary" as s
        order by s.label_task, s.lf_index
        """
    ).fetchall()
    learned = _learned_accuracies(con, schema)
    body = [
        '<p class="note">Snorkel\'s <code>lf_summary</code> per task: coverage, overlaps and '
        "conflicts are shares of the task's outputs; correct / incorrect / empirical accuracy "
        "are against the explicit ratings (few, and biased towards complaints); learned "
        "accuracy is the label model's estimate from the votes alone (latest run).</p>"
    ]
    charts = []
    for task in sorted({r[0] for r in rows}):
        task_rows = [r for r in rows if r[0] == task]
        table_rows = [
            [
                r[1],
                r[2],
                f"{r[3]:,}",
                _pct(r[4]),
                _pct(r[5]),
                _pct(r[6]),
                r[7],
                r[8],
                _pct(r[9]),
                _pct(learned.get((task, r[1]))),
            ]
            for r in task_rows
        ]
        table_html = _table(
            [
                "labeling function",
                "polarity",
                "votes",
                "coverage",
                "overlaps",
                "conflicts",
                "correct",
                "incorrect",
                "empirical acc",
                "learned acc",
            ],
            table_rows,
            left=2,
        )
        names = [r[1] for r in task_rows]
        chart_html = hbar_chart(
            f"{task}: LF coverage and accuracy",
            names,
            [
                ("coverage", PALETTE[0], [r[4] for r in task_rows]),
                ("empirical accuracy (ratings)", PALETTE[1], [r[9] for r in task_rows]),
                (
                    "learned accuracy (label model)",
                    PALETTE[2],
                    [learned.get((task, n)) for n in names],
                ),
            ],
            x_label="share of outputs (coverage) or of votes (accuracy)",
            width=410,
        )
        body.append(f"<h3>{_e(task)}</h3>{table_html}")
        charts.append(chart_html)
    if not rows:
        body.append('<p class="empty">lf_summary is empty: no labeling functions.</p>')
        charts.append(
            xy_chart(
                "No labeling functions",
                [],
                x_label="–",
                y_label="–",
                x_range=(0, 1),
                y_range=(0, 1),
            )
        )
    body.append(f'<div class="charts">{"".join(charts)}</div>')
    return _section("lfs", "Labeling functions", "".join(body))


def _learned_accuracies(
    con: duckdb.DuckDBPyConnection, schema: str
) -> dict[tuple[str, str], float | None]:
    """Learned accuracy per (task, LF) of the latest run; None for an LF that never votes."""
    if not _has_table(con, schema, "label_model_lf_weights") or not _has_table(
        con, schema, "label_model_runs"
    ):
        return {}
    rows = con.execute(
        f"""
        with latest as (
            select label_task, arg_max(run_id, fitted_at) as run_id
            from "{schema}"."label_model_runs" group by label_task
        )
        select w.label_task, w.lf_name, w.learned_accuracy
        from "{schema}"."label_model_lf_weights" as w
        inner join latest on w.label_task = latest.label_task and w.run_id = latest.run_id
        """
    ).fetchall()
    return {(task, lf): acc for task, lf, acc in rows}


def _distribution_section(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    rows = con.execute(
        f"""
        select label_task,
               least(floor(p_good * {HISTOGRAM_BINS}), {HISTOGRAM_BINS - 1})::int as bin,
               count(*) filter (where is_covered) as n_covered,
               count(*) filter (where not is_covered) as n_uncovered
        from "{schema}"."probabilistic_labels"
        where p_good is not null
        group by all
        order by all
        """
    ).fetchall()
    totals: dict[str, int] = {}
    for task, _, n_cov, n_unc in rows:
        totals[task] = totals.get(task, 0) + n_cov + n_unc
    charts = []
    width = 1 / HISTOGRAM_BINS
    for task in sorted(totals):
        task_rows = [r for r in rows if r[0] == task]
        total = totals[task]
        mids = [(r[1] + 0.5) * width for r in task_rows]
        covered = [r[2] / total for r in task_rows]
        uncovered = [r[3] / total for r in task_rows]
        tips_c = [
            f"P(good) {r[1] * width:.2f}-{(r[1] + 1) * width:.2f}: {r[2]:,}" for r in task_rows
        ]
        tips_u = [
            f"P(good) {r[1] * width:.2f}-{(r[1] + 1) * width:.2f}: {r[3]:,}" for r in task_rows
        ]
        top = max((c + u for c, u in zip(covered, uncovered, strict=True)), default=1.0)
        charts.append(
            xy_chart(
                f"{task}: P(good) of {total:,} outputs",
                [
                    Series(
                        "covered (an LF voted)",
                        list(zip(mids, covered, strict=True)),
                        PALETTE[0],
                        "bars",
                        bar_width=width,
                        tips=tips_c,
                    ),
                    Series(
                        "uncovered (all LFs abstained)",
                        list(zip(mids, uncovered, strict=True)),
                        PALETTE[1],
                        "bars",
                        bar_width=width,
                        base=covered,
                        tips=tips_u,
                    ),
                ],
                x_label="P(good) from the label model",
                y_label="share of the task's outputs",
                x_range=(0.0, 1.0),
                y_range=(0.0, top * 1.08 or 1.0),
                y_percent=True,
            )
        )
    if not charts:
        raise FlywheelError("probabilistic_labels has no p_good: run `flywheel run` first")
    body = (
        '<p class="note">Histogram of the label model\'s P(good) per task, in bins of '
        f"{width:.2f}. Outputs no LF voted on all get the same P(good) (the class prior): "
        "they are drawn separately.</p>"
        f'<div class="charts">{"".join(charts)}</div>'
    )
    return _section("distribution", "Label distribution", body)


def _calibration_section(
    con: duckdb.DuckDBPyConnection, schema: str, truth_path: Path | None
) -> str:
    truth_join = (
        "left join (select output_id, max(is_good::int) as is_good from read_parquet(?) "
        "group by output_id) as t on l.output_id = t.output_id"
        if truth_path is not None
        else ""
    )
    truth_cols = (
        "count(t.is_good) as n_truth, avg(case when t.is_good is not null then l.p_good end), "
        "avg(t.is_good)"
        if truth_path is not None
        else "0, null, null"
    )
    rows = con.execute(
        f"""
        select l.label_task,
               least(floor(l.p_good * {CALIBRATION_BINS}), {CALIBRATION_BINS - 1})::int as bin,
               count(l.explicit_label) as n_rated,
               avg(case when l.explicit_label is not null then l.p_good end) as p_rated,
               avg(l.explicit_label) as rated_good,
               {truth_cols}
        from "{schema}"."probabilistic_labels" as l
        {truth_join}
        where l.p_good is not null
        group by all
        order by all
        """,
        [str(truth_path)] if truth_path is not None else [],
    ).fetchall()
    tasks = sorted({r[0] for r in rows})
    charts, count_rows = [], []
    for task in tasks:
        task_rows = [r for r in rows if r[0] == task]
        rated = [r for r in task_rows if r[2] > 0]
        series = [
            Series(
                "explicit ratings (n rated beside each point)",
                [(r[3], r[4]) for r in rated],
                PALETTE[3],
                "line",
                labels=[f"{r[2]}" for r in rated],
                tips=[f"{r[2]} rated, P(good) {r[3]:.2f}, rated good {r[4]:.0%}" for r in rated],
            )
        ]
        if truth_path is not None:
            scored = [r for r in task_rows if r[5] >= MIN_TRUTH_BIN]
            series.append(
                Series(
                    "truth (all outputs)",
                    [(r[6], r[7]) for r in scored],
                    PALETTE[0],
                    "line",
                    tips=[f"{r[5]:,} outputs, P(good) {r[6]:.2f}, good {r[7]:.0%}" for r in scored],
                )
            )
        charts.append(
            xy_chart(
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
        )
        for r in task_rows:
            bin_label = f"{r[1] / CALIBRATION_BINS:.1f}-{(r[1] + 1) / CALIBRATION_BINS:.1f}"
            row = [task, bin_label, r[2], _pct(r[4], 0) if r[2] else "–"]
            if truth_path is not None:
                row += [f"{r[5]:,}", _pct(r[7], 0) if r[5] else "–"]
            count_rows.append(row)
    headers = ["label task", "P(good) bin", "rated", "rated good"]
    if truth_path is not None:
        headers += ["with truth", "truly good"]
    note = (
        "Outputs binned by P(good) in tenths; each point is a bin's mean P(good) against the "
        "share of its outputs that are good. Explicit ratings are few and not a random sample "
        "(users complain more often than they praise, and some ratings are wrong): their curve "
        "sits below the diagonal even for calibrated labels."
        + (
            " The truth curve uses every output with a truth row (bins with fewer than "
            f"{MIN_TRUTH_BIN} outputs are not drawn)."
            if truth_path is not None
            else " Pass a truth file to add the curve against truth."
        )
    )
    body = (
        f'<p class="note">{_e(note)}</p><div class="charts">{"".join(charts)}</div>'
        "<details><summary>Counts per bin</summary>"
        + _table(headers, count_rows, left=2)
        + "</details>"
    )
    return _section("calibration", "Calibration of P(good)", body)


def _quality_section(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    rows = con.execute(
        f"""
        select surface, model_version, shown_date, n_outputs, mean_p_good, coverage
        from "{schema}"."output_quality_daily"
        order by surface, model_version, shown_date
        """
    ).fetchall()
    charts = []
    all_days = [r[2] for r in rows]
    x_range = (
        (min(all_days).toordinal() - 0.5, max(all_days).toordinal() + 0.5) if all_days else (0, 1)
    )
    for surface in sorted({r[0] for r in rows}):
        kept = [
            r for r in rows if r[0] == surface and r[3] >= MIN_DAILY_OUTPUTS and r[4] is not None
        ]
        versions = sorted({r[1] for r in kept})
        series = [
            Series(
                version,
                [(float(r[2].toordinal()), r[4]) for r in kept if r[1] == version],
                PALETTE[i % len(PALETTE)],
                "line",
                tips=[
                    f"{version} {r[2]}: mean P(good) {r[4]:.3f} over {r[3]:,} outputs "
                    f"(coverage {r[5]:.0%})"
                    for r in kept
                    if r[1] == version
                ],
            )
            for i, version in enumerate(versions)
        ]
        charts.append(
            xy_chart(
                f"{surface}: mean P(good) per day by model version",
                series,
                x_label="day shown (UTC)",
                y_label="mean P(good), covered outputs",
                x_range=x_range,
                y_range=_padded_range([r[4] for r in kept]),
                x_ticks=_date_ticks(all_days),
            )
        )
    body = (
        '<p class="note">From <code>output_quality_daily</code>: the mean label-model P(good) '
        f"of covered outputs per day, one line per model version. Days with fewer than "
        f"{MIN_DAILY_OUTPUTS} outputs of a version are not drawn.</p>"
        f'<div class="charts">{"".join(charts)}</div>'
    )
    return _section("quality", "Quality by model version over time", body)


def _drift_section(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    flagged = con.execute(
        f"""
        select label_task, shown_date, metric_kind, metric_name, n_outputs, rate, baseline_rate,
               rate_change, z_score
        from "{schema}"."drift_daily"
        where is_flagged
        order by abs(z_score) desc, label_task, metric_name, shown_date
        """
    ).fetchall()
    # the metrics to draw: the most moved flagged ones, else the most moved of all
    top = con.execute(
        f"""
        select label_task, metric_name, max(abs(z_score)) as max_z,
               bool_or(is_flagged) as any_flag
        from "{schema}"."drift_daily"
        where z_score is not null and n_outputs >= {MIN_DAILY_OUTPUTS}
        group by label_task, metric_name
        order by any_flag desc, max_z desc, label_task, metric_name
        limit {TOP_DRIFT_METRICS}
        """
    ).fetchall()
    series_rows = con.execute(
        f"""
        select label_task, metric_name, shown_date, rate, baseline_rate, is_flagged, z_score
        from "{schema}"."drift_daily"
        where n_outputs >= {MIN_DAILY_OUTPUTS}
        order by label_task, metric_name, shown_date
        """
    ).fetchall()
    parts = []
    if flagged:
        parts.append(
            f'<p class="note"><b>{len(flagged)} flagged</b> (task, day, metric) rows: the day\'s '
            "rate moved far from its trailing baseline (large change and |z| above the "
            "threshold). Largest |z| first.</p>"
        )
        table_rows = [
            [
                r[0],
                str(r[1]),
                r[2].replace("_", " "),
                r[3],
                f"{r[4]:,}",
                _pct(r[5]),
                _pct(r[6]),
                f"{100 * r[7]:+.1f} pts",
                f"{r[8]:+.1f}",
            ]
            for r in flagged[:MAX_DRIFT_ROWS]
        ]
        parts.append(
            _table(
                [
                    "label task",
                    "day",
                    "kind",
                    "metric",
                    "outputs",
                    "rate",
                    "baseline",
                    "change",
                    "z",
                ],
                table_rows,
                left=4,
            )
        )
        if len(flagged) > MAX_DRIFT_ROWS:
            parts.append(f'<p class="note">… and {len(flagged) - MAX_DRIFT_ROWS} more.</p>')
    else:
        parts.append(
            '<p class="empty"><b>No drift flags.</b> No labeling-function vote rate or signal '
            "rate moved far enough from its trailing baseline on any day. The chart shows the "
            "metrics that moved the most anyway.</p>"
        )
    parts.append(
        "<p class=\"note\">Each chart: a metric's daily rate (share of the task's outputs where "
        "the LF voted or the signal fired) against its trailing baseline; flagged days in red. "
        f"Days with fewer than {MIN_DAILY_OUTPUTS} outputs are not drawn.</p>"
    )
    charts = []
    for task, metric, max_z, _any_flag in top:
        points = [r for r in series_rows if r[0] == task and r[1] == metric]
        days = [r[2] for r in points]
        x = [float(d.toordinal()) for d in days]
        flags = [r for r in points if r[5]]
        series = [
            Series("daily rate", list(zip(x, [r[3] for r in points], strict=True)), PALETTE[0]),
            Series(
                "baseline (trailing days)",
                [(xi, r[4]) for xi, r in zip(x, points, strict=True) if r[4] is not None],
                MUTED,
                "dashed",
            ),
        ]
        if flags:
            series.append(
                Series(
                    "flagged day",
                    [(float(r[2].toordinal()), r[3]) for r in flags],
                    FLAG,
                    "points",
                    tips=[f"{r[2]}: rate {r[3]:.1%}, z {r[6]:+.1f}" for r in flags],
                )
            )
        values = [r[3] for r in points] + [r[4] for r in points if r[4] is not None]
        charts.append(
            xy_chart(
                f"{metric} ({task}), max |z| {max_z:.1f}",
                series,
                x_label="day shown (UTC)",
                y_label="share of the task's outputs",
                x_range=(min(x) - 0.5, max(x) + 0.5),
                y_range=_padded_range(values, floor=0.0),
                x_ticks=_date_ticks(days),
                y_percent=True,
            )
        )
    if not charts:
        charts.append(
            xy_chart(
                "No drift metrics",
                [],
                x_label="day",
                y_label="rate",
                x_range=(0, 1),
                y_range=(0, 1),
            )
        )
    parts.append(f'<div class="charts">{"".join(charts)}</div>')
    return _section("drift", "Drift of signals and labeling functions", "".join(parts))


def _evaluation_section(result: EvaluationResult) -> str:
    labels = dict(ARMS)
    rows = [
        [
            s.label_task,
            labels.get(s.arm, s.arm),
            f"{s.n_train:,}",
            f"{s.n_eval:,}",
            _pct(s.accuracy),
            _num(s.auc),
            _num(s.brier),
        ]
        for task in [*result.tasks, OVERALL]
        for s in result.scores
        if s.label_task == task
    ]
    arms = [arm for arm, _ in ARMS if any(s.arm == arm for s in result.scores)]
    groups = [*result.tasks, OVERALL]

    def values(arm: str, attr: str) -> list[float | None]:
        out: list[float | None] = []
        for task in groups:
            match = [s for s in result.scores if s.arm == arm and s.label_task == task]
            out.append(getattr(match[0], attr) if match else None)
        return out

    colors = dict(
        zip([a for a, _ in ARMS], (PALETTE[3], PALETTE[1], PALETTE[0], MUTED), strict=True)
    )
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
    note = (
        "The same classifier (logistic regression per task on serving-time features: "
        + ", ".join(result.features)
        + ") trained on each source of labels, scored against the truth of all held-out "
        "outputs. (c) uses P(good) as a soft target."
    )
    body = (
        f'<p class="note">{_e(note)}</p>'
        + _table(
            ["label task", "trained on", "n train", "n eval", "accuracy", "AUC", "Brier"],
            rows,
            left=2,
        )
        + f'<div class="charts">{"".join(charts)}</div>'
        + "".join(f'<p class="note">{_e(n)}</p>' for n in result.notes)
    )
    return _section("evaluation", "Many imperfect labels vs a few perfect ones", body)


# ------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    (found,) = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found)


def render_report(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    out_path: Path | str,
    *,
    truth_path: Path | str | None = None,
    evaluation: EvaluationResult | None = None,
) -> Path:
    """Write the HTML report of the built warehouse to ``out_path``; return its path.

    ``truth_path`` (the simulator's ``truth.parquet``) adds label quality to the overview and a
    calibration curve against truth; ``evaluation`` (from :func:`flywheel.evaluate.evaluate`)
    adds the evaluation section.
    """
    out_path = Path(out_path)
    truth = Path(truth_path) if truth_path is not None else None
    if truth is not None and not truth.is_file():
        raise FlywheelError(f"truth file {truth} not found")
    missing = [t for t in REQUIRED_TABLES if not _has_table(con, schema, t)]
    if missing:
        raise FlywheelError(
            f"{schema} has no {', '.join(missing)}: run `flywheel run` (or `dbt build`) first"
        )
    parent = out_path.parent.resolve()
    if not parent.is_dir():
        raise FlywheelError(f"cannot write {out_path}: directory {parent} does not exist")

    (first_day, last_day, n_outputs) = con.execute(
        f'select min(shown_date), max(shown_date), count(*) from "{schema}"."probabilistic_labels"'
    ).fetchone()
    sections = [
        _overview(con, schema, truth),
        _lf_section(con, schema),
        _distribution_section(con, schema),
        _calibration_section(con, schema, truth),
        _quality_section(con, schema),
        _drift_section(con, schema),
    ]
    nav = [
        ("overview", "Overview"),
        ("lfs", "Labeling functions"),
        ("distribution", "Label distribution"),
        ("calibration", "Calibration"),
        ("quality", "Quality by version"),
        ("drift", "Drift"),
    ]
    if evaluation is not None:
        sections.append(_evaluation_section(evaluation))
        nav.append(("evaluation", "Evaluation"))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flywheel label report</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>flywheel label report</h1>
<p>{n_outputs:,} outputs shown {_e(first_day)} to {_e(last_day)} &middot; schema
{_e(schema)} &middot; generated {_e(generated)} by flywheel {_e(__version__)}</p>
</header>
<nav>{"".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in nav)}</nav>
<main>
{"".join(sections)}
</main>
<footer>Self-contained: every chart is inline SVG; the file loads nothing.</footer>
</body>
</html>
"""
    try:
        out_path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise FlywheelError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
    return out_path
