"""Indicators against plain-Python references, including bars a symbol does not have."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.strategy.base import Bars
from easyquant.strategy.indicators import above_below, sma, sma_above_below

from ..backtest.synth import make_bars


def reference_sma(x: list[float], n: int) -> list[float]:
    """The mean of the last ``n`` values present (math.fsum), nan at a missing bar."""
    out, seen = [], []
    for v in x:
        if math.isnan(v):
            out.append(math.nan)
            continue
        seen.append(v)
        out.append(math.fsum(seen[-n:]) / n if len(seen) >= n else math.nan)
    return out


@pytest.mark.parametrize("n", [1, 3, 10])
def test_sma_skips_missing_values(n: int) -> None:
    x = make_bars(400, seed=3)["close"].to_numpy().copy()
    x[[0, 17, 18, 19, 150, 399]] = np.nan
    got = sma(x, n)
    want = np.array(reference_sma(x.tolist(), n))
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-13)


@pytest.mark.parametrize(("fast", "slow"), [(2, 5), (10, 30), (30, 10), (1, 1), (7, 1000)])
@pytest.mark.parametrize("gaps", [False, True])
def test_fused_crossover_is_the_two_averages_compared(fast: int, slow: int, gaps: bool) -> None:
    x = make_bars(3000, seed=5)["close"].to_numpy().copy()
    if gaps:
        x[np.random.default_rng(1).random(len(x)) < 0.05] = np.nan
    fused = sma_above_below(x, fast, slow)
    assert np.array_equal(fused, above_below(sma(x, fast), sma(x, slow)), equal_nan=True)


def test_a_symbol_with_missing_bars_keeps_trading() -> None:
    """Aligned across symbols, a bar one symbol lacks is nan for it: its averages skip it
    instead of going nan for good, so it still trades after the gap."""
    a = make_bars(600, seed=1, vol=0.02)
    b = make_bars(600, seed=2, vol=0.02)
    b = b.drop(b.index[[50, 51, 300]])
    data = Bars.from_frames({"A": a, "B": b})
    res = run_backtest("sma_cross", data, BacktestConfig(), params={"fast": 3, "slow": 10})
    b_fills = res.sim.fills["bar"][res.sim.fills["symbol"] == 1]
    assert (b_fills > 310).sum() >= 4
    alone = run_backtest("sma_cross", b, BacktestConfig(), params={"fast": 3, "slow": 10})
    # B's own decisions are those it makes alone (at its own bars), halved for two symbols
    col = res.decisions.target[:, 1]
    at_b = pd.Series(col, index=data.index).reindex(b.index).to_numpy()
    assert np.array_equal(at_b, alone.decisions.target[:, 0] / 2, equal_nan=True)
