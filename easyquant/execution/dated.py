"""Rules by instrument and date: the rule table the fill code reads, one row per instrument for
each stretch of bars over which no instrument's rules change.

A market with dated rules (``cn``: A-shares) gets, per instrument and trading day, its daily
price limit (:mod:`~easyquant.execution.boards`: board, date, ST, listing), its stamp duty and
transfer fee (:mod:`~easyquant.execution.costs`), its minimum order and lot, and whether it is
suspended. The instrument comes from the instrument master where the caller passes a row,
else from its code (``easyquant.data.instruments.derive``). Any other market gets one stretch:
the profile's rules for every instrument, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from easyquant.errors import ConfigError
from easyquant.execution import boards, costs
from easyquant.execution import market as mk

DATED_MARKETS = ("cn",)
# the instrument master names exchanges by MIC; the cost table by their short names
_SHORT = {"XSHG": "SH", "XSHE": "SZ", "BJSE": "BJ", "XBSE": "BJ"}


def _instrument(symbol: str, instruments: Mapping[str, Any] | None) -> Any:
    """Return the master's row for ``symbol``, else what its code implies; None for a symbol
    that is no A-share code (a demo or test symbol: the profile's rules apply to it)."""
    from easyquant.data.instruments import derive

    if instruments and symbol in instruments:
        return instruments[symbol]
    try:
        inst = derive(symbol)
    except ConfigError:
        return None
    return inst if inst.currency == "CNY" else None


def _sessions(listed: dt.date | None, days: np.ndarray) -> np.ndarray:
    """Return each day's trading-session number since listing (1 = the listing day; 0 before)."""
    if listed is None:
        return np.full(len(days), 10**6)
    first = np.datetime64(listed, "D")
    if len(days) and first >= days[0]:  # the data's own trading days since the listing
        return np.cumsum(days >= first) * (days >= first)
    # listed before the data starts: weekdays since the listing (the exemption is long over)
    return np.busday_count(first, days) + 1


def rule_table(
    profile: mk.MarketProfile,
    symbols: Sequence[str],
    index: pd.DatetimeIndex,
    instruments: Mapping[str, Any] | None = None,
    close: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(table, stretch)``: ``table[k, s]`` the rules row of instrument ``s`` during
    stretch ``k`` and ``stretch[t]`` the stretch of bar ``t`` (all zero without dated rules).

    With the closes (``(bars, symbols)``, nan where a symbol has no bar), a master row whose
    listing day is after the symbol's first bar is refused, naming the symbol and its row."""
    m, n = len(symbols), len(index)
    base = mk.rule_table(profile, m)
    if profile.name not in DATED_MARKETS or n == 0:
        return base[None].copy(), np.zeros(n, dtype=np.int64)
    off = np.timedelta64(int(profile.utc_offset_hours * 3600), "s")
    days = (index.tz_convert("UTC").tz_localize(None).values + off).astype("datetime64[D]")
    table = costs.shipped()
    # a stamp duty given for the run (not the profile's own) wins over the dated table
    stamp_given = profile.stamp_duty != mk.PROFILES[profile.name].stamp_duty
    varying = np.zeros((n, m, 4))  # limit, stamp duty, transfer fee, suspended
    for s, sym in enumerate(symbols):
        inst = _instrument(sym, instruments)
        if inst is None:  # the profile's own rules on every day
            varying[:, s] = (profile.price_limit, profile.stamp_duty, 0.0, 0.0)
            continue
        if close is not None and inst.listed is not None:
            _check_listing(sym, inst, days, close[:, s])
        lot, minimum = boards.order_rules(inst.board)
        base[s, mk.C_LOT] = lot
        base[s, mk.C_MIN_ORDER] = minimum
        base[s, mk.C_TICK] = inst.tick
        session = _sessions(inst.listed, days)
        st = _covered(inst.st, days)
        halted = _covered(inst.suspended, days)
        limit = np.array(
            [
                boards.price_limit(
                    inst.board, d, st=bool(st[i]), listed=inst.listed, session=int(session[i])
                )
                for i, d in enumerate(days.astype(dt.date))
            ]
        )
        exchange = _SHORT.get(inst.exchange, inst.exchange) or "*"
        varying[:, s, 0] = limit
        varying[:, s, 1] = (
            profile.stamp_duty
            if stamp_given
            else table.rates("cn", "stamp_duty", "sell", days, exchange)
        )
        varying[:, s, 2] = table.rates("cn", "transfer_fee", "buy", days, exchange)
        varying[:, s, 3] = halted
    changed = np.zeros(n, dtype=np.int64)
    changed[1:] = np.any(varying[1:] != varying[:-1], axis=(1, 2))
    stretch = np.cumsum(changed)
    firsts = np.flatnonzero(np.r_[1, changed[1:]])
    out = np.repeat(base[None], len(firsts), axis=0)
    out[:, :, mk.C_LIMIT] = varying[firsts, :, 0]
    out[:, :, mk.C_STAMP] = varying[firsts, :, 1]
    out[:, :, mk.C_TRANSFER] = varying[firsts, :, 2]
    out[:, :, mk.C_HALT] = varying[firsts, :, 3]
    return np.ascontiguousarray(out), stretch


def _check_listing(symbol: str, inst: Any, days: np.ndarray, close: np.ndarray) -> None:
    present = np.flatnonzero(close == close)
    if len(present) and days[present[0]] < np.datetime64(inst.listed, "D"):
        where = f" (row {inst.line})" if getattr(inst, "line", 0) else ""
        raise ConfigError(
            f"instruments: {symbol}{where}: listed: {inst.listed} is after the symbol's first "
            f"bar, {days[present[0]]}"
        )


def _covered(periods: Sequence[Any], days: np.ndarray) -> np.ndarray:
    out = np.zeros(len(days), dtype=bool)
    for p in periods:
        inside = days >= np.datetime64(p.start, "D")
        if p.end is not None:
            inside &= days <= np.datetime64(p.end, "D")
        out |= inside
    return out


def rules_on_day(profile: mk.MarketProfile, symbol: str, ts_ns: int) -> np.ndarray:
    """Return one instrument's rules row on the trading day of bar time ``ts_ns`` (UTC ns):
    the row the backtest uses on that day (the live order manager's and paper broker's call;
    read only). A listing's first days are not known from one bar: they count as limited."""
    day = (int(ts_ns) + int(profile.utc_offset_hours * 3600e9)) // 86_400_000_000_000
    return _row_on(profile, symbol, day)


@lru_cache(maxsize=65_536)
def _row_on(profile: mk.MarketProfile, symbol: str, day: int) -> np.ndarray:
    ts = day * 86_400_000_000_000 - int(profile.utc_offset_hours * 3600e9) + 43_200_000_000_000
    table, _ = rule_table(profile, [symbol], pd.DatetimeIndex([pd.Timestamp(ts, tz="UTC")]))
    row = table[0, 0].copy()
    row.flags.writeable = False
    return row
