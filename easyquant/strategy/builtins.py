"""Built-in strategies: SMA crossover, SMA trend, momentum rotation, Bollinger mean reversion
and an intraday opening-range breakout."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from easyquant.strategy.base import Bars, Param, Strategy, SymbolBars, Target
from easyquant.strategy.indicators import (
    above_below,
    crossings,
    rolling_std,
    sma,
    sma_above_below,
)


class _SmaPair(Strategy):
    """Two simple moving averages of the close, a fast and a slow one."""

    fast = Param(10, ge=1, doc="fast SMA window (bars)")
    slow = Param(30, ge=2, doc="slow SMA window (bars)")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be < slow ({self.slow})")

    def averages(self, bars: SymbolBars) -> tuple[np.ndarray, np.ndarray]:
        """Return both averages (computed once per data in a sweep)."""
        close = bars.close
        f = bars.cached(("sma", self.fast), lambda: sma(close, self.fast))
        s = bars.cached(("sma", self.slow), lambda: sma(close, self.slow))
        return f, s


class SmaCross(_SmaPair):
    """The textbook SMA crossover: buy when the fast SMA of the close crosses above the slow
    one, sell when it crosses below.

    A cross is a strict change between two consecutive bars the symbol has: the fast average
    below the slow one on the earlier bar and above it on the later (or the reverse). A bar
    where the averages are equal starts no cross, and the end of the warm-up is no cross: a
    fast average already above the slow one there buys nothing until the next cross.
    """

    name = "sma_cross"

    def decision_window(self) -> int:
        # a cross compares two bars' averages: the slow window ending at the bar before
        return self.slow + 1

    def signal(self, bars: SymbolBars) -> np.ndarray:
        return crossings(*self.averages(bars))


class SmaTrend(_SmaPair):
    """Long while the fast SMA of the close is above the slow one, flat while below (from the
    first bar both averages exist: no cross is awaited)."""

    name = "sma_trend"

    def decision_window(self) -> int:
        return self.slow

    def signal(self, bars: SymbolBars) -> np.ndarray:
        if not bars.shared:  # one run: both averages and the comparison in one pass
            return sma_above_below(bars.close, self.fast, self.slow)
        return above_below(*self.averages(bars))


class MomentumRotation(Strategy):
    """Every ``rebalance`` bars, hold the ``top`` symbols with the best ``lookback`` return,
    equally weighted (only those with positive momentum when ``absolute`` is set).

    Rebalances fall on bars ``lookback``, ``lookback + rebalance``, ... counted from the first
    bar of the whole history (``data.origin``), so a window of it keeps the schedule."""

    name = "momentum_rotation"
    lookback = Param(60, ge=1, doc="momentum window (bars)")
    top = Param(2, ge=1, doc="how many symbols to hold")
    rebalance = Param(21, ge=1, doc="bars between rebalances")
    absolute = Param(False, doc="hold cash instead of symbols with negative momentum")

    def decision_window(self) -> int:
        return self.lookback + 1

    def weights(self, data: Bars) -> np.ndarray:
        close = data.close
        n, m = close.shape
        out = np.full((n, m), np.nan)
        top = min(self.top, m)
        # the first rebalance bar at or after this data's first bar, in whole-history numbers
        first = max(self.lookback, data.origin)
        first += -(first - self.lookback) % self.rebalance
        rows = np.arange(first - data.origin, n, self.rebalance)
        rows = rows[rows >= self.lookback]  # a return needs ``lookback`` bars of this data
        if len(rows) == 0:
            return out
        # the rebalance bars' returns only, ranked in one sort: missing ones last, ties in
        # symbol order
        mom = close[rows] / close[rows - self.lookback] - 1.0
        finite = np.isfinite(mom)
        order = np.argsort(np.where(finite, -mom, np.inf), axis=1, kind="stable")[:, :top]
        picked = np.take_along_axis(finite, order, axis=1)
        if self.absolute:
            picked &= np.take_along_axis(mom, order, axis=1) > 0
        w = np.zeros((len(rows), m))
        at = np.broadcast_to(np.arange(len(rows))[:, None], order.shape)
        w[at[picked], order[picked]] = 1.0 / top
        decided = finite.any(axis=1)  # a bar without any return decides nothing
        out[rows[decided]] = w[decided]
        return out


class BollingerReversion(Strategy):
    """Buy when the close falls below the lower Bollinger band; sell when it regains the mean."""

    name = "bollinger_reversion"
    window = Param(20, ge=2, doc="band window (bars)")
    k = Param(2.0, gt=0, doc="band width in standard deviations")

    def decision_window(self) -> int:
        return self.window

    def signal(self, bars: SymbolBars) -> np.ndarray:
        close = bars.close
        mid = sma(close, self.window)
        lower = mid - self.k * rolling_std(close, self.window)
        out = np.full(len(close), np.nan)
        out[close > mid] = 0.0
        out[close < lower] = 1.0
        return out


class OpeningRangeBreakout(Strategy):
    """Intraday: after the first ``range_bars`` bars of a day, go long (a stop order) above the
    opening range's high; go flat after ``exit_bar`` bars of the day. One entry per day.

    Written with the per-bar ``next`` hook to show stateful logic: ``next`` reads only bar
    ``t`` and the state it keeps, so a live session calls it once per new bar.
    """

    name = "opening_range_breakout"
    range_bars = Param(30, ge=1, doc="bars forming the opening range")
    exit_bar = Param(380, ge=2, doc="bar of the day at which to go flat")
    utc_offset_hours = Param(-5.0, ge=-12, le=14, doc="exchange clock offset for day boundaries")

    def validate(self) -> None:
        if self.exit_bar <= self.range_bars:
            raise ValueError(f"exit_bar ({self.exit_bar}) must be > range_bars ({self.range_bars})")

    def decision_window(self) -> int:
        # a day's state matters until its exit bar: that many bars reach back to the day's
        # first bar or, past the exit bar, decide "flat" whatever came before
        return self.exit_bar + 1

    def init(self, data: Bars) -> None:
        self._offset = int(self.utc_offset_hours * 3600e9)
        self._day = -1  # the day of the last bar seen
        self._bar_of_day = 0
        self._range_high = np.full(len(data.symbols), -np.inf)
        self._entered: dict[str, bool] = {}

    def next(self, t: int, data: Bars) -> Mapping[str, float | Target] | None:
        day = (int(data.ts[t]) + self._offset) // 86_400_000_000_000
        if day == self._day:
            self._bar_of_day += 1
        else:
            self._day, self._bar_of_day = day, 0
            self._range_high[:] = -np.inf
            self._entered = {}
        i = self._bar_of_day
        out: dict[str, float | Target] = {}
        for j, sym in enumerate(data.symbols):
            if i < self.range_bars:
                self._range_high[j] = max(self._range_high[j], data.high[t, j])
            elif i >= self.exit_bar:
                out[sym] = 0.0
            elif not self._entered.get(sym):
                self._entered[sym] = True
                out[sym] = Target(1.0 / len(data.symbols), "stop", float(self._range_high[j]))
        return out or None


BUILTINS: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (SmaCross, SmaTrend, MomentumRotation, BollingerReversion, OpeningRangeBreakout)
}
