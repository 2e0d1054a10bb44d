"""The equity curve's running statistics, kept by the fill loop bar by bar.

The metrics need no pass over the curve: the loop feeds each bar's equity to :func:`on_bar`
(or a whole flat stretch of unchanged equity to :func:`on_flat`), which update the sums
``curve_stats`` would compute (``easyquant.backtest.metrics``). The state is two tuples the
loop carries in registers, floats ``fs`` and integers ``is_`` (see :func:`load`); returns are
summed per block of ``BLOCK`` bars and merged into ``acc``/``iacc``, where :func:`store` also
leaves the sums at the end of a span. All functions are inlined into the loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

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
    merge_block,
)

# fs: the previous bar's equity, sums of returns, of squared losses, of returns on the
# benchmark's bars and of their products with its deviations; its mean return; the peak, the
# deepest drawdown, the sum of equities of finished runs of equal equity; the block's first
# return (kr) and sums of deviations from it (s1, s2)
# is_: returns counted, the peak's bar, the longest time below a peak (ns), bars exposed,
# returns in the block (bn) of which zero (bz), the bars of the current run of equal equity


@njit(cache=True, nogil=True, inline="always")
def load(acc: np.ndarray, iacc: np.ndarray) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Return the state at the start of a span (a block starts afresh)."""
    zero = np.int64(0)
    fs = (
        acc[A_PREV],
        acc[A_SUM_R],
        acc[A_DOWN],
        acc[A_SUM_RJ],
        acc[A_SRC],
        acc[A_BMEAN],
        acc[A_PEAK],
        acc[A_MAX_DD],
        acc[A_SUM_EQ],
        0.0,
        0.0,
        0.0,
    )
    is_ = (
        np.int64(iacc[I_CNT]),
        np.int64(iacc[I_PEAK_T]),
        np.int64(iacc[I_MAX_DUR]),
        np.int64(iacc[I_EXPOSED]),
        zero,
        zero,
        np.int64(iacc[I_RUN]),
    )
    return fs, is_


@njit(cache=True, nogil=True, inline="always")
def _full_block(bn, bz, kr, s1, s2, acc, iacc):
    """Merge the block into ``acc``/``iacc`` once it holds ``BLOCK`` returns (``bz`` of them
    zero, the others' deviations from ``kr`` summed in ``s1``, ``s2``); return the block's
    (returns, zero returns, s1, s2): afresh after a merge."""
    if bn == BLOCK:
        merge_block(acc, iacc, bn, kr, s1 - bz * kr, s2 + bz * kr * kr)
        return 0, 0, 0.0, 0.0
    return bn, bz, s1, s2


@njit(cache=True, nogil=True, inline="always")
def on_bar(fs, is_, eq, t, held, has_bench, bench, ts, acc, iacc):
    """Take bar ``t``'s equity ``eq`` (``held``: a position is held); return the new state."""
    prev, sum_r, down, sum_rj, src, bmean, peak, max_dd, sum_eq, kr, s1, s2 = fs
    cnt, peak_t, max_dur, exposed, bn, bz, run_n = is_
    # an unchanged equity (no position, or prices unchanged) is a zero return: counted, its
    # deviations added at the block's merge, without floating-point work on the curve
    if held:
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
        bn, bz, s1, s2 = _full_block(bn + 1, bz, kr, s1, s2, acc, iacc)
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
    return (
        (prev, sum_r, down, sum_rj, src, bmean, peak, max_dd, sum_eq, kr, s1, s2),
        (cnt, peak_t, max_dur, exposed, bn, bz, run_n),
    )


@njit(cache=True, nogil=True, inline="always")
def on_flat(fs, is_, t, u, cash, ts, max_gap, acc, iacc):
    """Take bars ``t..u-1`` of unchanged equity, the cash (as on the bar before ``t``, with
    nothing held); return the new state."""
    prev, sum_r, down, sum_rj, src, bmean, peak, max_dd, sum_eq, kr, s1, s2 = fs
    cnt, peak_t, max_dur, exposed, bn, bz, run_n = is_
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
        left -= take
        bn, bz, s1, s2 = _full_block(bn + take, bz + take, kr, s1, s2, acc, iacc)
    return (
        (prev, sum_r, down, sum_rj, src, bmean, peak, max_dd, sum_eq, kr, s1, s2),
        (cnt, peak_t, max_dur, exposed, bn, bz, run_n),
    )


@njit(cache=True, nogil=True, inline="always")
def store(fs, is_, t, acc, iacc) -> None:
    """Leave the state in ``acc``/``iacc`` at the end of a span ending before bar ``t``."""
    prev, sum_r, down, sum_rj, src, _bmean, peak, max_dd, sum_eq, kr, s1, s2 = fs
    cnt, peak_t, max_dur, exposed, bn, bz, run_n = is_
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
