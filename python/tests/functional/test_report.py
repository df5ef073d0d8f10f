"""flywheel.report: one self-contained HTML file, every chart an inline SVG, rendered by Chromium.

The page's numbers are checked against their sources (``summarize()``, the ``rpt_*`` tables),
and the report is checked to read each table, and the truth file, once. The browser test runs
headless Chromium (Debian package ``chromium``) on the report and checks the screenshot is a
real rendering. It is skipped when Chromium is absent, except in CI (``CI`` set), where it must
run.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from flywheel.errors import FlywheelError
from flywheel.evaluate import evaluate
from flywheel.report import PALETTE, ReportConfig, render_report, write_report
from flywheel.report.data import REPORT_TABLES, DriftData, DriftDay, DriftMetric, ReportParameters
from flywheel.report.page import drift_section
from flywheel.summary import summarize

CHART_SECTIONS = ["lfs", "distribution", "calibration", "quality", "drift", "evaluation"]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TRUTH_READERS = re.compile(r"\bread_(parquet|csv|json)\b")


class CountingConnection:
    """A DuckDB connection that records every SQL statement it executes."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        self.statements.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def reads(self, table: str) -> int:
        """Statements that reference ``table`` (quoted or not) as a whole word."""
        pattern = re.compile(rf'\b"?{re.escape(table)}"?\b')
        return sum(bool(pattern.search(sql)) for sql in self.statements)

    def truth_reads(self) -> int:
        """Statements that read the truth file's rows: those reading a file but the features
        evaluate writes and reads back (``flywheel-evaluate-*``), and the ``describe`` that
        reads only the truth file's columns."""
        return sum(
            bool(TRUTH_READERS.search(sql))
            and "flywheel-evaluate-" not in sql
            and not sql.lstrip().lower().startswith("describe")
            for sql in self.statements
        )


@dataclass(frozen=True)
class Report:
    path: Path
    page: str
    counted: CountingConnection


@pytest.fixture(scope="module")
def report(built, tmp_path_factory: pytest.TempPathFactory) -> Report:
    con = built.connect()
    try:
        counted = CountingConnection(con)
        config = ReportConfig(
            out=tmp_path_factory.mktemp("report") / "report.html",
            truth_path=built.sim.truth_path,
            evaluate=True,
        )
        path = write_report(counted, built.project.schema, config)  # type: ignore[arg-type]
        return Report(path, path.read_text(encoding="utf-8"), counted)
    finally:
        con.close()


def _sections(page: str, kind: str = "chart-section") -> dict[str, str]:
    found = re.findall(r'<section id="([^"]+)" class="([^"]+)">(.*?)</section>', page, re.S)
    return {anchor: body for anchor, cls, body in found if cls == kind}


def _rows(fragment: str) -> list[list[str]]:
    """The body rows of every table in ``fragment``, as unescaped cell texts."""
    rows = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", fragment, re.S):
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            rows.append([html.unescape(c).strip() for c in cells])
    return rows


def _pct(text: str) -> float | None:
    return None if text == "–" else float(text.rstrip("%")) / 100


def _num(text: str) -> float | None:
    return None if text == "–" else float(text)


def _close(shown: float | None, value: float | None, digits: int) -> bool:
    """``shown`` is ``value`` rounded to ``digits`` decimals (both None counts too)."""
    if shown is None or value is None or value != value:
        return shown is None and (value is None or value != value)
    return abs(shown - value) <= 0.5 * 10**-digits + 1e-12


def test_every_chart_section_has_an_svg_chart_with_title_axes_legend(report: Report) -> None:
    sections = _sections(report.page)
    assert list(sections) == CHART_SECTIONS
    for anchor, body in sections.items():
        charts = re.findall(r"<svg.*?</svg>", body, re.S)
        assert charts, f"section {anchor} has no <svg> chart"
        for chart in charts:
            assert '<text x="' in chart and 'class="ct"' in chart, f"{anchor}: chart title"
            assert chart.count('class="al"') >= 1, f"{anchor}: axis label"
            assert 'class="lg"' in chart, f"{anchor}: legend"
    assert list(_sections(report.page, "table-section")) == ["overview"]
    assert "<table>" in sections["lfs"]


def test_overview_numbers_are_summarize(built, report: Report) -> None:
    con = built.connect()
    try:
        summaries = summarize(con, built.project.schema, built.sim.truth_path)
    finally:
        con.close()
    rows = _rows(_sections(report.page, "table-section")["overview"])
    assert [r[0] for r in rows] == [s.label_task for s in summaries]
    for row, s in zip(rows, summaries, strict=True):
        assert int(row[1].replace(",", "")) == s.n_outputs
        assert int(row[5].replace(",", "")) == s.n_rated
        shown = [_pct(row[2]), _num(row[3]), _pct(row[4]), _pct(row[6]), _pct(row[7])]
        shown += [_num(row[8]), _pct(row[9]), _num(row[10]), _pct(row[11])]
        values = [s.coverage, s.mean_p_good, s.share_labeled_good, s.true_good_share]
        values += [s.label_model_accuracy, s.label_model_auc, s.majority_accuracy]
        values += [s.majority_auc, s.ratings_accuracy]
        digits = [3, 3, 3, 3, 3, 3, 3, 3, 3]
        for i, (a, b, d) in enumerate(zip(shown, values, digits, strict=True)):
            assert _close(a, b, d), f"{s.label_task} overview column {i}: {a} vs {b}"
    total = sum(s.n_outputs for s in summaries)
    (n_labels,) = built.query("select count(*) from probabilistic_labels")[0]
    assert total == n_labels
    assert f"{total:,} outputs shown" in report.page


def test_rpt_tables_numbers_are_on_the_page(built, report: Report) -> None:
    sections = _sections(report.page)
    lf_rows = {(r[0]): r for r in _rows(sections["lfs"])}
    lfs = built.query("select lf_name, n_votes, coverage, learned_accuracy from lf_validation")
    assert len(lf_rows) == len(lfs) > 0
    for lf_name, n_votes, coverage, learned in lfs:
        row = lf_rows[lf_name]
        assert int(row[2].replace(",", "")) == n_votes
        assert _close(_pct(row[3]), coverage, 3) and _close(_pct(row[8]), learned, 3), lf_name
    assert any(r[8] != "–" for r in lf_rows.values()), "no learned accuracy on the page"

    bins = built.query(
        "select label_task, bin_lower, bin_upper, n_rated, share_rated_good "
        "from rpt_calibration_ratings order by label_task, p_good_bin"
    )
    shown = _rows(sections["calibration"])
    assert [(r[0], r[1], int(r[2])) for r in shown] == [
        (t, f"{lo:.1f}-{hi:.1f}", n) for t, lo, hi, n, _ in bins
    ]
    for row, (*_, n_rated, share) in zip(shown, bins, strict=True):
        assert _close(_pct(row[3]), share, 2) if n_rated else row[3] == "–"

    for task, n_task in built.query(
        "select distinct label_task, n_task_outputs from rpt_label_distribution"
    ):
        assert f"{task}: P(good) of {n_task:,} outputs" in sections["distribution"]

    (n_flags,) = built.query("select count(*) from rpt_drift_flags")[0]
    if n_flags:
        assert f"<b>{n_flags} flagged</b>" in sections["drift"]
        top = built.query("select metric_name, z_score from rpt_drift_flags where flag_rank = 1")
        first = _rows(sections["drift"])[0]
        assert (first[3], first[8]) == (top[0][0], f"{top[0][1]:+.1f}")
    else:
        assert "No drift flags" in sections["drift"]
    drawn = built.query(
        "select metric_name, label_task, max_abs_z from rpt_drift_top where is_drawn"
    )
    for metric, task, max_z in drawn:
        assert f"{metric} ({task}), max |z| {max_z:.1f}" in sections["drift"]


def test_each_table_and_the_truth_file_are_read_once(built, report: Report) -> None:
    """Every rpt_* table once; probabilistic_labels once more than what summarize() and
    evaluate() (called once each) read themselves; the truth file once in all (one connection
    reads a truth file once, whoever asks)."""
    counted = report.counted
    for table in REPORT_TABLES:
        assert counted.reads(table) == 1, f"{table} read {counted.reads(table)} times"
    con = built.connect()
    try:
        alone = CountingConnection(con)
        summarize(alone, built.project.schema, built.sim.truth_path)  # type: ignore[arg-type]
        evaluate(alone, built.project.schema, built.sim.truth_path)  # type: ignore[arg-type]
    finally:
        con.close()
    assert counted.reads("probabilistic_labels") == alone.reads("probabilistic_labels") + 1
    assert counted.truth_reads() == alone.truth_reads() == 1


def test_report_is_self_contained(report: Report) -> None:
    page = report.page
    assert not re.search(r"https?://", page), "a network reference in the report"
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert "url(" not in page and "@import" not in page
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))


def test_report_without_truth_or_evaluation(built, tmp_path: Path) -> None:
    con = built.connect()
    try:
        counted = CountingConnection(con)
        out = render_report(counted, built.project.schema, tmp_path / "plain.html")  # type: ignore[arg-type]
        alone = CountingConnection(con)
        summarize(alone, built.project.schema)  # type: ignore[arg-type]
    finally:
        con.close()
    page = out.read_text(encoding="utf-8")
    assert list(_sections(page)) == CHART_SECTIONS[:-1]
    overview = _sections(page, "table-section")["overview"]
    assert "Pass a truth file" in overview and "true good" not in overview
    assert "with truth" not in page and "truth (all outputs)" not in page
    assert counted.truth_reads() == 0
    assert counted.reads("probabilistic_labels") == alone.reads("probabilistic_labels")


def test_drift_section_says_when_nothing_is_flagged() -> None:
    days = [
        DriftDay(
            "chat_response",
            "signal",
            "is_copied",
            date(2026, 11, 1 + i),
            0.3 + 0.01 * (i % 3),
            0.31,
            0.5,
            False,
        )  # fmt: skip
        for i in range(10)
    ]
    drift = DriftData([DriftMetric("chat_response", "signal", "is_copied", 0.5, 1)], days, [])
    html_ = drift_section(drift, ReportParameters(20, 10, 20, 3))
    assert "No drift flags" in html_ and "<table>" not in html_
    assert "is_copied (chat_response), max |z| 0.5" in html_
    assert html_.count("<circle") == 10, "one marker per day, no flagged-day marker"


def test_missing_tables_and_bad_paths(built, tmp_path: Path) -> None:
    con = built.connect()
    schema = built.project.schema
    try:
        with pytest.raises(FlywheelError, match="run `flywheel run`"):
            render_report(con, "no_such_schema", tmp_path / "r.html")
        with pytest.raises(FlywheelError, match="does not exist"):
            render_report(con, schema, tmp_path / "no_dir" / "r.html")
        with pytest.raises(FlywheelError, match="truth file"):
            render_report(con, schema, tmp_path / "r.html", truth_path=tmp_path / "t.parquet")
        with pytest.raises(FlywheelError, match="report --evaluate needs --truth"):
            write_report(con, schema, ReportConfig(out=tmp_path / "r.html", evaluate=True))
    finally:
        con.close()
    assert not (tmp_path / "r.html").exists()


# ------------------------------------------------------------------------------------------
# headless Chromium
# ------------------------------------------------------------------------------------------


def _find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced PNG to a (height, width, channels) uint8 array.

    Rows are unfiltered along anti-diagonals: pixel (r, c) depends on (r, c-1), (r-1, c) and
    (r-1, c-1) only, so each diagonal is one vectorised step whatever the rows' filters.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    assert header is not None, "PNG without IHDR"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (0, 2, 4, 6), header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    rows = raw.reshape(height, 1 + width * channels)
    filters = rows[:, 0].astype(np.int16)
    x = rows[:, 1:].reshape(height, width, channels).astype(np.int16)
    out = np.zeros((height + 1, width + 1, channels), dtype=np.int16)  # zero row 0 and column 0
    for d in range(height + width - 1):
        r = np.arange(max(0, d - width + 1), min(height, d + 1))
        c = d - r
        left, up, up_left = out[r + 1, c], out[r, c + 1], out[r, c]
        f = filters[r].reshape(-1, 1)
        guess = left + up - up_left
        pa, pb, pc = np.abs(guess - left), np.abs(guess - up), np.abs(guess - up_left)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        predictor = np.select(
            [f == 0, f == 1, f == 2, f == 3], [0 * left, left, up, (left + up) // 2], paeth
        )
        out[r + 1, c + 1] = (x[r, c] + predictor) % 256
    return out[1:, 1:].astype(np.uint8)


def test_report_renders_in_headless_chromium(report: Report, tmp_path: Path) -> None:
    chromium = _find_chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must install the Debian package chromium")
        pytest.skip("chromium not installed (apt-get install -y chromium); required in CI")
    screenshot = tmp_path / "report.png"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={screenshot}",
        "--window-size=1400,4000",
        report.path.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr, done.stderr[-2000:]

    pixels = read_png(screenshot)
    assert pixels.shape[:2] == (4000, 1400)
    rgb = pixels[..., :3].reshape(-1, 3).astype(np.uint32)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    counts = np.bincount(packed, minlength=1 << 24)
    assert np.count_nonzero(counts) > 100, "the screenshot is (nearly) one colour"
    assert counts[0xFFFFFF] + counts[0xFAFAFA] < 0.97 * packed.size, "the page is blank"
    # the charts' fills: palette colours cover real areas, not just anti-aliased edges
    for colour in PALETTE[:3]:
        value = int(colour[1:], 16)
        assert counts[value] > 500, f"no {colour} chart fill in the screenshot"
