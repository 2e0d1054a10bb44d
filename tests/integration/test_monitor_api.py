"""monitor_api against a real PostgreSQL: REST, the /ws/status bridge, slow clients, restarts."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import httpx
import pytest
import websockets

from easyquant import status
from easyquant.config import load_settings
from easyquant.db import ensure_ready
from easyquant.errors import ConfigError
from tests.conftest import LiveServer, free_port


async def recv_until(ws, predicate, timeout=10.0):
    """Receive messages until ``predicate(message)`` is true; return that message."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "expected message did not arrive in time"
        msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        if predicate(msg):
            return msg


def has(component_id, **fields):
    def check(msg):
        return any(
            c["id"] == component_id and all(c.get(k) == v for k, v in fields.items())
            for c in msg.get("components", [])
        )

    return check


@pytest.fixture()
def api(db, pg_settings):
    with LiveServer(pg_settings) as server:
        yield server


def test_status_write_reaches_websocket_client(api):
    status.report("before", kind="cli", name="before", state="running")

    async def scenario():
        async with websockets.connect(api.ws_url) as ws:
            first = json.loads(await ws.recv())
            assert first["type"] == "snapshot"
            assert [c["id"] for c in first["components"]] == ["before"]
            host = "worker2@box"
            status.report("job", kind="task", name="sma", state="running", progress=0.5, host=host)
            msg = await recv_until(ws, has("job", state="running", progress=0.5, host=host))
            assert msg["type"] == "update"
            status.report("job", kind="task", name="sma", state="success")
            await recv_until(ws, has("job", state="success", progress=0.5, host=host))

    asyncio.run(scenario())


def test_rest_components_filters_events_and_404(api):
    status.report("a", kind="cli", name="a", state="running")
    status.report("b", kind="live", name="b", state="failed", message="halted", host="box-2")
    status.report("a", kind="cli", name="a", state="success")
    with httpx.Client(base_url=api.url) as http:
        assert {c["id"] for c in http.get("/api/components").json()["components"]} == {"a", "b"}
        live = http.get("/api/components", params={"kind": "live"}).json()["components"]
        assert [(c["id"], c["host"]) for c in live] == [("b", "box-2")]
        assert http.get("/api/components/b").json()["host"] == "box-2"
        done = http.get("/api/components", params={"state": "success"}).json()["components"]
        assert [c["id"] for c in done] == ["a"]
        events = http.get("/api/components/a/events").json()["events"]
        assert [e["state"] for e in events] == ["success", "running"]
        missing = http.get("/api/components/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]
        assert http.get("/api/components/nope/events").status_code == 404
        bad = http.get("/api/components", params={"state": "exploded"})
        assert bad.status_code == 422 and "state" in bad.text
        health = http.get("/api/health").json()
        assert health["database"] is True and health["listener"] == "listening"


def test_malformed_client_message_gets_error_and_server_carries_on(api):
    async def scenario():
        async with websockets.connect(api.ws_url) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            await ws.send("{not json")
            err = json.loads(await ws.recv())
            assert err["type"] == "error" and "JSON" in err["error"]
            await ws.send(json.dumps({"type": "subscribe"}))
            assert "unknown message type" in json.loads(await ws.recv())["error"]
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}
            status.report("after", kind="cli", name="after", state="running")
            await recv_until(ws, has("after"))

    asyncio.run(scenario())


def test_stale_component_is_marked_and_pushed(api):
    status.report("beat", kind="live", name="s", state="running", heartbeat_interval=0.2)

    async def scenario():
        async with websockets.connect(api.ws_url) as ws:
            await recv_until(ws, has("beat", stale=True), timeout=8)
            status.report("beat", kind="live", name="s", event=False)
            await recv_until(ws, has("beat", stale=False), timeout=8)

    asyncio.run(scenario())


def test_client_that_never_reads_does_not_delay_another(db, pg_settings):
    settings = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, client_queue_size=10
    )
    with LiveServer(settings) as api:
        _never_reader_scenario(api)


def raw_websocket_that_never_reads(port: int) -> socket.socket:
    """Open a websocket by hand with a tiny receive buffer, then never read from it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/status HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _never_reader_scenario(api):
    bridge = api.app.state.bridge
    blob = "x" * 20_000
    stuck = raw_websocket_that_never_reads(api.port)

    async def scenario():
        async with websockets.connect(api.ws_url) as fast:
            await fast.recv()
            n = 1500
            started = time.monotonic()
            for i in range(n):
                status.report(
                    "spam",
                    kind="cli",
                    name="spam",
                    progress=i / n,
                    metrics={"blob": blob, "i": i},
                    event=False,
                )
                if i % 100 == 0:
                    await asyncio.sleep(0.01)  # let notifications spread over many messages
            await recv_until(
                fast,
                lambda m: any(
                    c["id"] == "spam" and c["metrics"]["i"] == n - 1
                    for c in m.get("components", [])
                ),
                timeout=30,
            )
            return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    # the stuck client's queue stayed bounded: it overflowed and waits for a snapshot
    (stuck_client,) = bridge.clients
    assert len(stuck_client.queue) <= stuck_client.max_queue == 10
    assert stuck_client.dropped > 0
    stuck.close()
    assert elapsed < 30


def test_bad_token_closes_socket_with_1008_and_rest_401(pg_settings, db):
    settings = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, api_token="s3cret-token"
    )
    with LiveServer(settings) as server:

        async def scenario():
            async with websockets.connect(server.ws_url + "?token=wrong") as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1008
            async with websockets.connect(
                server.ws_url, additional_headers={"Authorization": "Bearer s3cret-token"}
            ) as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"
            token = base64.urlsafe_b64encode(b"s3cret-token").decode().rstrip("=")
            async with websockets.connect(
                server.ws_url, subprotocols=["easyquant", "bearer." + token]
            ) as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"

        asyncio.run(scenario())
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/api/components").status_code == 401
            ok = http.get("/api/components", headers={"Authorization": "Bearer s3cret-token"})
            assert ok.status_code == 200


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"api_port": 0}, "EASYQUANT_API_PORT"),
        ({"database_url": "mysql://x/y"}, "EASYQUANT_DATABASE_URL"),
        ({"api_token": "short"}, "EASYQUANT_API_TOKEN"),
        ({"mode": "production"}, "EASYQUANT_API_TOKEN"),
        ({"poll_interval": -1}, "EASYQUANT_POLL_INTERVAL"),
    ],
)
def test_bad_settings_stop_start_up_naming_the_setting(env, needle):
    with pytest.raises(ConfigError, match=needle):
        load_settings(**env)


def test_restarting_postgres_under_the_bridge_is_survived(tmp_path):
    """Stop and start the (embedded) server under a running bridge: clients get a new snapshot."""
    from easyquant.db.embedded import EmbeddedPostgres

    settings = load_settings(
        home=tmp_path, database_url=None, embedded_pg_port=free_port(), poll_interval=0.5
    )
    server = EmbeddedPostgres(settings)
    ensure_ready(settings)
    writer = status.StatusWriter(settings, retries=1, pause_after_failure=0.1)
    try:
        with LiveServer(settings) as api:

            async def scenario():
                async with websockets.connect(api.ws_url) as ws:
                    assert json.loads(await ws.recv())["type"] == "snapshot"
                    writer.write("x", kind="cli", name="x", state="running")
                    await recv_until(ws, has("x", state="running"))
                    await asyncio.to_thread(server.stop, "fast")
                    await asyncio.sleep(1.5)
                    await asyncio.to_thread(server.start)
                    # a write while the listener may still be reconnecting: not lost either
                    deadline = time.monotonic() + 10
                    while not writer.write("x", kind="cli", name="x", state="success"):
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.2)
                    snap = await recv_until(ws, lambda m: m["type"] == "snapshot", timeout=15)
                    assert snap["components"]
                    if not has("x", state="success")(snap):
                        await recv_until(ws, has("x", state="success"))
                with httpx.Client(base_url=api.url) as http:
                    health = http.get("/api/health").json()
                    assert health["database"] is True

            asyncio.run(scenario())
    finally:
        writer.close()
        server.stop("immediate")


def test_components_are_paged(api):
    for i in range(5):
        status.report(f"c{i}", kind="cli", name=f"c{i}", state="running")
    with httpx.Client(base_url=api.url) as http:
        first = http.get("/api/components", params={"limit": 2}).json()
        assert [c["id"] for c in first["components"]] == ["c0", "c1"]
        assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
        last = http.get("/api/components", params={"limit": 2, "offset": 4}).json()
        assert [c["id"] for c in last["components"]] == ["c4"]
        default = http.get("/api/components").json()
        assert default["limit"] == 200 and len(default["components"]) == 5
        for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
            r = http.get("/api/components", params=bad)
            assert r.status_code == 422 and next(iter(bad)) in r.text


def test_snapshot_holds_active_and_recent_components_only(db, pg_settings):
    for cid, state in (("old-done", "success"), ("old-running", "running"), ("new-done", "failed")):
        status.report(cid, kind="cli", name=cid, state=state)
    with db.cursor() as cur:
        cur.execute(
            "UPDATE component SET updated_at = now() - interval '3 days' "
            "WHERE id IN ('old-done', 'old-running')"
        )
    db.commit()
    with LiveServer(pg_settings) as server:

        async def scenario():
            async with websockets.connect(server.ws_url) as ws:
                snap = json.loads(await ws.recv())
                assert {c["id"] for c in snap["components"]} == {"old-running", "new-done"}

        asyncio.run(scenario())
        assert set(server.app.state.bridge.cache) == {"old-running", "new-done"}
