"""From PostgreSQL to websocket clients: LISTEN/NOTIFY with a polling fallback, and fan-out.

- A listener thread holds one connection that ``LISTEN``s on the status channel and hands the
  notified component ids to the event loop. If the connection drops it reconnects with back-off;
  after a reconnect every client gets a fresh snapshot (notifications may have been missed).
- A poll task reads rows whose ``seq`` passed the highest one seen (catches missed
  notifications, and carries the load alone while the listener is down) and marks components
  stale when their heartbeat is older than 3x their interval.
- Each row change is serialised once per batch; each client has a bounded queue of those shared
  fragments and its own sender task, which joins what has queued into one frame, so a slow or
  dead client never delays another. A client whose queue overflows is dropped to "needs a
  snapshot" and resynchronised when it catches up.
- What a client sends is bounded too: a message over ``ws_max_message`` bytes, more than
  ``ws_control_queue`` unsent replies, or a send stuck for ``ws_stall_timeout`` seconds cuts the
  client (close 1009 or 1008). Replies never echo what the client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.extensions
from starlette.websockets import WebSocket, WebSocketDisconnect

from easyquant.config import Settings
from easyquant.status_queries import fetch_components, is_stale, listen, public

log = logging.getLogger(__name__)

BATCH_WINDOW = 0.005  # seconds: the shortest wait that gathers a burst of notifications
MAX_BATCH_WINDOW = 0.025  # the longest, reached with many clients


def batch_window(clients: int) -> float:
    """How long to gather notifications before one read and one broadcast.

    Every broadcast wakes every client's sender, so the window grows with the number of clients:
    a few milliseconds for a handful, 20 ms at 100; the added latency stays well under the 50 ms
    budget while the per-client wake-ups drop from hundreds to tens per second.
    """
    return min(MAX_BATCH_WINDOW, BATCH_WINDOW + 0.00015 * clients)


class Client:
    """One websocket client: a bounded queue of shared, pre-serialised component fragments.

    A fragment is the JSON of one broadcast's components without the surrounding brackets, made
    once and shared by every client. The sender joins whatever has queued into one ``update``
    frame, so a client that falls behind gets fewer, larger frames instead of a growing backlog.
    """

    def __init__(self, ws: WebSocket, max_queue: int, max_control: int = 16) -> None:
        self.ws = ws
        self.queue: deque[str] = deque()
        self.control: deque[str] = deque()
        self.max_queue = max_queue
        self.max_control = max_control
        self.sending_since: float | None = None  # monotonic start of a send still under way
        self.cut = asyncio.Event()  # set when the client went over a bound: disconnect it
        self.cut_code = 1008
        self.cut_reason = ""
        self.needs_snapshot = True
        self.wakeup = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def push(self, fragment: str) -> None:
        if self.needs_snapshot:
            return  # the snapshot it will get includes this change
        if len(self.queue) >= self.max_queue:
            self.queue.clear()
            self.needs_snapshot = True
            self.dropped += 1
        else:
            self.queue.append(fragment)
        self.wakeup.set()

    def reply(self, message: str) -> None:
        if len(self.control) >= self.max_control:
            self.disconnect(1008, "too many unanswered messages")
            return
        self.control.append(message)
        self.wakeup.set()

    def disconnect(self, code: int, reason: str) -> None:
        """Mark the client for disconnection; ``StatusBridge.serve`` closes it."""
        if not self.cut.is_set():
            self.cut_code, self.cut_reason = code, reason
            self.cut.set()

    def resync(self) -> None:
        self.queue.clear()
        self.needs_snapshot = True
        self.wakeup.set()

    def take_update(self, frames: FrameCache) -> str:
        """Join every queued fragment into one ``update`` message and empty the queue."""
        message = frames.join(self.queue)
        self.queue.clear()
        return message


class FrameCache:
    """Clients that keep up hold the same queued fragments: build their common frame once.

    A frame is reused when the queue starts and ends with the very same fragment objects (held
    here, so their identities cannot be recycled) and has the same length.
    """

    def __init__(self) -> None:
        self._first: str | None = None
        self._last: str | None = None
        self._count = 0
        self._frame = ""

    def join(self, fragments: deque[str]) -> str:
        first, last, count = fragments[0], fragments[-1], len(fragments)
        if first is not self._first or last is not self._last or count != self._count:
            self._frame = (
                '{"type": "update", "components": ['
                + ", ".join(fragments)
                + '], "server_time": '
                + json.dumps(datetime.now(UTC).isoformat())
                + "}"
            )
            self._first, self._last, self._count = first, last, count
        return self._frame


class StatusBridge:
    """Keep a cache of the active and recent components (queued or running, or updated within
    ``snapshot_window``) and push changes to websocket clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache: dict[str, dict[str, Any]] = {}
        self.max_seq = 0
        self.clients: set[Client] = set()
        self.listener_state = "down"  # listening | polling | down
        self.database_ok = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_ids: set[str] = set()
        self._pending_event = asyncio.Event()
        self._stop = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._thread: threading.Thread | None = None
        self._reader: psycopg2.extensions.connection | None = None
        self._reader_lock = threading.Lock()
        self._frames = FrameCache()

    # ----- database reads (run in worker threads) ---------------------------------------------
    def _read(self, **kwargs: Any) -> list[dict[str, Any]]:
        with self._reader_lock:
            for attempt in (1, 2):
                try:
                    if self._reader is None or self._reader.closed:
                        self._reader = psycopg2.connect(
                            self.settings.dsn(),
                            connect_timeout=3,
                            application_name="easyquant-bridge",
                        )
                    rows = fetch_components(self._reader, **kwargs)
                    self.database_ok = True
                    return rows
                except psycopg2.Error:
                    with contextlib.suppress(Exception):
                        if self._reader is not None:
                            self._reader.close()
                    self._reader = None
                    if attempt == 2:
                        self.database_ok = False
                        raise
        return []

    # ----- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self.refresh_all()
        except psycopg2.Error as exc:
            log.warning("status bridge starts without the database: %s", exc)
        self._stop.clear()
        if self.settings.bridge_listen:
            self._thread = threading.Thread(
                target=self._listen, name="status-listener", daemon=True
            )
            self._thread.start()
        else:
            self.listener_state = "polling"
        self._tasks = [
            asyncio.create_task(self._fetch_notified(), name="status-fetch"),
            asyncio.create_task(self._poll(), name="status-poll"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 3)
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close(code=1001)

    # ----- the listener thread -------------------------------------------------------------
    def _listen(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            conn = None
            try:
                conn = listen(self.settings)
                was_down = self.listener_state != "listening"
                self.listener_state = "listening"
                delay = 0.2
                if was_down:
                    self._call_soon(self._schedule_resync)
                while not self._stop.is_set():
                    ready, _, _ = select.select([conn], [], [], 0.5)
                    if not ready:
                        continue
                    conn.poll()
                    if conn.notifies:
                        ids = {n.payload for n in conn.notifies}
                        conn.notifies.clear()
                        self._call_soon(self._notified, ids)
            except (psycopg2.Error, OSError, ValueError) as exc:
                if self.listener_state == "listening":
                    log.warning("status listener lost the database (%s); polling meanwhile", exc)
                self.listener_state = "polling"
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _call_soon(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(fn, *args)

    def _notified(self, ids: set[str]) -> None:
        self._pending_ids |= ids
        self._pending_event.set()

    def _schedule_resync(self) -> None:
        if self._loop is not None:
            self._tasks.append(asyncio.create_task(self._resync()))

    async def _resync(self) -> None:
        try:
            await self.refresh_all()
        except psycopg2.Error as exc:
            log.warning("status resync failed: %s", exc)
            return
        for client in self.clients:
            client.resync()

    # ----- fetching and broadcasting -----------------------------------------------------------
    def _recent_since(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.settings.snapshot_window)

    async def refresh_all(self) -> None:
        """Reload the cache: active components and those updated within the snapshot window."""
        rows = await asyncio.to_thread(self._read, active_or_since=self._recent_since())
        self.cache = {r["id"]: r for r in rows}
        self.max_seq = max((r["seq"] for r in rows), default=0)

    async def _fetch_notified(self) -> None:
        while True:
            await self._pending_event.wait()
            # a short window gathers a burst of notifications into one read and one message
            await asyncio.sleep(batch_window(len(self.clients)))
            self._pending_event.clear()
            ids, self._pending_ids = self._pending_ids, set()
            try:
                rows = await asyncio.to_thread(self._read, ids=ids, after_seq=self.max_seq)
            except psycopg2.Error:
                self._pending_ids |= ids  # retried by the next poll or notification
                await asyncio.sleep(0.2)
                continue
            self._apply(rows)

    async def _poll(self) -> None:
        interval = self.settings.poll_interval
        while True:
            await asyncio.sleep(min(interval, 1.0))
            self._mark_stale()
            self._cut_stalled()
            now = time.monotonic()
            if getattr(self, "_last_poll", 0.0) + interval > now:
                continue
            self._last_poll = now
            self._forget_old()
            ids, self._pending_ids = self._pending_ids, set()
            try:
                rows = await asyncio.to_thread(self._read, ids=ids or None, after_seq=self.max_seq)
            except psycopg2.Error:
                self._pending_ids |= ids
                continue
            self._apply(rows)

    def _apply(self, rows: list[dict[str, Any]]) -> None:
        changed = []
        for row in rows:
            old = self.cache.get(row["id"])
            if old is not None and old["seq"] >= row["seq"]:
                continue
            self.cache[row["id"]] = row
            self.max_seq = max(self.max_seq, row["seq"])
            changed.append(row)
        if changed:
            self.broadcast(changed)

    def _mark_stale(self) -> None:
        now = time.time()
        changed = []
        for comp in self.cache.values():
            stale = is_stale(comp, now)
            if stale != comp["stale"]:
                comp["stale"] = stale
                changed.append(comp)
        if changed:
            self.broadcast(changed)

    def _forget_old(self) -> None:
        """Drop finished components last updated before the snapshot window."""
        since = self._recent_since()
        old = [
            cid
            for cid, c in self.cache.items()
            if c["state"] not in ("queued", "running")
            and c["updated_at"] is not None
            and datetime.fromisoformat(c["updated_at"]) < since
        ]
        for cid in old:
            del self.cache[cid]

    def _cut_stalled(self) -> None:
        limit = time.monotonic() - self.settings.ws_stall_timeout
        for client in self.clients:
            if client.sending_since is not None and client.sending_since < limit:
                client.disconnect(1008, "not reading: send stalled")

    def broadcast(self, components: list[dict[str, Any]]) -> None:
        fragment = json.dumps([public(c) for c in components], default=str)[1:-1]
        for client in self.clients:
            client.push(fragment)

    def snapshot_message(self) -> str:
        return json.dumps(
            {
                "type": "snapshot",
                "components": [
                    public(c) for c in sorted(self.cache.values(), key=lambda c: c["seq"])
                ],
                "server_time": datetime.now(UTC).isoformat(),
            },
            default=str,
        )

    # ----- one websocket --------------------------------------------------------------------
    async def serve(self, ws: WebSocket) -> None:
        """Serve one accepted websocket until it closes."""
        # the snapshot must include every write committed before this client connected; if the
        # database is down, serve the cache: the resync after reconnecting sends a fresh one
        with contextlib.suppress(psycopg2.Error):
            self._apply(await asyncio.to_thread(self._read, after_seq=self.max_seq))
        client = Client(ws, self.settings.client_queue_size, self.settings.ws_control_queue)
        self.clients.add(client)
        tasks = [
            asyncio.create_task(self._send_loop(client)),
            asyncio.create_task(self._receive_loop(client)),
            asyncio.create_task(client.cut.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            client.closed = True
            self.clients.discard(client)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if client.cut.is_set():
            # a client that does not read cannot take a close frame either: give up after 1 s
            # and return, which makes the server drop the connection
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(client.cut_code, client.cut_reason), 1.0)

    async def _receive_loop(self, client: Client) -> None:
        limit = self.settings.ws_max_message
        try:
            while not client.cut.is_set():
                raw = await client.ws.receive_text()
                if len(raw) > limit:  # the server's own frame limit normally stops it first
                    client.disconnect(1009, f"message over {limit} bytes")
                    return
                reply = self._answer(raw)
                if reply is not None:
                    client.reply(reply)
        except (WebSocketDisconnect, RuntimeError, KeyError):
            pass

    @staticmethod
    def _answer(raw: str) -> str | None:
        try:
            msg = json.loads(raw)
        except (ValueError, TypeError):
            return json.dumps({"type": "error", "error": "message is not valid JSON"})
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            return json.dumps(
                {"type": "error", "error": "message must be an object with a string 'type'"}
            )
        if msg["type"] == "ping":
            return json.dumps({"type": "pong"})
        return json.dumps({"type": "error", "error": "unknown message type; expected 'ping'"})

    async def _send_loop(self, client: Client) -> None:
        try:
            while True:
                if client.control:
                    await self._send(client, client.control.popleft())
                elif client.needs_snapshot:
                    client.needs_snapshot = False
                    client.queue.clear()
                    await self._send(client, self.snapshot_message())
                elif client.queue:
                    await self._send(client, client.take_update(self._frames))
                else:
                    client.wakeup.clear()
                    await client.wakeup.wait()
        except (WebSocketDisconnect, RuntimeError, OSError):
            client.closed = True

    @staticmethod
    async def _send(client: Client, text: str) -> None:
        client.sending_since = time.monotonic()
        await client.ws.send_text(text)
        client.sending_since = None
