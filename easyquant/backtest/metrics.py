"""Performance metrics of an equity curve and its trades.

Conventions (checked in tests against an independent implementation):

- bar returns ``r_t = equity_t / equity_{t-1} - 1``; ``periods_per_year`` annualises them.
- ``total_return = final / initial - 1``; ``cagr = (final / initial) ** (1 / years) - 1`` with
  ``years`` the calendar time from the first to the last bar over 365.25 days.
- ``volatility = std(r, ddof=1) * sqrt(ppy)``; ``sharpe = mean(r) / std(r, ddof=1) * sqrt(ppy)``
  (risk-free 0); ``sortino = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(ppy)``.
- ``max_drawdown`` is the largest fall from a running peak, as a negative fraction;
  ``max_drawdown_duration`` the longest time (days) from a peak to the bar that regains it
  (or to the end when never regained); ``calmar = cagr / |max_drawdown|``.
- trades: ``win_rate`` (pnl > 0 among closed trades), ``profit_factor`` (gross wins / gross
  losses), ``expectancy`` (mean pnl), ``trades`` (closed trade count).
- ``exposure``: fraction of bars ending with a position; ``turnover``: traded value over mean
  equity, per year.
- ``alpha``, ``beta``: OLS of bar returns on the benchmark's bar returns; alpha annualised
  (``intercept * ppy``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

DAY_NS = 86_400_000_000_000


@njit(cache=True, nogil=True, inline="always")
def bar_return(close: np.ndarray, t: int) -> float:
    """``close[t] / close[t-1] - 1`` (nan where undefined), at bar ``t`` >= 1:
    a missing close makes the quotient nan already, only a zero one needs the select."""
    b0 = close[t - 1]
    r = close[t] / b0 - 1.0
    return r if b0 != 0 else np.nan


def bar_returns(close: np.ndarray) -> np.ndarray:
    """Return ``close[t] / close[t-1] - 1`` at ``t`` (nan at 0 and where undefined)."""
    close = np.ascontiguousarray(close, dtype=np.float64)
    return _bar_returns(close, np.empty(len(close)))


@njit(cache=True, nogil=True)
def _bar_returns(close: np.ndarray, out: np.ndarray) -> np.ndarray:
    if len(close):
        out[0] = np.nan
    for t in range(1, len(close)):
        out[t] = bar_return(close, t)
    return out


@njit(cache=True, nogil=True)
def curve_stats(
    equity: np.ndarray, ts: np.ndarray, bench_ret: np.ndarray, has_bench: bool, held: np.ndarray
) -> np.ndarray:
    """Return the curve statistics: [n_ret, mean, var, down_sq_mean, max_dd, max_dd_ns,
    cov_rb, var_b, intercept, exposed_bars]; ``bench_ret`` as :func:`bar_returns` gives.

    Two passes (sums, then squared deviations from the means): no bar's division waits on the
    previous bar's, unlike a running (Welford) update.
    """
    n = len(equity)
    out = np.zeros(10)
    cnt = 0
    sum_r = 0.0
    down = 0.0
    nj = 0  # bars where both the curve and the benchmark have a return
    sum_bj = 0.0
    sum_rj = 0.0
    peak = equity[0] if n > 0 else 0.0
    peak_ts = ts[0] if n > 0 else 0
    max_dd = 0.0
    max_dur = 0
    exposed = 0
    for t in range(n):
        e = equity[t]
        if t > 0:
            prev = equity[t - 1]
            if prev != 0:
                r = e / prev - 1.0
                cnt += 1
                sum_r += r
                if r < 0:
                    down += r * r
                if has_bench:
                    rb = bench_ret[t]
                    if rb == rb:
                        nj += 1
                        sum_bj += rb
                        sum_rj += r
        if e >= peak:
            dur = ts[t] - peak_ts
            if dur > max_dur:
                max_dur = dur
            peak = e
            peak_ts = ts[t]
        elif peak > 0 and e < peak * (1.0 + max_dd) * (1.0 + 1e-12):  # may be a new low
            dd = e / peak - 1.0
            if dd < max_dd:
                max_dd = dd
        if held[t] > 0:
            exposed += 1
    if n > 0 and equity[n - 1] < peak:
        dur = ts[n - 1] - peak_ts
        if dur > max_dur:
            max_dur = dur
    mean = sum_r / cnt if cnt > 0 else 0.0
    mb = sum_bj / nj if nj > 0 else 0.0
    mr_j = sum_rj / nj if nj > 0 else 0.0
    m2 = 0.0
    m2b = 0.0
    cov = 0.0
    for t in range(1, n):
        prev = equity[t - 1]
        if prev == 0:
            continue
        r = equity[t] / prev - 1.0
        d = r - mean
        m2 += d * d
        if has_bench:
            rb = bench_ret[t]
            if rb == rb:
                db = rb - mb
                m2b += db * db
                cov += (r - mr_j) * db
    out[0] = cnt
    out[1] = mean
    out[2] = m2 / (cnt - 1) if cnt > 1 else np.nan
    out[3] = down / cnt if cnt > 0 else np.nan
    out[4] = max_dd
    out[5] = max_dur
    out[6] = cov / (nj - 1) if nj > 1 else np.nan
    out[7] = m2b / (nj - 1) if nj > 1 else np.nan
    out[8] = mr_j - (cov / m2b if m2b > 0 else 0.0) * mb if nj > 1 else np.nan
    out[9] = exposed
    return out


# The fill loop's running curve statistics (``acc``, float64; ``iacc``, int64), so that a run
# needs no pass over its equity curve. Returns are summed in order (mean, downside: the same
# sums as :func:`curve_stats`); their squared deviations are summed per block of ``BLOCK``
# returns around the block's first return and merged between blocks (Chan, Golub and LeVeque),
# as accurate as two passes. A zero return (the equity unchanged, e.g. while flat) is only
# counted: its deviation enters at the merge. The benchmark's own statistics do not depend on
# the run (:func:`bench_stats`, once per data set, from its closes); the loop adds the co-moment
# ``sum r * (rb - mean_b)`` over bars with a non-zero return (a zero return adds nothing) and
# takes out the rare bars that follow a zero equity (no return there).
BLOCK = 4096
(
    A_PREV,  # the previous bar's equity
    A_SUM_R,
    A_DOWN,
    A_SUM_RJ,  # returns on bars where the benchmark has one
    A_SRC,  # sum of r * (rb - A_BMEAN) over those bars
    A_BMEAN,  # the benchmark's mean return (set before the run)
    A_EX1,  # bars out of the joint set: sums of (rb - A_BMEAN) and its square
    A_EX2,
    A_MEAN,  # merged blocks: mean and squared deviations of the returns
    A_M2,
    A_PEAK,
    A_MAX_DD,
    A_SUM_EQ,
    A_FIRST,
    A_LAST,
    N_ACC,
) = range(16)
I_CNT, I_NEX, I_MERGED, I_PEAK_T, I_MAX_DUR, I_EXPOSED, I_BARS, I_RUN, N_IACC = range(9)


def new_accumulators(bench: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return fresh (``acc``, ``iacc``) for the fill loop's running statistics, given the
    benchmark's :func:`bench_stats` when there is a benchmark."""
    acc = np.zeros(N_ACC)
    acc[A_PEAK] = -np.inf
    if bench is not None:
        acc[A_BMEAN] = bench[1]
    return acc, np.zeros(N_IACC, dtype=np.int64)


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def bench_stats(close: np.ndarray) -> np.ndarray:
    """Return [count, mean, squared deviations] of the benchmark's bar returns from bar 1 (nan
    skipped), from its closes, in one pass over chunks of returns in a small buffer (a ufunc
    on slices, so the division vectorises). The sums are of deviations from the first return
    (as accurate as two passes for returns: the shift is within a few standard deviations of
    the mean), and may be reassociated (``fastmath``: they vectorise); nan checks stay."""
    n = len(close)
    buf = np.empty(4096)
    cnt = 0.0
    s1 = 0.0
    s2 = 0.0
    shift = np.nan
    t = 1
    while t < n:
        k = min(len(buf), n - t)
        prev = close[t - 1 : t - 1 + k]
        out = buf[:k]
        np.divide(close[t : t + k], prev, out)
        if shift != shift:
            for i in range(k):
                if out[i] == out[i] and prev[i] != 0:
                    shift = out[i] - 1.0
                    break
        sh = (shift if shift == shift else 0.0) + 1.0
        for i in range(k):
            x = out[i] - sh  # the return less the shift
            ok = x == x and prev[i] != 0  # none after a zero close
            x = x if ok else 0.0
            cnt += 1.0 if ok else 0.0
            s1 += x
            s2 += x * x
        t += k
    d = s1 / cnt if cnt > 0 else 0.0  # the mean less the shift
    res = np.empty(3)
    res[0] = cnt
    res[1] = (shift if shift == shift else 0.0) + d
    res[2] = max(s2 - cnt * d * d, 0.0) if cnt > 0 else 0.0
    return res


@njit(cache=True, nogil=True, inline="always", _nrt=False)  # type: ignore[call-overload]
def merge_block(acc: np.ndarray, iacc: np.ndarray, bn: int, k: float, s1: float, s2: float) -> None:
    """Merge one block of ``bn`` returns (sums of deviations from ``k``) into the running
    mean and squared deviations."""
    if bn > 0:
        n0 = float(iacc[I_MERGED])
        bmean = k + s1 / bn
        bm2 = s2 - s1 * s1 / bn
        tot = n0 + bn
        d = bmean - acc[A_MEAN]
        acc[A_M2] += bm2 + d * d * n0 * bn / tot
        acc[A_MEAN] += d * bn / tot
        iacc[I_MERGED] += bn


def finish_accumulators(
    acc: np.ndarray, iacc: np.ndarray, ts: np.ndarray, bench: np.ndarray | None = None
) -> np.ndarray:
    """Return the fill loop's statistics as :func:`curve_stats` does, followed by the first,
    last and mean equity and the bar count (the ``stats`` of :func:`compute_metrics`);
    ``bench`` is the benchmark's :func:`bench_stats`."""
    n = int(iacc[I_BARS])
    cnt = int(iacc[I_CNT])
    max_dur = int(iacc[I_MAX_DUR])
    if n > 0 and acc[A_LAST] < acc[A_PEAK]:
        max_dur = max(max_dur, int(ts[n - 1] - ts[iacc[I_PEAK_T]]))
    out = np.zeros(14)
    out[0] = cnt
    out[1] = acc[A_SUM_R] / cnt if cnt > 0 else 0.0
    out[2] = acc[A_M2] / (cnt - 1) if cnt > 1 else np.nan
    out[3] = acc[A_DOWN] / cnt if cnt > 0 else np.nan
    out[4] = acc[A_MAX_DD]
    out[5] = max_dur
    out[6:9] = np.nan
    if bench is not None:
        # the joint bars: the benchmark's, less those after a zero equity
        nex = int(iacc[I_NEX])
        nj = int(bench[0]) - nex
        if nj > 1:
            shift = -acc[A_EX1] / nj  # the joint mean less the benchmark's
            mb = bench[1] + shift
            m2b = bench[2] - acc[A_EX2] - nj * shift * shift if nex else bench[2]
            mr_j = acc[A_SUM_RJ] / nj
            cov = acc[A_SRC] - shift * acc[A_SUM_RJ]
            out[6] = cov / (nj - 1)
            out[7] = m2b / (nj - 1)
            out[8] = mr_j - (cov / m2b if m2b > 0 else 0.0) * mb
    out[9] = iacc[I_EXPOSED]
    out[10] = acc[A_FIRST]
    out[11] = acc[A_LAST]
    out[12] = (acc[A_SUM_EQ] + acc[A_LAST] * iacc[I_RUN]) / n if n > 0 else np.nan
    out[13] = n
    return out


@njit(cache=True, nogil=True)
def _days(ts_ns: np.ndarray) -> int:
    """Return how many distinct UTC days sorted timestamps fall on (one pass)."""
    count = 0
    lo = 1
    hi = 0  # the current day is [lo, hi): a division only when a bar leaves it
    for v in ts_ns:
        if v < lo or v >= hi:
            count += 1
            lo = (v // DAY_NS) * DAY_NS
            hi = lo + DAY_NS
    return count


def periods_per_year(ts_ns: np.ndarray, days_per_year: int) -> float:
    """Infer bars per year: ``days_per_year`` for daily (or slower) bars; else bars per trading
    day times ``days_per_year``."""
    if len(ts_ns) < 2:
        return float(days_per_year)
    step = float(np.median(np.diff(ts_ns[: min(len(ts_ns), 10_000)])))
    if step >= 5 * DAY_NS:  # weekly or slower: calendar bars per year
        return 365.25 * DAY_NS / step
    if step >= 0.5 * DAY_NS:
        return float(days_per_year)
    ts = np.ascontiguousarray(ts_ns, dtype=np.int64)  # sorted (a bar index)
    return float(len(ts)) / _days(ts) * days_per_year


def compute_metrics(
    equity: np.ndarray | None,
    ts_ns: np.ndarray,
    *,
    trade_pnl: np.ndarray,
    traded_value: float,
    held: np.ndarray | None,
    ppy: float,
    benchmark: np.ndarray | None = None,
    stats: np.ndarray | None = None,
) -> dict[str, float | int | None]:
    """Return every metric (see the module docstring) of one equity curve and its closed trades.

    ``benchmark`` is the benchmark's closes. Undefined values (e.g. Sharpe of a flat curve)
    are None. ``stats`` (:func:`finish_accumulators`: the fill loop's running
    statistics, benchmark included) replaces the pass over ``equity``, ``held`` and the
    benchmark (``equity`` and ``held`` may then be None).
    """
    if stats is None:
        if equity is None or held is None:
            raise ValueError("compute_metrics: the equity curve and held flags, or stats")
        equity = np.ascontiguousarray(equity, dtype=np.float64)
        n = len(equity)
        has_bench = benchmark is not None
        bench = bar_returns(benchmark) if benchmark is not None else np.zeros(1)
        if has_bench and len(bench) != n:
            raise ValueError(f"benchmark: expected {n} values, got {len(bench)}")
        held = np.ascontiguousarray(held, dtype=np.uint8)
        st = curve_stats(equity, ts_ns, bench, has_bench, held)
        first, last = float(equity[0]), float(equity[-1])
        mean_eq = float(np.mean(equity))
    else:
        st = stats[:10]
        first, last, mean_eq, n = (
            float(stats[10]),
            float(stats[11]),
            float(stats[12]),
            int(stats[13]),
        )
    _cnt, mean, var, down_sq, max_dd, max_dur_ns, cov, var_b, icpt, exposed = st
    years = (ts_ns[-1] - ts_ns[0]) / DAY_NS / 365.25 if n > 1 else 0.0
    total = last / first - 1.0
    cagr = (last / first) ** (1.0 / years) - 1.0 if years > 0 and last > 0 else None
    std = math.sqrt(var) if var == var else None
    sq = math.sqrt(ppy)
    sharpe = mean / std * sq if std else None
    dd = math.sqrt(down_sq) if down_sq == down_sq else None
    sortino = mean / dd * sq if dd else None
    calmar = cagr / abs(max_dd) if cagr is not None and max_dd < 0 else None
    pnl = np.asarray(trade_pnl, dtype=np.float64)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    beta = cov / var_b if var_b == var_b and var_b > 0 else None
    alpha = icpt * ppy if beta is not None else None
    out: dict[str, Any] = {
        "total_return": total,
        "cagr": cagr,
        "volatility": std * sq if std is not None else None,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "max_drawdown": float(max_dd),
        "max_drawdown_duration": float(max_dur_ns) / DAY_NS,
        "win_rate": float(len(wins) / len(pnl)) if len(pnl) else None,
        "profit_factor": (
            float(wins.sum() / -losses.sum())
            if len(losses)
            else (None if not len(wins) else math.inf)
        ),
        "expectancy": float(pnl.mean()) if len(pnl) else None,
        "trades": len(pnl),
        "exposure": float(exposed / n) if n else 0.0,
        "turnover": float(traded_value / mean_eq / years) if years > 0 and mean_eq > 0 else None,
        "alpha": alpha,
        "beta": beta,
        "final_equity": last,
    }
    for k, v in out.items():
        if isinstance(v, float | np.floating):
            out[k] = float(v) if math.isfinite(v) else None
    return out


METRIC_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "win_rate",
    "profit_factor",
    "expectancy",
    "trades",
    "exposure",
    "turnover",
    "alpha",
    "beta",
    "final_equity",
)
# metrics where smaller is better, for ranking
LOWER_IS_BETTER = {"volatility", "max_drawdown_duration", "turnover"}
