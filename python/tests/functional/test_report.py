"""flywheel.report: one self-contained HTML file, every chart an inline SVG, rendered by Chromium.

The browser test runs headless Chromium (Debian package ``chromium``) on the report and checks
the screenshot is a real rendering. It is skipped when Chromium is absent, except in CI (``CI``
set), where it must run.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pytest

from flywheel.errors import FlywheelError
from flywheel.evaluate import evaluate
from flywheel.report import PALETTE, _drift_section, render_report

CHART_SECTIONS = ["lfs", "distribution", "calibration", "quality", "drift", "evaluation"]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def report(built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    con = built.connect()
    try:
        evaluation = evaluate(con, built.project.schema, built.sim.truth_path)
        return render_report(
            con,
            built.project.schema,
            tmp_path_factory.mktemp("report") / "report.html",
            truth_path=built.sim.truth_path,
            evaluation=evaluation,
        )
    finally:
        con.close()


def _sections(page: str) -> dict[str, str]:
    found = re.findall(r'<section id="([^"]+)" class="([^"]+)">(.*?)</section>', page, re.S)
    return {anchor: body for anchor, cls, body in found if cls == "chart-section"}


def test_every_chart_section_has_an_svg_chart_with_title_axes_legend(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    sections = _sections(page)
    assert list(sections) == CHART_SECTIONS
    for anchor, body in sections.items():
        charts = re.findall(r"<svg.*?</svg>", body, re.S)
        assert charts, f"section {anchor} has no <svg> chart"
        for chart in charts:
            assert '<text x="' in chart and 'class="ct"' in chart, f"{anchor}: chart title"
            assert chart.count('class="al"') >= 1, f"{anchor}: axis label"
            assert 'class="lg"' in chart, f"{anchor}: legend"
    assert "overview" in page and "<table>" in sections["lfs"]


def test_report_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"https?://", page), "a network reference in the report"
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert "url(" not in page and "@import" not in page
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))


def test_report_without_truth_or_evaluation(built, tmp_path: Path) -> None:
    con = built.connect()
    try:
        out = render_report(con, built.project.schema, tmp_path / "plain.html")
    finally:
        con.close()
    page = out.read_text(encoding="utf-8")
    assert list(_sections(page)) == CHART_SECTIONS[:-1]
    assert "Pass a truth file" in page and "truth (all outputs)" not in page


def test_drift_section_says_when_nothing_is_flagged() -> None:
    con = duckdb.connect()
    try:
        con.execute(
            """
            create table main.drift_daily as
            select 'chat_response' as label_task, date '2026-11-01' + i::int as shown_date,
                   'signal' as metric_kind, 'is_copied' as metric_name, 100 as n_outputs,
                   (0.3 + 0.01 * (i % 3))::double as rate, 0.31::double as baseline_rate,
                   0.0::double as rate_change, 0.5::double as z_score, false as is_flagged
            from range(10) as t(i)
            """
        )
        html = _drift_section(con, "main")
    finally:
        con.close()
    assert "No drift flags" in html and "<svg" in html and "<table>" not in html


def test_missing_tables_and_bad_paths(built, tmp_path: Path) -> None:
    con = built.connect()
    try:
        with pytest.raises(FlywheelError, match="run `flywheel run`"):
            render_report(con, "no_such_schema", tmp_path / "r.html")
        with pytest.raises(FlywheelError, match="does not exist"):
            render_report(con, built.project.schema, tmp_path / "no_dir" / "r.html")
        with pytest.raises(FlywheelError, match="truth file"):
            render_report(
                con, built.project.schema, tmp_path / "r.html", truth_path=tmp_path / "t.parquet"
            )
    finally:
        con.close()


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


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
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
        report.resolve().as_uri(),
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
