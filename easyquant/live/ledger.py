"""The service's own ledger in PostgreSQL: sessions, bars taken, orders (written before they are
sent), fills, positions, cash, equity points and events.

A fill, the position it changes, the session's cash and its order's state are written in one
transaction, so cash and positions always equal what the fills say. Each group of writes is one
round trip (several statements in one query string, which PostgreSQL runs as one transaction).
The connection commits asynchronously (``synchronous_commit = off``) except for the order
write-ahead, which waits for the disk: a bar's progress can be redone from the feed, an order
that may have reached the venue must never be forgotten.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg2
import psycopg2.extensions

from easyquant.config import Settings
from easyquant.errors import ConfigError, DatabaseError, EasyQuantError, NotFoundError
from easyquant.live.bars import BarEvent, LiveBar
from easyquant.live.broker import BrokerFill, OrderReport

ORDER_COLUMNS = (
    "client_order_id",
    "bar_ts",
    "phase",
    "pass",
    "symbol",
    "side",
    "quantity",
    "kind",
    "limit_price",
    "est_price",
    "phase_equity",
    "state",
    "filled_qty",
    "avg_price",
    "fees",
    "reason",
)
ACTIVE = ("new", "open")


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (as opposed to a statement it refused)."""


def ts_of(ns: int | None) -> Any:
    """ns since the epoch -> timezone-aware datetime (what psycopg2 stores as timestamptz)."""
    if ns is None:
        return None
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime(warn=False)


def ns_of(value: Any) -> int | None:
    if value is None:
        return None
    return int(pd.Timestamp(value).value)


def clean(value: Any) -> Any:
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


@dataclass
class OrderRow:
    client_order_id: str
    bar_ts: int
    phase: str
    pass_: int
    symbol: str
    side: str
    quantity: float
    kind: str = "market"
    limit_price: float | None = None
    est_price: float | None = None
    phase_equity: float | None = None
    state: str = "new"
    filled_qty: float = 0.0
    avg_price: float | None = None
    fees: float = 0.0
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass
class Position:
    quantity: float = 0.0
    avg_price: float = 0.0
    realized: float = 0.0

    def apply(self, qty: float, price: float) -> None:
        """Add a signed fill: average price on increases, realised P&L on reductions."""
        q0 = self.quantity
        q1 = q0 + qty
        if q0 == 0 or (q0 > 0) == (qty > 0):
            self.avg_price = (q0 * self.avg_price + qty * price) / q1 if q1 != 0 else 0.0
        else:
            closed = min(abs(qty), abs(q0))
            self.realized += closed * (price - self.avg_price) * (1 if q0 > 0 else -1)
            if abs(q1) < 1e-12:
                q1 = 0.0
                self.avg_price = 0.0
            elif (q1 > 0) != (q0 > 0):
                self.avg_price = price
        self.quantity = q1


@dataclass
class SessionRow:
    id: str
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    market: str
    freq: str
    feed: str
    broker: str
    config: dict[str, Any]
    state: str
    initial_cash: float
    cash: float
    equity: float | None
    last_bar_ts: int | None
    bars: int
    bad_bars: int
    engine_state: dict[str, Any]
    day_key: int | None
    day_start_equity: float | None
    halted: bool
    halt_reason: str | None
    flatten_requested: bool


_SESSION_COLS = (
    "id, strategy, params, symbols, market, freq, feed, broker, config, state, "
    "initial_cash, cash, equity, last_bar_ts, bars, bad_bars, engine_state, day_key, "
    "day_start_equity, halted, halt_reason, flatten_requested"
)


def _session(row: Sequence[Any]) -> SessionRow:
    return SessionRow(
        id=row[0],
        strategy=row[1],
        params=row[2] or {},
        symbols=list(row[3]),
        market=row[4],
        freq=row[5],
        feed=row[6],
        broker=row[7],
        config=row[8] or {},
        state=row[9],
        initial_cash=float(row[10]),
        cash=float(row[11]),
        equity=None if row[12] is None else float(row[12]),
        last_bar_ts=ns_of(row[13]),
        bars=int(row[14]),
        bad_bars=int(row[15]),
        engine_state=row[16] or {},
        day_key=None if row[17] is None else int(row[17]),
        day_start_equity=None if row[18] is None else float(row[18]),
        halted=bool(row[19]),
        halt_reason=row[20],
        flatten_requested=bool(row[21]),
    )


def _order(row: Sequence[Any]) -> OrderRow:
    return OrderRow(
        client_order_id=row[0],
        bar_ts=int(ns_of(row[1]) or 0),
        phase=row[2],
        pass_=int(row[3]),
        symbol=row[4],
        side=row[5],
        quantity=float(row[6]),
        kind=row[7],
        limit_price=row[8],
        est_price=row[9],
        phase_equity=row[10],
        state=row[11],
        filled_qty=float(row[12]),
        avg_price=row[13],
        fees=float(row[14]),
        reason=row[15],
    )


@dataclass
class Store:
    """The ledger of one session over one connection (the service is its only writer)."""

    settings: Settings
    session: str
    conn: psycopg2.extensions.connection | None = None
    fill_ids: set[str] = field(default_factory=set)
    positions: dict[str, Position] = field(default_factory=dict)
    cash: float = 0.0
    staged: list[str] = field(default_factory=list)
    staged_ts: int | None = None  # the last bar staged and not yet stored
    # Orders written ahead wait for the disk unless the venue shares this database: then its
    # records can never survive a server crash without the order rows written before them.
    durable_orders: bool = True
    flushed_ts: int | None = None  # the last bar stored
    _bar_rows: list[str] = field(default_factory=list)
    _eq_rows: list[str] = field(default_factory=list)
    _marks: dict[str, float | None] = field(default_factory=dict)
    _session_row: tuple[Any, ...] | None = None
    _nbars: int = 0

    # ----- connection -----------------------------------------------------------------------
    def connect(self) -> None:
        self.close()
        try:
            self.conn = psycopg2.connect(
                self.settings.dsn(),
                connect_timeout=3,
                application_name=f"easyquant-live-{self.session}"[:60],
                options="-c synchronous_commit=off -c statement_timeout=10000",
            )
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(
                f"live session {self.session}: database unreachable: "
                f"{str(exc).strip().splitlines()[0] if str(exc) else exc}"
            ) from exc
        self.conn.autocommit = True
        self._clear_staged()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None

    def _cur(self) -> psycopg2.extensions.cursor:
        if self.conn is None or self.conn.closed:
            raise DatabaseUnavailable(f"live session {self.session}: not connected to the database")
        return self.conn.cursor()

    def exec(self, query: str, params: Any = None, *, fetch: bool = False) -> list[Any]:
        try:
            with self._cur() as cur:
                cur.execute(query, params)
                return cur.fetchall() if fetch else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            self.close()
            raise DatabaseUnavailable(
                f"live session {self.session}: database unreachable: "
                f"{str(exc).strip().splitlines()[0] if str(exc) else exc}"
            ) from exc
        except psycopg2.Error as exc:
            with contextlib.suppress(psycopg2.Error, EasyQuantError):
                self._cur().execute("ROLLBACK")
            raise DatabaseError(f"live session {self.session}: {str(exc).strip()}") from exc

    def q(self, query: str, params: Any) -> str:
        return self._cur().mogrify(query, params).decode()

    def run(self, parts: Iterable[str], *, durable: bool = False) -> None:
        """Run several statements as one transaction, in one round trip, after the staged bars
        (so nothing is ever stored ahead of the bars it follows)."""
        staged, through = self._take_staged()
        body = staged + list(parts)
        head = "BEGIN;" + ("SET LOCAL synchronous_commit TO on;" if durable else "")
        self.exec(head + ";".join(body) + ";COMMIT")
        if through is not None:
            self.flushed_ts = through

    def ping(self) -> None:
        self.exec("SELECT 1", fetch=True)

    def lock(self, timeout: float = 15.0) -> None:
        """Take the session's advisory lock: one service per session (released on exit)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.exec(
                "SELECT pg_try_advisory_lock(hashtext(%s))", ("live:" + self.session,), fetch=True
            )
            if rows[0][0]:
                return
            if time.monotonic() > deadline:
                raise ConfigError(f"session {self.session}: another service is running it")
            time.sleep(0.2)

    # ----- session --------------------------------------------------------------------------
    def load_session(self) -> SessionRow | None:
        rows = self.exec(
            f"SELECT {_SESSION_COLS} FROM live_session WHERE id = %s", (self.session,), fetch=True
        )
        return _session(rows[0]) if rows else None

    def create_session(
        self,
        *,
        strategy: str,
        params: Mapping[str, Any],
        symbols: Sequence[str],
        market: str,
        freq: str,
        feed: str,
        broker: str,
        config: Mapping[str, Any],
        cash: float,
    ) -> SessionRow:
        self.exec(
            "INSERT INTO live_session (id, strategy, params, symbols, market, freq, feed, broker, "
            "config, initial_cash, cash, started_at) VALUES "
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s, clock_timestamp()) ON CONFLICT (id) DO NOTHING",
            (
                self.session,
                strategy,
                json.dumps(clean(dict(params))),
                list(symbols),
                market,
                freq,
                feed,
                broker,
                json.dumps(clean(dict(config))),
                cash,
                cash,
            ),
        )
        row = self.load_session()
        assert row is not None
        return row

    def update_config(self, config: Mapping[str, Any]) -> None:
        self.exec(
            "UPDATE live_session SET config = %s WHERE id = %s",
            (json.dumps(clean(dict(config))), self.session),
        )

    def mark_running(self, pid: int) -> None:
        self.exec(
            "UPDATE live_session SET state = 'running', message = '', pid = %s, "
            "started_at = clock_timestamp(), stopped_at = NULL, updated_at = "
            "clock_timestamp() WHERE id = %s",
            (pid, self.session),
        )

    def set_state(self, state: str, message: str = "") -> None:
        self.run(
            [
                self.q(
                    "UPDATE live_session SET state = %s, message = %s, "
                    "updated_at = clock_timestamp(), stopped_at = CASE WHEN %s <> 'running' "
                    "THEN clock_timestamp() END WHERE id = %s",
                    (state, message[:2000], state, self.session),
                )
            ],
            durable=True,
        )

    def event(self, kind: str, message: str, detail: Mapping[str, Any] | None = None) -> None:
        self.run(
            [
                self.q(
                    "INSERT INTO live_event (session, kind, message, detail) VALUES (%s,%s,%s,%s)",
                    (
                        self.session,
                        kind,
                        message[:2000],
                        json.dumps(clean(dict(detail or {})), default=str),
                    ),
                )
            ]
        )

    def set_halt(self, reason: str, *, flatten: bool, staged: bool = False) -> None:
        """Halt the session (and ask for a flatten). ``staged``: stored with the bar being
        processed, in its transaction (a crash before it is stored redoes the bar, and its
        halt with it), rather than at once."""
        parts = [
            self.q(
                "UPDATE live_session SET halted = true, halt_reason = %s, halted_at = "
                "clock_timestamp(), flatten_requested = flatten_requested OR %s WHERE id = %s",
                (reason[:2000], flatten, self.session),
            ),
            self.q(
                "INSERT INTO live_event (session, kind, message, detail) VALUES "
                "(%s, 'halt', %s, %s)",
                (self.session, reason[:2000], json.dumps({"flatten": flatten})),
            ),
        ]
        if staged:
            self.staged.extend(parts)
        else:
            self.run(parts, durable=True)

    # ----- loading --------------------------------------------------------------------------
    def load_events(self) -> list[BarEvent]:
        rows = self.exec(
            "SELECT ts, symbol, open, high, low, close, volume FROM live_bar "
            "WHERE session = %s ORDER BY ts, symbol",
            (self.session,),
            fetch=True,
        )
        out: list[BarEvent] = []
        for r in rows:
            t = int(ns_of(r[0]) or 0)
            if not out or out[-1].ts != t:
                out.append(BarEvent(t, {}))
            out[-1].bars[r[1]] = LiveBar(r[1], t, r[2], r[3], r[4], r[5], r[6])
        return out

    def load_ledger(self) -> None:
        """Load cash, positions and recorded fill ids (what the fills say)."""
        rows = self.exec("SELECT cash FROM live_session WHERE id = %s", (self.session,), fetch=True)
        self.cash = float(rows[0][0])
        self.positions = {
            r[0]: Position(float(r[1]), float(r[2]), float(r[3]))
            for r in self.exec(
                "SELECT symbol, quantity, avg_price, realized_pnl FROM "
                "live_position WHERE session = %s",
                (self.session,),
                fetch=True,
            )
        }
        self.fill_ids = {
            r[0]
            for r in self.exec(
                "SELECT fill_id FROM live_fill WHERE session = %s", (self.session,), fetch=True
            )
        }

    def load_orders(self, *, after: int | None = None, active: bool = False) -> list[OrderRow]:
        cond = ["session = %s"]
        params: list[Any] = [self.session]
        if after is not None:
            cond.append("bar_ts > %s")
            params.append(ts_of(after))
        if active:
            cond.append("state IN ('new', 'open')")
        rows = self.exec(
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM live_order WHERE "
            f"{' AND '.join(cond)} ORDER BY bar_ts, phase, pass, created_at",
            params,
            fetch=True,
        )
        return [_order(r) for r in rows]

    # ----- writing orders and fills ---------------------------------------------------------
    def write_ahead(
        self, orders: Sequence[OrderRow], *, unless_halted: bool = False
    ) -> tuple[bool, bool, str | None] | None:
        """Store orders before any is sent (durable: waits for the disk).

        With ``unless_halted`` the orders are written only if the session is not halted at
        that moment (the session's row is locked for the check, so an operator's halt either
        commits before them, and none is written, or after them): the session's (halted,
        flatten_requested, halt_reason) flags come back, and nothing was written when halted
        is true. Without it, None."""
        parts = []
        if unless_halted:
            parts.append(
                self.q("SELECT 1 FROM live_session WHERE id = %s FOR SHARE", (self.session,))
            )
        cols = (
            "INSERT INTO live_order (session, client_order_id, bar_ts, phase, pass, "
            "symbol, side, quantity, kind, limit_price, est_price, phase_equity, state, "
            "reason) "
        )
        values = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
        for o in orders:
            args: list[Any] = [
                self.session,
                o.client_order_id,
                ts_of(o.bar_ts),
                o.phase,
                o.pass_,
                o.symbol,
                o.side,
                o.quantity,
                o.kind,
                clean(o.limit_price),
                clean(o.est_price),
                clean(o.phase_equity),
                o.state,
                o.reason,
            ]
            if unless_halted:
                parts.append(
                    self.q(
                        cols + f"SELECT {values} WHERE NOT EXISTS (SELECT 1 FROM live_session "
                        "WHERE id = %s AND halted)",
                        [*args, self.session],
                    )
                )
            else:
                parts.append(self.q(cols + f"VALUES ({values})", args))
        if not unless_halted:
            self.run(parts, durable=self.durable_orders)
            return None
        head = ["SET LOCAL synchronous_commit TO on"] if self.durable_orders else []
        return self._commit_staged(head, parts)

    def record(self, order: OrderRow, report: OrderReport) -> list[BrokerFill]:
        """Apply the venue's report: new fills (position and cash with them) and the order's
        state, in one transaction. Return the fills that were new."""
        new = [f for f in report.fills if f.fill_id not in self.fill_ids]
        cash = self.cash
        touched: dict[str, Position] = {}
        parts = []
        for f in new:
            pos = touched.get(f.symbol) or Position(
                **vars(self.positions.get(f.symbol, Position()))
            )
            pos.apply(f.quantity, f.price)
            touched[f.symbol] = pos
            cash -= f.quantity * f.price + f.fees
            parts.append(
                self.q(
                    "INSERT INTO live_fill (session, fill_id, client_order_id, symbol, bar_ts, "
                    "quantity, price, fees) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    (
                        self.session,
                        f.fill_id,
                        f.client_order_id,
                        f.symbol,
                        ts_of(f.bar_ts if f.bar_ts is not None else order.bar_ts),
                        f.quantity,
                        f.price,
                        f.fees,
                    ),
                )
            )
        for sym, pos in touched.items():
            parts.append(
                self.q(
                    "INSERT INTO live_position (session, symbol, quantity, avg_price, "
                    "realized_pnl) VALUES (%s,%s,%s,%s,%s) ON CONFLICT (session, symbol) "
                    "DO UPDATE SET "
                    "quantity = EXCLUDED.quantity, avg_price = EXCLUDED.avg_price, "
                    "realized_pnl = EXCLUDED.realized_pnl",
                    (self.session, sym, pos.quantity, pos.avg_price, pos.realized),
                )
            )
        if new:
            parts.append(
                self.q("UPDATE live_session SET cash = %s WHERE id = %s", (cash, self.session))
            )
        filled = sum(abs(f.quantity) for f in report.fills)
        value = sum(abs(f.quantity) * f.price for f in report.fills)
        fees = sum(f.fees for f in report.fills)
        avg = value / filled if filled > 0 else None
        state = (
            report.status
            if report.status in ("open", "filled", "partial", "rejected", "cancelled")
            else "rejected"
        )
        parts.append(
            self.q(
                "UPDATE live_order SET state = %s, filled_qty = %s, avg_price = %s, fees = %s, "
                "reason = %s, broker_order_id = %s, "
                "acked_at = COALESCE(acked_at, clock_timestamp()) WHERE client_order_id = %s",
                (
                    state,
                    filled,
                    avg,
                    fees,
                    report.reason,
                    report.broker_order_id,
                    order.client_order_id,
                ),
            )
        )
        self.run(parts)
        self.cash = cash
        self.positions.update(touched)
        self.fill_ids.update(f.fill_id for f in new)
        order.state, order.filled_qty, order.avg_price = state, filled, avg
        order.fees, order.reason = fees, report.reason
        return new

    def cancel(self, order: OrderRow, reason: str) -> None:
        """Mark a never-sent order cancelled."""
        self.run(
            [
                self.q(
                    "UPDATE live_order SET state = 'cancelled', reason = %s WHERE "
                    "client_order_id = %s AND state = 'new'",
                    (reason, order.client_order_id),
                )
            ]
        )
        order.state, order.reason = "cancelled", reason

    def stage_bar(
        self,
        event: BarEvent,
        *,
        engine_state: Mapping[str, Any],
        equity: float,
        day_key: int,
        day_start_equity: float,
        bad_bars: int,
        marks: Mapping[str, float],
    ) -> None:
        """Stage one processed timestamp (its bars, the equity point, marks and the engine's
        state); it is stored with the next write or :meth:`flush`, whichever comes first."""
        ts = ts_of(event.ts)
        for b in event.bars.values():
            self._bar_rows.append(
                self.q(
                    "(%s,%s,%s,%s,%s,%s,%s,%s)",
                    (self.session, ts, b.symbol, b.open, b.high, b.low, b.close, b.volume),
                )
            )
            if b.symbol in self.positions:
                self._marks[b.symbol] = marks.get(b.symbol)
        self._eq_rows.append(self.q("(%s,%s,%s,%s)", (self.session, ts, equity, self.cash)))
        self._session_row = (
            ts,
            bad_bars,
            json.dumps(clean(dict(engine_state))),
            equity,
            day_key,
            day_start_equity,
        )
        self._nbars += 1
        self.staged_ts = event.ts

    def _take_staged(self) -> tuple[list[str], int | None]:
        """Return the staged statements (a few multi-row ones) and clear them."""
        parts = list(self.staged)
        if self._bar_rows:
            parts.append(
                "INSERT INTO live_bar (session, ts, symbol, open, high, low, close, "
                "volume) VALUES " + ",".join(self._bar_rows) + " ON CONFLICT DO NOTHING"
            )
            parts.append(
                "INSERT INTO live_equity (session, ts, equity, cash) VALUES "
                + ",".join(self._eq_rows)
                + " ON CONFLICT (session, ts) DO UPDATE SET "
                "equity = EXCLUDED.equity, cash = EXCLUDED.cash"
            )
        for sym, price in self._marks.items():
            parts.append(
                self.q(
                    "UPDATE live_position SET last_price = %s WHERE session = %s AND symbol = %s",
                    (price, self.session, sym),
                )
            )
        if self._session_row is not None:
            ts, bad, state, equity, day_key, day_start = self._session_row
            parts.append(
                self.q(
                    "UPDATE live_session SET last_bar_ts = %s, bars = bars + %s, bad_bars = %s, "
                    "engine_state = %s, equity = %s, day_key = %s, day_start_equity = %s, "
                    "updated_at = clock_timestamp() WHERE id = %s",
                    (ts, self._nbars, bad, state, equity, day_key, day_start, self.session),
                )
            )
        through = self.staged_ts
        self._clear_staged()
        return parts, through

    def _clear_staged(self) -> None:
        self.staged, self.staged_ts = [], None
        self._bar_rows, self._eq_rows, self._marks = [], [], {}
        self._session_row = None
        self._nbars = 0

    def stage_event(
        self,
        kind: str,
        message: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Stage an event row (stored with the next write)."""
        self.staged.append(
            self.q(
                "INSERT INTO live_event (session, kind, message, detail) VALUES (%s,%s,%s,%s)",
                (
                    self.session,
                    kind,
                    message[:2000],
                    json.dumps(clean(dict(detail or {})), default=str),
                ),
            )
        )

    def flush(self) -> tuple[bool, bool, str | None]:
        """Store the staged bars; return the session's (halted, flatten_requested,
        halt_reason) flags, which operators may have changed."""
        return self._commit_staged([], [])

    def _commit_staged(self, head: list[str], parts: list[str]) -> tuple[bool, bool, str | None]:
        """Run ``head``, the staged bars and ``parts`` as one transaction; return the flags."""
        staged, through = self._take_staged()
        # no explicit BEGIN: several statements in one query run as one implicit transaction,
        # and the last statement's rows (the flags) come back
        rows = self.exec(
            ";".join(
                [
                    *head,
                    *staged,
                    *parts,
                    self.q(
                        "SELECT halted, flatten_requested, halt_reason FROM live_session "
                        "WHERE id = %s",
                        (self.session,),
                    ),
                ]
            ),
            fetch=True,
        )
        if through is not None:
            self.flushed_ts = through
        return bool(rows[0][0]), bool(rows[0][1]), rows[0][2]

    def clear_flatten(self) -> None:
        """The flatten is done: staged, stored with the bar that did it (and its state)."""
        self.staged.append(
            self.q(
                "UPDATE live_session SET flatten_requested = false WHERE id = %s",
                (self.session,),
            )
        )


# ----- reading and controlling sessions from elsewhere (CLI, monitor_api) ---------------------
def _one_session(conn: psycopg2.extensions.connection, session: str) -> SessionRow:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_SESSION_COLS} FROM live_session WHERE id = %s", (session,))
        row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"session {session!r}: no such live session")
    return _session(row)


def halt_session(
    conn: psycopg2.extensions.connection, session: str, *, reason: str = "", flatten: bool = False
) -> dict[str, Any]:
    """Ask a session to halt (and optionally flatten); the service acts on its next bar."""
    _one_session(conn, session)
    why = reason or "halted by an operator"
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE live_session SET halted = true, halt_reason = %s, halted_at = "
            "clock_timestamp(), flatten_requested = flatten_requested OR %s WHERE id = %s",
            (why, flatten, session),
        )
        cur.execute(
            "INSERT INTO live_event (session, kind, message, detail) VALUES (%s, 'halt', %s, %s)",
            (session, why, json.dumps({"flatten": flatten, "by": "operator"})),
        )
    conn.commit()
    return session_summary(conn, _one_session(conn, session))


def resume_session(conn: psycopg2.extensions.connection, session: str) -> dict[str, Any]:
    """Clear a session's halt; the service trades again from its next bar."""
    _one_session(conn, session)
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE live_session SET halted = false, halt_reason = NULL, halted_at = "
            "NULL, flatten_requested = false WHERE id = %s",
            (session,),
        )
        cur.execute(
            "INSERT INTO live_event (session, kind, message) VALUES "
            "(%s, 'resume', 'resumed by an operator')",
            (session,),
        )
    conn.commit()
    return session_summary(conn, _one_session(conn, session))


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
        cur.execute(f"SELECT {_SESSION_COLS} FROM live_session ORDER BY created_at, id")
        return [_session(r) for r in cur.fetchall()]


def list_sessions(conn: psycopg2.extensions.connection) -> list[dict[str, Any]]:
    return [session_summary(conn, s) for s in session_rows(conn)]


def get_session(conn: psycopg2.extensions.connection, session: str) -> dict[str, Any]:
    return session_summary(conn, _one_session(conn, session))


def equity_points(
    conn: psycopg2.extensions.connection, session: str, limit: int = 5000
) -> list[dict[str, Any]]:
    """Return the session's equity curve (thinned to about ``limit`` points plus the last)."""
    _one_session(conn, session)
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
