"""The tearsheet in Chromium: the HTML report (a file, no network) and the dashboard's run page
render every section at 1280 and 390 px in English and Chinese with no console errors; the
report printed to PDF by Chromium has readable (not blank) pages."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from easyquant.backtest import tearsheet
from easyquant.backtest.report import write_report
from easyquant.db import connect
from tests.e2e.browser.conftest import DESKTOP, PHONE, doc_shot

pytestmark = pytest.mark.e2e

REPORT_SECTIONS = ["metrics", "equity", "drawdown", "monthly", "yearly", "rolling"]
REPORT_SECTIONS += ["distribution", "exposure", "trades"]
PAGE_SECTIONS = ["metrics", "equity", "drawdown", "monthly", "yearly", "rolling"]
PAGE_SECTIONS += ["distribution", "exposure"]
HEADINGS = {"en": ("Monthly returns", "Five worst drawdowns"), "zh": ("月度收益", "最大的五次回撤")}


@pytest.fixture(scope="module")
def reports(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The run's and the sweep's and walk-forward's reports in both languages."""
    out = tmp_path_factory.mktemp("reports")
    conn = connect(stack.settings)
    try:
        found = {}
        for name in ("backtest", "sweep", "walkforward"):
            model = tearsheet.load(conn, getattr(stack.seeded, name), stack.settings)
            for lang in ("en", "zh"):
                found[f"{name}-{lang}"] = write_report(model, out / f"{name}-{lang}.html", lang)
    finally:
        conn.close()
    return found


def _offline(page: Any) -> list[str]:
    """Record every request that is not for a local file."""
    asked: list[str] = []

    def seen(r: Any) -> None:
        if not r.url.startswith("file:"):
            asked.append(r.url)

    page.on("request", seen)
    return asked


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_report_renders_every_section(reports, open_page, lang: str, viewport: dict) -> None:
    p = open_page(viewport=viewport, token=None)
    asked = _offline(p.page)
    p.page.goto(reports[f"backtest-{lang}"].as_uri())
    for section in REPORT_SECTIONS:
        box = p.page.locator(f"section#{section}").bounding_box()
        assert box is not None and box["height"] > 20, section
        assert box["x"] + box["width"] <= viewport["width"] + 1, f"{section} overflows"
    assert p.page.locator("svg.chart").count() >= 8
    body = p.page.inner_text("body")
    for heading in HEADINGS[lang]:
        assert heading in body
    assert "NaT" not in body and "00:00:00" not in body
    assert asked == []
    p.assert_no_console_errors()
    if viewport == DESKTOP:
        doc_shot(p, "report" if lang == "en" else "report-zh")


@pytest.mark.parametrize("name,needle", [("sweep", "slow \\ fast"), ("walkforward", "In sample")])
def test_sweep_and_walkforward_reports(reports, open_page, name: str, needle: str) -> None:
    p = open_page(token=None)
    p.page.goto(reports[f"{name}-en"].as_uri())
    assert p.page.locator("section#sweep").count() == 1
    text = p.page.inner_text("section#sweep")
    assert needle in text
    for section in REPORT_SECTIONS[:6]:
        assert p.page.locator(f"section#{section}").count() == 1
    p.assert_no_console_errors()


def _pgm(path: Path) -> np.ndarray:
    """Read a binary PGM (P5) as an array."""
    data = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5"
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1 : pos + 1 + w * h], dtype=np.uint8).reshape(h, w)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_prints_to_a_readable_pdf(reports, open_page, tmp_path: Path, lang: str) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: run `bash scripts/system-deps.sh` (poppler-utils)")
    p = open_page(token=None)
    p.page.goto(reports[f"backtest-{lang}"].as_uri())
    p.page.emulate_media(media="print")
    pdf = tmp_path / "report.pdf"
    p.page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(
        ["pdftoppm", "-r", "40", "-gray", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) >= 3  # a tearsheet is several pages
    for page in pages:
        px = _pgm(page)
        ink = float((px < 200).mean())
        assert ink > 0.005, f"{page.name} is blank ({ink:.4f} of it inked)"
    first = _pgm(pages[0])
    assert first.shape[0] > first.shape[1]  # portrait A4
    p.assert_no_console_errors()


@pytest.mark.parametrize("locale,lang", [(None, "en"), ("zh-CN", "zh")])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_run_page_renders_the_tearsheet(
    stack, open_page, locale: str | None, lang: str, viewport: dict
) -> None:
    p = open_page(viewport=viewport, locale=locale, scheme="light")
    p.goto(stack.url, f"/backtests/{stack.seeded.backtest}")
    p.page.wait_for_selector('[data-section="exposure"] svg', timeout=30_000)
    found = p.page.eval_on_selector_all(
        "[data-section]", "els => els.map(e => e.getAttribute('data-section'))"
    )
    assert found == PAGE_SECTIONS
    for section in PAGE_SECTIONS:
        box = p.page.locator(f'[data-section="{section}"]').bounding_box()
        assert box is not None and box["height"] > 20, section
        assert box["x"] + box["width"] <= viewport["width"] + 1, f"{section} overflows"
    text = (
        p.page.inner_text("main") if p.page.locator("main").count() else p.page.inner_text("body")
    )
    for heading in HEADINGS[lang]:
        assert heading in text
    rows = p.page.locator(".ts-metrics tbody tr").count()
    assert rows == 17
    p.page.locator('[data-section="equity"] button').nth(1).click()
    assert "on" in (
        p.page.locator('[data-section="equity"] button').nth(1).get_attribute("class") or ""
    )
    p.assert_no_console_errors()
    if viewport == DESKTOP:
        doc_shot(p, "run-tearsheet" if lang == "en" else "run-tearsheet-zh")
