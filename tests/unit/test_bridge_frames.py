"""The bridge's per-client queue: fragments queued while a client is busy go out as one frame."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from easyquant.config import load_settings
from monitor_api.bridge import Client, FrameCache, StatusBridge, batch_window


def _client(bridge: StatusBridge, max_queue: int = 10) -> Client:
    client = Client(ws=None, max_queue=max_queue)  # type: ignore[arg-type]
    client.needs_snapshot = False
    bridge.clients.add(client)
    return client


def _comp(i: int) -> dict[str, Any]:
    return {"id": f"c{i}", "seq": i, "state": "running", "_heartbeat_ts": 0.0}


def test_queued_fragments_become_one_update_in_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        bridge = StatusBridge(load_settings(home=tmp_path))
        a, b = _client(bridge), _client(bridge)
        bridge.broadcast([_comp(1), _comp(2)])
        bridge.broadcast([_comp(3)])
        frames = FrameCache()
        first = a.take_update(frames)
        msg = json.loads(first)
        assert msg["type"] == "update"
        assert [c["seq"] for c in msg["components"]] == [1, 2, 3]
        assert all("_heartbeat_ts" not in c for c in msg["components"])
        assert not a.queue
        # a client holding the same fragments shares the frame already built
        assert b.take_update(frames) is first
        bridge.broadcast([_comp(4)])
        assert [c["seq"] for c in json.loads(a.take_update(frames))["components"]] == [4]

    asyncio.run(scenario())


def test_overflow_drops_to_snapshot_and_stays_bounded(tmp_path: Path) -> None:
    async def scenario() -> None:
        bridge = StatusBridge(load_settings(home=tmp_path))
        client = _client(bridge, max_queue=3)
        for i in range(10):
            bridge.broadcast([_comp(i)])
        assert len(client.queue) <= 3
        assert client.dropped >= 1
        assert client.needs_snapshot or len(client.queue) <= 3

    asyncio.run(scenario())


def test_batch_window_grows_with_clients_and_is_capped() -> None:
    windows = [batch_window(n) for n in (0, 1, 10, 100, 500, 10_000)]
    assert windows == sorted(windows)
    assert windows[0] >= 0.001
    assert batch_window(100) <= 0.025
    assert windows[-1] == batch_window(100_000)
