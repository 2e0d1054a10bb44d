"""Dated trading costs held as data: one table (``costs.csv`` beside this module), a source for
each row.

A row gives a fee's rate (a fraction of traded value) and minimum (per order) for one market,
exchange and side, from its ``start`` day until the next row for the same market, exchange, fee
and side. ``exchange`` ``*`` covers every exchange of the market; a row for one exchange wins
over ``*``. Fees: ``stamp_duty``, ``transfer_fee``, ``commission`` (the market's usual minimum;
the rate is the account's own). Before a fee's first row the fee is not charged.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from easyquant.errors import ConfigError

TABLE = Path(__file__).with_name("costs.csv")
FEES = ("stamp_duty", "transfer_fee", "commission")
SIDES = ("buy", "sell", "both")
FIELDS = ("market", "exchange", "fee", "side", "rate", "minimum", "start", "source")


@dataclass(frozen=True)
class CostRow:
    """One dated rate. ``line`` is the row's line in its file, for messages."""

    market: str
    exchange: str
    fee: str
    side: str
    rate: float
    minimum: float
    start: dt.date
    source: str
    line: int = 0

    def applies(self, side: str) -> bool:
        return self.side == "both" or self.side == side


class CostTable:
    """The dated rates of every market, looked up by market, exchange, fee, side and day."""

    def __init__(self, rows: Iterable[CostRow], origin: str = "costs") -> None:
        self.rows = sorted(rows, key=lambda r: (r.market, r.exchange, r.fee, r.side, r.start))
        seen: dict[tuple[str, str, str, str, dt.date], CostRow] = {}
        for r in self.rows:
            key = (r.market, r.exchange, r.fee, r.side, r.start)
            if key in seen:
                raise ConfigError(
                    f"{origin}: line {r.line}: start {r.start} repeats line {seen[key].line} "
                    f"for {r.market} {r.exchange} {r.fee} {r.side}"
                )
            seen[key] = r
        self.origin = origin

    @property
    def markets(self) -> set[str]:
        return {r.market for r in self.rows}

    def _candidates(self, market: str, fee: str, side: str, exchange: str) -> list[CostRow]:
        own = [
            r
            for r in self.rows
            if r.market == market and r.fee == fee and r.exchange == exchange and r.applies(side)
        ]
        if own:
            return own
        return [
            r
            for r in self.rows
            if r.market == market and r.fee == fee and r.exchange == "*" and r.applies(side)
        ]

    def row(
        self, market: str, fee: str, side: str, day: dt.date, exchange: str = "*"
    ) -> CostRow | None:
        """Return the row in force on ``day`` (None before the fee's first row)."""
        self._check(market, fee, side)
        found = None
        for r in self._candidates(market, fee, side, exchange):
            if r.start <= day:
                found = r
        return found

    def rate(self, market: str, fee: str, side: str, day: dt.date, exchange: str = "*") -> float:
        """Return the rate in force on ``day`` (0 before the fee's first row)."""
        r = self.row(market, fee, side, day, exchange)
        return r.rate if r else 0.0

    def minimum(self, market: str, fee: str, side: str, day: dt.date, exchange: str = "*") -> float:
        """Return the per-order minimum in force on ``day`` (0 before the fee's first row)."""
        r = self.row(market, fee, side, day, exchange)
        return r.minimum if r else 0.0

    def rates(
        self, market: str, fee: str, side: str, days: np.ndarray, exchange: str = "*"
    ) -> np.ndarray:
        """Return the rate in force on each of ``days`` (``datetime64`` values), vectorised."""
        self._check(market, fee, side)
        rows = self._candidates(market, fee, side, exchange)
        d = np.asarray(days).astype("datetime64[D]")
        if not rows:
            return np.zeros(d.shape)
        starts = np.array([r.start for r in rows], dtype="datetime64[D]")
        values = np.r_[0.0, [r.rate for r in rows]]
        return values[np.searchsorted(starts, d, side="right")]

    def _check(self, market: str, fee: str, side: str) -> None:
        if market not in self.markets:
            known = ", ".join(sorted(self.markets))
            raise ConfigError(f"{self.origin}: no rows for market {market!r} (has {known})")
        if fee not in FEES:
            raise ConfigError(f"fee: expected one of {', '.join(FEES)}, got {fee!r}")
        if side not in ("buy", "sell"):
            raise ConfigError(f"side: expected buy or sell, got {side!r}")


def read_table(path: str | Path) -> CostTable:
    """Read and check a cost table; raise ConfigError naming the file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the cost table: {exc}") from None
    lines = [(n, s) for n, s in enumerate(text.splitlines(), 1) if not s.startswith("#")]
    reader = csv.DictReader([s for _, s in lines])
    missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{path}: header lacks {', '.join(missing)} (expected {FIELDS})")
    rows = []
    for (line, _), values in zip(lines[1:], reader, strict=False):
        rows.append(_row(values, f"{path}: line {line}", line))
    return CostTable(rows, origin=str(path))


def _row(values: dict[str, str], where: str, line: int) -> CostRow:
    def text(name: str) -> str:
        return (values.get(name) or "").strip()

    def number(name: str, upper: float) -> float:
        try:
            x = float(text(name))
        except ValueError:
            raise ConfigError(f"{where}: {name}: expected a number, got {text(name)!r}") from None
        if not (math.isfinite(x) and 0 <= x < upper):
            raise ConfigError(f"{where}: {name}: expected 0 <= {name} < {upper:g}, got {x!r}")
        return x

    for name, allowed in (("fee", FEES), ("side", SIDES)):
        if text(name) not in allowed:
            raise ConfigError(
                f"{where}: {name}: expected one of {', '.join(allowed)}, got {text(name)!r}"
            )
    for name in ("market", "exchange", "source"):
        if not text(name):
            raise ConfigError(f"{where}: {name}: empty (every row needs one)")
    try:
        start = dt.date.fromisoformat(text("start"))
    except ValueError:
        raise ConfigError(
            f"{where}: start: expected a date like 2023-08-28, got {text('start')!r}"
        ) from None
    return CostRow(
        market=text("market"),
        exchange=text("exchange"),
        fee=text("fee"),
        side=text("side"),
        rate=number("rate", 1.0),
        minimum=number("minimum", 1e9),
        start=start,
        source=text("source"),
        line=line,
    )


@cache
def shipped() -> CostTable:
    """Return the cost table shipped with the package (read once)."""
    return read_table(TABLE)
