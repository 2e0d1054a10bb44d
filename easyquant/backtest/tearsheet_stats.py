"""The tearsheet's statistics over time: drawdown periods, calendar returns, rolling windows,
histograms and a benchmark's buy-and-hold curve.

Conventions (checked in tests against an independent implementation):

- a drawdown period starts at the first bar below the running peak and ends at the first bar
  back at (or above) it, its *recovery* (None while still under water); its *depth* is the
  lowest ``equity / peak - 1`` inside, at the *trough*; its *length* is the calendar days from
  the start to the recovery (to the last bar when not recovered).
- a calendar period's return compounds the bar returns inside it: the last equity of the
  period over the last equity before it (the first equity for the first period), less 1.
- rolling statistics use the ``window`` bar returns ending at each bar (none before the
  window is full): ``sharpe = mean / std(ddof=1) * sqrt(ppy)``,
  ``volatility = std(ddof=1) * sqrt(ppy)``, ``beta = cov(r, rb) / var(rb)`` (ddof 1 both).
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd


def drawdown(equity: pd.Series) -> pd.Series:
    """Return ``equity / running peak - 1`` (0 at a new high; 0 where the peak is not > 0)."""
    values = equity.to_numpy(dtype=np.float64)
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, values / peak - 1.0, 0.0)
    return pd.Series(np.minimum(dd, 0.0), index=equity.index)


def drawdown_periods(equity: pd.Series, top: int = 5) -> list[dict[str, Any]]:
    """Return the ``top`` deepest drawdown periods (deepest first): start, trough, recovery
    (None when not recovered), depth (negative fraction), days and bars (start to recovery, or
    to the last bar)."""
    dd = drawdown(equity).to_numpy()
    idx = pd.DatetimeIndex(equity.index)
    under = dd < 0
    out: list[dict[str, Any]] = []
    n = len(dd)
    t = 0
    while t < n:
        if not under[t]:
            t += 1
            continue
        s = t
        while t < n and under[t]:
            t += 1
        rec = t if t < n else None
        seg = dd[s:t]
        trough = s + int(np.argmin(seg))
        end = rec if rec is not None else n - 1
        out.append(
            {
                "start": idx[s],
                "trough": idx[trough],
                "recovery": idx[rec] if rec is not None else None,
                "depth": float(seg.min()),
                "days": float((idx[end] - idx[s]) / pd.Timedelta(days=1)),
                "bars": int(end - s),
            }
        )
    out.sort(key=lambda p: (p["depth"], p["start"]))
    return out[:top]


def period_returns(equity: pd.Series, freq: str) -> pd.Series:
    """Return compounded returns per calendar period (``"M"`` month, ``"Y"`` year), indexed by
    the period; the first period is measured from the first equity."""
    idx = pd.DatetimeIndex(equity.index)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    s = pd.Series(equity.to_numpy(dtype=np.float64), index=idx.to_period(freq))
    last = s.groupby(level=0).last()
    base = last.shift(1)
    if len(base):
        base.iloc[0] = s.iloc[0]
    return last / base - 1.0


def monthly_table(equity: pd.Series) -> dict[str, Any]:
    """Return ``{"years": [...], "returns": [[12 values or None] per year]}``."""
    m = period_returns(equity, "M")
    periods = cast(pd.PeriodIndex, m.index)
    years = sorted(set(periods.year))
    grid: list[list[float | None]] = [[None] * 12 for _ in years]
    for y, mo, v in zip(periods.year, periods.month, m.to_numpy(), strict=True):
        grid[years.index(y)][mo - 1] = _num(v)
    return {"years": years, "returns": grid}


def rolling_stats(
    returns: pd.Series, bench: pd.Series | None, window: int, ppy: float
) -> dict[str, list[float | None]]:
    """Return rolling Sharpe, volatility and (with a benchmark) beta of bar returns."""
    roll = returns.rolling(window)
    mean = roll.mean()
    std = roll.std(ddof=1)
    sq = math.sqrt(ppy)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / std * sq
    out = {"sharpe": _nums(sharpe), "volatility": _nums(std * sq)}
    if bench is not None:
        cov = returns.rolling(window).cov(bench, ddof=1)
        var = bench.rolling(window).var(ddof=1)
        out["beta"] = _nums(cov / var)
    return out


def histogram(values: np.ndarray, bins: int = 30) -> dict[str, Any]:
    """Return ``{"edges": [bins + 1], "counts": [bins], "n", "mean", "median"}`` of the finite
    values (empty lists when there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"edges": [], "counts": [], "n": 0, "mean": None, "median": None}
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 1e-9, hi + 1e-9
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "n": len(v),
        "mean": float(v.mean()),
        "median": float(np.median(v)),
    }


def buy_and_hold(close: pd.Series, cash: float, market: dict[str, Any]) -> pd.Series:
    """Return the equity of ``cash`` put into one symbol at its first close and held: the buy
    pays the market's slippage and commission (at least its minimum), fractional shares."""
    c = close.to_numpy(dtype=np.float64)
    if not len(c) or not (c[0] > 0):
        raise ValueError("benchmark: no positive first close to buy at")
    price = c[0] * (1.0 + float(market.get("slippage_bps") or 0.0) / 10_000.0)
    rate = float(market.get("commission") or 0.0)
    min_fee = float(market.get("min_commission") or 0.0)
    qty = cash / (price * (1.0 + rate))
    if qty * price * rate < min_fee:
        qty = max(cash - min_fee, 0.0) / price
    cash_left = cash - qty * price - max(qty * price * rate, min_fee if qty > 0 else 0.0)
    return pd.Series(cash_left + qty * c, index=close.index)


def _num(v: Any) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


def _nums(s: pd.Series) -> list[float | None]:
    return [_num(v) for v in s.to_numpy(dtype=np.float64)]
