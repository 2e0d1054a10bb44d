"""Market profiles: a market's trading rules and a run's costs, and the rule table compiled
code reads.

A :class:`MarketProfile` holds a market's rules (lot size, shorting, T+1, daily price limits,
stamp duty) and the run's costs (commission rate and minimum, slippage). Compiled code reads
them as a rule table: one float64 row per instrument (:func:`rule_table`), taken for an order
by :func:`instrument_rules`. Every row is the profile's today; rules that differ by instrument
(board, listing status) or by date (fee tables, suspensions) belong in these two functions,
and every caller (the backtest kernel, the live order manager, the paper broker) gets them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from numba import njit

from easyquant.errors import ConfigError

BUY, SELL = 1, -1
MARKET, LIMIT, STOP = 0, 1, 2
KIND_NAMES = ("market", "limit", "stop")
# Time in force of a limit or stop order that does not fill at once: good till cancelled (it
# keeps working until it fills, is cancelled or is replaced) or day (it also expires at the
# end of the trading day it was placed on).
GTC, DAY = 0, 1
TIF_NAMES = ("gtc", "day")
# When a decision made at a bar executes: the next bar's open, or the same bar's close.
FILLS = ("next_open", "close")

# Why an order did not fill (or filled only in part).
(
    FILLED,
    NOT_TRIGGERED,
    PRICE_LIMIT,
    T_PLUS_ONE,
    NO_CASH,
    NO_SHORT,
    LOT,
    NO_PRICE,
    HALTED,
    VOLUME,
) = range(10)
REASONS = (
    "filled",
    "not triggered",
    "at the daily price limit",
    "T+1: bought today",
    "not enough cash",
    "shorting not allowed",
    "below one lot",
    "no price",
    "suspended",
    "volume limit",
)
N_REASONS = len(REASONS)

# Columns of a rule table row (see MarketProfile.vector).
C_RATE, C_MIN, C_STAMP, C_SLIP, C_LOT, C_SHORT, C_T1, C_LIMIT, C_TICK = range(9)
# per instrument and date (easyquant.execution.dated): transfer fee rate (both sides), the
# minimum order (buys; sells below it only as the whole remainder), suspended (1: no fill)
C_TRANSFER, C_MIN_ORDER, C_HALT = range(9, 12)
# the run's volume participation: the largest fraction of a bar's volume one fill may take
# (0: no cap)
C_VOLFRAC = 12
N_RULES = 13


@dataclass(frozen=True)
class MarketProfile:
    """A market's trading rules and costs.

    ``lot``: shares per lot (0 = fractional). ``price_limit``: daily move limit as a fraction of
    the previous day's close (0 = none). ``stamp_duty``: rate charged on sells.
    ``commission``: rate of traded value; ``min_commission``: minimum per order.
    ``slippage_bps``: price worsened by this many basis points on every fill.
    ``utc_offset_hours``: the exchange's clock, for trading days (T+1, price limits).
    ``max_volume_fraction``: a fill takes at most this fraction of the bar's volume, rounded
    down to whole lots; the rest keeps working on later bars (0 = no cap).
    """

    name: str
    lot: float = 1.0
    allow_short: bool = True
    t_plus_one: bool = False
    price_limit: float = 0.0
    stamp_duty: float = 0.0
    commission: float = 0.0
    min_commission: float = 0.0
    slippage_bps: float = 0.0
    tick: float = 0.01
    utc_offset_hours: float = 0.0
    periods_per_year: int = 252
    max_volume_fraction: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "lot": self.lot >= 0,
            "price_limit": 0 <= self.price_limit < 1,
            "stamp_duty": 0 <= self.stamp_duty < 1,
            "commission": 0 <= self.commission < 1,
            "min_commission": self.min_commission >= 0,
            "slippage_bps": 0 <= self.slippage_bps < 10_000,
            "tick": self.tick >= 0,
            "max_volume_fraction": 0 <= self.max_volume_fraction <= 1,
        }
        for key, ok in checks.items():
            value = getattr(self, key)
            if not ok or not math.isfinite(float(value)):
                raise ConfigError(f"market {self.name}: {key} out of range, got {value!r}")

    def with_costs(self, **changes: Any) -> MarketProfile:
        """Return a copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def vector(self) -> np.ndarray:
        """Return the rules as the float64 vector the compiled code reads."""
        v = np.zeros(N_RULES)
        v[C_RATE], v[C_MIN], v[C_STAMP] = self.commission, self.min_commission, self.stamp_duty
        v[C_SLIP], v[C_LOT], v[C_SHORT] = self.slippage_bps, self.lot, float(self.allow_short)
        v[C_T1], v[C_LIMIT], v[C_TICK] = float(self.t_plus_one), self.price_limit, self.tick
        v[C_VOLFRAC] = self.max_volume_fraction
        return v

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict; the volume cap only when one is set (stored configurations
        of runs without one stay as they were)."""
        out = asdict(self)
        if not self.max_volume_fraction:
            del out["max_volume_fraction"]
        return out


PROFILES: dict[str, MarketProfile] = {
    "us": MarketProfile("us", lot=1, allow_short=True, utc_offset_hours=-5.0),
    "cn": MarketProfile(
        "cn",
        lot=100,
        allow_short=False,
        t_plus_one=True,
        price_limit=0.10,
        stamp_duty=0.0005,
        min_commission=5.0,
        utc_offset_hours=8.0,
    ),
    "crypto": MarketProfile("crypto", lot=0, allow_short=False, tick=0.0, periods_per_year=365),
}


def get_profile(name: str, **costs: Any) -> MarketProfile:
    """Return the named market profile with optional cost overrides (commission=, ...)."""
    if name not in PROFILES:
        raise ConfigError(f"unknown market {name!r}: expected one of {', '.join(PROFILES)}")
    return PROFILES[name].with_costs(**costs)


def rule_table(profile: MarketProfile, m: int) -> np.ndarray:
    """Return the rule table for ``m`` instruments: one row of ``profile.vector()`` each."""
    return np.ascontiguousarray(np.tile(profile.vector(), (max(m, 1), 1)))


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def instrument_rules(table: np.ndarray, s: int) -> np.ndarray:
    """Return the rules row of instrument ``s`` (the rule-table column of its symbol)."""
    return table[s]
