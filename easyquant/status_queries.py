"""Read the status tables: components as docs/contracts.md shows them, their events, and
the notification channel. monitor_api's routes and its websocket bridge read through these;
``easyquant.status`` writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.extensions

from easyquant.config import Settings
from easyquant.status import CHANNEL

COLUMNS = (
    "id, kind, name, state, progress, message, metrics, attrs, url, parent_id, host, "
    "heartbeat_interval, started_at, heartbeat_at, updated_at, finished_at, seq"
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def is_stale(row: dict[str, Any], now: float) -> bool:
    """Return True when a queued or running component missed 3 heartbeats."""
    if row["state"] not in ("queued", "running"):
        return False
    beat = row["_heartbeat_ts"]
    return bool(now - beat > 3 * float(row["heartbeat_interval"]))


def row_to_component(rec: tuple[Any, ...], now: float | None = None) -> dict[str, Any]:
    """Turn a database row (COLUMNS order) into the component JSON of docs/contracts.md."""
    (
        cid,
        kind,
        name,
        state,
        progress,
        message,
        metrics,
        attrs,
        url,
        parent_id,
        host,
        interval,
        started,
        beat,
        updated,
        finished,
        seq,
    ) = rec
    comp: dict[str, Any] = {
        "id": cid,
        "kind": kind,
        "name": name,
        "state": state,
        "stale": False,
        "progress": progress,
        "message": message,
        "metrics": metrics,
        "attrs": attrs,
        "url": url,
        "parent_id": parent_id,
        "host": host,
        "heartbeat_interval": interval,
        "started_at": _iso(started),
        "heartbeat_at": _iso(beat),
        "updated_at": _iso(updated),
        "finished_at": _iso(finished),
        "seq": seq,
        "_heartbeat_ts": beat.timestamp(),
    }
    comp["stale"] = is_stale(comp, time.time() if now is None else now)
    return comp


def count_components(
    conn: psycopg2.extensions.connection, *, kind: str | None = None, state: str | None = None
) -> int:
    """How many components ``fetch_components`` would list with these filters."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM component WHERE (%s::text IS NULL OR kind = %s) "
            "AND (%s::text IS NULL OR state = %s)",
            [kind, kind, state, state],
        )
        (n,) = cur.fetchone() or (0,)
    conn.commit()
    return int(n)


def public(comp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comp.items() if not k.startswith("_")}


def fetch_components(
    conn: psycopg2.extensions.connection,
    *,
    ids: Iterable[str] | None = None,
    after_seq: int | None = None,
    kind: str | None = None,
    state: str | None = None,
    active_or_since: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Read components: all, or those with the given ids or a seq above ``after_seq``;
    ``active_or_since`` keeps the queued and running ones and those updated since then;
    ``limit``/``offset`` page through them in ``seq`` order."""
    where: list[str] = []
    args: list[Any] = []
    if ids is not None or after_seq is not None:
        parts = []
        if ids is not None:
            parts.append("id = ANY(%s)")
            args.append(list(ids))
        if after_seq is not None:
            parts.append("seq > %s")
            args.append(after_seq)
        where.append("(" + " OR ".join(parts) + ")")
    if kind:
        where.append("kind = %s")
        args.append(kind)
    if state:
        where.append("state = %s")
        args.append(state)
    if active_or_since is not None:
        where.append("(state IN ('queued', 'running') OR updated_at >= %s)")
        args.append(active_or_since)
    sql = f"SELECT {COLUMNS} FROM component"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        args += [limit, offset]
    with conn.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    conn.commit()
    now = time.time()
    return [row_to_component(r, now) for r in rows]


def component_events(
    conn: psycopg2.extensions.connection, component_id: str, limit: int = 200
) -> list[dict[str, Any]]:
    """Return a component's event history, newest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, at, state, progress, message, metrics FROM component_event "
            "WHERE component_id = %s ORDER BY id DESC LIMIT %s",
            (component_id, limit),
        )
        rows = cur.fetchall()
    conn.commit()
    keys = ("id", "at", "state", "progress", "message", "metrics")
    return [dict(zip(keys, r, strict=True)) | {"at": r[1].isoformat()} for r in rows]


def database_answers(conn: psycopg2.extensions.connection) -> bool:
    """Return True when the database answers a trivial query on ``conn``."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.commit()
    except psycopg2.Error:
        return False
    return True


def listen(settings: Settings) -> psycopg2.extensions.connection:
    """Open an autocommit connection that LISTENs on the status channel (its notifications
    carry component ids)."""
    conn = psycopg2.connect(settings.dsn(), connect_timeout=3, application_name="easyquant-listen")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {CHANNEL}")
    return conn
