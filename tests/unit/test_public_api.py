"""``import easyquant as eq`` is what a notebook user writes: the public names work from there,
and importing the package alone stays cheap for Airflow's DAG parsing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import easyquant as eq
from tests.conftest import REPO
from tests.unit.backtest.synth import make_bars


class Crossing(eq.Strategy):
    """Long while the close is above its ``window``-bar mean: a user's own strategy."""

    name = "crossing"
    window = eq.Param(20, ge=2)

    def signal(self, bars: eq.SymbolBars) -> np.ndarray:
        close = pd.Series(bars.close)
        return (close > close.rolling(self.window).mean()).to_numpy(np.float64)


def test_a_notebook_backtest_through_the_package_namespace() -> None:
    frames = {"AAA": make_bars(400, seed=5), "BBB": make_bars(400, seed=6)}
    config = eq.BacktestConfig(cash=50_000, market=eq.get_profile("us", commission=0.0005))

    res = eq.run_backtest("sma_cross", frames, config, params={"fast": 5, "slow": 20})
    assert isinstance(res, eq.BacktestResult)
    assert res.strategy.param_values == {"fast": 5, "slow": 20}
    assert res.equity.iloc[0] == pytest.approx(50_000)
    assert res.final_equity == pytest.approx(res.equity.iloc[-1])
    assert res.final_equity != pytest.approx(50_000)  # it traded
    assert len(res.trades) > 0 and set(res.trades["symbol"]) <= {"AAA", "BBB"}

    own = eq.run_backtest(Crossing(window=10), frames["AAA"], config)
    assert own.metrics["trades"] > 0
    assert own.strategy.param_values == {"window": 10}

    with pytest.raises(eq.ConfigError, match="window"):
        Crossing(window=1)
    with pytest.raises(eq.EasyQuantError, match="unknown strategy 'nope'"):
        eq.run_backtest("nope", frames, config)


def test_every_listed_name_resolves() -> None:
    for name in eq.__all__:
        assert getattr(eq, name) is not None, name
    assert "run_backtest" in dir(eq)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = eq.nothing_here  # type: ignore[attr-defined]


def test_importing_the_package_loads_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        "import easyquant\n"
        "heavy = [m for m in ('pandas', 'numpy', 'numba', 'psycopg2', 'pydantic') "
        "if m in sys.modules]\n"
        "print(json.dumps(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
