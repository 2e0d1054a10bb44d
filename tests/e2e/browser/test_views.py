"""Each dashboard view renders the seeded data, at desktop and phone widths, dark and light."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser.conftest import DESKTOP, PHONE, TOKEN, doc_shot

pytestmark = pytest.mark.e2e


def api_get(stack, path: str) -> dict:
    r = httpx.get(f"{stack.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    r.raise_for_status()
    return r.json()


def rows(page) -> dict[str, str]:
    """Overview rows: component id -> class list."""
    return page.eval_on_selector_all(
        "tr[data-id]",
        "els => Object.fromEntries(els.map(e => [e.dataset.id, e.className]))",
    )


def test_overview_shows_every_component_with_stale_and_failed_marked(stack, open_page) -> None:
    p = open_page()
    page = p.goto(stack.url, "/", ".conn-text:text('live')")
    page.wait_for_selector(f"tr[data-id='{stack.status_ids['stale']}'].row-stale")
    components = api_get(stack, "/api/components")["components"]
    shown = rows(page)
    assert set(shown) == {c["id"] for c in components}
    assert "row-failed" in shown[stack.status_ids["failed_task"]]
    assert "row-failed" in shown[f"backtest:{stack.seeded.failed}"]
    assert "row-stale" not in shown[stack.status_ids["live"]]
    live_row = page.locator(f"tr[data-id='{stack.status_ids['live']}']")
    assert "paper-demo sma_cross" in live_row.inner_text()
    assert "equity 101,234.50" in live_row.inner_text()
    # filter by kind: only live sessions are left
    live = {c["id"] for c in components if c["kind"] == "live"}
    assert stack.status_ids["live"] in live
    page.locator(".chips[aria-label='Kind'] button", has_text="Live").click()
    page.wait_for_function(f"document.querySelectorAll('tr[data-id]').length === {len(live)}")
    assert set(rows(page)) == live
    page.locator(".chips[aria-label='Kind'] button", has_text="Live").click()
    # filter by state: failed only
    page.locator(".chips[aria-label='State'] button.s-failed").click()
    page.wait_for_function(
        "[...document.querySelectorAll('tr[data-id]')]"
        ".every(r => r.classList.contains('row-failed'))"
    )
    failed = {c["id"] for c in components if c["state"] == "failed"}
    assert set(rows(page)) == failed
    page.locator(".chips[aria-label='State'] button.s-failed").click()
    page.wait_for_function(f"document.querySelectorAll('tr[data-id]').length === {len(components)}")
    doc_shot(p, "overview")
    p.assert_no_console_errors()


def test_overview_on_a_phone_in_light_theme(stack, open_page) -> None:
    p = open_page(viewport=PHONE, scheme="light")
    page = p.goto(stack.url, "/", ".conn-text:text('live')")
    page.wait_for_selector(f"tr[data-id='{stack.status_ids['stale']}'].row-stale")
    assert page.evaluate("matchMedia('(prefers-color-scheme: light)').matches")
    # nothing wider than the screen: the page does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row = page.locator(f"tr[data-id='{stack.status_ids['live']}']")
    assert row.is_visible() and "paper-demo sma_cross" in row.inner_text()
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    doc_shot(p, "overview-phone")
    p.assert_no_console_errors()


def background(page) -> tuple[int, ...]:
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return tuple(int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])


def test_dark_and_light_follow_the_system(stack, open_page) -> None:
    dark = open_page(scheme="dark")
    light = open_page(scheme="light")
    for p in (dark, light):
        p.goto(stack.url, "/backtests")
        p.page.wait_for_selector("tr[data-id]")
    assert sum(background(dark.page)) < 150  # a dark page
    assert sum(background(light.page)) > 600  # a light page
    doc_shot(light, "backtests-light")
    dark.assert_no_console_errors()
    light.assert_no_console_errors()


def test_pipelines_groups_mapped_tasks_links_airflow_and_reports_trigger_errors(
    stack, open_page
) -> None:
    p = open_page()
    page = p.goto(stack.url, "/pipelines")
    card = page.locator("article.run", has_text="easyquant_etl")
    card.wait_for()
    dag_run = api_get(stack, f"/api/components/{stack.status_ids['dag_run']}")
    assert card.locator("a.ext").get_attribute("href") == dag_run["url"]
    tasks = card.locator("table.tasks tbody tr")
    text = [t.inner_text() for t in tasks.all()]
    assert len(text) == 3  # plan, ingest (3 mapped instances in one row), update_catalog
    ingest = next(t for t in text if t.startswith("▸ingest") or "ingest" in t.split()[0])
    assert "[3 mapped]" in ingest and "1 failed" in ingest and "1 running" in ingest
    # each task's worker, as the API serves it: a mapped task's workers with their counts
    assert card.locator("table.tasks thead th").all_text_contents()[2] == "Worker"
    # rows by task (tasks that started in the same millisecond sort by name)
    names = ("plan", "ingest", "update_catalog")
    worker = {
        next(n for n in names if row.inner_text().lstrip("\u25b8").startswith(n)): row.locator(
            "td[data-label='Worker']"
        )
        for row in tasks.all()
    }
    assert sorted(worker) == sorted(names)
    by = "\u00d7"  # the multiplication sign between a worker and its count of tries
    assert worker["plan"].inner_text() == "worker1@node-a"
    mapped = worker["ingest"].locator(".hosts > span").all_inner_texts()
    assert mapped == [f"worker1@node-a {by} 1", f"worker2@node-b {by} 2"]
    assert worker["update_catalog"].inner_text() == "\u2013"  # queued: no worker yet
    failed = api_get(stack, f"/api/components/{stack.status_ids['failed_task']}")
    assert failed["host"] == "worker2@node-b"
    card.locator("tr", has_text="[3 mapped]").click()
    assert card.locator("tr.sub").count() == 3
    assert card.locator("tr.sub.row-failed").count() == 1
    subs = card.locator("tr.sub td[data-label='Worker']").all_inner_texts()
    assert subs == ["worker1@node-a", "worker2@node-b", failed["host"]]
    assert card.locator("tr.sub.row-failed td[data-label='Worker']").inner_text() == failed["host"]
    # trigger: monitor_api is configured with an Airflow where nothing listens
    page.locator("form.trigger button[type=submit]").click()
    notice = page.locator("form.trigger .notice.bad")
    notice.wait_for()
    assert "unreachable" in notice.inner_text()
    doc_shot(p, "pipelines")
    p.assert_no_console_errors(allowed=[r"status of 502"])


def column(page, label: str) -> list[str]:
    return page.eval_on_selector_all(
        f"table.grid tbody tr[data-id] td[data-label='{label}']",
        "els => els.map(e => e.innerText.trim())",
    )


def number(text: str) -> float | None:
    t = text.replace(",", "").replace("%", "").replace("\u2212", "-").strip()
    return None if t in ("", "\u2013") else float(t)  # an en dash stands for no value


def test_backtests_table_lists_runs_and_sorts_by_a_metric(stack, open_page) -> None:
    p = open_page()
    page = p.goto(stack.url, "/backtests", "tr[data-id]")
    runs = api_get(stack, "/api/backtests?limit=1000")["runs"]
    ids = page.eval_on_selector_all("tr[data-id]", "els => els.map(e => e.dataset.id)")
    assert set(ids) == {r["run_id"] for r in runs}
    assert "row-failed" in page.locator(f"tr[data-id='{stack.seeded.failed}']").get_attribute(
        "class"
    )
    # the default columns fit a desktop window: no sideways scrolling of the table
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth"), wrap.evaluate(
        "e => [e.scrollWidth, e.clientWidth]"
    )
    box = page.locator("th button", has_text="Created").first.bounding_box()
    assert box is not None and box["x"] + box["width"] <= DESKTOP["width"]
    page.locator("th button", has_text="Sharpe").click()  # descending first
    page.wait_for_selector("th[aria-sort='descending'] >> text=Sharpe")
    shown = [number(t) for t in column(page, "Sharpe")]
    present = [v for v in shown if v is not None]
    assert present == sorted(present, reverse=True) and len(present) >= 10
    api_order = [
        r["run_id"] for r in api_get(stack, "/api/backtests?sort=-sharpe&limit=1000")["runs"]
    ]
    page_order = page.eval_on_selector_all("tr[data-id]", "els => els.map(e => e.dataset.id)")
    assert page_order[: len(present)] == api_order[: len(present)]
    doc_shot(p, "backtests")
    page.locator("th button", has_text="Sharpe").click()
    page.wait_for_selector("th[aria-sort='ascending'] >> text=Sharpe")
    shown = [number(t) for t in column(page, "Sharpe")]
    present = [v for v in shown if v is not None]
    assert present == sorted(present)
    p.assert_no_console_errors()


def test_run_page_has_charts_metrics_and_trades(stack, open_page) -> None:
    run = api_get(stack, f"/api/backtests/{stack.seeded.backtest}")
    p = open_page()
    page = p.goto(stack.url, f"/backtests/{stack.seeded.backtest}", ".metric")
    page.wait_for_selector(".card canvas")
    cards = page.locator(".card", has=page.locator("canvas"))
    assert cards.count() == 2  # equity + drawdown, price with trade markers
    for i in range(2):
        box = cards.nth(i).locator("canvas").first.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100
    assert "Equity and drawdown" in cards.nth(0).inner_text()
    assert "Price and trades" in cards.nth(1).inner_text()
    # both symbols can be charted
    for sym in ("DASHA", "DASHB"):
        assert cards.nth(1).locator("button", has_text=sym).count() == 1
    sharpe = page.locator(".metric[title='sharpe'] .metric-value").inner_text()
    assert number(sharpe) == pytest.approx(run["metrics"]["sharpe"], abs=0.006)
    trades = page.locator(".card", has=page.get_by_role("heading", name="Trades", exact=True))
    assert trades.locator("tbody tr").count() == len(run["trades"]) > 0
    assert f"{len(run['trades'])} trades" in trades.inner_text()
    doc_shot(p, "backtest-run")
    p.assert_no_console_errors()


def test_run_page_on_a_phone(stack, open_page) -> None:
    p = open_page(viewport=PHONE)
    page = p.goto(stack.url, f"/backtests/{stack.seeded.minute}", ".card canvas")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator(".card canvas").first.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    doc_shot(p, "backtest-run-phone")
    p.assert_no_console_errors()


def test_sweep_heatmap_has_one_cell_per_grid_point(stack, open_page) -> None:
    sweep = api_get(stack, f"/api/sweeps/{stack.seeded.sweep}")
    p = open_page()
    page = p.goto(stack.url, f"/sweeps/{stack.seeded.sweep}", ".hm-cell")
    cells = page.locator(".hm-cell")
    assert cells.count() == len(sweep["points"]) == 9
    links = page.eval_on_selector_all(".hm-cell a", "els => els.map(e => e.getAttribute('href'))")
    assert sorted(links) == sorted(f"#/backtests/{pt['run_id']}" for pt in sweep["points"])
    best = sweep["points"][0]  # ranked by sharpe
    title = page.locator(".hm-best").get_attribute("title")
    assert f"fast={best['params']['fast']}" in title and f"slow={best['params']['slow']}" in title
    # choose another metric: the cells show it
    page.select_option(".filters select", label="Return")
    page.wait_for_function("document.querySelector('.hm-cell').title.includes('Return')")
    doc_shot(p, "sweep")
    p.assert_no_console_errors()


def test_walkforward_in_and_out_of_sample_side_by_side(stack, open_page) -> None:
    sweep = api_get(stack, f"/api/sweeps/{stack.seeded.walkforward}")
    p = open_page()
    page = p.goto(stack.url, f"/sweeps/{stack.seeded.walkforward}")
    table = page.locator(".wf table")
    table.wait_for()
    body = table.locator("tbody tr")
    assert body.count() == len(sweep["walkforward"]) >= 4
    first = sweep["walkforward"][0]
    cells = body.nth(0).locator("td")
    is_text = cells.nth(1).inner_text()
    oos_text = cells.nth(2).inner_text()
    assert number(is_text) == pytest.approx(first["in_sample"]["sharpe"], abs=0.006)
    assert number(oos_text) == pytest.approx(first["out_of_sample"]["sharpe"], abs=0.006)
    doc_shot(p, "walkforward")
    p.assert_no_console_errors()
