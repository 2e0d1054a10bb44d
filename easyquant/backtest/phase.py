"""The kernel's execution moment: the pending decisions sized and filled at one bar's open (or
close), sells first, then buys, with the execution layer's rules.

Everything here is inlined into the bar loop (``easyquant.backtest.kernel``) and runs without
reference counting. ``work`` is the loop's per-symbol scratch (rows ``W_*``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from easyquant.execution import market as mk
from easyquant.execution.market import instrument_rules
from easyquant.execution.rules import awaits_one_lot, try_fill
from easyquant.execution.sizing import size_order, wait_threshold
from easyquant.execution.working import (
    B_BUY_DAY,
    B_BUY_QTY,
    B_PEND,
    B_PEND_K,
    B_PEND_P,
    B_PEND_T,
    B_WORK_Q,
    after_try,
    apply_decision,
    expire,
    expired,
)

# counters after the rejection reasons: day orders expired, orders left working at the venue
R_EXPIRED = len(mk.REASONS)
R_RESTED = R_EXPIRED + 1
N_COUNTS = R_RESTED + 1

# rows of the per-symbol scratch array ``work`` of the fill loop: an order's size and side from
# the sell pass, whether it waits for cash for one lot (and above which price it still does),
# the open it executes at
W_SIZE, W_SIDE, W_WAIT, W_THRESHOLD, W_NEXT_OPEN = range(5)


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def execute(
    t: int,
    at_close: bool,
    shares_mode: bool,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    volume: np.ndarray,
    published: np.ndarray,
    day: np.ndarray,
    rules: np.ndarray,
    pos: np.ndarray,
    mark: np.ndarray,
    book: np.ndarray,
    rejects: np.ndarray,
    fills: np.ndarray,
    work: np.ndarray,
    nf: int,
    cash: float,
    npend: int,
    n_held: int,
) -> tuple[float, int, int, int]:
    """Execute the pending orders at bar ``t``'s open (or close): sells first, then buys.

    ``volume``: the bars' volumes, read only under a volume cap (a placeholder without one).
    ``published``: the days' published (down, up) limit prices by bar and symbol, nan where
    none (a ``(2, 1, 1)`` placeholder when the data has none).
    Mutates positions, pending state, rejections and ``fills`` (room for one fill per symbol
    is the caller's job); return the new (cash, pending count, fill count, symbols held).
    ``work`` keeps each order's size from the sell pass for the buy pass (nothing it depends
    on changes in between unless the symbol itself traded) and marks orders waiting for cash
    for one lot: while nothing is held, orders that all still wait are only counted.
    """
    m = len(pos)
    has_published = published.shape[1] == open_.shape[0] and published.shape[2] == m
    if n_held == 0 and not shares_mode:
        waiting = still_waiting(t, at_close, open_, close, book, work)
        if waiting > 0:
            rejects[mk.NO_CASH] += waiting
            return cash, npend, nf, n_held
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
            if book[B_PEND, s] == 0:
                continue
            work[W_WAIT, s] = 0.0
            cfg = instrument_rules(rules, s)
            kind = int(book[B_PEND_K, s])
            # load only what the rules need: a cold bar's prices cost a cache miss each
            o = open_[t, s]
            c = close[t, s]
            if kind != mk.MARKET:
                h = high[t, s]
                lo = low[t, s]
            else:
                h = o
                lo = o
            working = book[B_WORK_Q, s]
            if working != 0:  # a limit or stop order working at the venue: as it was sent
                if expired(book, s, day[t]):
                    npend = expire(book, s, npend)
                    rejects[R_EXPIRED] += 1
                    continue
                delta = working
                side = mk.BUY if delta > 0 else mk.SELL
            else:
                if side_pass == 1 and work[W_SIZE, s] == work[W_SIZE, s]:
                    desired = work[W_SIZE, s]
                    side = int(work[W_SIDE, s])
                else:
                    side, desired, _ = size_order(
                        book[B_PEND_T, s], kind, book[B_PEND_P, s], eq, pos[s], mark[s],
                        o, h, lo, c, at_close, shares_mode, cfg,
                    )  # fmt: skip
                    if desired != desired:  # no price to size with: stays pending
                        continue
                work[W_SIZE, s] = desired
                work[W_SIDE, s] = side
                delta = desired - pos[s]
                if delta == 0:
                    if not shares_mode and awaits_one_lot(book[B_PEND_T, s], desired, pos[s]):
                        work[W_WAIT, s] = 1.0
                        if side_pass == 1:  # the equity cannot pay for one lot: stays pending
                            rejects[mk.NO_CASH] += 1
                        continue
                    book[B_PEND, s] = 0.0
                    npend -= 1
                    continue
            if (side == mk.SELL) != (side_pass == 0):
                continue
            t_plus_one = cfg[mk.C_T1] > 0
            bought = book[B_BUY_QTY, s] if t_plus_one and book[B_BUY_DAY, s] == day[t] else 0.0
            sellable = max(pos[s], 0.0) - bought
            q, px, fee, why = try_fill(
                side,
                abs(delta),
                kind,
                book[B_PEND_P, s],
                o,
                h,
                lo,
                c,
                at_close,
                ref_close[t, s] if cfg[mk.C_LIMIT] > 0 else np.nan,
                cash,
                pos[s],
                sellable,
                volume[t, s] if cfg[mk.C_VOLFRAC] > 0 else 0.0,  # only read under a cap
                published[0, t, s] if has_published else np.nan,
                published[1, t, s] if has_published else np.nan,
                cfg,
            )
            if q <= 0:
                rejects[why] += 1
                # not enough cash for one lot stays pending (the price may fall), as a peer
                # engine re-submitting each bar would; shorting never will. A limit or stop
                # order keeps working as it was sent.
                npend = after_try(book, s, delta, 0.0, why, day[t], npend)
                if working == 0 and book[B_WORK_Q, s] != 0:
                    rejects[R_RESTED] += 1
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
                if book[B_BUY_DAY, s] != day[t]:
                    book[B_BUY_DAY, s] = day[t]
                    book[B_BUY_QTY, s] = 0.0
                book[B_BUY_QTY, s] += q
            fills[nf, 0] = t
            fills[nf, 1] = s
            fills[nf, 2] = signed
            fills[nf, 3] = px
            fills[nf, 4] = fee
            nf += 1
            # a T+1 partial stays pending for the rest (a limit or stop order keeps working)
            npend = after_try(book, s, delta, q, why, day[t], npend)
    # the price above which a waiting order still cannot pay for one lot, with the cash as it
    # is now (the equity while nothing is held)
    for s in range(m):
        if book[B_PEND, s] != 0 and work[W_WAIT, s] > 0:
            work[W_THRESHOLD, s] = wait_threshold(
                book[B_PEND_T, s], cash, instrument_rules(rules, s)
            )
    n_held = 0
    for s in range(m):
        if pos[s] != 0:
            n_held += 1
    return cash, npend, nf, n_held


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def still_waiting(
    t: int,
    at_close: bool,
    open_: np.ndarray,
    close: np.ndarray,
    book: np.ndarray,
    work: np.ndarray,
) -> int:
    """Return how many orders wait for cash for one lot if every pending order is such a
    market order whose price is still above its threshold, else 0.

    Called only while no position is held: the equity is then the cash, which only a fill
    changes, so a waiting order's outcome depends on the price alone. The full path would
    refuse each of these orders once ("not enough cash"), as the caller counts.
    """
    count = 0
    for s in range(book.shape[1]):
        if book[B_PEND, s] == 0:
            continue
        if work[W_WAIT, s] <= 0 or book[B_PEND_K, s] != mk.MARKET:
            return 0
        px = close[t, s] if at_close else open_[t, s]
        if not px > work[W_THRESHOLD, s]:  # also a missing price: the full path decides
            return 0
        count += 1
    return count


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def decide(
    book: np.ndarray,
    s: int,
    t: int,
    tg: float,
    k: int,
    p: float,
    f: int,
    at_close: bool,
    open_: np.ndarray,
    pos: np.ndarray,
    work: np.ndarray,
    npend: int,
) -> int:
    """Apply symbol ``s``'s changed decision made at bar ``t`` (target ``tg``, order kind
    ``k``, price ``p``, time in force ``f``): it becomes the pending order; return the
    pending count."""
    work[W_WAIT, s] = 0.0
    npend = apply_decision(book, s, tg, k, p, f, pos[s], npend)
    if book[B_PEND, s] != 0 and not at_close and t + 1 < len(open_):
        # it executes at the next open: load that price now (the bar loop reads no opens),
        # so the fill does not wait on memory
        work[W_NEXT_OPEN, s] = open_[t + 1, s]
    return npend
