"""The backtest engine: strategy decisions in, a compiled loop applies the market's fill rules.

A decision made at bar ``t`` (from bars ``0..t``) becomes a pending order when it differs from
the symbol's previous decision; the order executes at bar ``t+1``'s open (``fill="next_open"``,
default) or at bar ``t``'s close (``fill="close"``), and stays pending (for example at the
daily price limit, or under T+1) until it fills or a new decision replaces it. At each fill the
target is turned into a quantity from the equity at that moment; sells go before buys so cash
is shared across symbols.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from easyquant.backtest import market as mk
from easyquant.backtest.market import MarketProfile, get_profile
from easyquant.errors import ConfigError
from easyquant.strategy.base import Bars, Decisions, Strategy

FILLS = ("next_open", "close")


@njit(cache=True, nogil=True)
def day_ids(ns: np.ndarray, offset_ns: int) -> np.ndarray:
    """Return the trading-day number of each timestamp (ns since epoch, UTC) in a clock."""
    out = np.empty(len(ns), dtype=np.int64)
    for i in range(len(ns)):
        out[i] = (ns[i] + offset_ns) // 86_400_000_000_000
    return out


@njit(cache=True, nogil=True)
def previous_day_close(close: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Return, for each bar and symbol, the last close of the previous trading day."""
    n, m = close.shape
    out = np.full((n, m), np.nan)
    last = np.full(m, np.nan)
    ref = np.full(m, np.nan)
    for t in range(n):
        if t > 0 and day[t] != day[t - 1]:
            ref[:] = last
        for s in range(m):
            out[t, s] = ref[s]
            c = close[t, s]
            if c == c:
                last[s] = c
    return out


@njit(cache=True, nogil=True)
def _grow(a: np.ndarray, n: int) -> np.ndarray:
    b = np.empty(max(n, 2 * len(a)), dtype=a.dtype)
    b[: len(a)] = a
    return b


@njit(cache=True, nogil=True)
def simulate(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
             ref_close: np.ndarray, day: np.ndarray, target: np.ndarray, kind: np.ndarray,
             oprice: np.ndarray, has_orders: bool, cfg: np.ndarray, cash0: float,
             at_close: bool, shares_mode: bool):  # type: ignore[no-untyped-def]
    """Run the fill loop; return the equity curve, whether a position is held at each bar's
    close, the lowest and final cash, fills, rejection counts, final positions and last marks."""
    n, m = close.shape
    pos = np.zeros(m)
    cash = cash0
    mark = np.full(m, np.nan)
    last_t = np.full(m, np.nan)
    last_k = np.full(m, -1)
    last_p = np.full(m, np.nan)
    pend = np.zeros(m, dtype=np.bool_)
    pend_t = np.zeros(m)
    pend_k = np.zeros(m, dtype=np.int64)
    pend_p = np.zeros(m)
    buy_day = np.full(m, -1, dtype=np.int64)
    buy_qty = np.zeros(m)
    equity = np.empty(n)
    held = np.empty(n, dtype=np.uint8)
    min_cash = cash0
    cap = 256
    f_bar = np.empty(cap, dtype=np.int64)
    f_sym = np.empty(cap, dtype=np.int64)
    f_qty = np.empty(cap)
    f_px = np.empty(cap)
    f_fee = np.empty(cap)
    nf = 0
    rejects = np.zeros(8, dtype=np.int64)
    npend = 0
    for t in range(n):
        for phase in range(2):
            # phase 0: before the decision (fills at this bar's open for next_open)
            # phase 1: after it (fills at this bar's close for close)
            if phase == 1:
                for s in range(m):
                    c = close[t, s]
                    if c == c:
                        mark[s] = c
                    tg = target[t, s]
                    if tg == tg:
                        k = kind[t, s] if has_orders else 0
                        p = oprice[t, s] if has_orders and k != 0 else np.nan
                        same_p = (p == last_p[s]) or (p != p and last_p[s] != last_p[s])
                        if tg != last_t[s] or k != last_k[s] or not same_p:
                            last_t[s] = tg
                            last_k[s] = k
                            last_p[s] = p
                            if not pend[s]:
                                npend += 1
                            pend[s] = True
                            pend_t[s] = tg
                            pend_k[s] = k
                            pend_p[s] = p
            if npend == 0 or (phase == 0) == at_close:
                continue
            # equity at this moment, marking at the execution price where there is one
            eq = cash
            for s in range(m):
                px = close[t, s] if at_close else open_[t, s]
                if not px == px:
                    px = mark[s]
                if pos[s] != 0 and px == px:
                    eq += pos[s] * px
            for side_pass in range(2):  # sells first, then buys
                for s in range(m):
                    if not pend[s]:
                        continue
                    o = open_[t, s]
                    h = high[t, s]
                    lo = low[t, s]
                    c = close[t, s]
                    if shares_mode:
                        desired = pend_t[s]
                        side = mk.BUY if desired > pos[s] else mk.SELL
                    else:
                        ref_px = c if at_close else o
                        if not ref_px == ref_px:
                            ref_px = mark[s]
                        if not ref_px == ref_px:
                            continue
                        side = mk.BUY if pend_t[s] * eq > pos[s] * ref_px else mk.SELL
                        raw = mk.trigger_price(side, pend_k[s], pend_p[s], o, h, lo, c, at_close)
                        if not raw == raw:
                            raw = ref_px
                        est = mk.slipped(side, raw, cfg)
                        desired = mk.target_quantity(pend_t[s], eq, est, cfg)
                        if desired > 0:
                            desired = mk.round_lot(desired, cfg[mk.C_LOT])
                        elif desired < 0:
                            desired = -mk.round_lot(-desired, cfg[mk.C_LOT])
                        if desired == pos[s]:
                            side = 0
                        else:
                            side = mk.BUY if desired > pos[s] else mk.SELL
                    delta = desired - pos[s]
                    if delta == 0:
                        pend[s] = False
                        npend -= 1
                        continue
                    if (side == mk.SELL) != (side_pass == 0):
                        continue
                    bought = buy_qty[s] if buy_day[s] == day[t] else 0.0
                    sellable = max(pos[s], 0.0) - bought
                    q, px, fee, why = mk.try_fill(side, abs(delta), pend_k[s], pend_p[s], o, h,
                                                  lo, c, at_close, ref_close[t, s], cash, pos[s],
                                                  sellable, cfg)
                    if q <= 0:
                        rejects[why] += 1
                        # not enough cash for one lot stays pending (the price may fall), as
                        # a peer engine re-submitting each bar would; shorting never will
                        if why == mk.NO_SHORT:
                            pend[s] = False
                            npend -= 1
                        continue
                    if why != mk.FILLED:
                        rejects[why] += 1
                    signed = q * side
                    pos[s] += signed
                    if abs(pos[s]) < 1e-12:
                        pos[s] = 0.0
                    cash -= signed * px + fee
                    if side == mk.BUY:
                        if buy_day[s] != day[t]:
                            buy_day[s] = day[t]
                            buy_qty[s] = 0.0
                        buy_qty[s] += q
                    if nf == len(f_bar):
                        f_bar = _grow(f_bar, nf + 1)
                        f_sym = _grow(f_sym, nf + 1)
                        f_qty = _grow(f_qty, nf + 1)
                        f_px = _grow(f_px, nf + 1)
                        f_fee = _grow(f_fee, nf + 1)
                    f_bar[nf] = t
                    f_sym[nf] = s
                    f_qty[nf] = signed
                    f_px[nf] = px
                    f_fee[nf] = fee
                    nf += 1
                    # a T+1 or price-limit partial stays pending for the rest
                    if why != mk.T_PLUS_ONE:
                        pend[s] = False
                        npend -= 1
        eq = cash
        h = 0
        for s in range(m):
            if pos[s] != 0:
                h = 1
                if mark[s] == mark[s]:
                    eq += pos[s] * mark[s]
        equity[t] = eq
        held[t] = h
        if cash < min_cash:
            min_cash = cash
    return (equity, held, min_cash, cash, f_bar[:nf], f_sym[:nf], f_qty[:nf], f_px[:nf],
            f_fee[:nf], rejects, pos, mark)


@njit(cache=True, nogil=True)
def round_trips(f_bar: np.ndarray, f_sym: np.ndarray, f_qty: np.ndarray, f_px: np.ndarray,
                f_fee: np.ndarray, m: int, last_mark: np.ndarray):  # type: ignore[no-untyped-def]
    """Group fills into trades: a trade opens when a symbol leaves flat and closes at flat.

    Return arrays (symbol, entry bar, exit bar (-1 open), signed quantity, entry price, exit
    price, pnl net of fees, fees). Open trades are valued at ``last_mark``.
    """
    nf = len(f_bar)
    sym = np.empty(nf, dtype=np.int64)
    eb = np.empty(nf, dtype=np.int64)
    xb = np.empty(nf, dtype=np.int64)
    qty = np.empty(nf)
    ep = np.empty(nf)
    xp = np.empty(nf)
    pnl = np.empty(nf)
    fee = np.empty(nf)
    open_q = np.zeros(m)
    in_q = np.zeros(m)
    in_v = np.zeros(m)
    out_q = np.zeros(m)
    out_v = np.zeros(m)
    fees = np.zeros(m)
    start = np.full(m, -1, dtype=np.int64)
    nt = 0
    for i in range(nf):
        s = f_sym[i]
        q = f_qty[i]
        px = f_px[i]
        fe = f_fee[i]
        while q != 0:
            if open_q[s] == 0 or (open_q[s] > 0) == (q > 0):
                if open_q[s] == 0:
                    start[s] = f_bar[i]
                    in_q[s] = 0.0
                    in_v[s] = 0.0
                    out_q[s] = 0.0
                    out_v[s] = 0.0
                    fees[s] = 0.0
                open_q[s] += q
                in_q[s] += abs(q)
                in_v[s] += abs(q) * px
                fees[s] += fe
                q = 0.0
            else:
                take = min(abs(q), abs(open_q[s]))
                share = take / abs(q)
                fees[s] += fe * share
                fe -= fe * share
                out_q[s] += take
                out_v[s] += take * px
                direction = 1.0 if open_q[s] > 0 else -1.0
                open_q[s] -= direction * take
                q += direction * take
                if abs(open_q[s]) < 1e-12:
                    open_q[s] = 0.0
                    avg_in = in_v[s] / in_q[s]
                    avg_out = out_v[s] / out_q[s]
                    sym[nt] = s
                    eb[nt] = start[s]
                    xb[nt] = f_bar[i]
                    qty[nt] = direction * in_q[s]
                    ep[nt] = avg_in
                    xp[nt] = avg_out
                    pnl[nt] = direction * (out_v[s] - avg_in * out_q[s]) - fees[s]
                    fee[nt] = fees[s]
                    nt += 1
    for s in range(m):
        if open_q[s] != 0:
            direction = 1.0 if open_q[s] > 0 else -1.0
            avg_in = in_v[s] / in_q[s]
            realised = direction * (out_v[s] - avg_in * out_q[s])
            sym[nt] = s
            eb[nt] = start[s]
            xb[nt] = -1
            qty[nt] = direction * in_q[s]
            ep[nt] = avg_in
            xp[nt] = last_mark[s]
            pnl[nt] = realised + open_q[s] * (last_mark[s] - avg_in) - fees[s]
            fee[nt] = fees[s]
            nt += 1
    return sym[:nt], eb[:nt], xb[:nt], qty[:nt], ep[:nt], xp[:nt], pnl[:nt], fee[:nt]


@dataclass
class BacktestConfig:
    """How to run: starting cash, market profile (with costs), execution timing, benchmark."""

    cash: float = 100_000.0
    market: MarketProfile = field(default_factory=lambda: get_profile("us"))
    fill: str = "next_open"
    benchmark: str | None = None

    def __post_init__(self) -> None:
        if not (self.cash > 0 and np.isfinite(self.cash)):
            raise ConfigError(f"cash: must be > 0, got {self.cash!r}")
        if self.fill not in FILLS:
            raise ConfigError(f"fill: expected one of {', '.join(FILLS)}, got {self.fill!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"cash": self.cash, "fill": self.fill, "benchmark": self.benchmark,
                "market": self.market.as_dict()}


@dataclass
class Simulation:
    """The raw outcome of one run (arrays); :class:`BacktestResult` adds metrics and frames."""

    index: pd.DatetimeIndex
    symbols: list[str]
    equity: np.ndarray
    held: np.ndarray
    min_cash: float
    final_cash: float
    fills: dict[str, np.ndarray]
    trades: dict[str, np.ndarray]
    rejects: dict[str, int]
    final_position: np.ndarray


class Prepared:
    """Market arrays for one data set and profile, computed once and reused across runs."""

    def __init__(self, data: Bars, config: BacktestConfig) -> None:
        self.data = data
        self.config = config
        prof = config.market
        self.cfg = prof.vector()
        self._day: np.ndarray | None = None
        self._ref: np.ndarray | None = None
        self.needs_days = prof.t_plus_one or prof.price_limit > 0

    @property
    def day(self) -> np.ndarray:
        if self._day is None:
            if self.needs_days:
                off = int(self.config.market.utc_offset_hours * 3600e9)
                self._day = day_ids(self.data.index.asi8, off)
            else:
                self._day = np.zeros(len(self.data), dtype=np.int64)
        return self._day

    @property
    def ref_close(self) -> np.ndarray:
        if self._ref is None:
            if self.config.market.price_limit > 0:
                self._ref = previous_day_close(self.data.close, self.day)
            else:
                self._ref = np.full((1, 1), np.nan)
        return self._ref

    def run(self, decisions: Decisions, sizing: str = "weight") -> Simulation:
        """Execute ``decisions`` over this data; return the raw simulation."""
        d = self.data
        n, m = d.close.shape
        if decisions.target.shape != (n, m):
            raise ConfigError(f"decisions shape {decisions.target.shape} != data shape {(n, m)}")
        has_orders = decisions.kind is not None and bool(np.any(decisions.kind))
        kind = decisions.kind if has_orders else np.zeros((1, 1), dtype=np.int8)
        price = decisions.price if has_orders else np.zeros((1, 1))
        ref = self.ref_close
        if ref.shape != (n, m):
            ref = np.broadcast_to(np.full((1, 1), np.nan), (n, m))
        eq, held, min_cash, cash, fb, fs, fq, fp, ff, rej, pos, last_mark = simulate(
            d.open, d.high, d.low, d.close, ref, self.day,
            np.ascontiguousarray(decisions.target), kind, price, has_orders, self.cfg,
            float(self.config.cash), self.config.fill == "close", sizing == "shares",
        )
        tr = round_trips(fb, fs, fq, fp, ff, m, last_mark)
        names = ("symbol", "entry_bar", "exit_bar", "quantity", "entry_price", "exit_price",
                 "pnl", "fees")
        return Simulation(
            index=d.index, symbols=d.symbols, equity=eq, held=held, min_cash=min_cash,
            final_cash=cash,
            fills={"bar": fb, "symbol": fs, "quantity": fq, "price": fp, "fees": ff},
            trades=dict(zip(names, tr, strict=True)),
            rejects={mk.REASONS[i]: int(rej[i]) for i in range(1, len(rej)) if rej[i]},
            final_position=pos,
        )


def simulate_strategy(strategy: Strategy, data: Bars, config: BacktestConfig,
                      prepared: Prepared | None = None) -> tuple[Decisions, Simulation]:
    """Compute ``strategy``'s decisions on ``data`` and execute them."""
    prep = prepared or Prepared(data, config)
    decisions = strategy.decisions(data)
    return decisions, prep.run(decisions, strategy.sizing)
