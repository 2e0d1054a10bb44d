"""The open page follows the database: status writes appear within 2 s, a monitor_api restart
is survived (reconnect, fresh snapshot), and a wrong token is refused and said so."""

from __future__ import annotations

import time

import httpx
import pytest

from easyquant import status
from tests.e2e.browser.conftest import ARTIFACTS, TOKEN, doc_shot, wait_until

pytestmark = pytest.mark.e2e


def cell_text(page, component_id: str, label: str) -> str:
    return page.evaluate(
        '([id, label]) => document.querySelector(`tr[data-id="${id}"] td[data-label="${label}"]`)'
        "?.innerText ?? ''",
        [component_id, label],
    )


def test_status_row_changed_in_the_database_appears_within_2_seconds(stack, open_page) -> None:
    p = open_page()
    page = p.goto(stack.url, "/", ".conn-text:text('live')")
    cid = "cli:browser-latency"
    status.report(
        cid, kind="cli", name="latency probe", state="running", progress=0.1, message="step 1"
    )
    page.wait_for_selector(f"tr[data-id='{cid}']", timeout=2000)
    seen: list[float] = []
    for i in range(2, 7):
        t0 = time.monotonic()
        assert status.report(
            cid,
            kind="cli",
            name="latency probe",
            state="running",
            progress=i / 10,
            message=f"step {i}",
        )
        took = wait_until(lambda i=i: cell_text(page, cid, "Message") == f"step {i}", timeout=2.0)
        assert took < 2.0
        seen.append(took)
        assert time.monotonic() - t0 < 2.0
    print(f"status write -> visible on the page: {', '.join(f'{t * 1000:.0f} ms' for t in seen)}")
    status.report(cid, kind="cli", name="latency probe", state="failed", message="boom")
    wait_until(
        lambda: "row-failed" in (page.get_attribute(f"tr[data-id='{cid}']", "class") or ""),
        timeout=2.0,
    )
    p.assert_no_console_errors()


def test_page_survives_monitor_api_stop_and_restart(stack, open_page) -> None:
    p = open_page()
    page = p.goto(stack.url, "/", ".conn-text:text('live')")
    cid = "cli:restart-probe"
    status.report(cid, kind="cli", name="restart probe", state="running", message="before")
    page.wait_for_selector(f"tr[data-id='{cid}']")
    stack.stop()
    try:
        with pytest.raises(httpx.ConnectError):  # really down
            httpx.get(f"{stack.url}/api/health", timeout=2)
        page.wait_for_selector(".conn-text:text-matches('reconnecting|connecting')", timeout=10000)
        # written while monitor_api is down: only a fresh snapshot can bring it
        status.report(
            cid,
            kind="cli",
            name="restart probe",
            state="success",
            progress=1.0,
            message="written while down",
        )
        status.report(
            "cli:born-while-down",
            kind="cli",
            name="born while down",
            state="running",
            message="new",
        )
        time.sleep(1.0)
        assert cell_text(page, cid, "Message") == "before"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "restart-while-down.png"))
    finally:
        stack.start()
    page.wait_for_selector(".conn-text:text('live')", timeout=40000)
    page.wait_for_selector("tr[data-id='cli:born-while-down']", timeout=5000)
    wait_until(lambda: cell_text(page, cid, "Message") == "written while down", timeout=5)
    # and updates flow again on the new connection
    status.report(cid, kind="cli", name="restart probe", state="success", message="after")
    wait_until(lambda: cell_text(page, cid, "Message") == "after", timeout=2.0)
    # the browser logs the failed websocket and health attempts while the server is down
    p.assert_no_console_errors(
        allowed=[
            r"WebSocket connection to .* failed",
            r"Failed to load resource: net::ERR_CONNECTION_REFUSED",
        ]
    )


def test_wrong_token_is_refused_by_rest_and_websocket_and_shown(stack, open_page) -> None:
    r = httpx.get(f"{stack.url}/api/backtests", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert httpx.get(f"{stack.url}/api/backtests").status_code == 401
    p = open_page(token="wrong-token")
    page = p.goto(stack.url, "/", ".conn-text:text('token refused')")
    assert page.locator("tr[data-id]").count() == 0
    assert "Token refused" in page.locator("main").inner_text()
    # the browser's own websocket is closed with 1008, and REST answers 401
    code = page.evaluate(
        """url => new Promise(done => {
            const token = btoa('wrong-token').replace(/=+$/, '');
            const ws = new WebSocket(url, ['easyquant', 'bearer.' + token]);
            ws.onclose = e => done(e.code);
        })""",
        stack.url.replace("http", "ws") + "/ws/status",
    )
    assert code == 1008
    rest = page.evaluate(
        "url => fetch(url, {headers: {Authorization: 'Bearer wrong-token'}}).then(r => r.status)",
        f"{stack.url}/api/backtests",
    )
    assert rest == 401
    p.goto(stack.url, "/backtests")
    page.wait_for_selector("text=Token refused")
    doc_shot(p, "token-refused")
    # the right token entered in settings brings the data
    page.locator("button[aria-label='Settings']").click()
    page.fill(".popover input[type=password]", TOKEN)
    page.locator(".popover button[type=submit]").click()
    page.wait_for_selector("tr[data-id]")
    page.wait_for_selector(".conn-text:text('live')")
    p.assert_no_console_errors(allowed=[r"status of 401"])
