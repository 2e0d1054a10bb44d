"""The per-instrument, dated A-share rules as the backtest applies them: each on both sides of
its boundary (boards' limits, ST, listing days, STAR 200+1, Beijing 100+1, stamp duty and
transfer fee dates, suspended days)."""

from __future__ import annotations

import datetime as dt

import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.data.instruments import Instrument, Period
from easyquant.errors import ConfigError
from easyquant.execution.market import get_profile
from tests.unit.backtest.test_market_rules import frame, script

D = dt.date


def run(symbol, rows, plan, start="2024-03-04", cash=1e6, instruments=None, **costs):  # type: ignore[no-untyped-def]
    market = get_profile("cn", commission=0.0003, min_commission=5.0, **costs)
    cfg = BacktestConfig(cash=cash, market=market, instruments=instruments)
    return run_backtest(script(plan), {symbol: frame(rows, start=start)}, cfg)


def gap_up(pct: float) -> list[tuple[float, float, float, float]]:
    """Bar 0 closes at 10.00; bar 1 opens and trades only at 10 * (1 + pct)."""
    p = round(10 * (1 + pct), 2)
    return [(10.0, 10.0, 10.0, 10.0), (p, p, p, p), (p, p, p, p)]


def filled_on(res, bar: int) -> bool:  # type: ignore[no-untyped-def]
    return bar in res.fills["bar"].tolist()


@pytest.mark.parametrize(
    ("symbol", "start", "pct", "fills"),
    [
        ("600000.SH", "2024-03-04", 0.095, True),
        ("600000.SH", "2024-03-04", 0.10, False),  # at limit-up 11.00: no buy
        ("300750.SZ", "2020-08-20", 0.10, False),  # ChiNext before the reform: 10%
        ("300750.SZ", "2020-08-24", 0.15, True),  # from 2020-08-24: 20%
        ("300750.SZ", "2020-08-24", 0.20, False),
        ("688981.SH", "2024-03-04", 0.19, True),
        ("688981.SH", "2024-03-04", 0.20, False),
        ("430047.BJ", "2024-03-04", 0.25, True),
        ("430047.BJ", "2024-03-04", 0.30, False),
    ],
)
def test_board_limits_block_and_allow(symbol: str, start: str, pct: float, fills: bool) -> None:
    res = run(symbol, gap_up(pct), {0: 1.0}, start=start)
    assert filled_on(res, 1) is fills
    if not fills:
        assert res.sim.rejects.get("at the daily price limit", 0) >= 1


def master(symbol: str, board: str, **kw) -> dict[str, Instrument]:  # type: ignore[no-untyped-def]
    lot, minimum = (1.0, 200.0) if board == "star" else (100.0, 100.0)
    exchange = symbol[-2:]
    return {symbol: Instrument(symbol, exchange, board, "CNY", lot, minimum, 0.01, **kw)}


@pytest.mark.parametrize(
    ("st", "pct", "fills"), [(True, 0.04, True), (True, 0.05, False), (False, 0.05, True)]
)
def test_main_board_st_limit_is_5_percent(st: bool, pct: float, fills: bool) -> None:
    periods = [Period(D(2024, 1, 1), D(2024, 12, 31))] if st else []
    inst = master("600001.SH", "main", st=periods)
    res = run("600001.SH", gap_up(pct), {0: 1.0}, instruments=inst)
    assert filled_on(res, 1) is fills


@pytest.mark.parametrize(
    ("symbol", "board", "listed", "fills"),
    [
        ("688999.SH", "star", D(2024, 3, 4), True),  # day 2 of 5: no limit
        ("600999.SH", "main", D(2024, 3, 4), True),  # registration-system main board
        ("600999.SH", "main", D(2023, 4, 7), False),  # an approval-system listing: limited
        ("600999.SH", "main", D(2024, 2, 20), False),  # listed long before: limited
    ],
)
def test_no_limit_in_the_first_five_days_of_a_listing(
    symbol: str, board: str, listed: dt.date, fills: bool
) -> None:
    inst = master(symbol, board, listed=listed)
    start = "2024-03-04" if listed.year == 2024 else "2023-04-07"
    res = run(symbol, gap_up(0.5), {0: 1.0}, start=start, instruments=inst)
    assert filled_on(res, 1) is fills


FLAT = [(10.0, 10.0, 10.0, 10.0)] * 4


@pytest.mark.parametrize(("cash", "qty"), [(2_520.0, 251), (1_990.0, 0), (2_012.0, 200)])
def test_star_orders_200_then_steps_of_1(cash: float, qty: int) -> None:
    res = run("688981.SH", FLAT, {0: 1.0}, cash=cash)
    assert res.fills["quantity"].tolist()[:1] == ([qty] if qty else [])


@pytest.mark.parametrize(("cash", "qty"), [(1_520.0, 151), (990.0, 0), (1_012.0, 100)])
def test_beijing_orders_100_then_steps_of_1(cash: float, qty: int) -> None:
    res = run("430047.BJ", FLAT, {0: 1.0}, cash=cash)
    assert res.fills["quantity"].tolist()[:1] == ([qty] if qty else [])


@pytest.mark.parametrize(("start", "rate"), [("2023-08-23", 0.001), ("2023-08-26", 0.0005)])
def test_stamp_duty_by_the_sell_day(start: str, rate: float) -> None:
    # buy at bar 1's open, sell at bar 2's open: 2023-08-25 (0.1%) or 2023-08-28 (0.05%)
    res = run("600000.SH", FLAT, {0: 1.0, 1: 0.0}, start=start, cash=100_000.0)
    _, sell = res.fills.itertuples(index=False)
    value = -sell.quantity * sell.price
    assert str(sell.time.date()) == ("2023-08-25" if rate == 0.001 else "2023-08-28")
    expected = max(value * 0.0003, 5.0) + value * 0.00001 + value * rate
    assert sell.fees == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("start", "rate"), [("2022-04-27", 0.00002), ("2022-04-28", 0.00001)])
def test_transfer_fee_both_sides_of_2022_04_29(start: str, rate: float) -> None:
    res = run("600000.SH", FLAT, {0: 1.0}, start=start, cash=100_000.0)
    buy = next(res.fills.itertuples(index=False))
    value = buy.quantity * buy.price
    assert buy.fees == pytest.approx(max(value * 0.0003, 5.0) + value * rate, rel=1e-12)


def test_a_suspended_day_gives_no_fill_and_the_order_waits() -> None:
    inst = master("600002.SH", "main", suspended=[Period(D(2024, 3, 5), D(2024, 3, 5))])
    res = run("600002.SH", FLAT, {0: 1.0}, instruments=inst)
    assert res.fills["bar"].tolist() == [2]  # bar 1 (2024-03-05) suspended: filled the day after
    assert res.sim.rejects.get("suspended") == 1


def test_a_listing_day_after_a_bar_of_the_symbol_is_refused_naming_it() -> None:
    inst = master("688999.SH", "star", listed=D(2024, 3, 5))
    inst["688999.SH"].line = 7
    with pytest.raises(ConfigError, match=r"688999.SH \(row 7\): listed: 2024-03-05 is after"):
        run("688999.SH", FLAT, {0: 1.0}, instruments=inst)
