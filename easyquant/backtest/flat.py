"""The fill loop's flat stretches: while nothing is held, skip to the next bar that can change
anything.

With no position and no limit or stop orders, the equity is the cash until an order fills, so
every bar up to the next changed decision is the same zero return. Pending orders allow the skip
only while each waits for cash for one lot at a price above its threshold (refused once a bar,
nothing else). With one symbol the scan itself applies a decision to stay flat, records a new
order, and, when that order cannot pay for one lot at its first try, leaves it waiting.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from easyquant.backtest.phase import W_SIDE, W_SIZE, W_THRESHOLD, W_WAIT, decide
from easyquant.execution import market as mk
from easyquant.execution.market import instrument_rules
from easyquant.execution.sizing import flat_buy_waits, wait_threshold
from easyquant.execution.working import B_LAST_K, B_LAST_T, B_PEND, B_PEND_K


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def skip_flat(
    t: int,
    open_: np.ndarray,
    close: np.ndarray,
    target: np.ndarray,
    rules: np.ndarray,
    at_close: bool,
    shares_mode: bool,
    cash: float,
    pos: np.ndarray,
    book: np.ndarray,
    work: np.ndarray,
    npend: int,
) -> tuple[int, int, int]:
    """From bar ``t`` (flat, the equity the cash as on the bar before), return ``(u, refused,
    pending count)``: the bar to go on from (``t`` when nothing can be skipped), how many
    times waiting orders were refused for want of cash before it."""
    n, m = close.shape
    cfg = instrument_rules(rules, 0)
    waiting = 0
    for j in range(m):
        if book[B_PEND, j] != 0:
            if work[W_WAIT, j] > 0 and book[B_PEND_K, j] == mk.MARKET and not shares_mode:
                waiting += 1
            else:
                waiting = -1
                break
    u = t
    scanned = False
    refused = 0
    if m == 1 and waiting >= 0:  # one symbol: the same scan, on scalars
        lk_ok = book[B_LAST_K, 0] == 0
        lt = book[B_LAST_T, 0] if lk_ok else np.nan
        threshold = work[W_THRESHOLD, 0] if waiting > 0 else -np.inf
        prices = close if at_close else open_
        seg = t  # the first bar at which the waiting order is refused
        while u < n:
            tj = target[u, 0]
            if tj == tj and (tj != lt or not lk_ok):
                if tj != 0.0 and lk_ok and waiting == 0 and not at_close:
                    # a new order, first tried at the next open: record it here,
                    # as the full path does, and stop at that bar
                    npend = decide(
                        book, 0, u, tj, 0, np.nan, 0, False, open_, pos, work, npend,
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
                            and flat_buy_waits(tj, o, close[u, 0], cash, cfg)
                        ):
                            refused += 1
                            work[W_SIZE, 0] = 0.0
                            work[W_SIDE, 0] = 0.0
                            work[W_WAIT, 0] = 1.0
                            threshold = wait_threshold(tj, cash, cfg)
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
                    tj == 0.0 and lk_ok and (waiting == 0 or at_close or prices[u, 0] > threshold)
                ):
                    break
                if waiting > 0:
                    refused += waiting * (u - seg + (0 if at_close else 1))
                    waiting = 0
                    threshold = -np.inf
                npend = decide(
                    book, 0, u, tj, 0, np.nan, 0, at_close, open_, pos, work, npend,
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
            if tj == tj and (tj != book[B_LAST_T, j] or book[B_LAST_K, j] != 0):
                stop = True
                break
            if book[B_PEND, j] != 0:
                px = close[u, j] if at_close else open_[u, j]
                if not px > work[W_THRESHOLD, j]:
                    stop = True
                    break
        if stop:
            break
        u += 1
    if not scanned and waiting > 0:
        refused = waiting * (u - t)
    return u, refused, npend


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def mark_last_seen(close: np.ndarray, t: int, u: int, mark: np.ndarray) -> None:
    """Set ``mark`` to each symbol's last close seen in bars [t, u) (left as is where it has
    none there): the price a position is marked at after a flat stretch."""
    for j in range(close.shape[1]):
        for v in range(u - 1, t - 1, -1):
            cv = close[v, j]
            if cv == cv:
                mark[j] = cv
                break
