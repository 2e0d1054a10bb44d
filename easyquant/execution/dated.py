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
    """Return each day's trading-session number since listing (1 = the listing day; 0 before),
    counted on the exchange calendar (holidays are no sessions)."""
    if listed is None or not len(days):
        return np.full(len(days), 10**6)
    first = np.datetime64(listed, "D")
    cal = _exchange_sessions()
    if first < days.min() - np.timedelta64(60, "D") or not (
        len(cal) and cal[0] <= first and days.max() <= cal[-1]
    ):
        # listed long before these days (the exemption is long over), or outside the
        # calendar's years: weekdays since the listing
        return np.maximum(np.busday_count(first, days) + 1, 0)
    k0 = np.searchsorted(cal, first)  # the listing day's session (or the next one)
    return np.maximum(np.searchsorted(cal, days, side="right") - k0, 0)


@lru_cache(maxsize=1)
def _exchange_sessions() -> np.ndarray:
    """The A-share trading days (Shanghai's calendar; Shenzhen and Beijing keep the same)."""
    from easyquant.data.calendars import get_calendar

    return get_calendar("XSHG").sessions.values.astype("datetime64[D]")


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


def rules_on_day(
    profile: mk.MarketProfile,
    symbol: str,
    ts_ns: int,
    instruments: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Return one instrument's rules row on the trading day of bar time ``ts_ns`` (UTC ns):
    the row the backtest uses on that day (the live order manager's and paper broker's call;
    read only). ``instruments``: the master's rows by symbol, as the backtest is given them
    (board, ST and suspension periods, listing day); without a row, the code's board."""
    day = (int(ts_ns) + int(profile.utc_offset_hours * 3600e9)) // 86_400_000_000_000
    inst = instruments.get(symbol) if instruments else None
    if inst is None:
        return _row_on(profile, symbol, day)
    key = (profile, symbol, day, id(inst))
    hit = _MASTER_ROWS.get(key)
    if hit is None or hit[0] is not inst:
        if len(_MASTER_ROWS) >= 65_536:
            _MASTER_ROWS.clear()
        hit = (inst, _compute_row(profile, symbol, day, {symbol: inst}))
        _MASTER_ROWS[key] = hit
    return hit[1]


# rows computed from master rows: (the row it was computed from, the rules row)
_MASTER_ROWS: dict[tuple[Any, ...], tuple[Any, np.ndarray]] = {}


@lru_cache(maxsize=65_536)
def _row_on(profile: mk.MarketProfile, symbol: str, day: int) -> np.ndarray:
    return _compute_row(profile, symbol, day, None)


def _compute_row(
    profile: mk.MarketProfile, symbol: str, day: int, instruments: Mapping[str, Any] | None
) -> np.ndarray:
    ts = day * 86_400_000_000_000 - int(profile.utc_offset_hours * 3600e9) + 43_200_000_000_000
    index = pd.DatetimeIndex([pd.Timestamp(ts, tz="UTC")])
    table, _ = rule_table(profile, [symbol], index, instruments)
    row = table[0, 0].copy()
    row.flags.writeable = False
    return row
