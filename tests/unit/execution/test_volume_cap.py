"""Volume participation: a fill takes at most a set fraction of the bar's volume, rounded down
to whole lots, and the rest keeps working on later bars as partial fills; each side of the
cap, in the execution layer's single-order call and in the backtest kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.request import BacktestRequest, describe
from easyquant.backtest.runner import run_backtest
from easyquant.errors import ConfigError
from easyquant.execution.dated import rules_on_day
from easyquant.execution.market import MarketProfile, get_profile
from easyquant.execution.rules import Bar, fill_order
from easyquant.live.config import SessionConfig
from easyquant.strategy.base import Target
from tests.unit.backtest.test_market_rules import script

TS = int(pd.Timestamp("2024-03-05", tz="UTC").value)


def bar(volume: float, price: float = 10.0) -> Bar:
    return Bar(price, price, price, price, price, volume)


def fill(symbol: str, side: str, qty: float, volume: float, frac: float = 0.1, **kw):  # type: ignore[no-untyped-def]
    prof = get_profile("cn", max_volume_fraction=frac)
    return fill_order(
        prof,
        side=side,
        quantity=qty,
        bar=bar(volume),
        cash=1e9,
        rules=rules_on_day(prof, symbol, TS),
        **kw,
    )


@pytest.mark.parametrize(
    ("qty", "volume", "filled", "reason"),
    [
        (500.0, 5_000.0, 500.0, "filled"),  # exactly the cap: 10% of 5,000
        (500.0, 5_999.0, 500.0, "filled"),  # under the cap
        (500.0, 4_999.0, 400.0, "volume limit"),  # over: 499.9 -> 4 lots
        (1_000.0, 2_000.0, 200.0, "volume limit"),
        (100.0, 999.0, 0.0, "volume limit"),  # 99.9 is less than one lot
    ],
)
def test_buy_on_both_sides_of_the_cap_in_whole_lots(
    qty: float, volume: float, filled: float, reason: str
) -> None:
    res = fill("600000.SH", "buy", qty, volume)
    assert (res.quantity, res.reason) == (filled, reason)
    if filled:  # the fees of the capped quantity
        assert res.fees == pytest.approx(5.0 + filled * 10.0 * 1e-5)  # minimum + transfer fee


@pytest.mark.parametrize(
    ("volume", "filled", "reason"),
    [
        (1_990.0, 0.0, "volume limit"),  # 199 is below the STAR minimum of 200
        (2_000.0, 200.0, "volume limit"),
        (2_345.0, 234.0, "volume limit"),  # steps of 1 above it
        (3_000.0, 300.0, "volume limit"),  # the rest, 200, is still a valid order
        (5_000.0, 500.0, "filled"),
    ],
)
def test_star_minimum_of_200_under_a_cap(volume: float, filled: float, reason: str) -> None:
    res = fill("688981.SH", "buy", 500.0, volume)
    assert (res.quantity, res.reason) == (filled, reason)


def test_a_cut_that_leaves_no_valid_order_ends_with_the_fill() -> None:
    # STAR: 250 wanted, 230 allowed; 20 more could never be bought (below 200)
    star = fill("688981.SH", "buy", 250.0, 2_300.0)
    assert (star.quantity, star.reason) == (230.0, "below one lot")
    # a sell of 250 of 1,000 (main board): 200 allowed, 50 could never be sold on its own
    sell = fill("600000.SH", "sell", 250.0, 2_000.0, position=1_000.0)
    assert (sell.quantity, sell.reason) == (200.0, "below one lot")
    # the last part of a position may be odd: it is worked on later bars
    last = fill("600000.SH", "sell", 250.0, 2_000.0, position=250.0)
    assert (last.quantity, last.reason) == (200.0, "volume limit")


def test_sells_are_capped_and_a_capped_sell_may_leave_an_odd_remainder() -> None:
    res = fill("600000.SH", "sell", 1_050.0, 6_000.0, position=1_050.0)
    assert (res.quantity, res.reason) == (600.0, "volume limit")
    whole = fill("600000.SH", "sell", 1_050.0, 20_000.0, position=1_050.0)
    assert (whole.quantity, whole.reason) == (1_050.0, "filled")  # the odd lot with the rest
    star = fill("688981.SH", "sell", 450.0, 2_500.0, position=450.0)
    assert (star.quantity, star.reason) == (250.0, "volume limit")  # STAR: steps of 1
    small = fill("688981.SH", "sell", 150.0, 1_000.0, position=150.0)
    # 100 of 150 would be a STAR sell below 200 that is not the whole remainder
    assert (small.quantity, small.reason) == (0.0, "volume limit")


@pytest.mark.parametrize("volume", [0.0, float("nan")])
def test_a_bar_without_volume_fills_nothing_under_a_cap(volume: float) -> None:
    res = fill("600000.SH", "buy", 100.0, volume)
    assert (res.quantity, res.reason) == (0.0, "volume limit")
    off = fill_order(get_profile("cn"), side="buy", quantity=100.0, bar=bar(volume), cash=1e6)
    assert off.quantity == 100.0  # no cap: the volume is not read


@pytest.mark.parametrize("value", [0.0, -0.1, 1.5, float("nan")])
def test_bad_fractions_are_refused_naming_the_field(value: float) -> None:
    with pytest.raises(ConfigError, match="max_volume_fraction"):
        SessionConfig("s1", "sma_cross", ["AAA"], max_volume_fraction=value).validate()
    with pytest.raises(Exception) as err:
        BacktestRequest.parse({"strategy": "sma_cross", "symbols": ["AAA"],
                               "max_volume_fraction": value})  # fmt: skip
    assert "max_volume_fraction" in (
        describe(err.value) if hasattr(err.value, "errors") else str(err.value)
    )
    if value != 0.0:  # 0 is the profile's "no cap"
        with pytest.raises(ConfigError, match="max_volume_fraction"):
            MarketProfile("x", max_volume_fraction=value)


def test_the_cap_reaches_the_profile_from_a_request_and_a_session() -> None:
    req = BacktestRequest.parse(
        {"strategy": "sma_cross", "symbols": ["AAA"], "max_volume_fraction": "0.25"}
    )
    assert req.config().market.max_volume_fraction == 0.25
    assert BacktestRequest.parse({"strategy": "sma_cross", "symbols": ["AAA"]}).config(
    ).market.max_volume_fraction == 0.0  # fmt: skip
    sess = SessionConfig("s1", "sma_cross", ["AAA"], max_volume_fraction=0.25)
    sess.validate()
    assert sess.profile().max_volume_fraction == 0.25
    # the profile's stored form is unchanged without a cap
    assert "max_volume_fraction" not in get_profile("cn").as_dict()
    assert get_profile("cn", max_volume_fraction=0.5).as_dict()["max_volume_fraction"] == 0.5


# ----- the backtest kernel: the rest works on later bars -------------------------------------
def frame(volumes: list[float], price: float = 10.0, start: str = "2024-03-04") -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(volumes), freq="B", tz="UTC", name="timestamp")
    p = np.full(len(volumes), price)
    return pd.DataFrame(
        {"open": p, "high": p * 1.01, "low": p * 0.99, "close": p, "volume": volumes}, index=idx
    )


def backtest(df, plan, frac=0.1, sizing="weight", market="cn", cash=100_000.0):  # type: ignore[no-untyped-def]
    prof = get_profile(market, commission=0.0003, max_volume_fraction=frac)
    return run_backtest(script(plan, sizing), {"600000.SH": df}, BacktestConfig(cash, prof))


def test_the_rest_fills_on_later_bars_as_partial_fills() -> None:
    # 1,500 shares wanted; 10% of the volume each bar: 500, nothing (no volume), 765 -> 700
    # (whole lots), then the last 300
    res = backtest(frame([9e9, 5_000.0, 0.0, 7_650.0, 9_000.0, 9_000.0]), {0: 1_500.0},
                   sizing="shares")  # fmt: skip
    f = res.fills
    assert f["bar"].tolist() == [1, 3, 4]
    assert f["quantity"].tolist() == [500.0, 700.0, 300.0]
    assert res.sim.rejects["volume limit"] == 3  # two partials and the bar without volume
    # each partial pays its own (minimum) commission
    assert f["fees"].tolist()[0] == pytest.approx(5.0 + 5_000 * 1e-5)
    uncapped = backtest(frame([9e9] * 6), {0: 1_500.0}, frac=0.0, sizing="shares")
    assert uncapped.fills["quantity"].tolist() == [1_500.0]


def test_a_weight_target_under_the_cap_is_resized_for_its_rest() -> None:
    # all-in at 10.00: 9,900 shares by weight; 30% of 20,000 = 6,000 the first bar
    res = backtest(frame([1.0, 20_000.0, 20_000.0, 20_000.0]), {0: 1.0}, frac=0.3)
    q = res.fills["quantity"].tolist()
    assert q == [6_000.0, 3_900.0]
    uncapped = backtest(frame([1.0, 20_000.0, 20_000.0, 20_000.0]), {0: 1.0}, frac=0.0)
    assert uncapped.fills["quantity"].tolist() == [9_900.0]


def test_a_new_decision_replaces_the_rest() -> None:
    res = backtest(frame([1.0, 2_000.0, 2_000.0, 2_000.0, 2_000.0]), {0: 1_000.0, 1: 300.0},
                   sizing="shares")  # fmt: skip
    # bar 1: 200 of 1,000; the decision at bar 1 (300 shares) then wants 100 more
    assert res.fills["quantity"].tolist() == [200.0, 100.0]


def test_limit_orders_keep_their_rest_working_and_day_orders_expire() -> None:
    vols = [1.0, 3_000.0, 3_000.0, 3_000.0]
    gtc = backtest(frame(vols), {0: Target(1_000.0, "limit", 10.5)}, sizing="shares")
    assert gtc.fills["quantity"].tolist() == [300.0, 300.0, 300.0]
    day = backtest(frame(vols), {0: Target(1_000.0, "limit", 10.5, "day")}, sizing="shares")
    assert day.fills["quantity"].tolist() == [300.0]  # the rest ended with its day
    assert day.sim.rejects["day order expired"] == 1


def test_a_rest_below_one_lot_ends_the_decision_as_without_a_cap() -> None:
    # 250 shares in lots of 100: 200 can be bought (the rest is below one lot); with room for
    # 200 a bar, the 200 fill and the decision ends, as without a cap
    vols = [1.0, 2_000.0, 2_000.0, 2_000.0]
    capped = backtest(frame(vols), {0: 250.0}, sizing="shares")
    uncapped = backtest(frame(vols), {0: 250.0}, frac=0.0, sizing="shares")
    assert capped.fills["quantity"].tolist() == uncapped.fills["quantity"].tolist() == [200.0]
    assert capped.sim.rejects == uncapped.sim.rejects == {"below one lot": 1}
