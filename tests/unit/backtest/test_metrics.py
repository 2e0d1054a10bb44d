"""Each metric against an independent plain-Python implementation on the same equity curve."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.metrics import periods_per_year
from easyquant.backtest.runner import run_backtest
from easyquant.execution.market import get_profile

from .synth import make_bars


def reference(
    equity: list[float],
    times: list[pd.Timestamp],
    pnl: list[float],
    bench: list[float],
    ppy: float,
    held: list[bool],
    traded: float,
) -> dict:
    rets = [b / a - 1 for a, b in itertools.pairwise(equity)]
    brets = [b / a - 1 for a, b in itertools.pairwise(bench)]
    years = (times[-1] - times[0]).total_seconds() / 86400 / 365.25
    total = equity[-1] / equity[0] - 1
    cagr = (1 + total) ** (1 / years) - 1
    sd = statistics.stdev(rets)
    mean = statistics.fmean(rets)
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in rets) / len(rets))
    peak, mdd, peak_t, longest = equity[0], 0.0, times[0], 0.0
    for e, t in zip(equity, times, strict=True):
        if e >= peak:
            longest = max(longest, (t - peak_t).total_seconds() / 86400)
            peak, peak_t = e, t
        else:
            mdd = min(mdd, e / peak - 1)
    if equity[-1] < peak:
        longest = max(longest, (times[-1] - peak_t).total_seconds() / 86400)
    mb = statistics.fmean(brets)
    beta = sum((r - mean) * (b - mb) for r, b in zip(rets, brets, strict=True)) / sum(
        (b - mb) ** 2 for b in brets
    )
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": sd * math.sqrt(ppy),
        "sharpe": mean / sd * math.sqrt(ppy),
        "sortino": mean / downside * math.sqrt(ppy),
        "calmar": cagr / abs(mdd),
        "max_drawdown": mdd,
        "max_drawdown_duration": longest,
        "win_rate": len(wins) / len(pnl),
        "profit_factor": sum(wins) / -sum(losses),
        "expectancy": sum(pnl) / len(pnl),
        "trades": len(pnl),
        "exposure": sum(held) / len(held),
        "turnover": traded / statistics.fmean(equity) / years,
        "beta": beta,
        "alpha": (mean - beta * mb) * ppy,
    }


@pytest.mark.parametrize(("seed", "market"), [(1, "us"), (5, "cn"), (8, "crypto")])
def test_metrics_match_independent_implementation(seed: int, market: str) -> None:
    df = make_bars(900, seed=seed)
    bench = make_bars(900, seed=seed + 100)["close"]
    cfg = BacktestConfig(market=get_profile(market, commission=0.001))
    res = run_backtest("sma_cross", df, cfg, params={"fast": 8, "slow": 25}, benchmark=bench)
    closed = res.trades[~res.trades["open"]]
    assert len(closed) > 5
    ppy = periods_per_year(res.data.index.asi8, cfg.market.periods_per_year)
    assert ppy == (365 if market == "crypto" else 252)
    traded = float((res.fills["quantity"].abs() * res.fills["price"]).sum())
    ref = reference(
        res.equity.tolist(),
        list(res.equity.index),
        closed["pnl"].tolist(),
        bench.tolist(),
        ppy,
        (res.sim.held > 0).tolist(),
        traded,
    )
    for key, value in ref.items():
        assert res.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_trade_pnl_sums_to_equity_change() -> None:
    df = make_bars(600, seed=4)
    res = run_backtest("sma_cross", df, BacktestConfig(market=get_profile("us", commission=0.002)))
    assert res.trades["pnl"].sum() == pytest.approx(res.final_equity - 100_000.0, rel=1e-9)


def test_intraday_periods_per_year() -> None:
    idx = pd.date_range("2024-01-02 14:30", periods=390 * 3, freq="1min", tz="UTC")
    ts = np.asarray(idx.as_unit("ns").asi8)
    # 1170 bars fall on 2 UTC days here; 585 bars per day * 252
    assert periods_per_year(ts, 252) == pytest.approx(len(ts) / len(np.unique(ts // 86400e9)) * 252)
