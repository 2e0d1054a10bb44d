"""Where the data gives the day's published limit prices, they win over the ones computed from
the previous close; where it gives none (or nan on a bar), the computed ones apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.execution.market import get_profile
from easyquant.execution.rules import Bar, fill_order
from easyquant.strategy.base import Bars
from tests.unit.backtest.test_market_rules import script

CN = get_profile("cn")


def at(price: float, **published: float) -> Bar:
    """A bar trading only at ``price`` after a close of 10.00 (computed limits 9.00 / 11.00)."""
    return Bar(price, price, price, price, 10.0, 1e6, **published)


@pytest.mark.parametrize(
    ("price", "published", "filled"),
    [
        (10.99, {}, True),  # computed limit-up 11.00
        (11.00, {}, False),
        (10.80, {"limit_up": 10.80}, False),  # the published limit-up is lower: it wins
        (10.79, {"limit_up": 10.80}, True),
        (11.00, {"limit_up": 11.50}, True),  # higher published limit: 11.00 may be bought
    ],
)
def test_buys_against_published_and_computed_limit_up(
    price: float, published: dict[str, float], filled: bool
) -> None:
    res = fill_order(CN, side="buy", quantity=100.0, bar=at(price, **published), cash=1e6)
    assert res.filled is filled
    if not filled:
        assert res.reason == "at the daily price limit"


@pytest.mark.parametrize(
    ("price", "published", "filled"),
    [
        (9.00, {}, False),  # computed limit-down 9.00
        (9.20, {"limit_down": 9.20}, False),
        (9.21, {"limit_down": 9.20}, True),
        (9.00, {"limit_down": 8.50}, True),
    ],
)
def test_sells_against_published_and_computed_limit_down(
    price: float, published: dict[str, float], filled: bool
) -> None:
    bar = at(price, **published)
    res = fill_order(CN, side="sell", quantity=100.0, bar=bar, cash=0.0, position=100.0)
    assert res.filled is filled


def frame(up: list[float] | None) -> pd.DataFrame:
    """Closes at 10.00, then a bar at 10.80 and one at 10.80 again."""
    idx = pd.date_range("2024-03-04", periods=4, freq="B", tz="UTC", name="timestamp")
    p = np.array([10.0, 10.8, 10.8, 10.8])
    df = pd.DataFrame({"open": p, "high": p, "low": p, "close": p, "volume": 1e6}, index=idx)
    if up is not None:  # tushare stk_limit's names
        df["up_limit"] = up
        df["down_limit"] = [9.0, 9.0, 9.72, 9.72]
    return df


def fills(df: pd.DataFrame) -> list[int]:
    cfg = BacktestConfig(cash=100_000.0, market=get_profile("cn"))
    return run_backtest(script({0: 1.0}), {"600000.SH": df}, cfg).fills["bar"].tolist()


def test_a_backtest_takes_the_published_limits_over_the_computed_ones() -> None:
    assert fills(frame(None)) == [1]  # computed: 10.80 is below 11.00
    assert fills(frame([11.0, 10.8, 11.88, 11.88])) == [2]  # published 10.80 on bar 1: waits
    # no published limit-up on bar 1 (nan): the computed one applies there
    assert fills(frame([11.0, float("nan"), 11.88, 11.88])) == [1]


def test_bars_keep_published_limits_aligned_and_sliced() -> None:
    a = frame([11.0, 10.8, 11.88, 11.88])
    b = frame(None).iloc[1:]
    data = Bars.from_frames({"A": a, "B": b})
    assert data.limit_up is not None and data.limit_down is not None
    assert data.limit_up[:, 0].tolist() == [11.0, 10.8, 11.88, 11.88]
    assert np.isnan(data.limit_up[:, 1]).all()  # B gives none
    assert data[1:3].limit_up is not None and data[1:3].limit_up[:, 0].tolist() == [10.8, 11.88]
    assert Bars.from_frames({"B": b}).limit_up is None
