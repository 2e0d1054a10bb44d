"""The live ledger's rows as Python sees them: orders, positions, sessions, and the conversions
between them and PostgreSQL (times as ns since the epoch, JSON without NaN)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from easyquant.errors import DatabaseError

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
    "tif",
    "cancel_requested_at IS NOT NULL",
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
    tif: str = "gtc"
    cancel_requested: bool = False

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


SESSION_COLS = (
    "id, strategy, params, symbols, market, freq, feed, broker, config, state, "
    "initial_cash, cash, equity, last_bar_ts, bars, bad_bars, engine_state, day_key, "
    "day_start_equity, halted, halt_reason, flatten_requested"
)


def session_row(row: Sequence[Any]) -> SessionRow:
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


def order_row(row: Sequence[Any]) -> OrderRow:
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
        tif=row[16],
        cancel_requested=bool(row[17]),
    )
