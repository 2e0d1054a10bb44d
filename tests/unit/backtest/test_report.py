"""The HTML report rendered from a tearsheet: figures by kind, dates, languages, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from easyquant.backtest import tearsheet
from easyquant.backtest.report import render, write_report
from easyquant.backtest.report_text import METRICS, TEXT, fmt
from tests.unit.backtest.tearsheet_fixtures import stored_run


@pytest.fixture(scope="module")
def model() -> dict:
    stored, bench = stored_run()
    stored["run"]["strategy"] = "<b>sma</b>"
    return tearsheet.build(stored, benchmark_close=bench, closes={"AAA": bench})


@pytest.mark.parametrize(
    ("value", "kind", "lang", "text"),
    [
        (0.2666, "percent", "en", "26.66%"),
        (33.0, "count", "en", "33"),
        (1234.5, "money", "en", "1,234.50"),
        (1.23456, "ratio", "en", "1.23"),
        (41.4, "duration", "en", "41 days"),
        (41.4, "duration", "zh", "41 天"),
        (None, "ratio", "en", "—"),
        (float("nan"), "percent", "zh", "—"),
    ],
)
def test_figures_by_kind(value, kind: str, lang: str, text: str) -> None:
    assert fmt(value, kind, lang) == text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_section_in_both_languages(model: dict, lang: str) -> None:
    page = render(model, lang)
    for section in ("metrics", "equity", "drawdown", "monthly", "yearly", "rolling"):
        assert f'<section id="{section}">' in page
    for section in ("distribution", "exposure", "trades"):
        assert f'<section id="{section}">' in page
    for label in METRICS[lang].values():
        assert label in page
    assert TEXT[lang]["open"] in page  # the open trade
    assert "NaT" not in page and "00:00:00" not in page and "nan" not in page
    assert "<b>sma</b>" not in page and "&lt;b&gt;sma&lt;/b&gt;" in page  # escaped
    assert "<script" not in page and "@media print" in page
    assert not re.search(r"(src|href)=\"?https?:", page)


def test_headline_figures_are_formatted_by_kind(model: dict) -> None:
    page = render(model, "en")
    by_key = {m["key"]: m for m in model["metrics"]}
    assert f"<td>{fmt(by_key['cagr']['value'], 'percent')}</td>" in page
    assert "<th>Trades</th><td>2</td><td>—</td>" in page
    assert f"<td>{by_key['sharpe']['value']:.2f}</td>" in page


def test_unknown_language_is_refused_and_nothing_written(model: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--lang: expected one of en, zh, got 'fr'"):
        write_report(model, tmp_path / "r.html", "fr")
    assert not (tmp_path / "r.html").exists()


def test_a_stored_run_is_reported_without_a_benchmark(tmp_path: Path) -> None:
    stored, _ = stored_run(n=120)
    out = write_report(stored, tmp_path / "r.html", "zh")
    page = out.read_text(encoding="utf-8")
    assert "月度收益" in page and '<section id="trades">' in page
    assert not (tmp_path / "r.html.tmp").exists()
