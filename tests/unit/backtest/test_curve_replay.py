"""The equity curve replayed from the fills is the curve the fill loop writes, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.simulation import Prepared
from easyquant.execution.market import get_profile
from easyquant.strategy.base import Bars
from easyquant.strategy.registry import make_strategy

from .synth import make_bars

CASES = [
    ("sma_cross", {"fast": 3, "slow": 12}, 1),
    ("momentum_rotation", {"lookback": 10, "top": 2, "rebalance": 5}, 3),
    ("bollinger_reversion", {"window": 10, "k": 1.0}, 2),
]


def universe(nsym: int) -> Bars:
    """``nsym`` symbols; with several, each misses different bars (nan after alignment)."""
    frames = {}
    for k in range(nsym):
        df = make_bars(600, seed=11 + k, vol=0.02)
        if nsym > 2:
            keep = np.random.default_rng(k).random(len(df)) > 0.1
            keep[:3] = True
            df = df[keep]
        frames[f"S{k}"] = df
    return Bars.from_frames(frames)


@pytest.mark.parametrize("market", ["us", "cn", "crypto"])
@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("cash", [100_000.0, 25_000.0])
@pytest.mark.parametrize(("name", "params", "nsym"), CASES)
def test_replayed_curve_is_the_loops(market, fill, cash, name, params, nsym) -> None:
    data = universe(nsym)
    cfg = BacktestConfig(cash=cash, market=get_profile(market, commission=0.001), fill=fill)
    strat = make_strategy(name, params)
    decisions = strat.decisions(data)
    prep = Prepared(data, cfg)
    looped = prep.run(decisions, strat.sizing, curve=True)
    replayed = prep.run(decisions, strat.sizing)
    assert len(looped.fills["bar"]) > 0
    assert replayed._equity is None  # not built until read
    assert np.array_equal(replayed.equity, looped.equity)
    assert np.array_equal(replayed.held, looped.held)
    assert replayed.equity.dtype == np.float64 and replayed.held.dtype == np.uint8
    assert replayed.final_equity == looped.equity[-1]


@pytest.mark.parametrize("market", ["us", "cn", "crypto"])
@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("cash", [100_000.0, 3_000.0, 120.0])
@pytest.mark.parametrize(
    ("name", "params", "nsym"), [*CASES, ("sma_cross", {"fast": 2, "slow": 5}, 2)]
)
def test_skipping_flat_stretches_changes_nothing(market, fill, cash, name, params, nsym) -> None:
    """While flat the loop jumps to the next changed decision (applying decisions to stay
    flat, and recording a new order, inside the scan; refusing a waiting order each bar):
    the outcome is the one of visiting every bar. Small cash makes buys wait for one lot."""
    data = universe(nsym)
    cfg = BacktestConfig(cash=cash, market=get_profile(market, commission=0.001), fill=fill)
    strat = make_strategy(name, params)
    decisions = strat.decisions(data)
    prep = Prepared(data, cfg)
    fast = prep.run(decisions, strat.sizing, curve=True, benchmark_close=data.close[:, 0])
    every = prep.run(
        decisions, strat.sizing, curve=True, skip_flat=False, benchmark_close=data.close[:, 0]
    )
    assert np.array_equal(fast.equity, every.equity)
    assert np.array_equal(fast.held, every.held)
    for key in every.fills:
        assert np.array_equal(fast.fills[key], every.fills[key]), key
    assert fast.rejects == every.rejects
    assert (fast.final_cash, fast.min_cash) == (every.final_cash, every.min_cash)
    np.testing.assert_allclose(fast.stats, every.stats, rtol=1e-12, atol=1e-15)
