"""Read-side queries of the live ledger, for the CLI (``easyquant live status``) and the monitor
API: sessions with their positions, open orders, recent fills and risk state; equity curves.

Each function takes an open connection and leaves no transaction open.
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

from easyquant.errors import NotFoundError
from easyquant.live.records import SESSION_COLS, SessionRow, clean, session_row, ts_of


def one_session(conn: psycopg2.extensions.connection, session: str) -> SessionRow:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {SESSION_COLS} FROM live_session WHERE id = %s", (session,))
        row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"session {session!r}: no such live session")
    return session_row(row)


def _rows(cur: psycopg2.extensions.cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    out = []
    for r in cur.fetchall():
        row = {}
        for k, v in zip(names, r, strict=True):
            row[k] = v.isoformat() if hasattr(v, "isoformat") else clean(v)
        out.append(row)
    return out


def session_summary(conn: psycopg2.extensions.connection, s: SessionRow) -> dict[str, Any]:
    """Return a session as the monitor API and ``easyquant live status`` show it."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, quantity, avg_price, COALESCE(last_price, avg_price) FROM "
            "live_position WHERE session = %s AND quantity <> 0 ORDER BY symbol",
            (s.id,),
        )
        positions = [
            {
                "symbol": r[0],
                "quantity": float(r[1]),
                "avg_price": float(r[2]),
                "market_value": float(r[1]) * float(r[3]),
            }
            for r in cur.fetchall()
        ]
        cur.execute(
            "SELECT client_order_id, bar_ts, symbol, side, quantity, kind, limit_price, "
            "state, created_at FROM live_order WHERE session = %s AND state IN "
            "('new', 'open') ORDER BY created_at",
            (s.id,),
        )
        open_orders = _rows(cur)
        cur.execute(
            "SELECT f.fill_id, f.client_order_id, f.symbol, f.bar_ts, f.quantity, "
            "f.price, f.fees, f.recorded_at FROM live_fill f WHERE f.session = %s "
            "ORDER BY f.bar_ts DESC, f.recorded_at DESC LIMIT 20",
            (s.id,),
        )
        fills = _rows(cur)
        cur.execute(
            "SELECT at, kind, message, detail FROM live_event WHERE session = %s AND "
            "kind IN ('breach', 'halt', 'resume') ORDER BY id DESC LIMIT 20",
            (s.id,),
        )
        breaches = _rows(cur)
    conn.rollback()
    return {
        "session": s.id,
        "strategy": s.strategy,
        "params": s.params,
        "symbols": s.symbols,
        "market": s.market,
        "feed": s.feed,
        "broker": s.broker,
        "state": s.state,
        "halted": s.halted,
        "halt_reason": s.halt_reason,
        "equity": s.equity,
        "cash": s.cash,
        "last_bar_time": ts_of(s.last_bar_ts).isoformat() if s.last_bar_ts else None,
        "bars": s.bars,
        "bad_bars": s.bad_bars,
        "positions": positions,
        "open_orders": open_orders,
        "recent_fills": fills,
        "risk": {"limits": clean(s.config.get("risk", {})), "breaches": breaches},
    }


def session_rows(conn: psycopg2.extensions.connection) -> list[SessionRow]:
    """Every session's stored row, oldest first."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {SESSION_COLS} FROM live_session ORDER BY created_at, id")
        return [session_row(r) for r in cur.fetchall()]


def list_sessions(conn: psycopg2.extensions.connection) -> list[dict[str, Any]]:
    return [session_summary(conn, s) for s in session_rows(conn)]


def get_session(conn: psycopg2.extensions.connection, session: str) -> dict[str, Any]:
    return session_summary(conn, one_session(conn, session))


def equity_points(
    conn: psycopg2.extensions.connection, session: str, limit: int = 5000
) -> list[dict[str, Any]]:
    """Return the session's equity curve (thinned to about ``limit`` points plus the last)."""
    one_session(conn, session)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM live_equity WHERE session = %s", (session,))
        n = int(cur.fetchone()[0])  # type: ignore[index]
        step = max(1, -(-n // limit))
        cur.execute(
            "SELECT ts, equity FROM (SELECT ts, equity, row_number() OVER (ORDER BY ts) "
            "AS k FROM live_equity WHERE session = %s) x WHERE (k - 1) %% %s = 0 OR "
            "k = %s ORDER BY ts",
            (session, step, n),
        )
        out = [{"time": r[0].isoformat(), "equity": float(r[1])} for r in cur.fetchall()]
    conn.rollback()
    return out
