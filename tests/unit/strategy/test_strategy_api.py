"""Strategy API: typed parameters, loading, errors, built-ins, batch == per-bar decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.errors import ConfigError, DataError, StrategyError
from easyquant.execution.market import get_profile
from easyquant.strategy import BUILTINS, Bars, Param, Strategy, load_strategy, make_strategy
from easyquant.strategy.builtins import SmaCross
from tests.unit.backtest.synth import make_bars


def universe(n: int = 300, k: int = 4) -> dict[str, pd.DataFrame]:
    return {f"S{i}": make_bars(n, seed=10 + i, drift=0.0005 * (i - 1)) for i in range(k)}


def test_params_are_typed_and_validated() -> None:
    s = SmaCross(fast="5", slow=20.0)
    assert (s.fast, s.slow) == (5, 20)
    with pytest.raises(ConfigError, match=r"unknown parameter 'fsat' \(did you mean 'fast'\?\)"):
        SmaCross(fsat=5)
    with pytest.raises(ConfigError, match="parameter fast: must be >= 1, got 0"):
        SmaCross(fast=0)
    with pytest.raises(ConfigError, match="parameter slow: expected int, got 'abc'"):
        SmaCross(slow="abc")
    with pytest.raises(ConfigError, match=r"fast \(30\) must be < slow \(20\)"):
        SmaCross(fast=30, slow=20)


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (Param(1), True, "expected int"),  # a bool is not a number here
        (Param(1), 2.5, "expected int"),
        (Param(1.0), False, "expected float"),
        (Param(1.0), float("inf"), "expected float"),
        (Param(False), "maybe", "expected bool"),
    ],
)
def test_params_refuse_values_of_another_kind(param: Param, value: object, expected: str) -> None:
    param.name = "p"
    with pytest.raises(ConfigError, match=f"strategy s: parameter p: {expected}, got"):
        param.coerce(value, owner="s")


@pytest.mark.parametrize(
    ("param", "value", "coerced"),
    [
        (Param(1), "7", 7),
        (Param(1), 7.0, 7),
        (Param(1.0), "0.5", 0.5),
        (Param(1.0), 3, 3.0),
        (Param(False), "Yes", True),
        (Param(True), 0, False),
    ],
)
def test_params_coerce_cli_strings_and_numbers(
    param: Param, value: object, coerced: object
) -> None:
    param.name = "p"
    got = param.coerce(value, owner="s")
    assert got == coerced and type(got) is type(coerced)


def test_load_by_name_and_import_path() -> None:
    assert load_strategy("sma_cross") is SmaCross
    assert load_strategy("easyquant.strategy.builtins:BollingerReversion").name == (
        "bollinger_reversion"
    )
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        load_strategy("nope")
    with pytest.raises(ConfigError, match="cannot import module"):
        load_strategy("strategies.no_such_mod:X")
    with pytest.raises(ConfigError, match="is not a Strategy subclass"):
        load_strategy("easyquant.strategy.base:Param")
    assert set(BUILTINS) == {
        "sma_cross",
        "sma_trend",
        "momentum_rotation",
        "bollinger_reversion",
        "opening_range_breakout",
    }


class Boom(Strategy):
    name = "boom"
    at = Param(5, ge=0)

    def next(self, t: int, data: Bars) -> dict[str, float] | None:
        if t == self.at:
            raise ZeroDivisionError("division by zero")
        return None


class BoomSignal(Strategy):
    name = "boom_signal"

    def signal(self, bars):  # type: ignore[no-untyped-def]
        if bars.symbol == "B":
            raise ValueError("bad math")
        return np.zeros(len(bars))


def test_strategy_errors_name_strategy_symbol_and_bar() -> None:
    df = make_bars(20)
    with pytest.raises(StrategyError) as err:
        run_backtest(Boom(at=5), df)
    msg = str(err.value)
    assert "strategy boom" in msg and "ASSET" in msg
    assert df.index[5].isoformat() in msg and "ZeroDivisionError" in msg
    with pytest.raises(StrategyError, match=r"strategy boom_signal \(symbol B, bars up to"):
        run_backtest(BoomSignal(), {"A": df, "B": df})


def test_bad_data_is_named() -> None:
    df = make_bars(20)
    with pytest.raises(DataError, match="symbol B: no bars"):
        Bars.from_frames({"A": df, "B": df.iloc[:0]})
    with pytest.raises(DataError, match="symbol A: missing column"):
        Bars.from_frames({"A": df.drop(columns=["close"])})


@pytest.mark.parametrize(
    ("name", "params", "data"),
    [
        ("sma_cross", {"fast": 5, "slow": 20}, {"A": make_bars(200, seed=2)}),
        ("sma_cross", {"fast": 5, "slow": 20}, universe(150, 2)),
        ("momentum_rotation", {"lookback": 20, "top": 2, "rebalance": 10}, universe(150)),
        ("bollinger_reversion", {"window": 15, "k": 1.5}, {"A": make_bars(200, seed=3)}),
        (
            "opening_range_breakout",
            {"range_bars": 5, "exit_bar": 40},
            {"A": make_bars(300, seed=4, freq="10min", start="2024-01-02 14:30", vol=0.002)},
        ),
    ],
)
def test_batch_and_per_bar_decisions_are_identical(name: str, params: dict, data: dict) -> None:
    strat = make_strategy(name, params)
    bars = Bars.from_frames(data)
    full = strat.decisions(bars)
    assert not np.isnan(full.target).all()
    for k in range(1, len(bars) + 1):
        live = strat.decide(bars[:k])  # what the live service does on each new bar
        assert live == full.row(k - 1, bars.symbols), f"bar {k - 1}"


def test_builtins_trade() -> None:
    cfg = BacktestConfig(market=get_profile("us", commission=0.001))
    rot = run_backtest(
        "momentum_rotation", universe(400), cfg, params={"lookback": 40, "top": 2, "rebalance": 20}
    )
    assert rot.metrics["trades"] > 3
    held = {s for s in rot.trades["symbol"]}
    assert len(held) >= 2
    bb = run_backtest("bollinger_reversion", make_bars(400, seed=5), cfg)
    assert bb.metrics["trades"] > 2
    orb = run_backtest(
        "opening_range_breakout",
        make_bars(2000, seed=4, freq="5min", start="2024-01-02 14:30", vol=0.002),
        cfg,
        params={"range_bars": 6, "exit_bar": 70},
    )
    assert len(orb.fills) > 2
