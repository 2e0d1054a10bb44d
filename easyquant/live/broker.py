"""Brokers: one protocol, and the paper venue that fills with the backtest's fill and cost model.

The paper broker is a venue with its own ledger (``paper_*`` tables): every order message it
receives (duplicates included), its orders, fills, positions and cash. It is another party to
the service, so reconciling the service's ledger against it at start-up is a real comparison.

An order is tried against the bar the venue currently sees, by the execution layer's rules
(:func:`easyquant.execution.rules.fill_order`), at the bar's open (or close). A market order
that does not fill is done with the rules' reason. A limit or stop order that does not fill
keeps working (``open``) with the rest of its quantity: the venue tries it once at each later
moment it is asked about (:meth:`PaperBroker.poll`), until it fills, is cancelled, or, a day
order, its trading day ends. Under a volume cap a market order may fill in part (``partial``,
the order manager sends the rest at the next moment); a limit or stop order's rest keeps
working. That is the backtest's execution, order for order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import psycopg2.extensions

from easyquant.config import Settings
from easyquant.errors import BrokerError, ConfigError
from easyquant.execution.dated import rules_on_day
from easyquant.execution.market import FILLED, REASONS, TIF_NAMES, MarketProfile
from easyquant.execution.rules import Bar, fill_order
from easyquant.execution.working import stays_pending
from easyquant.live.bars import BarEvent
from easyquant.live.pg import Holder, close_quietly, execute, open_connection
from easyquant.live.records import ns_of, ts_of

BROKERS = ("paper",)
DAY_NS = 86_400_000_000_000
TERMINAL = ("filled", "partial", "rejected", "cancelled")
REASON_CODES = {name: code for code, name in enumerate(REASONS)}
EXPIRED = "day order expired"


class BrokerUnavailable(BrokerError):
    """The venue cannot be reached right now; the order's fate is unknown until reconciled."""


@dataclass(frozen=True)
class OrderRequest:
    """An order as sent: the client order id is the idempotency key at the venue."""

    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: float
    kind: str = "market"
    price: float | None = None
    bar_ts: int | None = None
    tif: str = "gtc"

    def __post_init__(self) -> None:
        if self.tif not in TIF_NAMES:
            raise ConfigError(f"order {self.client_order_id}: time in force must be gtc or day")
        if self.side not in ("buy", "sell"):
            raise ConfigError(f"order {self.client_order_id}: side must be buy or sell")
        if not self.quantity > 0:
            raise ConfigError(f"order {self.client_order_id}: quantity must be > 0")


@dataclass
class _Working:
    """A limit or stop order working at the paper venue."""

    symbol: str
    side: str
    quantity: float
    kind: str
    price: float | None
    tif: str
    placed_day: int
    filled: float
    fills: int
    tried: tuple[int | None, str | None]  # the last moment (bar time, phase) it was tried


@dataclass(frozen=True)
class BrokerFill:
    fill_id: str
    client_order_id: str
    symbol: str
    quantity: float  # signed: + bought, - sold
    price: float
    fees: float
    bar_ts: int | None = None


@dataclass(frozen=True)
class OrderReport:
    """The venue's view of one order."""

    client_order_id: str
    broker_order_id: str
    status: str  # open | filled | partial | rejected | cancelled
    filled_qty: float
    reason: str
    fills: tuple[BrokerFill, ...] = field(default_factory=tuple)


@runtime_checkable
class Broker(Protocol):
    """What the service needs from a venue (paper now, real venues later)."""

    name: str

    def connect(self) -> None:
        """(Re)open the connection and load the venue's state."""

    def on_market(self, event: BarEvent) -> None:
        """The market data the venue sees (a real venue has its own; the paper one is fed)."""

    def submit(self, order: OrderRequest, *, at_close: bool = False) -> OrderReport:
        """Send one order; return the venue's report. BrokerUnavailable when unreachable."""

    def poll(self, client_order_id: str, *, at_close: bool = False) -> OrderReport | None:
        """Return a working order's report as of the venue's current bar."""

    def cancel(self, client_order_id: str) -> OrderReport | None:
        """Cancel a working order; return its report (None: the venue never received it)."""

    def order(self, client_order_id: str) -> OrderReport | None:
        """Return the venue's report of an order, or None when the venue never received it."""

    def open_orders(self) -> list[OrderReport]: ...

    def fills(self, after: int = 0) -> list[tuple[int, BrokerFill]]:
        """Return ``(sequence, fill)`` pairs with sequence > ``after``, in order."""

    def positions(self) -> dict[str, float]: ...

    def cash(self) -> float: ...

    def close(self) -> None: ...


class PaperBroker:
    """The paper venue: account ``account`` with its own tables, filling by the shared model."""

    name = "paper"
    #: the venue's ledger lives in the service's database (one write-ahead log orders both)
    shares_database = True

    def __init__(
        self,
        settings: Settings,
        account: str,
        profile: MarketProfile,
        *,
        initial_cash: float,
        instruments: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.account = account
        self.profile = profile
        #: the instrument master's rows by symbol: the rules the backtest applies to them
        self.instruments = instruments
        self.initial_cash = float(initial_cash)
        self._conn: psycopg2.extensions.connection | None = None
        self._holder = Holder(f"paper venue {account}", BrokerUnavailable, BrokerError)
        self._lock = threading.Lock()
        self._cash = 0.0
        self._pos: dict[str, list[float]] = {}  # symbol -> [quantity, bought_day, bought_qty]
        self._known: set[str] = set()
        self._bars: dict[str, Any] = {}
        self._last_close: dict[str, float] = {}
        self._ref: dict[str, float] = {}
        self._day: int | None = None
        self._ts: int | None = None
        self._working: dict[str, _Working] = {}
        self._offset = int(profile.utc_offset_hours * 3600e9)

    # ----- connection and state -------------------------------------------------------------
    def _db(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            raise BrokerUnavailable(f"paper venue {self.account}: not connected")
        return self._conn

    def _exec(self, query: str, params: Any = None, fetch: bool = False) -> list[tuple[Any, ...]]:
        return execute(lambda: self._db().cursor(), query, params, fetch, self._holder, self._drop)

    def _drop(self) -> None:
        close_quietly(self._conn)
        self._conn = None

    def connect(self) -> None:
        """Open the venue's connection; create the account on first use; load its state."""
        self._drop()
        self._conn = open_connection(
            self.settings,
            f"easyquant-paper-{self.account}",
            "-c synchronous_commit=off",
            self._holder,
        )
        self._exec(
            "INSERT INTO paper_account (account, initial_cash, cash, config) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (account) DO NOTHING",
            (
                self.account,
                self.initial_cash,
                self.initial_cash,
                json.dumps(self.profile.as_dict()),
            ),
        )
        rows = self._exec(
            "SELECT cash FROM paper_account WHERE account = %s", (self.account,), fetch=True
        )
        self._cash = float(rows[0][0])
        self._pos = {
            r[0]: [float(r[1]), float(r[2]) if r[2] is not None else -1.0, float(r[3])]
            for r in self._exec(
                "SELECT symbol, quantity, bought_day, bought_qty FROM "
                "paper_position WHERE account = %s",
                (self.account,),
                fetch=True,
            )
        }
        self._known = {
            r[0]
            for r in self._exec(
                "SELECT client_order_id FROM paper_order WHERE account = %s",
                (self.account,),
                fetch=True,
            )
        }

        self._working = {
            r[0]: _Working(
                r[1],
                r[2],
                float(r[3]),
                r[4],
                r[5],
                r[6],
                int(r[7]),
                float(r[8]),
                int(r[9]),
                (ns_of(r[10]), r[11]),
            )
            for r in self._exec(
                "SELECT o.client_order_id, symbol, side, quantity, kind, price, tif, "
                "placed_day, filled_qty, (SELECT count(*) FROM paper_fill f WHERE f.account = "
                "o.account AND f.client_order_id = o.client_order_id), tried_ts, tried_phase "
                "FROM paper_order o WHERE account = %s AND status = 'open'",
                (self.account,),
                fetch=True,
            )
        }

    def close(self) -> None:
        self._drop()

    # ----- market data ----------------------------------------------------------------------
    def on_market(self, event: BarEvent) -> None:
        """Take one timestamp's bars: the prices orders fill against until the next event."""
        day = (event.ts + self._offset) // DAY_NS
        if self._day is not None and day != self._day:
            self._ref = dict(self._last_close)  # previous trading day's close (price limits)
        self._day = day
        self._ts = event.ts
        self._bars = dict(event.bars)
        for sym, bar in event.bars.items():
            self._last_close[sym] = bar.close

    # ----- orders ---------------------------------------------------------------------------
    def _try(
        self,
        symbol: str,
        side: str,
        quantity: float,
        kind: str,
        price: float | None,
        at_close: bool,
    ) -> tuple[float, float, float, str]:
        """Try ``quantity`` against the current bar by the execution layer's rules."""
        bar = self._bars.get(symbol)
        if bar is None:
            return 0.0, float("nan"), 0.0, "no price"
        pos = self._pos.get(symbol, [0.0, -1.0, 0.0])
        res = fill_order(
            self.profile,
            side=side,
            quantity=quantity,
            bar=Bar(
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                self._ref.get(symbol, float("nan")),
                bar.volume,
            ),
            kind=kind,
            price=price,
            cash=self._cash,
            position=pos[0],
            bought_today=pos[2] if pos[1] == self._today() else 0.0,
            at_close=at_close,
            rules=rules_on_day(self.profile, symbol, self._ts or 0, self.instruments),
        )
        return res.quantity, res.price, res.fees, res.reason

    def _today(self) -> int:
        return self._day if self._day is not None else 0

    def _fill_parts(
        self, cid: str, symbol: str, side: str, qty: float, price: float, fees: float, n: int
    ) -> tuple[list[str], BrokerFill]:
        """The statements of one fill (its position and cash with it), applied in memory."""
        pos = self._pos.get(symbol, [0.0, -1.0, 0.0])
        signed = qty if side == "buy" else -qty
        fill = BrokerFill(f"{self.account}/{cid}/{n}", cid, symbol, signed, price, fees, self._ts)
        new_cash = self._cash - (signed * price + fees)  # as the backtest computes it
        new_pos = list(pos)
        new_pos[0] = pos[0] + signed
        if abs(new_pos[0]) < 1e-12:
            new_pos[0] = 0.0
        if side == "buy":
            if new_pos[1] != self._today():
                new_pos[1], new_pos[2] = float(self._today()), 0.0
            new_pos[2] += qty
        parts = [
            _q(
                self._conn,
                "INSERT INTO paper_fill (fill_id, account, client_order_id, symbol, quantity, "
                "price, fees, bar_ts) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                (fill.fill_id, self.account, cid, symbol, signed, price, fees, ts_of(self._ts)),
            ),
            _q(
                self._conn,
                "INSERT INTO paper_position (account, symbol, quantity, bought_day, bought_qty) "
                "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (account, symbol) DO UPDATE SET quantity = "
                "EXCLUDED.quantity, bought_day = EXCLUDED.bought_day, bought_qty = "
                "EXCLUDED.bought_qty",
                (self.account, symbol, new_pos[0], int(new_pos[1]), new_pos[2]),
            ),
            _q(
                self._conn,
                "UPDATE paper_account SET cash = %s WHERE account = %s",
                (new_cash, self.account),
            ),
        ]
        self._cash = new_cash
        self._pos[symbol] = new_pos
        return parts, fill

    @staticmethod
    def _status(kind: str, wanted: float, total: float, qty: float, reason: str) -> str:
        """``filled``; ``open`` for a limit or stop order that keeps working (the execution
        layer's rule); else ``partial`` or ``rejected``."""
        if total >= wanted - 1e-12:
            return "filled"
        if kind != "market" and stays_pending(qty, REASON_CODES.get(reason, FILLED)):
            return "open"
        return "partial" if total > 0 else "rejected"

    def submit(self, order: OrderRequest, *, at_close: bool = False) -> OrderReport:
        """Take one order and try it against the current bar. A limit or stop order that does
        not fill keeps working (``open``) until it fills, is cancelled or (a day order) its
        trading day ends; the rest is done at once."""
        with self._lock:
            received = _q(
                self._conn,
                "INSERT INTO paper_submission (account, client_order_id) VALUES (%s, %s)",
                (self.account, order.client_order_id),
            )
            if order.client_order_id in self._known:
                # a repeated message: recorded as received, never executed twice
                self._exec(received)
                rep = self.order(order.client_order_id)
                assert rep is not None
                return rep
            qty, price, fees, reason = self._try(
                order.symbol, order.side, order.quantity, order.kind, order.price, at_close
            )
            status = self._status(order.kind, order.quantity, qty, qty, reason)
            parts = [
                received,
                _q(
                    self._conn,
                    "INSERT INTO paper_order (account, client_order_id, symbol, side, quantity, "
                    "kind, price, bar_ts, status, filled_qty, reason, tif, placed_day, "
                    "tried_ts, tried_phase, last_reason) VALUES "
                    "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (
                        self.account,
                        order.client_order_id,
                        order.symbol,
                        order.side,
                        order.quantity,
                        order.kind,
                        order.price,
                        ts_of(order.bar_ts),
                        status,
                        qty,
                        reason,
                        order.tif,
                        self._today(),
                        ts_of(self._ts),
                        "c" if at_close else "o",
                        reason,
                    ),
                ),
            ]
            fills: tuple[BrokerFill, ...] = ()
            if qty > 0:
                more, fill = self._fill_parts(
                    order.client_order_id, order.symbol, order.side, qty, price, fees, 1
                )
                parts += more
                fills = (fill,)
            self._exec("BEGIN;" + ";".join(parts) + ";COMMIT")
            self._known.add(order.client_order_id)
            if status == "open":
                self._working[order.client_order_id] = _Working(
                    order.symbol, order.side, order.quantity, order.kind, order.price,
                    order.tif, self._today(), qty, 1 if qty > 0 else 0,
                    (self._ts, "c" if at_close else "o"),
                )  # fmt: skip
            return OrderReport(
                order.client_order_id, order.client_order_id, status, qty, reason, fills
            )

    def poll(self, client_order_id: str, *, at_close: bool = False) -> OrderReport | None:
        """Return a working order's report after the venue saw this moment's bar: the paper
        venue tries it here, once per moment (a real venue works its orders on its own).
        A day order from an earlier trading day ends unfilled ("day order expired")."""
        with self._lock:
            w = self._working.get(client_order_id)
            moment = (self._ts, "c" if at_close else "o")
            if w is None or w.tried == moment:
                return self.order(client_order_id)
            if w.tif == "day" and w.placed_day != self._today():
                self._end(client_order_id, "cancelled", EXPIRED, moment)
                return self.order(client_order_id)
            qty, price, fees, reason = self._try(
                w.symbol, w.side, w.quantity - w.filled, w.kind, w.price, at_close
            )
            total = w.filled + qty
            status = self._status(w.kind, w.quantity, total, qty, reason)
            parts = [
                _q(
                    self._conn,
                    "UPDATE paper_order SET status = %s, filled_qty = %s, reason = %s, "
                    "last_reason = %s, tried_ts = %s, tried_phase = %s WHERE account = %s AND "
                    "client_order_id = %s",
                    (
                        status,
                        total,
                        reason,
                        reason,
                        ts_of(moment[0]),
                        moment[1],
                        self.account,
                        client_order_id,
                    ),
                )
            ]
            if qty > 0:
                w.fills += 1
                more, _ = self._fill_parts(
                    client_order_id, w.symbol, w.side, qty, price, fees, w.fills
                )
                parts += more
            self._exec("BEGIN;" + ";".join(parts) + ";COMMIT")
            w.filled, w.tried = total, moment
            if status != "open":
                del self._working[client_order_id]
            return self.order(client_order_id)

    def cancel(self, client_order_id: str) -> OrderReport | None:
        """Cancel a working order (a repeated or late cancel changes nothing); return the
        order's report, or None when the venue never received it."""
        with self._lock:
            self._exec(
                "INSERT INTO paper_cancel (account, client_order_id) VALUES (%s, %s)",
                (self.account, client_order_id),
            )
            if client_order_id in self._working:
                self._end(client_order_id, "cancelled", "cancelled", None)
            return self.order(client_order_id)

    def _end(
        self, cid: str, status: str, reason: str, moment: tuple[int | None, str] | None
    ) -> None:
        self._exec(
            "UPDATE paper_order SET status = %s, reason = %s, tried_ts = COALESCE(%s, tried_ts), "
            "tried_phase = COALESCE(%s, tried_phase) WHERE account = %s AND client_order_id = %s",
            (
                status,
                reason,
                ts_of(moment[0]) if moment else None,
                moment[1] if moment else None,
                self.account,
                cid,
            ),
        )
        del self._working[cid]

    def order(self, client_order_id: str) -> OrderReport | None:
        rows = self._exec(
            "SELECT status, filled_qty, reason FROM paper_order WHERE account = %s AND "
            "client_order_id = %s",
            (self.account, client_order_id),
            fetch=True,
        )
        if not rows:
            return None
        status, filled, reason = rows[0]
        fills = tuple(f for _, f in self._fills("AND client_order_id = %s", (client_order_id,)))
        return OrderReport(client_order_id, client_order_id, status, float(filled), reason, fills)

    def open_orders(self) -> list[OrderReport]:
        rows = self._exec(
            "SELECT client_order_id FROM paper_order WHERE account = %s AND "
            "status = 'open' ORDER BY venue_order_id",
            (self.account,),
            fetch=True,
        )
        return [rep for (cid,) in rows if (rep := self.order(cid)) is not None]

    def _fills(self, where: str, params: Sequence[Any]) -> list[tuple[int, BrokerFill]]:
        rows = self._exec(
            "SELECT seq, fill_id, client_order_id, symbol, quantity, price, fees, bar_ts FROM "
            f"paper_fill WHERE account = %s {where} ORDER BY seq",
            (self.account, *params),
            fetch=True,
        )
        return [
            (
                int(r[0]),
                BrokerFill(r[1], r[2], r[3], float(r[4]), float(r[5]), float(r[6]), ns_of(r[7])),
            )
            for r in rows
        ]

    def fills(self, after: int = 0) -> list[tuple[int, BrokerFill]]:
        return self._fills("AND seq > %s", (after,))

    def positions(self) -> dict[str, float]:
        return {s: p[0] for s, p in self._pos.items() if p[0] != 0}

    def cash(self) -> float:
        return self._cash


def _q(conn: psycopg2.extensions.connection | None, query: str, params: Sequence[Any]) -> str:
    if conn is None:
        raise BrokerUnavailable("paper venue: not connected")
    return conn.cursor().mogrify(query, params).decode()


def make_broker(
    name: str,
    settings: Settings,
    account: str,
    profile: MarketProfile,
    *,
    initial_cash: float,
    instruments: Mapping[str, Any] | None = None,
) -> Broker:
    """Build a broker by name (``paper``); ConfigError for an unknown one. ``instruments``: the
    instrument master's rows of the session's symbols."""
    if name == "paper":
        return PaperBroker(
            settings, account, profile, initial_cash=initial_cash, instruments=instruments
        )
    raise ConfigError(f"broker: expected one of {', '.join(BROKERS)}, got {name!r}")
