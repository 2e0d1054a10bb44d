"""A live session's store in PostgreSQL: its connection, its transactions (one round trip
each), the session row (state, halt flags, engine state), and the bars it took, staged and
stored in groups.

Each group of writes is one round trip (several statements in one query string, which
PostgreSQL runs as one transaction). The connection commits asynchronously
(``synchronous_commit = off``) except for writes that must wait for the disk (the order
write-ahead, a halt, the final state): a bar's progress can be redone from the feed, an order
that may have reached the venue must never be forgotten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions

from easyquant.config import Settings
from easyquant.errors import ConfigError, DatabaseError
from easyquant.live.bars import BarEvent, LiveBar
from easyquant.live.pg import Holder, close_quietly, execute, open_connection
from easyquant.live.queries import one_session, session_summary
from easyquant.live.records import (
    SESSION_COLS,
    DatabaseUnavailable,
    Position,
    SessionRow,
    clean,
    ns_of,
    session_row,
    ts_of,
)


@dataclass
class SessionStore:
    """One session's store over one connection (the service is its only writer)."""

    settings: Settings
    session: str
    conn: psycopg2.extensions.connection | None = None
    positions: dict[str, Position] = field(default_factory=dict)
    cash: float = 0.0
    staged: list[str] = field(default_factory=list)
    staged_ts: int | None = None  # the last bar staged and not yet stored
    flushed_ts: int | None = None  # the last bar stored
    _bar_rows: list[str] = field(default_factory=list)
    _eq_rows: list[str] = field(default_factory=list)
    _marks: dict[str, float | None] = field(default_factory=dict)
    _session_row: tuple[Any, ...] | None = None
    _nbars: int = 0

    @property
    def _holder(self) -> Holder:
        return Holder(f"live session {self.session}", DatabaseUnavailable, DatabaseError)

    # ----- connection -----------------------------------------------------------------------
    def connect(self) -> None:
        self.close()
        self.conn = open_connection(
            self.settings,
            f"easyquant-live-{self.session}",
            "-c synchronous_commit=off -c statement_timeout=10000",
            self._holder,
        )
        self._clear_staged()

    def close(self) -> None:
        close_quietly(self.conn)
        self.conn = None

    def _cur(self) -> psycopg2.extensions.cursor:
        if self.conn is None or self.conn.closed:
            raise DatabaseUnavailable(f"live session {self.session}: not connected to the database")
        return self.conn.cursor()

    def exec(self, query: str, params: Any = None, *, fetch: bool = False) -> list[Any]:
        return execute(self._cur, query, params, fetch, self._holder, self.close)

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
            f"SELECT {SESSION_COLS} FROM live_session WHERE id = %s", (self.session,), fetch=True
        )
        return session_row(rows[0]) if rows else None

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
        """Store an event row at once (with whatever is staged)."""
        self.run([self._event_sql(kind, message, detail)])

    def _event_sql(self, kind: str, message: str, detail: Mapping[str, Any] | None) -> str:
        return self.q(*event_statement(self.session, kind, message, detail))

    def set_halt(self, reason: str, *, flatten: bool, staged: bool = False) -> None:
        """Halt the session (and ask for a flatten). ``staged``: stored with the bar being
        processed, in its transaction (a crash before it is stored redoes the bar, and its
        halt with it), rather than at once."""
        parts = [self.q(*st) for st in halt_statements(self.session, reason, flatten, {})]
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
        self.staged.append(self._event_sql(kind, message, detail))

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


Statement = tuple[str, tuple[Any, ...]]


def event_statement(
    session: str, kind: str, message: str, detail: Mapping[str, Any] | None
) -> Statement:
    """The statement that appends one event to a session's history."""
    return (
        "INSERT INTO live_event (session, kind, message, detail) VALUES (%s,%s,%s,%s)",
        (session, kind, message[:2000], json.dumps(clean(dict(detail or {})), default=str)),
    )


def halt_statements(
    session: str, reason: str, flatten: bool, detail: Mapping[str, Any]
) -> list[Statement]:
    """Set a session's halt flags (a flatten request is kept until done) and record the halt."""
    return [
        (
            "UPDATE live_session SET halted = true, halt_reason = %s, halted_at = "
            "clock_timestamp(), flatten_requested = flatten_requested OR %s WHERE id = %s",
            (reason[:2000], flatten, session),
        ),
        event_statement(session, "halt", reason, {"flatten": flatten, **detail}),
    ]


# ----- controlling a session from elsewhere (CLI, monitor_api) --------------------------------
def halt_session(
    conn: psycopg2.extensions.connection, session: str, *, reason: str = "", flatten: bool = False
) -> dict[str, Any]:
    """Ask a session to halt (and optionally flatten); the service acts on its next bar."""
    one_session(conn, session)
    with conn.cursor() as cur:
        for st in halt_statements(
            session, reason or "halted by an operator", flatten, {"by": "operator"}
        ):
            cur.execute(*st)
    conn.commit()
    return session_summary(conn, one_session(conn, session))


def resume_session(conn: psycopg2.extensions.connection, session: str) -> dict[str, Any]:
    """Clear a session's halt; the service trades again from its next bar."""
    one_session(conn, session)
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE live_session SET halted = false, halt_reason = NULL, halted_at = "
            "NULL, flatten_requested = false WHERE id = %s",
            (session,),
        )
        cur.execute(*event_statement(session, "resume", "resumed by an operator", None))
    conn.commit()
    return session_summary(conn, one_session(conn, session))
