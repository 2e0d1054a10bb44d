"""Limit and stop orders rest across bars: they keep working with the quantity they were sent
with until they fill, are replaced by a new decision, or (day orders) their trading day ends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.simulation import Prepared, Simulation
from easyquant.execution.market import DAY, GTC, LIMIT, MARKET, STOP, get_profile
from easyquant.strategy.base import Bars, Decisions

from .test_market_rules import frame

FEE = 0.001


def simulate(
    df: pd.DataFrame,
    plan: dict[int, tuple[float, int, float, int]],
    *,
    cash: float = 1_000.0,
    market: str = "us",
    fill: str = "next_open",
) -> Simulation:
    """Run decisions ``{bar: (target, kind, price, time in force)}`` on one symbol."""
    data = Bars.from_frames({"X": df})
    n = len(df)
    target = np.full((n, 1), np.nan)
    kind = np.zeros((n, 1), dtype=np.int8)
    price = np.full((n, 1), np.nan)
    tif = np.zeros((n, 1), dtype=np.int8)
    for t, (tg, k, p, f) in plan.items():
        target[t, 0], kind[t, 0], price[t, 0], tif[t, 0] = tg, k, p, f
    decisions = Decisions(target, kind, price, tif)
    cfg = BacktestConfig(cash=cash, market=get_profile(market, commission=FEE), fill=fill)
    return Prepared(data, cfg).run(decisions)


def fills(sim: Simulation) -> list[list[float]]:
    f = sim.fills
    return np.column_stack([f["bar"], f["quantity"], f["price"]]).tolist()


ROWS = [
    (10.0, 10.1, 9.9, 10.0),  # 0: decide
    (10.0, 10.1, 9.5, 9.6),  # 1: sent, sized at the open (10.0): not triggered
    (9.2, 9.3, 8.5, 9.0),  # 2: reaches 9.0
    (9.0, 9.1, 8.9, 9.0),
]


def test_a_limit_buy_that_does_not_fill_keeps_working_with_its_quantity() -> None:
    sim = simulate(frame(ROWS), {0: (1.0, LIMIT, 9.0, GTC)})
    # sent at bar 1 for floor(1000 / (10 * 1.001)) = 99 shares, filled at bar 2 at the limit;
    # re-sized at bar 2 it would have been floor(1000 / (9 * 1.001)) = 110
    assert fills(sim) == [[2.0, 99.0, 9.0]]
    assert sim.rested == 1
    assert sim.rejects == {"not triggered": 1}


def test_a_new_decision_replaces_the_working_order() -> None:
    # bar 1 replaces the 9.0 limit with an 8.0 limit: bar 2 reaches 9.0 but not 8.0
    sim = simulate(frame(ROWS), {0: (1.0, LIMIT, 9.0, GTC), 1: (1.0, LIMIT, 8.0, GTC)})
    assert fills(sim) == []
    assert sim.rested == 2  # each order rested after its first try
    # a decision to stay flat cancels it too
    flat = simulate(frame(ROWS), {0: (1.0, LIMIT, 9.0, GTC), 1: (0.0, MARKET, np.nan, GTC)})
    assert fills(flat) == [] and flat.rested == 1


@pytest.mark.parametrize(("tif", "expected"), [(GTC, [[4.0, 99.0, 9.0]]), (DAY, [])])
def test_a_day_order_ends_with_its_trading_day(tif: int, expected: list) -> None:
    # hourly bars: 2024-01-02 22:00 and 23:00 UTC are day one (us clock UTC-5), from
    # 2024-01-03 05:00 UTC the next trading day
    rows = [*ROWS[:2], (9.7, 9.8, 9.5, 9.6), (9.6, 9.7, 9.5, 9.6), (9.2, 9.3, 8.5, 9.0)]
    df = frame(rows)
    df.index = pd.DatetimeIndex(
        [
            "2024-01-02 21:00",
            "2024-01-02 22:00",
            "2024-01-02 23:00",
            "2024-01-03 15:00",
            "2024-01-03 16:00",
        ],
        tz="UTC",
        name="timestamp",
    )
    sim = simulate(df, {0: (1.0, LIMIT, 9.0, tif)})
    assert fills(sim) == expected
    assert sim.rested == 1
    assert sim.rejects.get("day order expired", 0) == (1 if tif == DAY else 0)


def test_a_stop_sell_rests_until_the_price_falls_through_it() -> None:
    rows = [
        (10.0, 10.1, 9.9, 10.0),  # 0: buy
        (10.0, 10.2, 9.9, 10.1),  # 1: bought 99 at 10.0; decide: stop sell at 9.5
        (10.1, 10.3, 9.8, 10.2),  # 2: sent (sells 99), not triggered
        (10.2, 10.2, 9.6, 9.7),  # 3: not triggered
        (9.4, 9.6, 9.0, 9.2),  # 4: opens below the stop: fills at the open
    ]
    sim = simulate(frame(rows), {0: (1.0, MARKET, np.nan, GTC), 1: (0.0, STOP, 9.5, GTC)})
    assert fills(sim) == [[1.0, 99.0, 10.0], [4.0, -99.0, 9.4]]
    assert sim.rested == 1 and sim.rejects == {"not triggered": 2}
    assert sim.final_position.tolist() == [0.0]


def test_an_order_that_fills_at_once_is_as_before_and_does_not_rest() -> None:
    sim = simulate(frame(ROWS), {1: (1.0, LIMIT, 9.3, GTC)})
    assert fills(sim) == [[2.0, 108.0, 9.2]]  # sized at the fill price, as the engine did
    assert sim.rested == 0
