"""The Data page (catalog, candlestick + volume with raw/qfq/hfq, quality reports, instrument
master) in English and 简体中文, at desktop and phone widths; the language switch relabels
every view and is remembered."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser.conftest import DESKTOP, PHONE, TOKEN, doc_shot
from tests.e2e.browser.seed import seed_market_data

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SYMBOL = "600519.SH"
# what each language calls the same things (the browser's language picks one)
WORDS = {
    "en-US": {
        "lang": "en",
        "nav": ["Overview", "Pipelines", "Backtests", "Live", "Data"],
        "first_bar": "First bar",
        "forward": "qfq",
        "forward_note": "Forward-adjusted (qfq)",
        "reports": "Quality reports",
        "board": "ChiNext",
        "rows": "Rows",
    },
    "zh-CN": {
        "lang": "zh",
        "nav": ["总览", "流水线", "回测", "实盘", "数据"],
        "first_bar": "首根K线",
        "forward": "前复权",
        "forward_note": "前复权",
        "reports": "质量报告",
        "board": "创业板",
        "rows": "行数",
    },
}


@pytest.fixture(scope="module")
def market(stack, tmp_path_factory) -> None:
    seed_market_data(stack.settings, tmp_path_factory.mktemp("market"))


def api_get(stack, path: str, **params) -> dict:
    r = httpx.get(f"{stack.url}{path}", params=params, headers=AUTH, timeout=30)
    r.raise_for_status()
    return r.json()


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def open_data(open_page, stack, locale: str, viewport: dict[str, int]):
    p = open_page(viewport=viewport, locale=locale)
    p.goto(stack.url, f"/data?symbol={SYMBOL}")
    page = p.page
    page.wait_for_selector(".catalog tr[data-id]")
    page.wait_for_selector(".data-page canvas")
    page.wait_for_selector(".reports tr[data-id]")
    page.wait_for_selector(".instruments tr[data-id]")
    return p


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_data_page_on_a_desktop(stack, market, open_page, locale) -> None:
    words = WORDS[locale]
    p = open_data(open_page, stack, locale, DESKTOP)
    page = p.page
    # the browser's language chose the dashboard's
    nav = page.eval_on_selector_all("header nav a", "els => els.map(e => e.innerText.trim())")
    assert nav == words["nav"]
    assert page.locator("header select").input_value() == words["lang"]
    assert page.evaluate("document.documentElement.lang") == (
        "zh-CN" if locale == "zh-CN" else "en-US"
    )
    # catalog: every stored partition, the chosen one marked
    catalog = api_get(stack, "/api/data/catalog", limit=1000)
    ids = page.eval_on_selector_all(".catalog tr[data-id]", "els => els.map(e => e.dataset.id)")
    assert sorted(ids) == sorted(f"{e['freq']}/{e['symbol']}" for e in catalog["entries"])
    assert "row-current" in (
        page.get_attribute(f".catalog tr[data-id='1d/{SYMBOL}']", "class") or ""
    )
    heads = page.eval_on_selector_all(".catalog thead th", "els => els.map(e => e.textContent)")
    assert any(words["first_bar"] in h for h in heads), heads
    rows = page.locator(f".catalog tr[data-id='1d/{SYMBOL}'] td").nth(5).inner_text()
    entry = next(e for e in catalog["entries"] if e["symbol"] == SYMBOL)
    assert int(rows.replace(",", "")) == entry["rows"]
    # chart: candles and volume in two panes, wide enough to read
    canvas = page.locator(".data-page .chart canvas").first
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 100
    raw = api_get(stack, "/api/data/bars", symbol=SYMBOL)
    fwd = api_get(stack, "/api/data/bars", symbol=SYMBOL, adjust="forward")
    assert fwd["bars"][0]["close"] < raw["bars"][0]["close"]  # a split and a dividend since
    note = page.locator(".bars-note")
    assert f"{raw['rows']}" in note.inner_text().replace(",", "")
    # switch to forward adjustment: the page asks for it and says so
    with page.expect_response(lambda r: "/api/data/bars" in r.url and "adjust=forward" in r.url):
        page.locator(".seg.adjust button", has_text=words["forward"]).click()
    page.wait_for_function("location.hash.includes('adjust=forward')")
    note.filter(has_text=words["forward_note"]).wait_for()
    assert page.locator("[data-adjust='forward']").get_attribute("aria-checked") == "true"
    # every ingest's quality report; narrowed to the charted symbol on demand
    everything = api_get(stack, "/api/data/reports", limit=50)
    page.wait_for_function(
        f"document.querySelectorAll('.reports tr[data-id]').length === {len(everything['reports'])}"
    )
    assert words["reports"] in page.locator(".data-page").inner_text()
    page.locator("button.reports-only").click()
    mine = api_get(stack, "/api/data/reports", symbol=SYMBOL, freq="1d")
    page.wait_for_function(
        f"document.querySelectorAll('.reports tr[data-id]').length === {len(mine['reports'])}"
    )
    page.locator(".reports-only button").click()
    page.wait_for_function(
        f"document.querySelectorAll('.reports tr[data-id]').length === {len(everything['reports'])}"
    )
    lots = next(r for r in everything["reports"] if r["units"])
    units = page.locator(f".reports tr[data-id='{lots['id']}'] td").nth(8).inner_text()
    assert units == "volume: 手 -> shares (x100)" == f"volume: {lots['units']['volume']}"
    rejected = next(r for r in everything["reports"] if r["rows_rejected"])
    row = page.locator(f".reports tr[data-id='{rejected['id']}']")
    assert next(iter(rejected["rejects"])) in row.inner_text()
    row.click()
    assert rejected["quarantine_path"] in page.locator(".report-detail").inner_text()
    # the instrument master, boards in the page's language
    master = api_get(stack, "/api/data/instruments")
    assert page.locator(".instruments tr[data-id]").count() == master["total"]
    assert words["board"] in page.locator(".instruments tr[data-id='300750.SZ']").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    no_sideways_scroll(page, DESKTOP["width"])
    doc_shot(p, f"data-{words['lang']}")
    p.assert_no_console_errors()


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_data_page_on_a_phone(stack, market, open_page, locale) -> None:
    p = open_data(open_page, stack, locale, PHONE)
    page = p.page
    no_sideways_scroll(page, PHONE["width"])
    box = page.locator(".data-page .chart canvas").first.bounding_box()
    assert box is not None and 200 < box["width"] <= PHONE["width"]
    # each table is a column of cards: nothing to scroll sideways, every value labelled
    for sel in (".catalog", ".reports", ".instruments"):
        wrap = page.locator(f"{sel} .table-wrap")
        box = wrap.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth"), sel
        assert not page.locator(f"{sel} thead").is_visible()
    label = (
        page.locator(f".catalog tr[data-id='1d/{SYMBOL}'] td")
        .nth(5)
        .evaluate("e => getComputedStyle(e, '::before').content")
    )
    assert label == '"' + WORDS[locale]["rows"] + ' "'
    assert WORDS[locale]["nav"][4] in page.locator("header nav").inner_text()
    doc_shot(p, f"data-{WORDS[locale]['lang']}-phone")
    p.assert_no_console_errors()


def test_language_switch_relabels_every_view_and_is_remembered(stack, market, open_page) -> None:
    p = open_page()
    page = p.page
    p.goto(stack.url, "/")
    page.wait_for_selector(".conn-text:text('live')")
    assert page.locator("table.components th").first.text_content() == "Kind"
    page.select_option("header select", "zh")
    page.wait_for_selector(".conn-text:text('已连接')")
    nav = page.eval_on_selector_all("header nav a", "els => els.map(e => e.innerText.trim())")
    assert nav == WORDS["zh-CN"]["nav"]
    assert page.locator("table.components th").first.text_content() == "类型"
    assert page.title() == "总览 · EasyQuant"
    # the other views are in Chinese too, without choosing again
    page.locator("header nav a", has_text="回测").click()
    page.locator("th button", has_text="夏普比率").wait_for()
    heads = page.eval_on_selector_all("table.grid thead th", "els => els.map(e => e.textContent)")
    assert any("夏普比率" in h for h in heads) and not any("Sharpe" in h for h in heads)
    wrap = page.locator(".table-wrap").first  # the Chinese labels fit a desktop window too
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth"), wrap.evaluate(
        "e => [e.scrollWidth, e.clientWidth]"
    )
    page.locator("header nav a", has_text="流水线").click()
    page.locator("form.trigger h2", has_text="触发 DAG").wait_for()
    # kept across a reload, although the browser speaks English
    page.reload()
    page.locator("form.trigger h2", has_text="触发 DAG").wait_for()
    assert page.evaluate("navigator.language") == "en-US"
    assert page.evaluate("localStorage.getItem('easyquant.locale')") == "zh"
    page.select_option("header select", "en")
    page.locator("form.trigger h2", has_text="Trigger a DAG").wait_for()
    p.assert_no_console_errors(allowed=[r"status of 502"])
