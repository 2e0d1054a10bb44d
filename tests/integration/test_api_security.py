"""monitor_api at its edge: exposure, hosts, origins, content types, tokens, body sizes, OPTIONS.

Each request goes over a real socket to uvicorn serving the app against a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from easyquant.config import load_settings
from easyquant.errors import ConfigError
from tests.conftest import REPO, LiveServer, free_port
from tests.unit.live.support import finished_session

TOKEN = "s3cret-token-1234"


@pytest.fixture()
def open_api(db, pg_settings):
    """Local mode, no token: the default on a developer's machine."""
    with LiveServer(pg_settings) as server:
        yield server


@pytest.fixture()
def guarded_api(db, pg_settings):
    settings = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        api_token=TOKEN,
        max_body_bytes=64 * 1024,
    )
    with LiveServer(settings) as server:
        yield server


@pytest.fixture()
def demo_session(db, pg_settings):
    """A stored, finished live session to halt."""
    finished_session(pg_settings, "demo")
    return "demo"


# ----- 1. exposure ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["local", "production"])
def test_a_non_loopback_host_without_a_token_refuses_to_start(pg_settings, mode):
    from monitor_api.app import create_app

    extra = {"airflow_password": "not-admin-pw"} if mode == "production" else {}
    settings = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        api_host="0.0.0.0",
        mode=mode,
        api_token=TOKEN if mode == "production" else None,
        **extra,
    )
    if mode == "production":
        create_app(settings)  # a token is set: it starts
        return
    with pytest.raises(ConfigError, match=r"EASYQUANT_API_TOKEN.*0\.0\.0\.0"):
        create_app(settings)
    create_app(settings.model_copy(update={"api_host": "127.0.0.1"}))
    create_app(settings.model_copy(update={"api_host": "::1"}))


def test_the_server_command_exits_naming_the_missing_token(pg_settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EASYQUANT_")}
    env |= {
        "EASYQUANT_HOME": str(pg_settings.home),
        "EASYQUANT_DATABASE_URL": pg_settings.database_url or "",
        "EASYQUANT_API_HOST": "0.0.0.0",
        "EASYQUANT_API_PORT": str(free_port()),
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "monitor_api.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "EASYQUANT_API_TOKEN" in proc.stderr and "0.0.0.0" in proc.stderr


# ----- 4. CSRF, cross-site websockets, DNS rebinding ---------------------------------------


def test_a_cross_site_form_cannot_halt_a_session(open_api, demo_session, db):
    url = f"{open_api.url}/api/live/sessions/{demo_session}/halt"
    with httpx.Client() as http:
        form = http.post(url, data={"reason": "x"}, headers={"Origin": "http://evil.example"})
        assert form.status_code == 403
        plain = http.post(url, content=b"reason=x", headers={"Content-Type": "text/plain"})
        assert plain.status_code == 415
        foreign = http.post(url, json={}, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        state = http.get(f"{open_api.url}/api/live/sessions/{demo_session}").json()
        assert state["halted"] is False
        own = http.post(url, json={"reason": "by hand"}, headers={"Origin": open_api.url})
        assert own.status_code == 200 and own.json()["halted"] is True


def test_a_foreign_host_header_is_refused(open_api):
    with httpx.Client(base_url=open_api.url) as http:
        rebound = http.get("/api/components", headers={"Host": f"evil.example:{open_api.port}"})
        assert rebound.status_code == 400 and "Host" in rebound.json()["detail"]
        assert http.get("/", headers={"Host": "evil.example"}).status_code == 400
        named = http.get("/api/components", headers={"Host": f"localhost:{open_api.port}"})
        assert named.status_code == 200


def test_allowed_hosts_setting_adds_a_name(db, pg_settings):
    settings = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        allowed_hosts="quant.lan, other.lan",
    )
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/api/health", headers={"Host": "quant.lan:8000"}).status_code == 200
        assert http.get("/api/health", headers={"Host": "evil.example"}).status_code == 400


def test_a_cross_site_websocket_is_refused(open_api):
    async def scenario():
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(open_api.ws_url, origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        async with websockets.connect(
            open_api.ws_url, origin=f"http://127.0.0.1:{open_api.port}"
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"

    asyncio.run(scenario())
    handshake = (
        "GET /ws/status HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert raw_request(open_api.port, handshake).startswith(b"HTTP/1.1 403")


# ----- 5. the token never in a URL ---------------------------------------------------------


def subprotocol_for(token: str) -> str:
    return "bearer." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def test_websocket_takes_the_token_as_a_subprotocol_not_from_the_url(guarded_api):
    async def scenario():
        async with websockets.connect(guarded_api.ws_url + f"?token={TOKEN}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
        async with websockets.connect(
            guarded_api.ws_url, subprotocols=["easyquant", subprotocol_for("wrong-token")]
        ) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
        async with websockets.connect(
            guarded_api.ws_url, subprotocols=["easyquant", subprotocol_for(TOKEN)]
        ) as ws:
            assert ws.subprotocol == "easyquant"
            assert json.loads(await ws.recv())["type"] == "snapshot"

    asyncio.run(scenario())


def test_access_logs_never_hold_a_token(db, pg_settings):
    import uvicorn

    from monitor_api.app import create_app

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    app = create_app(pg_settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info"))
    import threading

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    handler = Keep()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).addHandler(handler)
        with httpx.Client() as http:
            http.get(f"http://127.0.0.1:{port}/api/health?token=leaky-secret-1")

        async def ws() -> None:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/status?token=leaky-secret-2"
            ) as sock:
                await sock.recv()

        asyncio.run(ws())
        time.sleep(0.2)
    finally:
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).removeHandler(handler)
        server.should_exit = True
        thread.join(15)
    assert any("/api/health" in r for r in records), records
    assert any("/ws/status" in r for r in records), records
    assert not [r for r in records if "leaky-secret" in r]


# ----- 6. auth before the body; bodies bounded ---------------------------------------------


def raw_request(port: int, head: str, body: bytes = b"", timeout: float = 10.0) -> bytes:
    """Send ``head`` and then ``body`` (as far as the server takes it); return the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        # the server may answer and close without reading the body: what is wanted
        with contextlib.suppress(OSError):
            sock.sendall(body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_a_huge_body_without_a_token_is_refused_before_it_is_read(guarded_api):
    port = guarded_api.port
    head = (
        f"POST /api/live/sessions/demo/halt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 80000000\r\n\r\n"
    )
    # no body is sent at all: a server that waited to read 80 MB first would never answer
    answer = raw_request(port, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_every_route_bounds_its_body(guarded_api):
    port = guarded_api.port
    auth = f"Authorization: Bearer {TOKEN}\r\n"
    big = (
        f"POST /api/pipelines/easyquant_etl/trigger HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"{auth}Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n"
    )
    assert raw_request(port, big).startswith(b"HTTP/1.1 413")
    # a streamed (chunked) body that grows past the limit is cut off too
    chunk = b"x" * 10_000
    stream = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
    chunked = (
        f"POST /api/live/sessions/demo/halt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert raw_request(port, chunked, stream).startswith(b"HTTP/1.1 413")


# ----- 16. OPTIONS ------------------------------------------------------------------------


def test_options_names_the_allowed_methods(open_api, demo_session):
    with httpx.Client(base_url=open_api.url) as http:
        root = http.options("/")
        assert root.status_code == 204 and "GET" in root.headers["allow"]
        halt = http.options(f"/api/live/sessions/{demo_session}/halt")
        assert halt.status_code == 204
        assert set(halt.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
        listing = http.options("/api/components")
        assert "GET" in listing.headers["allow"] and "POST" not in listing.headers["allow"]


def test_a_nul_in_the_url_is_a_400_not_a_server_error(open_api):
    with httpx.Client(base_url=open_api.url) as http:
        for url in ("/api/data/bars?symbol=A%00B&freq=1d", "/api/components/a%00b"):
            r = http.get(url)
            assert r.status_code == 400 and "NUL" in r.json()["detail"], url


def test_a_nul_in_a_json_body_is_refused_not_a_server_error(open_api, demo_session):
    url = f"{open_api.url}/api/live/sessions/{demo_session}/halt"
    r = httpx.post(url, json={"reason": "a\x00b"})
    assert r.status_code == 400 and "NUL" in r.json()["detail"], r.text
    # an escaped backslash before u0000 is plain text, not a NUL
    ok = httpx.post(
        url, content=b'{"reason": "a\\\\u0000b"}', headers={"Content-Type": "application/json"}
    )
    assert ok.status_code == 200 and ok.json()["halt_reason"] == "a\\u0000b"
