"""The built-in ``sma_cross`` agrees with each peer's own textbook SMA crossover, written with the
peer's own cross helper: backtesting.py's ``crossover()``, backtrader's ``CrossOver`` indicator
and vectorbt's ``ma_crossed_above`` / ``ma_crossed_below``.

Data: the daily GOOG and hourly EURUSD bars that backtesting.py ships, and seeded random walks.
The common terms: long only, all-in whole shares (vectorbt: fractional, its default), the same
commission rate; backtesting.py and backtrader fill at the next bar's open (their default),
vectorbt at the signal bar's close (its default). Asserted: every round trip's entry and exit
bar, whether a position is left open, and the final equity to 1e-6 relative.
"""

from __future__ import annotations

import warnings

import backtrader as bt
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtpStrategy
from backtesting.lib import crossover
from backtesting.test import EURUSD, GOOG, SMA

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import BacktestResult, run_backtest
from easyquant.execution.market import get_profile

from .synth import make_bars

Trades = list[tuple[int, int | None]]  # (entry bar, exit bar or None while open)


def shipped(frame: pd.DataFrame) -> pd.DataFrame:
    """Return one of backtesting.py's sample frames in EasyQuant's layout (UTC index)."""
    df = frame.rename(columns=str.lower)
    df.index = pd.DatetimeIndex(df.index, name="timestamp").tz_localize("UTC")
    return df


def naive(df: pd.DataFrame) -> pd.DataFrame:
    return df.tz_localize(None)


# ----- EasyQuant -----------------------------------------------------------------------------
def run_easyquant(
    df: pd.DataFrame,
    fast: int,
    slow: int,
    *,
    cash: float,
    commission: float,
    fill: str = "next_open",
    market: str = "us",
) -> tuple[Trades, float, BacktestResult]:
    cfg = BacktestConfig(cash=cash, market=get_profile(market, commission=commission), fill=fill)
    res = run_backtest("sma_cross", df, cfg, params={"fast": fast, "slow": slow})
    tr = res.trades
    trades: Trades = [
        (int(a), None if bool(o) else int(b))
        for a, b, o in zip(tr["entry_bar"], tr["exit_bar"], tr["open"], strict=True)
    ]
    return trades, float(res.final_equity), res


# ----- backtesting.py: its quick-start strategy, long only --------------------------------------
class BtpSmaCross(BtpStrategy):
    n1 = 10
    n2 = 20

    def init(self) -> None:
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self) -> None:
        if crossover(self.sma1, self.sma2):
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()


def run_backtesting_py(
    df: pd.DataFrame, fast: int, slow: int, *, cash: float, commission: float
) -> tuple[Trades, float]:
    data = naive(df).rename(columns=str.capitalize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(data, BtpSmaCross, cash=cash, commission=commission).run(n1=fast, n2=slow)
    tr = stats["_trades"]
    trades: Trades = [(int(a), int(b)) for a, b in zip(tr["EntryBar"], tr["ExitBar"], strict=True)]
    strategy = stats["_strategy"]
    if strategy.position:  # a position still held at the end is not in the trades table
        trades.append((int(strategy.trades[-1].entry_bar), None))
    return trades, float(stats["Equity Final [$]"])


# ----- backtrader: its "Hello Algotrading" strategy ----------------------------------------------
class BtrSmaCross(bt.Strategy):
    params = (("pfast", 10), ("pslow", 30))

    def __init__(self) -> None:
        sma1 = bt.ind.SMA(period=self.p.pfast)
        sma2 = bt.ind.SMA(period=self.p.pslow)
        self.crossover = bt.ind.CrossOver(sma1, sma2)
        self.fills: list[tuple[bool, int]] = []

    def next(self) -> None:
        if not self.position:
            if self.crossover > 0:
                self.buy()
        elif self.crossover < 0:
            self.close()

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.fills.append((order.isbuy(), len(self.data) - 1))


class AllInAtNextOpen(bt.Sizer):
    """All-in whole shares priced at the bar the order fills on (the next open), as the other
    engines size: backtrader's own all-in sizers price at the signal bar's close."""

    params = (("commission", 0.0),)

    def _getsizing(self, comminfo, cash, data, isbuy):  # type: ignore[no-untyped-def]
        if not isbuy or len(data) >= data.buflen():
            return self.broker.getposition(data).size
        return int(cash // (data.open[1] * (1 + self.p.commission)))


def run_backtrader(
    df: pd.DataFrame, fast: int, slow: int, *, cash: float, commission: float
) -> tuple[Trades, float]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=naive(df)))
    cerebro.addstrategy(BtrSmaCross, pfast=fast, pslow=slow)
    cerebro.addsizer(AllInAtNextOpen, commission=commission)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission)
    cerebro.broker.set_checksubmit(False)  # cash is checked at the fill, not at the signal close
    strategy = cerebro.run()[0]
    trades: Trades = []
    for is_buy, bar in strategy.fills:
        if is_buy:
            trades.append((bar, None))
        else:
            trades[-1] = (trades[-1][0], bar)
    return trades, float(cerebro.broker.getvalue())


# ----- vectorbt: its usage example ----------------------------------------------------------
def run_vectorbt(
    df: pd.DataFrame, fast: int, slow: int, *, cash: float, commission: float
) -> tuple[Trades, float]:
    import vectorbt as vbt

    price = naive(df)["close"]
    fast_ma = vbt.MA.run(price, fast)
    slow_ma = vbt.MA.run(price, slow)
    entries = fast_ma.ma_crossed_above(slow_ma)
    exits = fast_ma.ma_crossed_below(slow_ma)
    pf = vbt.Portfolio.from_signals(price, entries, exits, init_cash=cash, fees=commission)
    rec = pf.trades.records
    trades: Trades = [
        (int(a), None if s == 0 else int(b))
        for a, b, s in zip(rec["entry_idx"], rec["exit_idx"], rec["status"], strict=True)
    ]
    return trades, float(pf.final_value())


# ----- the comparisons ----------------------------------------------------------------------
DATA = {
    "GOOG": lambda: shipped(GOOG),
    "EURUSD": lambda: shipped(EURUSD),
    "walk-1": lambda: make_bars(1500, seed=1),
    "walk-7": lambda: make_bars(1500, seed=7, drift=0.0, vol=0.02),
    "walk-42": lambda: make_bars(1500, seed=42, drift=-0.0002, vol=0.01),
}
# backtesting.py's documented (10, 20) and backtrader's (10, 30), and a slower pair
WINDOWS = [(10, 20), (10, 30), (20, 50)]
CASH = 10_000.0
COMMISSION = 0.002


# each peer's runner and the terms on our side that match its defaults
PEERS = {
    "backtesting.py": (run_backtesting_py, {}),
    "backtrader": (run_backtrader, {}),
    "vectorbt": (run_vectorbt, {"fill": "close", "market": "crypto"}),
}


@pytest.mark.parametrize(("fast", "slow"), WINDOWS)
@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("peer", sorted(PEERS))
def test_sma_cross_matches_the_peers_textbook_crossover(
    peer: str, data: str, fast: int, slow: int
) -> None:
    df = DATA[data]()
    run_peer, ours_terms = PEERS[peer]
    trades, equity, _ = run_easyquant(
        df, fast, slow, cash=CASH, commission=COMMISSION, **ours_terms
    )
    theirs, their_equity = run_peer(df, fast, slow, cash=CASH, commission=COMMISSION)
    assert len(trades) >= 3
    assert trades == theirs
    assert equity == pytest.approx(their_equity, rel=1e-6)


def test_no_entry_at_the_end_of_the_warm_up() -> None:
    """On GOOG the fast average is already above the slow one when both first exist: the
    textbook crossover waits for a cross; ``sma_trend`` (long while above) buys at once."""
    df = shipped(GOOG)
    fast, slow = 10, 30
    f = df["close"].rolling(fast).mean().to_numpy()
    s = df["close"].rolling(slow).mean().to_numpy()
    assert f[slow - 1] > s[slow - 1]
    trades, _, _ = run_easyquant(df, fast, slow, cash=CASH, commission=COMMISSION)
    first_cross = next(t for t in range(slow, len(df)) if f[t - 1] < s[t - 1] and f[t] > s[t])
    assert trades[0][0] == first_cross + 1  # filled at the open after the cross
    cfg = BacktestConfig(cash=CASH, market=get_profile("us", commission=COMMISSION))
    trend = run_backtest("sma_trend", df, cfg, params={"fast": fast, "slow": slow})
    assert int(trend.trades["entry_bar"].iloc[0]) == slow  # the bar after the warm-up


class BtpSmaTrend(BtpStrategy):
    """Long while the fast average is above the slow one: a buy is placed again on every bar
    while it cannot be paid for."""

    n1 = 5
    n2 = 20

    def init(self) -> None:
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)

    def next(self) -> None:
        if not self.position and self.sma1[-1] > self.sma2[-1]:
            self.buy()
        elif self.position and self.sma1[-1] < self.sma2[-1]:
            self.position.close()


@pytest.mark.parametrize(
    ("cash", "seed"), [(105.0, 3), (130.0, 3), (80.0, 1), (80.0, 5), (80.0, 10)]
)
def test_sma_trend_waits_below_one_share_like_backtesting_py(cash: float, seed: int) -> None:
    """When the equity cannot pay for one share, ``sma_trend``'s buy waits (tried on every bar
    while the trend holds) as backtesting.py's re-placed order does, and fills as it does."""
    df = make_bars(800, seed=seed, drift=0.0, vol=0.02)
    # flat when the averages first exist: backtesting.py first calls next() a bar later
    assert (df["close"].rolling(5).mean() < df["close"].rolling(20).mean()).iloc[19]
    cfg = BacktestConfig(cash=cash, market=get_profile("us", commission=0.001))
    res = run_backtest("sma_trend", df, cfg, params={"fast": 5, "slow": 20})
    assert res.sim.rejects.get("not enough cash", 0) > 0  # the edge is exercised
    tr = res.trades[~res.trades["open"]]
    ours = [(int(a), int(b)) for a, b in zip(tr["entry_bar"], tr["exit_bar"], strict=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(
            naive(df).rename(columns=str.capitalize), BtpSmaTrend, cash=cash, commission=0.001
        ).run()
    theirs = stats["_trades"]
    assert len(ours) >= 3
    pairs = zip(theirs["EntryBar"], theirs["ExitBar"], strict=True)
    assert ours == [(int(a), int(b)) for a, b in pairs]
    assert res.final_equity == pytest.approx(float(stats["Equity Final [$]"]), rel=1e-6)
