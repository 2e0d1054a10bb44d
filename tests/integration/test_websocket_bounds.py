"""/ws/status under abuse: big frames, floods of small ones, too many clients, a stuck reader.

The flood test runs monitor_api as its own process (``python -m monitor_api.app``) so that its
memory can be read from /proc without the test's own allocations in the figure.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import websockets

from easyquant import status
from easyquant.config import load_settings
from tests.conftest import REPO, LiveServer, free_port, spawn_python, wait_while_running
from tests.integration.test_monitor_api import has, raw_websocket_that_never_reads, recv_until

MB = 1 << 20
# What one abusive client may add to the server's peak resident memory. The server starts
# at about 120 MB; without the frame cap, 600 frames of 1 MB grew it by over 500 MB.
FLOOD_BOUND = 40 * MB


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (RFC 6455) carrying ``payload``."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    masked = (
        np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)
    ).tobytes()
    return head + mask + masked


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid`` in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


@pytest.fixture()
def api_process(db, pg_settings):
    """monitor_api as a child process on a free port; yields (pid, port)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EASYQUANT_")}
    env |= {
        "EASYQUANT_HOME": str(pg_settings.home),
        "EASYQUANT_DATABASE_URL": pg_settings.database_url or "",
        "EASYQUANT_API_PORT": str(port),
        "EASYQUANT_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    proc = spawn_python(["-m", "monitor_api.app"], env)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_while_running(proc, healthy, "monitor_api did not start")
        yield proc.pid, port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def open_raw(port: int) -> socket.socket:
    sock = raw_websocket_that_never_reads(port)
    sock.settimeout(5)
    return sock


def test_megabyte_frames_from_a_client_that_never_reads_keep_memory_bounded(api_process):
    pid, port = api_process
    before = memory_of(pid)
    frame = ws_frame(json.dumps({"type": "x" * MB}).encode())
    sent = cuts = 0

    async def watcher() -> int:
        """Another client, reading updates all along."""
        seen = 0
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/status") as ws:
            await ws.recv()
            for i in range(20):
                status.report("flood-probe", kind="cli", name="probe", progress=i / 20)
                await recv_until(ws, has("flood-probe", progress=i / 20), timeout=20)
                seen += 1
                await asyncio.sleep(0.05)
        return seen

    async def flood() -> None:
        nonlocal sent, cuts
        sock = await asyncio.to_thread(open_raw, port)
        while sent < 600:
            try:
                await asyncio.to_thread(sock.sendall, frame)
                sent += 1
            except OSError:  # the server cut this client: it comes back and goes on
                cuts += 1
                sock.close()
                sock = await asyncio.to_thread(open_raw, port)
        sock.close()

    async def scenario() -> int:
        seen, _ = await asyncio.gather(watcher(), flood())
        return seen

    seen = asyncio.run(scenario())
    after = memory_of(pid)
    growth = after["VmHWM"] - before["VmRSS"]
    print(
        f"flood: {sent} frames of 1 MiB, {cuts} cuts; server RSS {before['VmRSS'] / MB:.1f} MiB "
        f"before, peak {after['VmHWM'] / MB:.1f} MiB (+{growth / MB:.1f} MiB), "
        f"now {after['VmRSS'] / MB:.1f} MiB"
    )
    assert seen == 20  # the other client got every update meanwhile
    assert cuts > 0  # a frame over the limit ends that connection
    assert growth < FLOOD_BOUND


def test_small_messages_from_a_client_that_never_reads_get_it_cut(db, pg_settings):
    settings = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, ws_control_queue=8
    )
    with LiveServer(settings) as api:
        bridge = api.app.state.bridge
        sock = raw_websocket_that_never_reads(api.port)
        sock.settimeout(5)
        big = json.dumps({"type": "y" * 3000}).encode()
        # fill the server's send buffer with replies, then keep asking: the unsent replies hit
        # the control bound and the client is cut
        deadline = time.monotonic() + 30
        with pytest.raises(OSError):
            while time.monotonic() < deadline:
                sock.sendall(ws_frame(big))
        assert time.monotonic() < deadline
        assert not bridge.clients or all(len(c.control) <= 8 for c in bridge.clients)
        sock.close()


def test_error_replies_never_echo_the_message(db, pg_settings):
    with LiveServer(pg_settings) as api:

        async def scenario():
            async with websockets.connect(api.ws_url) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "<script>secret-marker</script>"}))
                reply = await ws.recv()
                assert json.loads(reply)["type"] == "error"
                assert "secret-marker" not in reply
                await ws.send("not json secret-marker")
                assert "secret-marker" not in await ws.recv()

        asyncio.run(scenario())


def test_a_message_over_the_limit_closes_with_1009(db, pg_settings):
    with LiveServer(pg_settings) as api:

        async def scenario():
            async with websockets.connect(api.ws_url, max_size=None) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "z" * 5000}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1009

        asyncio.run(scenario())


def test_clients_beyond_the_cap_are_closed_with_1013(db, pg_settings):
    settings = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, ws_max_clients=2
    )
    with LiveServer(settings) as api:

        async def scenario():
            async with websockets.connect(api.ws_url) as a, websockets.connect(api.ws_url) as b:
                await a.recv()
                await b.recv()
                async with websockets.connect(api.ws_url) as c:
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await c.recv()
                    assert closed.value.rcvd.code == 1013
                status.report("cap", kind="cli", name="cap", state="running")
                await recv_until(a, has("cap"))
            async with websockets.connect(api.ws_url) as d:  # room again
                assert json.loads(await d.recv())["type"] == "snapshot"

        asyncio.run(scenario())


def test_a_client_stuck_over_its_bound_is_disconnected(db, pg_settings):
    settings = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        client_queue_size=10,
        ws_stall_timeout=1.0,
        poll_interval=0.5,
    )
    with LiveServer(settings) as api:
        bridge = api.app.state.bridge
        stuck = raw_websocket_that_never_reads(api.port)
        blob = "b" * 50_000
        for i in range(200):
            status.report("fill", kind="cli", name="fill", metrics={"b": blob, "i": i}, event=False)
        deadline = time.monotonic() + 20
        while bridge.clients:
            assert time.monotonic() < deadline, "the stuck client was never cut"
            time.sleep(0.2)
        stuck.close()


def test_subprotocol_token_decodes(db, pg_settings):
    """Bad base64 in the subprotocol is a refusal, not an error."""
    settings = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, api_token="t0ken-value"
    )
    with LiveServer(settings) as api:

        async def scenario():
            for proto in (
                "bearer.%%%",
                "bearer." + base64.urlsafe_b64encode(b"\xff").decode().rstrip("="),
            ):
                async with websockets.connect(api.ws_url, subprotocols=["easyquant", proto]) as w:
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await w.recv()
                    assert closed.value.rcvd.code == 1008

        asyncio.run(scenario())
