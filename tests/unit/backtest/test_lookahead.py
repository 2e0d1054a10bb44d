"""The look-ahead check catches a leaking strategy and passes honest ones."""

from __future__ import annotations

import numpy as np
import pytest

from easyquant.backtest.lookahead import check_lookahead
from easyquant.errors import StrategyError
from easyquant.strategy import Bars, Strategy, SymbolBars, make_strategy
from easyquant.strategy.indicators import sma

from .synth import make_bars


class Peeking(Strategy):
    """Buys when tomorrow's close is higher: uses bar t+1 to decide at bar t."""

    name = "peeking"

    def signal(self, bars: SymbolBars) -> np.ndarray:
        nxt = np.r_[bars.close[1:], np.nan]
        out = np.where(nxt > bars.close, 1.0, 0.0)
        out[np.isnan(nxt)] = np.nan
        return out


class CenteredSma(Strategy):
    """A subtler leak: a centred moving average (uses 5 future bars)."""

    name = "centered_sma"

    def signal(self, bars: SymbolBars) -> np.ndarray:
        m = sma(bars.close, 11)
        centred = np.full(len(m), np.nan)
        centred[: max(len(m) - 5, 0)] = m[5:]
        return np.where(bars.close > centred, 1.0, 0.0)


def test_leaking_strategy_is_caught_naming_the_first_bar() -> None:
    bars = Bars.from_frames(make_bars(300, seed=9))
    with pytest.raises(StrategyError) as err:
        check_lookahead(Peeking(), bars, cuts=10)
    msg = str(err.value)
    assert "look-ahead" in msg and "peeking" in msg and "ASSET" in msg
    with pytest.raises(StrategyError, match="look-ahead"):
        check_lookahead(CenteredSma(), bars, cuts=10)


def test_first_bar_named_is_the_earliest_changed_decision() -> None:
    bars = Bars.from_frames(make_bars(100, seed=9))
    with pytest.raises(StrategyError, match=r"\(bar 1\)"):
        # the shortest cut (2 bars) truncates bar 1's "tomorrow": the first decision to change
        check_lookahead(Peeking(), bars, cuts=100)


@pytest.mark.parametrize("name", ["sma_cross", "bollinger_reversion"])
def test_honest_builtins_pass(name: str) -> None:
    bars = Bars.from_frames(make_bars(300, seed=9))
    assert check_lookahead(make_strategy(name), bars, cuts=15) >= 10


def test_honest_rotation_passes() -> None:
    data = {f"S{i}": make_bars(200, seed=i) for i in range(3)}
    strat = make_strategy("momentum_rotation", {"lookback": 20, "rebalance": 7})
    check_lookahead(strat, Bars.from_frames(data), cuts=15)
