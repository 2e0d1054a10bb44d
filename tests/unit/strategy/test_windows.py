"""Live decisions at a bounded cost: every built-in decides on its declared window (or, per bar,
from its kept state) exactly as on the whole history, on every bar of several data sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.strategy import BUILTINS, Bars, Strategy, make_strategy
from easyquant.strategy.base import window_start
from easyquant.strategy.incremental import Decider
from easyquant.strategy.indicators import sma
from tests.unit.backtest.synth import make_bars


def ticks_with_plateaus(n: int, seed: int) -> pd.DataFrame:
    """Prices on a 0.01 grid with flat stretches (a stale quote): ties between averages."""
    df = make_bars(n, seed=seed, vol=0.01)
    rng = np.random.default_rng(seed)
    close = np.round(df["close"].to_numpy(), 2)
    for _ in range(n // 60):
        a = int(rng.integers(0, n - 80))
        close[a : a + int(rng.integers(10, 80))] = close[a]
    df["close"] = close
    df["high"] = np.maximum(df["high"], close)
    df["low"] = np.minimum(df["low"], close)
    return df


def gapped_universe(n: int, seed: int) -> dict[str, pd.DataFrame]:
    """Three symbols, two of them missing bars here and there (NaN rows once aligned)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(3):
        df = make_bars(n, seed=seed + k, drift=0.0004 * (k - 1))
        if k:
            df = df[rng.random(n) > 0.1 * k]
        out[f"S{k}"] = df
    return out


DATA = {
    "walk": lambda: {"A": make_bars(700, seed=21)},
    "ticks": lambda: {"A": ticks_with_plateaus(900, seed=22)},
    "gapped": lambda: gapped_universe(500, seed=23),
    "intraday": lambda: {
        "A": make_bars(1200, seed=24, freq="5min", start="2024-01-02 14:30", vol=0.002),
        "B": make_bars(1200, seed=25, freq="5min", start="2024-01-02 14:30", vol=0.003),
    },
}
PARAMS = {
    "sma_cross": [{"fast": 3, "slow": 12}, {"fast": 10, "slow": 30}],
    "sma_trend": [{"fast": 3, "slow": 12}, {"fast": 10, "slow": 30}],
    "bollinger_reversion": [{"window": 15, "k": 1.0}, {"window": 40, "k": 2.0}],
    "momentum_rotation": [
        {"lookback": 20, "top": 1, "rebalance": 7},
        {"lookback": 5, "top": 2, "rebalance": 1, "absolute": True},
    ],
    "opening_range_breakout": [{"range_bars": 4, "exit_bar": 40}, {"range_bars": 1, "exit_bar": 2}],
}


def test_every_builtin_declares_its_window() -> None:
    assert set(PARAMS) == set(BUILTINS)
    for name, cls in BUILTINS.items():
        for params in PARAMS[name]:
            window = cls(**params).decision_window()
            assert isinstance(window, int) and window >= 2, name


@pytest.mark.parametrize("data_name", sorted(DATA))
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_live_decisions_equal_the_whole_historys_on_every_bar(name: str, data_name: str) -> None:
    bars = Bars.from_frames(DATA[data_name]())
    for params in PARAMS[name]:
        strat = make_strategy(name, params)
        full = strat.decisions(bars)
        decider = Decider(make_strategy(name, params))
        warm = min(len(bars) // 3, 2 * strat.decision_window())
        decider.start(bars[:warm])
        decided = 0
        for k in range(warm + 1, len(bars) + 1):
            live = decider.decide(bars[:k])
            assert live == full.row(k - 1, bars.symbols), f"{name} {params} bar {k - 1}"
            decided += bool(live)
            # the stateless path (a fresh instance, the window only) agrees as well
            if k % 7 == 0:
                assert make_strategy(name, params).decide(bars[:k]) == live
        # the breakout trades within a day: daily bars give it nothing to decide
        assert decided > 0 or (name == "opening_range_breakout" and data_name != "intraday")


def test_a_vectorised_strategy_reads_only_its_window() -> None:
    bars = Bars.from_frames(gapped_universe(400, seed=5))
    close = bars.close
    start = window_start(close, 30)
    for j in range(close.shape[1]):
        assert np.isfinite(close[start:, j]).sum() >= 30
    assert min(np.isfinite(close[start + 1 :, j]).sum() for j in range(close.shape[1])) == 29
    seen: list[int] = []

    class Spy(Strategy):
        def decision_window(self) -> int:
            return 30

        def signal(self, sb):  # type: ignore[no-untyped-def]
            seen.append(len(sb))
            return sma(sb.close, 30)

    Decider(Spy()).decide(bars)
    assert seen and max(seen) == len(bars) - start < 60


class NoWindow(Strategy):
    """A user strategy declaring no window: the mean of every close so far (whole history)."""

    def signal(self, bars):  # type: ignore[no-untyped-def]
        close = bars.close
        return (close > np.cumsum(close) / np.arange(1, len(close) + 1)).astype(float)


def test_a_strategy_without_a_window_is_decided_on_the_whole_history() -> None:
    bars = Bars.from_frames({"A": make_bars(300, seed=8)})
    full = NoWindow().decisions(bars)
    decider = Decider(NoWindow())
    for k in range(1, len(bars) + 1):
        assert decider.decide(bars[:k]) == full.row(k - 1, bars.symbols)
    note = decider.cost_note(bars)
    assert note is not None and "declares no decision window" in note
    assert "300 bars now" in note and "ms per decision" in note
    assert Decider(make_strategy("sma_cross", {})).cost_note(bars) is None


def test_rotation_keeps_its_schedule_in_a_window() -> None:
    """Rebalances are counted from the whole history's first bar, not the window's."""
    bars = Bars.from_frames({f"S{k}": make_bars(200, seed=30 + k) for k in range(3)})
    strat = make_strategy("momentum_rotation", {"lookback": 10, "top": 1, "rebalance": 9})
    full = strat.decisions(bars)
    rows = [t for t in range(len(bars)) if full.row(t, bars.symbols)]
    assert rows[:3] == [10, 19, 28]
    window = bars.since(50)
    assert window.origin == 50 and window[5:].origin == 50
    part = strat.decisions(window)
    assert [t + 50 for t in range(len(window)) if part.row(t, bars.symbols)][:2] == [64, 73]
