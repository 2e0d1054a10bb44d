"""Headless Chromium (Debian's) driven by Playwright against monitor_api on real PostgreSQL.

monitor_api runs in-process (tests/conftest.py LiveServer) with a token, the dashboard built
into monitor_api/static, and data seeded by the real backtest code and easyquant.status. Each
test saves a screenshot under test-artifacts/browser/; with EASYQUANT_UPDATE_SCREENSHOTS=1 the
view tests also write docs/screenshots/<view>.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from easyquant.config import Settings, load_settings
from tests.conftest import REPO, LiveServer, free_port
from tests.e2e.browser.seed import Seeded, seed_backtests, seed_status

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = REPO / "test-artifacts" / "browser"
DOC_SHOTS = REPO / "docs" / "screenshots"
TOKEN = "browser-test-token"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


class Server(LiveServer):
    """LiveServer on a chosen port, so a restarted server is found at the same address."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        super().__init__(settings)
        if port is not None:
            import threading

            import uvicorn

            self.port = port
            config = uvicorn.Config(
                self.app, host="127.0.0.1", port=port, log_level="warning", ws_ping_interval=None
            )
            self.server = uvicorn.Server(config)
            self.thread = threading.Thread(target=self.server.run, daemon=True)


@dataclass
class Stack:
    settings: Settings
    seeded: Seeded
    status_ids: dict[str, str]
    port: int
    server: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = Server(self.settings, self.port).__enter__()

    def stop(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None


@pytest.fixture(scope="package")
def dashboard_built() -> None:
    proc = subprocess.run(
        ["bash", "scripts/build-dashboard.sh"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (REPO / "monitor_api" / "static" / "index.html").exists()


@pytest.fixture(scope="package")
def stack(pg_settings: Settings, dashboard_built: None) -> Iterator[Stack]:
    seeded = seed_backtests(pg_settings)
    ids = seed_status()
    settings = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        api_token=TOKEN,
        # nothing listens here: the trigger form shows how an unreachable Airflow is reported
        airflow_url=f"http://127.0.0.1:{free_port()}",
    )
    s = Stack(settings, seeded, ids, free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh` (installs chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Page:
    """A Playwright page with the console errors it logged."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def goto(self, base: str, route: str, wait_for: str | None = None) -> Any:
        """Open ``route`` of the dashboard at ``base``, wait for the ``wait_for`` selector if
        given, and return the Playwright page."""
        self.page.goto(f"{base}/#{route}")
        if wait_for is not None:
            self.page.wait_for_selector(wait_for)
        return self.page

    def assert_no_console_errors(self, allowed: list[str] | None = None) -> None:
        bad = [e for e in self.errors if not any(re.search(a, e) for a in allowed or [])]
        assert bad == [], f"console errors: {bad}"


@pytest.fixture()
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Open a page: ``open_page(viewport=DESKTOP, scheme="dark", token=TOKEN, locale=None)``
    (``locale``: the browser's language, e.g. "zh-CN"; None: Chromium's en-US); every page
    is screenshotted into test-artifacts/browser/<test>[-<n>].png when the test ends."""
    contexts: list[Any] = []
    pages: list[Page] = []

    def make(
        viewport: dict[str, int] = DESKTOP,
        scheme: str = "dark",
        token: str | None = TOKEN,
        locale: str | None = None,
    ) -> Page:
        ctx = browser.new_context(
            viewport=viewport, color_scheme=scheme, **({"locale": locale} if locale else {})
        )
        if token is not None:
            ctx.add_init_script(f"localStorage.setItem('easyquant.token', {token!r});")
        contexts.append(ctx)
        page = ctx.new_page()
        p = Page(page)
        page.on("console", lambda m: m.type == "error" and p.errors.append(m.text))
        page.on("pageerror", lambda e: p.errors.append(f"page error: {e}"))
        pages.append(p)
        return p

    yield make
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for i, p in enumerate(pages):
        suffix = "" if i == 0 else f"-{i + 1}"
        try:
            p.page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        except Exception as exc:  # a closed page still lets the test report its own failure
            print(f"screenshot of {name}{suffix} failed: {exc}")
    for ctx in contexts:
        ctx.close()


def doc_shot(page: Page, view: str) -> None:
    """Write docs/screenshots/<view>.png when EASYQUANT_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("EASYQUANT_UPDATE_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.page.screenshot(path=str(DOC_SHOTS / f"{view}.png"), full_page=True)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Poll ``predicate`` until true; return the seconds it took (fail after ``timeout``)."""
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, "condition not met in time"
        time.sleep(step)
    return time.monotonic() - t0
