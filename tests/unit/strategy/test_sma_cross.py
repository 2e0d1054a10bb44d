"""The textbook crossover: a cross is a strict change between two bars, never the warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from easyquant.strategy import Bars, make_strategy
from easyquant.strategy.indicators import crossings
from tests.unit.backtest.synth import make_bars

nan = np.nan


def test_crossings_mark_strict_changes_only() -> None:
    a = np.array([nan, 2.0, 3.0, 1.0, 2.0, 2.0, 3.0, 0.0, nan, 5.0])
    b = np.array([nan, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    got = crossings(a, b)
    # bar 1: above at the first bar both exist - no cross; bar 3: down; bars 4-6: a tie breaks
    # the cross up; bar 7: down; bar 8 missing is skipped, bar 9 compares with bar 7: up
    want = np.array([nan, nan, nan, 0.0, nan, nan, nan, 0.0, nan, 1.0])
    np.testing.assert_array_equal(got, want)


def test_no_entry_at_the_end_of_the_warm_up() -> None:
    close = np.r_[np.linspace(10, 20, 40), np.linspace(20, 10, 40), np.linspace(10, 30, 40)]
    df = make_bars(120)
    df["close"] = close
    bars = Bars.from_frames({"A": df})
    cross = make_strategy("sma_cross", {"fast": 3, "slow": 10}).decisions(bars).target[:, 0]
    trend = make_strategy("sma_trend", {"fast": 3, "slow": 10}).decisions(bars).target[:, 0]
    assert trend[9] == 1.0  # rising: fast above slow as soon as both exist
    decided = np.flatnonzero(~np.isnan(cross))
    assert len(decided) == 2
    assert cross[decided[0]] == 0.0 and 40 < decided[0] < 50  # the first cross is down
    assert cross[decided[1]] == 1.0 and 80 < decided[1] < 90  # then up


@pytest.mark.parametrize("name", ["sma_cross", "sma_trend"])
@pytest.mark.parametrize("seed", [3, 4])
def test_a_decision_on_the_declared_window_equals_the_whole_historys(name: str, seed: int) -> None:
    bars = Bars.from_frames({"A": make_bars(400, seed=seed), "B": make_bars(400, seed=seed + 9)})
    strat = make_strategy(name, {"fast": 4, "slow": 15})
    full = strat.decisions(bars)
    seen = 0
    for k in range(20, len(bars) + 1):
        row = full.row(k - 1, bars.symbols)
        assert make_strategy(name, {"fast": 4, "slow": 15}).decide(bars[:k]) == row, k
        seen += bool(row)
    assert seen > 5
