"""Hand-written inline SVG charts: x/y charts (lines, points, stacked bars) and grouped hbars.

Every chart is one ``<svg>`` element with a title, axes, tick labels and a legend, and no
external resource (no font, script or stylesheet beyond the page's own classes ``ct``, ``tk``,
``al``, ``lg`` and ``pl``). Functions return :class:`markupsafe.Markup`, so a Jinja2 template
with autoescape inserts them as they are; every text inside is escaped here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

#: Okabe-Ito: distinguishable for the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000")
GRID, AXIS, MUTED, FLAG = "#e3e3e3", "#555", "#999", "#D55E00"

Scale = Callable[[float], float]


@dataclass(frozen=True)
class Series:
    """One legend entry of an x/y chart.

    Attributes
    ----------
    name, points, color
        Legend text, ``(x, y)`` points (a None or non-finite y is skipped), CSS colour.
    kind
        ``line`` (with markers), ``dashed`` (no markers), ``points``, or ``bars``.
    bar_width
        Width of a bar in x units (``bars``).
    base
        Per point, the y the bar stacks on (``bars``); default the bottom of the axis.
    labels, tips
        Per point, text drawn next to the marker, and its hover tooltip.
    marker_color
        Per point, the marker's colour (default ``color``).
    """

    name: str
    points: Sequence[tuple[float, float | None]]
    color: str
    kind: str = "line"
    bar_width: float = 0.0
    base: Sequence[float] | None = None
    labels: Sequence[str] | None = None
    tips: Sequence[str] | None = None
    marker_color: Sequence[str] | None = None


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (steps of 1, 2, 2.5 or 5 x 10^k) from ``lo`` to ``hi``.

    Parameters
    ----------
    lo, hi
        The axis range; a non-finite or empty range becomes ``[lo, lo + 1]``.
    n
        Roughly how many intervals.

    Returns
    -------
    list of float
        Ticks within ``[lo, hi]``, rounded to 10 decimals.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = []
    value = math.ceil(lo / step - 1e-9) * step
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def padded_range(
    values: Sequence[float | None], *, floor: float | None = None
) -> tuple[float, float]:
    """The range of the finite ``values`` padded by 8% each side (never below ``floor``).

    Parameters
    ----------
    values
        Data values; None and non-finite values are ignored.
    floor
        Lowest allowed lower bound.

    Returns
    -------
    tuple of float
        ``(lo, hi)``; ``(0, 1)`` when no value is finite.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return (0.0, 1.0)
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.08 or 0.05
    lo, hi = lo - pad, hi + pad
    if floor is not None:
        lo = max(lo, floor)
    return lo, hi


def date_ticks(days: Sequence[date], max_ticks: int = 7) -> list[tuple[float, str]]:
    """At most about ``max_ticks`` evenly spaced day ticks ``(ordinal, "Mon DD")``.

    Parameters
    ----------
    days
        The days on the axis (any order); x positions are their ordinals.
    max_ticks
        Upper bound of the number of ticks (give or take one).

    Returns
    -------
    list of tuple
        ``(x, label)`` pairs from the first day on.
    """
    if not days:
        return []
    first, last = min(days).toordinal(), max(days).toordinal()
    step = max(1, math.ceil((last - first + 1) / max_ticks))
    return [(float(d), date.fromordinal(d).strftime("%b %d")) for d in range(first, last + 1, step)]


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


def _open_svg(title: str, width: float, height: float) -> str:
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>' + _title(title, width)
    )


def _swatch(x: float, y: float, color: str, kind: str) -> str:
    if kind == "bars":
        return f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="14" height="10" fill="{color}"/>'
    if kind == "points":
        return f'<circle cx="{x + 7:.1f}" cy="{y - 4:.1f}" r="4" fill="{color}"/>'
    dash = ' stroke-dasharray="5 3"' if kind == "dashed" else ""
    return (
        f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" '
        f'stroke="{color}" stroke-width="2.5"{dash}/>'
    )


def _legend(
    items: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[str, float]:
    """Legend swatches (name, color, kind) wrapped into rows; returns (svg, height)."""
    parts, x, y = [], x0, y0
    for name, color, kind in items:
        item_width = 26 + 6.6 * len(name)
        if x > x0 and x + item_width > x0 + width:
            x, y = x0, y + 18
        parts.append(_swatch(x, y, color, kind))
        parts.append(f'<text x="{x + 20:.1f}" y="{y:.1f}" class="lg">{_e(name)}</text>')
        x += item_width + 12
    return "".join(parts), y - y0 + 18


@dataclass(frozen=True)
class _Frame:
    """The plot area of an x/y chart and its scales."""

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def sx(self, x: float) -> float:
        x0, x1 = self.x_range
        return self.left + (x - x0) / (x1 - x0) * self.width

    def sy(self, y: float) -> float:
        y0, y1 = self.y_range
        return self.top + self.height - (min(max(y, y0), y1) - y0) / (y1 - y0) * self.height


def _axes(
    frame: _Frame,
    x_ticks: Sequence[tuple[float, str]] | None,
    *,
    x_percent: bool,
    y_percent: bool,
) -> list[str]:
    """Horizontal grid lines with y tick labels, x ticks with labels, and the plot box."""
    (x0, x1), (y0, y1) = frame.x_range, frame.y_range
    left, top, bottom = frame.left, frame.top, frame.top + frame.height
    out = []
    for tick in nice_ticks(y0, y1):
        if y0 - 1e-12 <= tick <= y1 + 1e-12:
            ty = frame.sy(tick)
            out.append(
                f'<line x1="{left}" y1="{ty:.1f}" x2="{left + frame.width}" y2="{ty:.1f}" '
                f'stroke="{GRID}"/><text x="{left - 6}" y="{ty + 4:.1f}" class="tk" '
                f'text-anchor="end">{_e(_fmt_tick(tick, y_percent))}</text>'
            )
    if x_ticks is None:
        x_ticks = [(t, _fmt_tick(t, x_percent)) for t in nice_ticks(x0, x1, 6) if x0 <= t <= x1]
    for tick, label in x_ticks:
        tx = frame.sx(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{bottom}" x2="{tx:.1f}" y2="{bottom + 4}" '
            f'stroke="{AXIS}"/><text x="{tx:.1f}" y="{bottom + 16}" class="tk" '
            f'text-anchor="middle">{_e(label)}</text>'
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{frame.width}" height="{frame.height}" fill="none" '
        f'stroke="{AXIS}"/>'
    )
    return out


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
) -> Markup:
    """An x/y chart (lines, points, bars) as an inline SVG element with title, axes, legend.

    Parameters
    ----------
    title, series
        Chart title and the series to draw, in legend order.
    x_label, y_label
        Axis labels.
    x_range, y_range
        Axis ranges (an empty range is widened by 1).
    x_ticks
        ``(x, label)`` ticks; default round numbers.
    y_percent, x_percent
        Tick labels as percentages.
    diagonal
        Legend text of a dashed y = x line, drawn when given.
    width, height
        Size in pixels before the legend (which adds rows as needed).

    Returns
    -------
    Markup
        The ``<svg>`` element.
    """
    left, right, top = 58, 14, 34
    legend_items = [(s.name, s.color, s.kind) for s in series]
    if diagonal:
        legend_items.append((diagonal, MUTED, "dashed"))
    legend_svg, legend_h = _legend(legend_items, left, 0, width - left - right)
    total_h = height + legend_h
    (x0, x1), (y0, y1) = x_range, y_range
    frame = _Frame(
        left,
        top,
        width - left - right,
        total_h - top - 48 - legend_h,
        (x0, x1 if x1 > x0 else x0 + 1),
        (y0, y1 if y1 > y0 else y0 + 1),
    )
    bottom = top + frame.height
    out = [_open_svg(title, width, total_h)]
    out += _axes(frame, x_ticks, x_percent=x_percent, y_percent=y_percent)
    if diagonal:
        lo, hi = max(frame.x_range[0], frame.y_range[0]), min(frame.x_range[1], frame.y_range[1])
        out.append(
            f'<line x1="{frame.sx(lo):.1f}" y1="{frame.sy(lo):.1f}" x2="{frame.sx(hi):.1f}" '
            f'y2="{frame.sy(hi):.1f}" stroke="{MUTED}" stroke-dasharray="5 3"/>'
        )
    out += [_draw_series(s, frame) for s in series]
    out.append(
        f'<text x="{left + frame.width / 2:.1f}" y="{bottom + 34}" class="al" '
        f'text-anchor="middle"{_fit(x_label, frame.width, 6.6)}>{_e(x_label)}</text>'
        f'<text transform="translate(14 {top + frame.height / 2:.1f}) rotate(-90)" class="al" '
        f'text-anchor="middle"{_fit(y_label, frame.height, 6.6)}>{_e(y_label)}</text>'
        f'<g transform="translate(0 {bottom + 56})">{legend_svg}</g></svg>'
    )
    return Markup("".join(out))


def _draw_bars(s: Series, frame: _Frame, tips: Sequence[str]) -> str:
    bases = list(s.base) if s.base else [frame.y_range[0]] * len(s.points)
    out = []
    for (x, y), base, tip in zip(s.points, bases, tips, strict=False):
        if y is None:
            continue
        top_y, base_y = frame.sy(base + y), frame.sy(base)
        bar_left, bar_right = frame.sx(x - s.bar_width / 2), frame.sx(x + s.bar_width / 2)
        out.append(
            f'<rect x="{bar_left + 0.5:.1f}" y="{top_y:.1f}" '
            f'width="{max(bar_right - bar_left - 1, 0.5):.1f}" '
            f'height="{max(base_y - top_y, 0):.1f}" fill="{s.color}">'
            f"<title>{_e(tip)}</title></rect>"
        )
    return "".join(out)


def _draw_markers(s: Series, frame: _Frame, tips: Sequence[str]) -> str:
    labels = list(s.labels) if s.labels else [""] * len(s.points)
    colors = list(s.marker_color) if s.marker_color else [s.color] * len(s.points)
    right_edge = frame.left + frame.width
    out = []
    for (x, y), tip, label, color in zip(s.points, tips, labels, colors, strict=False):
        if y is None or not math.isfinite(y):
            continue
        px, py = frame.sx(x), frame.sy(y)
        out.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}">'
            f"<title>{_e(tip)}</title></circle>"
        )
        if label:
            near_right = px > right_edge - 24
            out.append(
                f'<text x="{px + (-5 if near_right else 5):.1f}" y="{py - 5:.1f}" '
                f'class="pl" text-anchor="{"end" if near_right else "start"}" '
                f'fill="{s.color}">{_e(label)}</text>'
            )
    return "".join(out)


def _draw_series(s: Series, frame: _Frame) -> str:
    tips = list(s.tips) if s.tips else [""] * len(s.points)
    if s.kind == "bars":
        return _draw_bars(s, frame, tips)
    out = ""
    points = [(x, y) for x, y in s.points if y is not None and math.isfinite(y)]
    if s.kind in ("line", "dashed") and len(points) > 1:
        path = " ".join(f"{frame.sx(x):.1f},{frame.sy(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="5 3"' if s.kind == "dashed" else ""
        out += f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>'
    if s.kind in ("line", "points"):
        out += _draw_markers(s, frame, tips)
    return out


def _hbar(
    label: tuple[str, str],
    color: str,
    value: float | None,
    xy: tuple[float, float],
    sx: Scale,
    fmt: str,
) -> str:
    """One bar of :func:`hbar_chart` (or ``n/a``) at ``xy``, with its value and tooltip."""
    (category, name), (left, y) = label, xy
    if not _finite(value):
        return f'<text x="{left + 3}" y="{y + 11:.1f}" class="pl">n/a</text>'
    assert value is not None
    text = _e(fmt.format(value))
    return (
        f'<rect x="{left}" y="{y:.1f}" width="{max(sx(value) - left, 0.5):.1f}" '
        f'height="11" fill="{color}"><title>{_e(category)}, {_e(name)}: {text}</title></rect>'
        f'<text x="{sx(value) + 3:.1f}" y="{y + 10:.1f}" class="pl">{text}</text>'
    )


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
) -> Markup:
    """Grouped horizontal bars: one group per category, one bar per (name, color, values).

    Parameters
    ----------
    title, categories
        Chart title and the group labels, top to bottom.
    series
        ``(name, color, values)`` per bar of a group; ``values[i]`` belongs to
        ``categories[i]``, None draws ``n/a``.
    x_label, x_range, x_percent
        The value axis: label, range (values are clipped to it), percentage ticks.
    width
        Width in pixels.
    value_format
        Format of the value printed after each bar.

    Returns
    -------
    Markup
        The ``<svg>`` element.
    """
    label_w = min(8 + 6.4 * max((len(c) for c in categories), default=4), 260)
    left, right, top, bar_h, gap = label_w, 40, 34, 12, 8
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

    out = [_open_svg(title, width, total_h)]
    for tick in nice_ticks(x0, x1, 5):
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
            out.append(
                _hbar((category, name), color, values[i], (left, gy + j * bar_h), sx, value_format)
            )
    out.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS}"/>'
        f'<text x="{width / 2:.1f}" y="{top + plot_h + 30}" class="al" '
        f'text-anchor="middle"{_fit(x_label, width - 20, 6.6)}>{_e(x_label)}</text>'
        f'<g transform="translate(0 {top + plot_h + 48})">{legend_svg}</g></svg>'
    )
    return Markup("".join(out))
