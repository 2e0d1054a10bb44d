"""Brokers: one protocol, and the paper venue that fills with the backtest's fill and cost model.

The paper broker is a venue with its own ledger (``paper_*`` tables): every order message it
receives (duplicates included), its orders, fills, positions and cash. It is another party to
the service, so reconciling the service's ledger against it at start-up is a real comparison.

Orders are immediate-or-cancel against the bar the venue currently sees: a market, limit or
stop order fills (wholly or in part, by :func:`easyquant.backtest.market.fill_order`) at the
bar's open (or close) or not at all; what is not filled is cancelled with the model's reason.
That is the backtest's execution, order for order.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import psycopg2
import psycopg2.extensions

from easyquant.backtest.market import Bar, MarketProfile, fill_order
from easyquant.config import Settings
from easyquant.errors import BrokerError, ConfigError
from easyquant.live.bars import BarEvent

BROKERS = ("paper",)
DAY_NS = 86_400_000_000_000
TERMINAL = ("filled", "partial", "rejected", "cancelled")


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

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ConfigError(f"order {self.client_order_id}: side must be buy or sell")
        if not self.quantity > 0:
            raise ConfigError(f"order {self.client_order_id}: quantity must be > 0")


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

    def order(self, client_order_id: str) -> OrderReport | None:
        """Return the venue's report of an order, or None when the venue never received it."""

    def open_orders(self) -> list[OrderReport]: ...

    def fills(self, after: int = 0) -> list[tuple[int, BrokerFill]]:
        """Return ``(sequence, fill)`` pairs with sequence > ``after``, in order."""

    def positions(self) -> dict[str, float]: ...

    def cash(self) -> float: ...

    def close(self) -> None: ...


def _as_ts(ns: int | None) -> Any:
    if ns is None:
        return None
    import pandas as pd

    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime(warn=False)


def _ns(value: Any) -> int | None:
    if value is None:
        return None
    import pandas as pd

    return int(pd.Timestamp(value).value)


class PaperBroker:
    """The paper venue: account ``account`` with its own tables, filling by the shared model."""

    name = "paper"
    #: the venue's ledger lives in the service's database (one write-ahead log orders both)
    shares_database = True

    def __init__(
        self, settings: Settings, account: str, profile: MarketProfile, *, initial_cash: float
    ) -> None:
        self.settings = settings
        self.account = account
        self.profile = profile
        self.initial_cash = float(initial_cash)
        self._conn: psycopg2.extensions.connection | None = None
        self._lock = threading.Lock()
        self._cash = 0.0
        self._pos: dict[str, list[float]] = {}  # symbol -> [quantity, bought_day, bought_qty]
        self._known: set[str] = set()
        self._bars: dict[str, Any] = {}
        self._last_close: dict[str, float] = {}
        self._ref: dict[str, float] = {}
        self._day: int | None = None
        self._offset = int(profile.utc_offset_hours * 3600e9)

    # ----- connection and state -------------------------------------------------------------
    def _db(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            raise BrokerUnavailable(f"paper venue {self.account}: not connected")
        return self._conn

    def _exec(self, query: str, params: Any = None, fetch: bool = False) -> list[tuple[Any, ...]]:
        try:
            with self._db().cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if fetch else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            self._drop()
            raise BrokerUnavailable(
                f"paper venue {self.account}: database unreachable: "
                f"{str(exc).strip().splitlines()[0] if str(exc) else exc}"
            ) from exc
        except psycopg2.Error as exc:
            with contextlib.suppress(psycopg2.Error):
                self._db().cursor().execute("ROLLBACK")
            raise BrokerError(f"paper venue {self.account}: {str(exc).strip()}") from exc

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def connect(self) -> None:
        """Open the venue's connection; create the account on first use; load its state."""
        self._drop()
        try:
            self._conn = psycopg2.connect(
                self.settings.dsn(),
                connect_timeout=3,
                application_name=f"easyquant-paper-{self.account}"[:60],
                options="-c synchronous_commit=off",
            )
        except psycopg2.OperationalError as exc:
            raise BrokerUnavailable(f"paper venue {self.account}: database unreachable") from exc
        self._conn.autocommit = True
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

    def close(self) -> None:
        self._drop()

    # ----- market data ----------------------------------------------------------------------
    def on_market(self, event: BarEvent) -> None:
        """Take one timestamp's bars: the prices orders fill against until the next event."""
        day = (event.ts + self._offset) // DAY_NS
        if self._day is not None and day != self._day:
            self._ref = dict(self._last_close)  # previous trading day's close (price limits)
        self._day = day
        self._bars = dict(event.bars)
        for sym, bar in event.bars.items():
            self._last_close[sym] = bar.close

    # ----- orders ---------------------------------------------------------------------------
    def submit(self, order: OrderRequest, *, at_close: bool = False) -> OrderReport:
        with self._lock:
            if order.client_order_id in self._known:
                # a repeated message: recorded as received, never executed twice
                self._exec(
                    "INSERT INTO paper_submission (account, client_order_id) VALUES (%s, %s)",
                    (self.account, order.client_order_id),
                )
                rep = self.order(order.client_order_id)
                assert rep is not None
                return rep
            bar = self._bars.get(order.symbol)
            pos = self._pos.get(order.symbol, [0.0, -1.0, 0.0])
            day = self._day if self._day is not None else 0
            if bar is None:
                qty, price, fees, reason = 0.0, float("nan"), 0.0, "no price"
            else:
                bought = pos[2] if pos[1] == day else 0.0
                res = fill_order(
                    self.profile,
                    side=order.side,
                    quantity=order.quantity,
                    bar=Bar(
                        bar.open,
                        bar.high,
                        bar.low,
                        bar.close,
                        self._ref.get(order.symbol, float("nan")),
                    ),
                    kind=order.kind,
                    price=order.price,
                    cash=self._cash,
                    position=pos[0],
                    bought_today=bought,
                    at_close=at_close,
                )
                qty, price, fees, reason = res.quantity, res.price, res.fees, res.reason
            status = (
                ("filled" if qty >= order.quantity - 1e-12 else "partial")
                if qty > 0
                else "rejected"
            )
            bar_ts = _as_ts(order.bar_ts)
            parts = [
                _q(
                    self._conn,
                    "INSERT INTO paper_submission (account, client_order_id) VALUES (%s, %s)",
                    (self.account, order.client_order_id),
                ),
                _q(
                    self._conn,
                    "INSERT INTO paper_order (account, client_order_id, symbol, side, "
                    "quantity, kind, price, bar_ts, status, filled_qty, reason) VALUES "
                    "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (
                        self.account,
                        order.client_order_id,
                        order.symbol,
                        order.side,
                        order.quantity,
                        order.kind,
                        order.price,
                        bar_ts,
                        status,
                        qty,
                        reason,
                    ),
                ),
            ]
            fills: tuple[BrokerFill, ...] = ()
            new_cash, new_pos = self._cash, list(pos)
            if qty > 0:
                signed = qty if order.side == "buy" else -qty
                fill = BrokerFill(
                    f"{self.account}/{order.client_order_id}/1",
                    order.client_order_id,
                    order.symbol,
                    signed,
                    price,
                    fees,
                    order.bar_ts,
                )
                fills = (fill,)
                new_cash = self._cash - (signed * price + fees)  # as the backtest computes it
                new_pos[0] = pos[0] + signed
                if abs(new_pos[0]) < 1e-12:
                    new_pos[0] = 0.0
                if order.side == "buy":
                    if new_pos[1] != day:
                        new_pos[1], new_pos[2] = float(day), 0.0
                    new_pos[2] += qty
                parts += [
                    _q(
                        self._conn,
                        "INSERT INTO paper_fill (fill_id, account, client_order_id, "
                        "symbol, quantity, price, fees, bar_ts) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                        (
                            fill.fill_id,
                            self.account,
                            order.client_order_id,
                            order.symbol,
                            signed,
                            price,
                            fees,
                            bar_ts,
                        ),
                    ),
                    _q(
                        self._conn,
                        "INSERT INTO paper_position (account, symbol, quantity, "
                        "bought_day, bought_qty) VALUES (%s,%s,%s,%s,%s) ON CONFLICT (account, "
                        "symbol) DO UPDATE SET quantity = EXCLUDED.quantity, bought_day = "
                        "EXCLUDED.bought_day, bought_qty = EXCLUDED.bought_qty",
                        (self.account, order.symbol, new_pos[0], int(new_pos[1]), new_pos[2]),
                    ),
                    _q(
                        self._conn,
                        "UPDATE paper_account SET cash = %s WHERE account = %s",
                        (new_cash, self.account),
                    ),
                ]
            self._exec("BEGIN;" + ";".join(parts) + ";COMMIT")
            self._cash = new_cash
            self._pos[order.symbol] = new_pos
            self._known.add(order.client_order_id)
            return OrderReport(
                order.client_order_id, order.client_order_id, status, qty, reason, fills
            )

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
                BrokerFill(r[1], r[2], r[3], float(r[4]), float(r[5]), float(r[6]), _ns(r[7])),
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
    name: str, settings: Settings, account: str, profile: MarketProfile, *, initial_cash: float
) -> Broker:
    """Build a broker by name (``paper``); ConfigError for an unknown one."""
    if name == "paper":
        return PaperBroker(settings, account, profile, initial_cash=initial_cash)
    raise ConfigError(f"broker: expected one of {', '.join(BROKERS)}, got {name!r}")
