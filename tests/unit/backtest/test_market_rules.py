"""Market rules: lots, T+1, price limits, costs, cash; scalar and compiled paths agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.errors import ConfigError
from easyquant.execution.market import get_profile
from easyquant.execution.rules import Bar, fill_order
from easyquant.strategy.base import Bars, Decisions, Strategy, Target


def frame(
    rows: list[tuple[float, float, float, float]], freq: str = "D", start: str = "2024-01-02"
) -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(rows), freq=freq, tz="UTC", name="timestamp")
    o, h, lo, c = (np.array(x, dtype=float) for x in zip(*rows, strict=True))
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": 1e6}, index=idx)


class Script(Strategy):
    """Decisions given per bar index (test helper)."""

    name = "script"
    sizing = "weight"
    plan: dict[int, float | Target] = {}

    def next(self, t: int, data: Bars) -> dict[str, float | Target] | None:
        if t in self.plan:
            return {data.symbols[0]: self.plan[t]}
        return None


def script(plan: dict[int, float | Target], sizing: str = "weight") -> Strategy:
    cls = type("S", (Script,), {"plan": plan, "sizing": sizing})
    return cls()


def run(
    df: pd.DataFrame,
    strat: Strategy,
    market: str = "us",
    fill: str = "next_open",
    cash: float = 100_000.0,
    **costs: float,
):
    cfg = BacktestConfig(cash=cash, market=get_profile(market, **costs), fill=fill)
    return run_backtest(strat, df, cfg)


FLAT = [(10.0, 10.2, 9.8, 10.0)] * 6


def test_lots_rounded_down_cn() -> None:
    res = run(frame(FLAT), script({0: 1.0}), market="cn", cash=10_550.0, min_commission=0)
    qty = res.fills["quantity"].tolist()
    assert qty == [1000.0]  # 10_550 / 10 = 1055 shares -> 10 lots of 100


def test_us_whole_shares_crypto_fractional() -> None:
    us = run(frame(FLAT), script({0: 1.0}), cash=1005.0)
    assert us.fills["quantity"].tolist() == [100.0]
    crypto = run(frame(FLAT), script({0: 1.0}), market="crypto", cash=1005.0)
    assert crypto.fills["quantity"].iloc[0] == pytest.approx(100.5)


def test_t_plus_one_sell_refused_same_day_then_filled_next_day() -> None:
    # four 1-hour bars a day (in Shanghai time: 09:30..12:30), two days
    idx = pd.DatetimeIndex(
        [
            "2024-01-02 01:30",
            "2024-01-02 02:30",
            "2024-01-02 03:30",
            "2024-01-02 04:30",
            "2024-01-03 01:30",
            "2024-01-03 02:30",
        ],
        tz="UTC",
        name="timestamp",
    )
    df = frame(FLAT)
    df.index = idx
    # buy at bar 0's close (fill=close), sell decision at bar 1 (same day) -> refused until day 2
    res = run(df, script({0: 1.0, 1: 0.0}), market="cn", fill="close", min_commission=0)
    fills = res.fills
    assert fills["quantity"].tolist()[0] > 0
    sells = fills[fills["quantity"] < 0]
    assert len(sells) == 1
    assert sells["bar"].iloc[0] == 4  # first bar of the next trading day
    assert res.sim.rejects.get("T+1: bought today", 0) >= 1
    # the same scenario in the us market sells at once
    us = run(df, script({0: 1.0, 1: 0.0}), market="us", fill="close")
    assert us.fills[us.fills["quantity"] < 0]["bar"].tolist() == [1]


def test_no_buy_fill_at_limit_up_and_no_sell_at_limit_down() -> None:
    rows = [
        (10.0, 10.0, 10.0, 10.0),
        (11.0, 11.0, 11.0, 11.0),
        (11.5, 12.1, 11.2, 12.0),
        (12.0, 12.0, 12.0, 12.0),
    ]
    # decision at bar 0 -> next open (bar 1) is limit-up (10 * 1.1 = 11.00): no fill there
    res = run(frame(rows), script({0: 1.0}), market="cn", min_commission=0)
    assert res.fills["bar"].tolist() == [2]
    assert res.sim.rejects.get("at the daily price limit") == 1
    down = [
        (10.0, 10.0, 10.0, 10.0),
        (10.0, 10.0, 10.0, 10.0),
        (9.0, 9.0, 9.0, 9.0),
        (9.5, 9.6, 9.1, 9.5),
    ]
    res = run(frame(down), script({0: 1.0, 1: 0.0}), market="cn", min_commission=0)
    sells = res.fills[res.fills["quantity"] < 0]
    assert sells["bar"].tolist() == [3]  # bar 2 opens at limit-down (9.00)


def test_costs_commission_minimum_stamp_duty_slippage() -> None:
    rows = [(10.0, 10.0, 10.0, 10.0)] * 4
    res = run(
        frame(rows),
        script({0: 1.0, 1: 0.0}),
        market="cn",
        cash=2_000.0,
        commission=0.0003,
        min_commission=5.0,
        stamp_duty=0.001,
        slippage_bps=10,
    )
    buy, sell = res.fills.itertuples(index=False)
    assert buy.price == pytest.approx(10.01)
    assert buy.quantity == 100
    assert buy.fees == pytest.approx(5.0)  # 0.03% of 1001 < 5 minimum
    assert sell.price == pytest.approx(9.99)
    assert sell.fees == pytest.approx(5.0 + 999.0 * 0.001)
    assert res.final_equity == pytest.approx(2000 - 1001 - 5 + 999 - 5 - 0.999)


def test_no_negative_cash_and_shorting_rules() -> None:
    res = run(frame(FLAT), script({0: 1.0}), cash=1000.0, commission=0.01)
    assert res.sim.min_cash >= 0
    assert res.fills["quantity"].tolist() == [99.0]  # 99 * 10 * 1.01 = 999.9 <= 1000
    short_us = run(frame(FLAT), script({0: -1.0}))
    assert short_us.fills["quantity"].iloc[0] < 0
    short_cn = run(frame(FLAT), script({0: -1.0}), market="cn")
    assert len(short_cn.fills) == 0
    assert short_cn.sim.rejects.get("shorting not allowed") == 1


def test_limit_and_stop_orders() -> None:
    rows = [
        (10.0, 10.1, 9.9, 10.0),
        (10.0, 10.1, 9.6, 9.8),
        (9.8, 10.6, 9.7, 10.5),
        (10.5, 10.5, 10.5, 10.5),
    ]
    lim = run(frame(rows), script({0: Target(1.0, "limit", 9.7)}), cash=1000.0)
    assert lim.fills[["bar", "price"]].values.tolist() == [[1, 9.7]]
    stop = run(frame(rows), script({0: Target(1.0, "stop", 10.4)}), cash=1000.0)
    assert stop.fills[["bar", "price"]].values.tolist() == [[2, 10.4]]


def test_shares_sizing() -> None:
    res = run(frame(FLAT), script({0: 30.0, 2: 10.0}, sizing="shares"))
    assert res.fills["quantity"].tolist() == [30.0, -20.0]


def test_portfolio_shares_cash_across_symbols_sells_first() -> None:
    a = frame(FLAT)
    b = frame([(20.0, 20.2, 19.8, 20.0)] * 6)

    class Rotate(Strategy):
        name = "rotate"

        def weights(self, data: Bars) -> np.ndarray:
            w = np.full((len(data), 2), np.nan)
            w[0] = [1.0, 0.0]
            w[2] = [0.0, 1.0]
            return w

    res = run_backtest(
        Rotate(), {"A": a, "B": b}, BacktestConfig(cash=1000.0, market=get_profile("us"))
    )
    f = res.fills
    assert f["symbol"].tolist() == ["A", "A", "B"]
    assert f["quantity"].tolist() == [100.0, -100.0, 50.0]
    assert res.sim.min_cash >= 0


@pytest.mark.parametrize("market", ["us", "cn", "crypto"])
def test_scalar_fill_agrees_with_compiled_loop(market: str) -> None:
    rng = np.random.default_rng(3)
    n = 60
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    open_ = np.r_[10.0, close[:-1]] * np.exp(rng.normal(0, 0.01, n))
    rows = [(o, max(o, c) * 1.01, min(o, c) * 0.99, c) for o, c in zip(open_, close, strict=True)]
    df = frame(rows)
    plan = {i: float(rng.choice([0.0, 0.5, 1.0])) for i in range(0, n - 1, 3)}
    profile = get_profile(market, commission=0.001, slippage_bps=5)
    res = run_backtest(script(plan), df, BacktestConfig(cash=50_000.0, market=profile))
    # replay every fill through the single-order call with the same account state
    cash, pos = 50_000.0, 0.0
    for f in res.fills.itertuples(index=False):
        t = f.bar
        prev = df["close"].iloc[t - 1] if t > 0 else float("nan")
        side = "buy" if f.quantity > 0 else "sell"
        out = fill_order(
            profile,
            side=side,
            quantity=abs(f.quantity),
            cash=cash,
            position=pos,
            bar=Bar(*df.iloc[t][["open", "high", "low", "close"]], ref_close=prev),
        )
        assert out.quantity == pytest.approx(abs(f.quantity))
        assert out.price == pytest.approx(f.price)
        assert out.fees == pytest.approx(f.fees)
        cash -= f.quantity * f.price + f.fees
        pos += f.quantity
    assert cash + pos * df["close"].iloc[-1] == pytest.approx(res.final_equity)


def test_fill_order_single_call_rules() -> None:
    cn = get_profile("cn")
    up = fill_order(
        cn, side="buy", quantity=100, cash=1e6, bar=Bar(11.0, 11.0, 11.0, 11.0, ref_close=10.0)
    )
    assert not up.filled and up.reason == "at the daily price limit"
    t1 = fill_order(
        cn,
        side="sell",
        quantity=100,
        cash=0,
        position=100,
        bought_today=100,
        bar=Bar(10.0, 10.0, 10.0, 10.0, ref_close=10.0),
    )
    assert not t1.filled and t1.reason.startswith("T+1")
    lot = fill_order(cn, side="buy", quantity=250, cash=1e6, bar=Bar(10, 10, 10, 10))
    assert lot.quantity == 200
    with pytest.raises(ConfigError, match="quantity"):
        fill_order(cn, side="buy", quantity=0, cash=1, bar=Bar(1, 1, 1, 1))


def test_unknown_market_and_bad_costs() -> None:
    with pytest.raises(ConfigError, match="unknown market 'mars'"):
        get_profile("mars")
    with pytest.raises(ConfigError, match="commission"):
        get_profile("us", commission=-0.1)


def test_decisions_equal_batch_and_per_bar() -> None:
    d = Decisions(np.array([[np.nan], [1.0]]))
    assert d.row(1, ["A"])["A"].value == 1.0


def test_buy_that_cannot_pay_for_one_lot_waits_until_it_can() -> None:
    opens = [100.0, 100.0, 98.0, 96.0, 95.5, 94.9, 94.0, 93.0]
    rows = [(o, o + 0.5, o - 0.5, o) for o in opens]
    # decided at bar 0: 95 of cash buys no share until an open of 95 or less (bar 5)
    res = run(frame(rows), script({0: 1.0}), cash=95.0)
    assert res.fills["bar"].tolist() == [5]
    assert res.fills["quantity"].tolist() == [1.0]
    assert res.sim.rejects == {"not enough cash": 4}  # bars 1-4: waited, re-tried each bar
    # a new decision replaces the waiting order: flat again at bar 3, nothing ever fills
    res = run(frame(rows), script({0: 1.0, 3: 0.0}), cash=95.0)
    assert res.fills.empty
    assert res.sim.rejects == {"not enough cash": 3}
    # slippage and the commission count: 0.1% + 10 bps make bar 5's 94.9 too dear (95.09)
    res = run(frame(rows), script({0: 1.0}), cash=95.0, commission=0.001, slippage_bps=10)
    assert res.fills["bar"].tolist() == [6]
    # a lot of 100 shares (cn) waits the same way
    cn = run(
        frame([(o / 10, o / 10, o / 10, o / 10) for o in opens]),
        script({0: 1.0}),
        market="cn",
        cash=950.0,
        min_commission=0,
        stamp_duty=0,
    )
    assert cn.fills["bar"].tolist() == [5] and cn.fills["quantity"].tolist() == [100.0]
