"""The backtest engine: strategy decisions in, a compiled loop applies the market's fill rules.

A decision made at bar ``t`` (from bars ``0..t``) becomes a pending order when it differs from
the symbol's previous decision; the order executes at bar ``t+1``'s open (``fill="next_open"``,
default) or at bar ``t``'s close (``fill="close"``), and stays pending (for example at the
daily price limit, or under T+1) until it fills or a new decision replaces it. At each fill the
target is turned into a quantity from the equity at that moment; sells go before buys so cash
is shared across symbols. An order whose equity cannot pay for one lot waits (it is re-tried on
every bar, as an engine that re-submits "buy all-in" each bar would) until it can, or until a
new decision replaces it.

The bar loop only marks to market and records changed decisions; the rules run on the bars
with pending orders. While flat (nothing held, no order that could fill) it skips to the next
changed decision; with one symbol the scan itself applies a decision to stay flat, records a
new order, and, when that order cannot pay for one lot at its first try, leaves it waiting.
It also keeps the equity curve's running statistics, so the metrics need no pass over the
curve (``easyquant.backtest.metrics``); the curve itself is replayed from the fills when first
read (:class:`Simulation`). It allocates nothing and runs without reference counting: numba
reference-counts arrays that are re-allocated or passed to calls inside a loop, on every bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from easyquant.backtest import market as mk
from easyquant.backtest.market import MarketProfile, get_profile
from easyquant.backtest.metrics import (
    A_BMEAN,
    A_DOWN,
    A_EX1,
    A_EX2,
    A_FIRST,
    A_LAST,
    A_MAX_DD,
    A_PEAK,
    A_PREV,
    A_SRC,
    A_SUM_EQ,
    A_SUM_R,
    A_SUM_RJ,
    BLOCK,
    I_BARS,
    I_CNT,
    I_EXPOSED,
    I_MAX_DUR,
    I_NEX,
    I_PEAK_T,
    I_RUN,
    bar_return,
    bench_stats,
    finish_accumulators,
    merge_block,
    new_accumulators,
)
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


# rows of the per-symbol scratch array ``work`` of the fill loop
W_SIZE, W_SIDE, W_WAIT, W_THRESHOLD, W_NEXT_OPEN = range(5)
# the fill loop's scalars: cash and the lowest cash
S_CASH, S_MIN_CASH = range(2)


@njit(cache=True, nogil=True)
def longest_gap(ts: np.ndarray) -> int:
    """Return the longest interval between consecutive sorted times (0 for one bar)."""
    g = 0
    for i in range(1, len(ts)):
        g = max(g, ts[i] - ts[i - 1])
    return g


@njit(cache=True, nogil=True)
def _grow_rows(a: np.ndarray, n: int) -> np.ndarray:
    b = np.empty((max(n, 2 * a.shape[0]), a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def _execute(
    t: int,
    at_close: bool,
    shares_mode: bool,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    day: np.ndarray,
    cfg: np.ndarray,
    pos: np.ndarray,
    mark: np.ndarray,
    pend: np.ndarray,
    pend_t: np.ndarray,
    pend_k: np.ndarray,
    pend_p: np.ndarray,
    buy_day: np.ndarray,
    buy_qty: np.ndarray,
    rejects: np.ndarray,
    fills: np.ndarray,
    work: np.ndarray,
    nf: int,
    cash: float,
    npend: int,
) -> tuple[float, int, int]:
    """Execute the pending orders at bar ``t``'s open (or close): sells first, then buys.

    Mutates positions, pending state, rejections and ``fills`` (room for one fill per symbol
    is the caller's job); return the new (cash, pending count, fill count). ``work`` keeps
    each order's size from the sell pass for the buy pass (nothing it depends on changes in
    between unless the symbol itself traded) and marks orders waiting for cash for one lot.
    """
    m = len(pos)
    t_plus_one = cfg[mk.C_T1] > 0
    limits = cfg[mk.C_LIMIT] > 0
    # equity at this moment, marking at the execution price where there is one
    eq = cash
    for s in range(m):
        work[W_SIZE, s] = np.nan
        if pos[s] != 0:
            px = close[t, s] if at_close else open_[t, s]
            if px != px:
                px = mark[s]
            if px == px:
                eq += pos[s] * px
    for side_pass in range(2):  # sells first, then buys
        for s in range(m):
            if not pend[s]:
                continue
            work[W_WAIT, s] = 0.0
            # load only what the rules need: a cold bar's prices cost a cache miss each
            o = open_[t, s]
            c = close[t, s]
            if pend_k[s] != mk.MARKET:
                h = high[t, s]
                lo = low[t, s]
            else:
                h = o
                lo = o
            if side_pass == 1 and work[W_SIZE, s] == work[W_SIZE, s]:
                desired = work[W_SIZE, s]
                side = int(work[W_SIDE, s])
            elif shares_mode:
                desired = pend_t[s]
                side = mk.BUY if desired > pos[s] else mk.SELL
            else:
                ref_px = c if at_close else o
                if ref_px != ref_px:
                    ref_px = mark[s]
                if ref_px != ref_px:
                    continue
                side = mk.BUY if pend_t[s] * eq > pos[s] * ref_px else mk.SELL
                raw = mk.trigger_price(side, pend_k[s], pend_p[s], o, h, lo, c, at_close)
                if raw != raw:
                    raw = ref_px
                est = mk.slipped(side, raw, cfg)
                desired = mk.target_quantity(pend_t[s], eq, est, cfg)
                if desired > 0:
                    desired = mk.round_lot(desired, cfg[mk.C_LOT])
                elif desired < 0:
                    desired = -mk.round_lot(-desired, cfg[mk.C_LOT])
                side = 0 if desired == pos[s] else (mk.BUY if desired > pos[s] else mk.SELL)
            work[W_SIZE, s] = desired
            work[W_SIDE, s] = side
            delta = desired - pos[s]
            if delta == 0:
                if not shares_mode and mk.awaits_one_lot(pend_t[s], desired, pos[s]):
                    work[W_WAIT, s] = 1.0
                    if side_pass == 1:  # the equity cannot pay for one lot: stays pending
                        rejects[mk.NO_CASH] += 1
                    continue
                pend[s] = False
                npend -= 1
                continue
            if (side == mk.SELL) != (side_pass == 0):
                continue
            bought = buy_qty[s] if t_plus_one and buy_day[s] == day[t] else 0.0
            sellable = max(pos[s], 0.0) - bought
            q, px, fee, why = mk.try_fill(
                side,
                abs(delta),
                pend_k[s],
                pend_p[s],
                o,
                h,
                lo,
                c,
                at_close,
                ref_close[t, s] if limits else np.nan,
                cash,
                pos[s],
                sellable,
                cfg,
            )
            if q <= 0:
                rejects[why] += 1
                # not enough cash for one lot stays pending (the price may fall), as a peer
                # engine re-submitting each bar would; shorting never will
                if why == mk.NO_SHORT:
                    pend[s] = False
                    npend -= 1
                continue
            if why != mk.FILLED:
                rejects[why] += 1
            work[W_SIZE, s] = np.nan  # traded: size again in the buy pass
            signed = q * side
            pos[s] += signed
            if abs(pos[s]) < 1e-12:
                pos[s] = 0.0
            cash -= signed * px + fee
            if side == mk.BUY and t_plus_one:
                if buy_day[s] != day[t]:
                    buy_day[s] = day[t]
                    buy_qty[s] = 0.0
                buy_qty[s] += q
            fills[nf, 0] = t
            fills[nf, 1] = s
            fills[nf, 2] = signed
            fills[nf, 3] = px
            fills[nf, 4] = fee
            nf += 1
            # a T+1 or price-limit partial stays pending for the rest
            if why != mk.T_PLUS_ONE:
                pend[s] = False
                npend -= 1
    # the price above which a waiting order still cannot pay for one lot, with the cash as it
    # is now (the equity while nothing is held); with a margin: a price near it takes the
    # full path
    for s in range(m):
        if pend[s] and work[W_WAIT, s] > 0:
            work[W_THRESHOLD, s] = _wait_threshold(pend_t[s], cash, cfg)
    return cash, npend, nf


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def _wait_threshold(w: float, cash: float, cfg: np.ndarray) -> float:
    """The price above which an order for weight ``w`` of the equity (the cash: nothing is
    held) still cannot pay for one lot; with a margin: a price near it takes the full path."""
    lot = cfg[mk.C_LOT]
    if not (cash > 0 and lot > 0):
        return np.inf
    side_sign = 1.0 if w > 0 else -1.0
    slip = cfg[mk.C_SLIP] * 1e-4
    return (
        abs(w)
        * cash
        / ((1.0 + side_sign * slip) * (1.0 + cfg[mk.C_RATE]) * lot * (1.0 - 1e-9))
        * (1.0 + 1e-7)
    )


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def _flat_buy_waits(w: float, o: float, c: float, cash: float, cfg: np.ndarray) -> bool:
    """True when a market buy for weight ``w`` > 0 made while flat, tried at the open ``o``
    (a price), cannot pay for one lot: ``_execute``'s sizing (the equity is the cash), which
    then leaves the order waiting for cash."""
    raw = mk.trigger_price(mk.BUY, mk.MARKET, np.nan, o, o, o, c, False)
    if raw != raw:
        raw = o
    est = mk.slipped(mk.BUY, raw, cfg)
    desired = mk.target_quantity(w, cash, est, cfg)
    if desired > 0:
        desired = mk.round_lot(desired, cfg[mk.C_LOT])
    elif desired < 0:
        desired = -mk.round_lot(-desired, cfg[mk.C_LOT])
    return desired == 0 and mk.awaits_one_lot(w, desired, 0.0)


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def _still_waiting(
    t: int,
    at_close: bool,
    open_: np.ndarray,
    close: np.ndarray,
    pend: np.ndarray,
    pend_k: np.ndarray,
    work: np.ndarray,
) -> int:
    """Return how many orders wait for cash for one lot if every pending order is such a
    market order whose price is still above its threshold, else 0.

    Called only while no position is held: the equity is then the cash, which only a fill
    changes, so a waiting order's outcome depends on the price alone. The full path would
    refuse each of these orders once ("not enough cash"), as the caller counts.
    """
    count = 0
    for s in range(len(pend)):
        if not pend[s]:
            continue
        if work[W_WAIT, s] <= 0 or pend_k[s] != mk.MARKET:
            return 0
        px = close[t, s] if at_close else open_[t, s]
        if not px > work[W_THRESHOLD, s]:  # also a missing price: the full path decides
            return 0
        count += 1
    return count


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def _decide(
    s: int,
    t: int,
    tg: float,
    k: int,
    p: float,
    at_close: bool,
    open_: np.ndarray,
    pos: np.ndarray,
    last_t: np.ndarray,
    last_k: np.ndarray,
    last_p: np.ndarray,
    pend: np.ndarray,
    pend_t: np.ndarray,
    pend_k: np.ndarray,
    pend_p: np.ndarray,
    work: np.ndarray,
    npend: int,
) -> int:
    """Apply symbol ``s``'s changed decision made at bar ``t`` (target ``tg``, order kind
    ``k``, price ``p``): it becomes the pending order; return the pending count."""
    last_t[s] = tg
    last_k[s] = k
    last_p[s] = p
    work[W_WAIT, s] = 0.0
    if tg == 0 and pos[s] == 0:
        # flat, and to stay flat: nothing to execute (it would be done at once); it
        # replaces any pending order
        if pend[s]:
            pend[s] = False
            npend -= 1
        return npend
    if not pend[s]:
        npend += 1
    pend[s] = True
    pend_t[s] = tg
    pend_k[s] = k
    pend_p[s] = p
    if not at_close and t + 1 < len(open_):
        # it executes at the next open: load that price now (the bar loop reads no opens),
        # so the fill does not wait on memory
        work[W_NEXT_OPEN, s] = open_[t + 1, s]
    return npend


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def _phase(
    t: int,
    at_close: bool,
    shares_mode: bool,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    day: np.ndarray,
    cfg: np.ndarray,
    pos: np.ndarray,
    mark: np.ndarray,
    pend: np.ndarray,
    pend_t: np.ndarray,
    pend_k: np.ndarray,
    pend_p: np.ndarray,
    buy_day: np.ndarray,
    buy_qty: np.ndarray,
    rejects: np.ndarray,
    fills: np.ndarray,
    work: np.ndarray,
    nf: int,
    cash: float,
    npend: int,
    n_held: int,
) -> tuple[float, int, int, int]:
    """Execute the pending orders at this moment (skipping orders that still wait for cash);
    return (cash, pending count, fill count, symbols held)."""
    if n_held == 0 and not shares_mode:
        waiting = _still_waiting(t, at_close, open_, close, pend, pend_k, work)
        if waiting > 0:
            rejects[mk.NO_CASH] += waiting
            return cash, npend, nf, n_held
    cash, npend, nf = _execute(
        t,
        at_close,
        shares_mode,
        open_,
        high,
        low,
        close,
        ref_close,
        day,
        cfg,
        pos,
        mark,
        pend,
        pend_t,
        pend_k,
        pend_p,
        buy_day,
        buy_qty,
        rejects,
        fills,
        work,
        nf,
        cash,
        npend,
    )
    n_held = 0
    for s in range(len(pos)):
        if pos[s] != 0:
            n_held += 1
    return cash, npend, nf, n_held


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]
def _span(
    t0: int,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    day: np.ndarray,
    target: np.ndarray,
    kind: np.ndarray,
    oprice: np.ndarray,
    has_orders: bool,
    cfg: np.ndarray,
    at_close: bool,
    shares_mode: bool,
    pos: np.ndarray,
    mark: np.ndarray,
    last_t: np.ndarray,
    last_k: np.ndarray,
    last_p: np.ndarray,
    pend: np.ndarray,
    pend_t: np.ndarray,
    pend_k: np.ndarray,
    pend_p: np.ndarray,
    buy_day: np.ndarray,
    buy_qty: np.ndarray,
    rejects: np.ndarray,
    fills: np.ndarray,
    work: np.ndarray,
    equity: np.ndarray,
    held: np.ndarray,
    keep_curve: bool,
    ts: np.ndarray,
    max_gap: int,
    bench: np.ndarray,
    has_bench: bool,
    acc: np.ndarray,
    iacc: np.ndarray,
    scal: np.ndarray,
    nf: int,
    npend: int,
) -> tuple[int, int, int]:
    """Run bars ``t0..`` to the end, or until ``fills`` may be too small for the next bar
    (then return that bar so the caller can grow it). Nothing is allocated in this loop and
    it runs without reference counting (``_nrt=False``): an array reallocated or passed to a
    call inside a loop costs atomic reference counts on every bar.
    Return (next bar, fill count, pending count).

    Each bar's equity goes into the running statistics of ``acc``/``iacc`` (see
    ``easyquant.backtest.metrics``), and into ``equity``/``held`` when ``keep_curve``."""
    n, m = close.shape
    cash = scal[S_CASH]
    min_cash = scal[S_MIN_CASH]
    # running statistics: sums in locals, the block's deviation sums start afresh per span
    prev = acc[A_PREV]
    sum_r = acc[A_SUM_R]
    down = acc[A_DOWN]
    sum_rj = acc[A_SUM_RJ]
    src = acc[A_SRC]
    bmean = acc[A_BMEAN]
    peak = acc[A_PEAK]
    max_dd = acc[A_MAX_DD]
    sum_eq = acc[A_SUM_EQ]
    cnt = iacc[I_CNT]
    peak_t = iacc[I_PEAK_T]
    max_dur = iacc[I_MAX_DUR]
    exposed = iacc[I_EXPOSED]
    bn = 0  # returns in the block, of which bz zero, deviations of the others from kr
    bz = 0
    kr = 0.0
    s1 = 0.0
    s2 = 0.0
    run_n = iacc[I_RUN]  # bars of the current run of equal equity (``prev``)
    n_held = 0
    for s in range(m):
        if pos[s] != 0:
            n_held += 1
    t = t0
    while t < n:
        # room for one fill per symbol: orders made at this bar may fill at its close
        if nf + m > fills.shape[0]:
            break
        if n_held == 0 and not has_orders and t > 0 and prev == cash and cash != 0:
            # flat, and the equity (the cash) as on the bar before: every bar up to the next
            # changed decision is the same zero return, unless an order fills; skip to it.
            # Pending orders allow it only while each waits for cash for one lot at a price
            # above its threshold (``_still_waiting``: refused once a bar, nothing else).
            waiting = 0
            for j in range(m):
                if pend[j]:
                    if work[W_WAIT, j] > 0 and pend_k[j] == mk.MARKET and not shares_mode:
                        waiting += 1
                    else:
                        waiting = -1
                        break
            u = t
            scanned = False
            refused = 0
            if m == 1 and waiting >= 0:  # one symbol: the same scan, on scalars
                lt = last_t[0] if last_k[0] == 0 else np.nan
                lk_ok = last_k[0] == 0
                threshold = work[W_THRESHOLD, 0] if waiting > 0 else -np.inf
                prices = close if at_close else open_
                seg = t  # the first bar at which the waiting order is refused
                while u < n:
                    tj = target[u, 0]
                    if tj == tj and (tj != lt or not lk_ok):
                        if tj != 0.0 and lk_ok and waiting == 0 and not at_close:
                            # a new order, first tried at the next open: record it here,
                            # as the full path does, and stop at that bar
                            npend = _decide(
                                0, u, tj, 0, np.nan, False, open_, pos, last_t, last_k,
                                last_p, pend, pend_t, pend_k, pend_p, work, npend,
                            )  # fmt: skip
                            u += 1
                            if u < n and tj > 0 and cash > 0 and not shares_mode:
                                # its first try, if it cannot pay for one lot (and this bar
                                # makes no other decision): refused, it waits, scan on
                                o = open_[u, 0]
                                tu = target[u, 0]
                                if (
                                    o == o
                                    and (tu != tu or tu == tj)
                                    and _flat_buy_waits(tj, o, close[u, 0], cash, cfg)
                                ):
                                    refused += 1
                                    work[W_SIZE, 0] = 0.0
                                    work[W_SIDE, 0] = 0.0
                                    work[W_WAIT, 0] = 1.0
                                    threshold = _wait_threshold(tj, cash, cfg)
                                    work[W_THRESHOLD, 0] = threshold
                                    waiting = 1
                                    lt = tj
                                    u += 1
                                    seg = u
                                    continue
                            break
                        # a decision to stay flat only drops the pending order (the full
                        # path's "flat, and to stay flat"): record it and scan on. At the
                        # next open the waiting order is refused first, at the close the
                        # decision comes first
                        if not (
                            tj == 0.0
                            and lk_ok
                            and (waiting == 0 or at_close or prices[u, 0] > threshold)
                        ):
                            break
                        if waiting > 0:
                            refused += waiting * (u - seg + (0 if at_close else 1))
                            waiting = 0
                            threshold = -np.inf
                        npend = _decide(
                            0, u, tj, 0, np.nan, at_close, open_, pos, last_t, last_k, last_p,
                            pend, pend_t, pend_k, pend_p, work, npend,
                        )  # fmt: skip
                        lt = tj
                        u += 1
                        continue
                    if waiting > 0 and not prices[u, 0] > threshold:
                        break
                    u += 1
                refused += waiting * (u - seg)
                scanned = True
            while not scanned and waiting >= 0 and u < n:
                stop = False
                for j in range(m):
                    tj = target[u, j]
                    if tj == tj and (tj != last_t[j] or last_k[j] != 0):
                        stop = True
                        break
                    if pend[j]:
                        px = close[u, j] if at_close else open_[u, j]
                        if not px > work[W_THRESHOLD, j]:
                            stop = True
                            break
                if stop:
                    break
                u += 1
            if not scanned and waiting > 0:
                refused = waiting * (u - t)
            if u > t:
                rejects[mk.NO_CASH] += refused
                for j in range(m):  # the last price seen of each symbol
                    for v in range(u - 1, t - 1, -1):
                        cv = close[v, j]
                        if cv == cv:
                            mark[j] = cv
                            break
                if keep_curve:
                    equity[t:u] = cash
                    held[t:u] = 0
                cnt += u - t
                run_n += u - t
                if cash >= peak:  # at the peak all along: the longest gap between bars
                    dur = ts[t] - ts[peak_t]
                    if dur > max_dur:
                        max_dur = dur
                    if max_gap < 0 or max_gap > max_dur:  # else no gap can be longer
                        for v in range(t + 1, u):
                            dur = ts[v] - ts[v - 1]
                            if dur > max_dur:
                                max_dur = dur
                    peak_t = u - 1
                left = u - t
                while left > 0:
                    if bn == 0:
                        kr = 0.0
                    take = min(left, BLOCK - bn)
                    bn += take
                    bz += take
                    left -= take
                    if bn == BLOCK:
                        merge_block(acc, iacc, bn, kr, s1 - bz * kr, s2 + bz * kr * kr)
                        bn = 0
                        bz = 0
                        s1 = 0.0
                        s2 = 0.0
                t = u
                continue
        if npend > 0 and not at_close:  # next_open: fill at this bar's open
            cash, npend, nf, n_held = _phase(
                t,
                False,
                shares_mode,
                open_,
                high,
                low,
                close,
                ref_close,
                day,
                cfg,
                pos,
                mark,
                pend,
                pend_t,
                pend_k,
                pend_p,
                buy_day,
                buy_qty,
                rejects,
                fills,
                work,
                nf,
                cash,
                npend,
                n_held,
            )
        # the decision made at bar t (from bars 0..t) is an order if it changed
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
                    npend = _decide(
                        s, t, tg, k, p, at_close, open_, pos, last_t, last_k, last_p, pend,
                        pend_t, pend_k, pend_p, work, npend,
                    )  # fmt: skip
        if npend > 0 and at_close:  # close: fill at this bar's close
            cash, npend, nf, n_held = _phase(
                t,
                True,
                shares_mode,
                open_,
                high,
                low,
                close,
                ref_close,
                day,
                cfg,
                pos,
                mark,
                pend,
                pend_t,
                pend_k,
                pend_p,
                buy_day,
                buy_qty,
                rejects,
                fills,
                work,
                nf,
                cash,
                npend,
                n_held,
            )
        eq = cash
        if n_held > 0:
            for s in range(m):
                if pos[s] != 0 and mark[s] == mark[s]:
                    eq += pos[s] * mark[s]
        if keep_curve:
            equity[t] = eq
            held[t] = 1 if n_held > 0 else 0
        if cash < min_cash:
            min_cash = cash
        # statistics (as ``curve_stats`` computes them from the curve). An unchanged equity
        # (no position, or prices unchanged) is a zero return: counted, its deviations added
        # at the block's merge, without floating-point work on the curve
        if n_held > 0:
            exposed += 1
        if t > 0 and prev != 0:
            if eq == prev:
                r = 0.0
                bz += 1
            else:
                r = eq / prev - 1.0
                sum_r += r
                rn = min(r, 0.0)  # no branch: the sign of a return is a coin toss
                down += rn * rn
                if has_bench:
                    rb = bar_return(bench, t)
                    if rb == rb:
                        sum_rj += r
                        src += r * (rb - bmean)
            if bn == 0:
                kr = r
            if eq != prev:
                d = r - kr
                s1 += d
                s2 += d * d
            cnt += 1
            bn += 1
            if bn == BLOCK:
                merge_block(acc, iacc, bn, kr, s1 - bz * kr, s2 + bz * kr * kr)
                bn = 0
                bz = 0
                s1 = 0.0
                s2 = 0.0
        elif t > 0 and has_bench:  # no return after a zero equity: out of the joint bars
            rb = bar_return(bench, t)
            if rb == rb:
                acc[A_EX1] += rb - bmean
                acc[A_EX2] += (rb - bmean) * (rb - bmean)
                iacc[I_NEX] += 1
        elif t == 0:
            acc[A_FIRST] = eq
        if eq == prev and t > 0:
            run_n += 1
            if eq >= peak:  # at the peak (else below it as on the bar before: no new low)
                dur = ts[t] - ts[peak_t]
                if dur > max_dur:
                    max_dur = dur
                peak_t = t
        else:
            sum_eq += prev * run_n
            run_n = 1
            prev = eq
            if eq >= peak:
                dur = ts[t] - ts[peak_t]
                if dur > max_dur:
                    max_dur = dur
                peak = eq
                peak_t = t
            elif peak > 0 and eq < peak * (1.0 + max_dd) * (1.0 + 1e-12):  # may be a new low
                dd = eq / peak - 1.0
                if dd < max_dd:
                    max_dd = dd
        t += 1
    scal[S_CASH] = cash
    scal[S_MIN_CASH] = min_cash
    merge_block(acc, iacc, bn, kr, s1 - bz * kr, s2 + bz * kr * kr)
    acc[A_PREV] = prev
    acc[A_SUM_R] = sum_r
    acc[A_DOWN] = down
    acc[A_SUM_RJ] = sum_rj
    acc[A_SRC] = src
    acc[A_PEAK] = peak
    acc[A_MAX_DD] = max_dd
    acc[A_SUM_EQ] = sum_eq
    acc[A_LAST] = prev
    iacc[I_RUN] = run_n
    iacc[I_CNT] = cnt
    iacc[I_PEAK_T] = peak_t
    iacc[I_MAX_DUR] = max_dur
    iacc[I_EXPOSED] = exposed
    iacc[I_BARS] = t
    return t, nf, npend


@njit(cache=True, nogil=True)
def simulate_into(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    day: np.ndarray,
    target: np.ndarray,
    kind: np.ndarray,
    oprice: np.ndarray,
    has_orders: bool,
    cfg: np.ndarray,
    cash0: float,
    at_close: bool,
    shares_mode: bool,
    equity: np.ndarray,
    held: np.ndarray,
    keep_curve: bool,
    ts: np.ndarray,
    max_gap: int,
    bench: np.ndarray,
    has_bench: bool,
    acc: np.ndarray,
    iacc: np.ndarray,
):
    """Run the fill loop; return the equity curve and held flags (written into the given
    arrays only when ``keep_curve``), the lowest and final cash, the fills, rejection counts,
    final positions and last marks. The curve's running statistics go into ``acc`` and
    ``iacc`` (``new_accumulators``; bar times ``ts`` in ns, the benchmark's closes ``bench``).

    The bar loop marks to market and turns changed decisions into pending orders; the market
    rules run in :func:`_execute`, only on bars with pending orders.
    """
    n, m = close.shape
    pos = np.zeros(m)
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
    fills = np.empty((max(256, 4 * m), 5))
    rejects = np.zeros(8, dtype=np.int64)
    work = np.zeros((5, m))
    work[W_SIZE] = np.nan
    scal = np.array([cash0, cash0])
    t = 0
    nf = 0
    npend = 0
    while True:
        t, nf, npend = _span(
            t,
            open_,
            high,
            low,
            close,
            ref_close,
            day,
            target,
            kind,
            oprice,
            has_orders,
            cfg,
            at_close,
            shares_mode,
            pos,
            mark,
            last_t,
            last_k,
            last_p,
            pend,
            pend_t,
            pend_k,
            pend_p,
            buy_day,
            buy_qty,
            rejects,
            fills,
            work,
            equity,
            held,
            keep_curve,
            ts,
            max_gap,
            bench,
            has_bench,
            acc,
            iacc,
            scal,
            nf,
            npend,
        )
        if t >= n:
            break
        fills = _grow_rows(fills, nf + m)
    f = fills[:nf]
    return (
        equity,
        held,
        scal[S_MIN_CASH],
        scal[S_CASH],
        f[:, 0].astype(np.int64),
        f[:, 1].astype(np.int64),
        f[:, 2].copy(),
        f[:, 3].copy(),
        f[:, 4].copy(),
        rejects,
        pos,
        mark,
    )


@njit(cache=True, nogil=True)
def round_trips(
    f_bar: np.ndarray,
    f_sym: np.ndarray,
    f_qty: np.ndarray,
    f_px: np.ndarray,
    f_fee: np.ndarray,
    m: int,
    last_mark: np.ndarray,
):
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
        return {
            "cash": self.cash,
            "fill": self.fill,
            "benchmark": self.benchmark,
            "market": self.market.as_dict(),
        }


class Simulation:
    """The raw outcome of one run (arrays); :class:`BacktestResult` adds metrics and frames.

    The equity curve and the held flags are built on first use, by replaying the fills over
    the closes (the fill loop keeps only their statistics): a run whose curve nobody reads
    (a sweep point, ``--json``) never writes it. The replay performs the loop's own arithmetic
    in the loop's order, so the curve is the one the loop would have written, bit for bit.
    """

    def __init__(
        self,
        *,
        index: pd.DatetimeIndex,
        symbols: list[str],
        close: np.ndarray,
        cash: float,
        min_cash: float,
        final_cash: float,
        fills: dict[str, np.ndarray],
        trades: dict[str, np.ndarray],
        rejects: dict[str, int],
        final_position: np.ndarray,
        stats: np.ndarray,
        equity: np.ndarray | None = None,
        held: np.ndarray | None = None,
    ) -> None:
        self.index = index
        self.symbols = symbols
        self.min_cash = min_cash
        self.final_cash = final_cash
        self.fills = fills
        self.trades = trades
        self.rejects = rejects
        self.final_position = final_position
        #: the curve's statistics (``compute_metrics``' ``stats``), benchmark included if given
        self.stats = stats
        self._close = close
        self._cash = cash
        self._equity = equity
        self._held = held

    @property
    def final_equity(self) -> float:
        """The equity at the last bar's close."""
        return float(self.stats[11])

    @property
    def equity(self) -> np.ndarray:
        """The equity at every bar's close."""
        if self._equity is None:
            self._replay()
        assert self._equity is not None
        return self._equity

    @property
    def held(self) -> np.ndarray:
        """1 where a position is held at the bar's close, else 0 (uint8)."""
        if self._held is None:
            self._replay()
        assert self._held is not None
        return self._held

    def _replay(self) -> None:
        n = self._close.shape[0]
        f = self.fills
        self._equity, self._held = replay_curve(
            self._close,
            f["bar"],
            f["symbol"],
            f["quantity"],
            f["price"],
            f["fees"],
            self._cash,
            np.empty(n),
            np.empty(n, dtype=np.uint8),
        )


@njit(cache=True, nogil=True)
def replay_curve(
    close: np.ndarray,
    f_bar: np.ndarray,
    f_sym: np.ndarray,
    f_qty: np.ndarray,
    f_price: np.ndarray,
    f_fee: np.ndarray,
    cash0: float,
    equity: np.ndarray,
    held: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``equity`` and ``held`` from the fills, as the fill loop computes them: each
    bar's fills in order, then the cash plus the positions at their last known closes.
    Positions only change at fill bars: a stretch without a position is the cash throughout
    (a fill of the arrays), one with a position is marked bar by bar."""
    n, m = close.shape
    pos = np.zeros(m)
    mark = np.full(m, np.nan)
    cash = cash0
    k = 0
    nf = len(f_bar)
    n_held = 0
    t = 0
    while t < n:
        while k < nf and f_bar[k] == t:
            s = f_sym[k]
            pos[s] += f_qty[k]
            if abs(pos[s]) < 1e-12:
                pos[s] = 0.0
            cash -= f_qty[k] * f_price[k] + f_fee[k]
            k += 1
            n_held = 0
            for j in range(m):
                if pos[j] != 0:
                    n_held += 1
        end = f_bar[k] if k < nf else n  # the next bar with a fill
        if t < end and n_held == 0:  # flat until then
            equity[t:end] = cash
            held[t:end] = 0
            for j in range(m):  # the last close seen of each symbol
                for v in range(end - 1, t - 1, -1):
                    c = close[v, j]
                    if c == c:
                        mark[j] = c
                        break
            t = end
            continue
        stop = max(end, t + 1)
        while t < stop:
            eq = cash
            for s in range(m):
                c = close[t, s]
                if c == c:
                    mark[s] = c
                if pos[s] != 0 and mark[s] == mark[s]:
                    eq += pos[s] * mark[s]
            equity[t] = eq
            held[t] = 1 if n_held > 0 else 0
            t += 1
    return equity, held


class Prepared:
    """Market arrays for one data set and profile, computed once and reused across runs."""

    def __init__(self, data: Bars, config: BacktestConfig) -> None:
        self.data = data
        self.config = config
        prof = config.market
        self.cfg = prof.vector()
        self._day: np.ndarray | None = None
        self._ref: np.ndarray | None = None
        self._max_gap: int | None = None
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
    def max_gap(self) -> int:
        """The longest interval between consecutive bars (ns)."""
        if self._max_gap is None:
            self._max_gap = int(longest_gap(self.data.index.asi8))
        return self._max_gap

    @property
    def ref_close(self) -> np.ndarray:
        if self._ref is None:
            if self.config.market.price_limit > 0:
                self._ref = previous_day_close(self.data.close, self.day)
            else:
                self._ref = np.full((1, 1), np.nan)
        return self._ref

    def run(
        self,
        decisions: Decisions,
        sizing: str = "weight",
        *,
        benchmark_close: np.ndarray | None = None,
        benchmark_stats: np.ndarray | None = None,
        curve: bool = False,
        skip_flat: bool = True,
    ) -> Simulation:
        """Execute ``decisions`` over this data; return the raw simulation.

        ``skip_flat=False`` makes the loop visit every bar (as it does with limit or stop
        orders): the reference the skipping of flat stretches is tested against.

        Its ``stats`` include the benchmark's when its closes (aligned to the data) are given
        (with their ``bench_stats``, computed here when
        not given: once per data set in a sweep). The loop writes the equity curve and the
        held flags only with ``curve``; otherwise the simulation replays them from the fills
        when first read (see :class:`Simulation`).
        """
        d = self.data
        n, m = d.close.shape
        if decisions.target.shape != (n, m):
            raise ConfigError(f"decisions shape {decisions.target.shape} != data shape {(n, m)}")
        has_orders = decisions.kind is not None and bool(np.any(decisions.kind))
        kind: np.ndarray = np.zeros((1, 1), dtype=np.int8)
        price: np.ndarray = np.zeros((1, 1))
        if has_orders and decisions.kind is not None:
            kind = decisions.kind
            price = decisions.price if decisions.price is not None else np.full((n, m), np.nan)
        elif not skip_flat:  # market orders, as decisions without kinds are
            has_orders = True
            kind = np.zeros((n, m), dtype=np.int8)
            price = np.full((n, m), np.nan)
        ref = self.ref_close
        if ref.shape != (n, m):
            ref = np.broadcast_to(np.full((1, 1), np.nan), (n, m))
        bench = np.zeros(1)
        if benchmark_close is not None:
            bench = np.ascontiguousarray(benchmark_close, dtype=np.float64)
            if bench.shape != (n,):
                raise ConfigError(f"benchmark: expected {n} values, got {bench.shape}")
            if benchmark_stats is None:
                benchmark_stats = bench_stats(bench)
        else:
            benchmark_stats = None
        acc, iacc = new_accumulators(benchmark_stats)
        eq, held, min_cash, cash, fb, fs, fq, fp, ff, rej, pos, last_mark = simulate_into(
            d.open,
            d.high,
            d.low,
            d.close,
            ref,
            self.day,
            np.ascontiguousarray(decisions.target),
            kind,
            price,
            has_orders,
            self.cfg,
            float(self.config.cash),
            self.config.fill == "close",
            sizing == "shares",
            np.empty(n if curve else 0),
            np.empty(n if curve else 0, dtype=np.uint8),
            curve,
            self.data.index.asi8,
            self.max_gap,
            bench,
            benchmark_close is not None,
            acc,
            iacc,
        )
        stats = finish_accumulators(acc, iacc, self.data.index.asi8, benchmark_stats)
        tr = round_trips(fb, fs, fq, fp, ff, m, last_mark)
        names = (
            "symbol",
            "entry_bar",
            "exit_bar",
            "quantity",
            "entry_price",
            "exit_price",
            "pnl",
            "fees",
        )
        return Simulation(
            index=d.index,
            symbols=d.symbols,
            close=d.close,
            cash=float(self.config.cash),
            equity=eq if curve else None,
            held=held if curve else None,
            min_cash=min_cash,
            final_cash=cash,
            fills={"bar": fb, "symbol": fs, "quantity": fq, "price": fp, "fees": ff},
            trades=dict(zip(names, tr, strict=True)),
            rejects={mk.REASONS[i]: int(rej[i]) for i in range(1, len(rej)) if rej[i]},
            final_position=pos,
            stats=stats,
        )


def simulate_strategy(
    strategy: Strategy, data: Bars, config: BacktestConfig, prepared: Prepared | None = None
) -> tuple[Decisions, Simulation]:
    """Compute ``strategy``'s decisions on ``data`` and execute them."""
    prep = prepared or Prepared(data, config)
    decisions = strategy.decisions(data)
    return decisions, prep.run(decisions, strategy.sizing)
