"""A page on another site, opened in a real browser, against monitor_api in local mode (no
token): its form cannot halt a live session, and its websocket gets no status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.unit.live.support import finished_session

pytestmark = pytest.mark.e2e


class Site:
    """Another origin: serves one HTML page from 127.0.0.1 on its own port."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def local_api(db, pg_settings) -> Iterator[tuple[LiveServer, str]]:
    finished_session(pg_settings, "xsite")
    with LiveServer(pg_settings) as server:
        yield server, "xsite"


@pytest.fixture()
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser.new_page()
        browser.close()


def halted(server: LiveServer, session: str) -> bool:
    return bool(httpx.get(f"{server.url}/api/live/sessions/{session}").json()["halted"])


def test_a_form_on_another_site_cannot_halt_a_session(local_api, page) -> None:
    server, session = local_api
    action = f"{server.url}/api/live/sessions/{session}/halt"
    for enctype in ("application/x-www-form-urlencoded", "text/plain"):
        html = (
            f'<form method="post" action="{action}" enctype="{enctype}">'
            '<input name=\'{"reason": "pwned", "x": "\' value=\'"}\'></form>'
            "<script>document.forms[0].submit()</script>"
        )
        with Site(html) as site:
            with page.expect_navigation(url=action):  # type: ignore[attr-defined]
                page.goto(site.url)  # type: ignore[attr-defined]
            assert "cross-origin" in page.content()  # type: ignore[attr-defined]
        assert not halted(server, session)


def test_a_script_on_another_site_gets_no_status_and_cannot_halt(local_api, page) -> None:
    server, session = local_api
    with Site("<p>elsewhere</p>") as site:
        page.goto(site.url)  # type: ignore[attr-defined]
        outcome = page.evaluate(  # type: ignore[attr-defined]
            """url => new Promise(done => {
                const ws = new WebSocket(url);
                ws.onmessage = () => done('got status');
                ws.onclose = e => done('closed ' + e.code);
            })""",
            server.ws_url,
        )
        assert outcome.startswith("closed"), outcome
        status = page.evaluate(  # type: ignore[attr-defined]
            """url => fetch(url, {method: 'POST', mode: 'no-cors',
                headers: {'Content-Type': 'text/plain'}, body: '{}'}).then(() => 'sent')""",
            f"{server.url}/api/live/sessions/{session}/halt",
        )
        assert status == "sent"
    assert not halted(server, session)
    # the dashboard's own origin still works
    own = httpx.post(
        f"{server.url}/api/live/sessions/{session}/halt",
        json={"reason": "by hand"},
        headers={"Origin": server.url},
    )
    assert own.status_code == 200 and halted(server, session)
