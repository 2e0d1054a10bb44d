"""Backtest speed: EasyQuant against vectorbt, backtesting.py, backtrader and a bare loop.

All engines run in the same process on the same 1,000,000 seeded one-minute bars with the same
rules (SMA crossover, long/flat, all-in whole shares, next-open fills, 0.1% commission):

- one SMA(10, 30) run, each engine (backtrader and backtesting.py once: they are slow);
- a 20 x 20 (fast, slow) sweep: EasyQuant (in-process sweep, 2 threads, and 1 thread),
  vectorbt (one point at a time: 400 columns of 1M bars do not fit in memory at once)
  and the bare loop.

Usage: ``python bench/backtest.py [--bars N] [--skip-slow] [--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from easyquant.backtest.engine import BacktestConfig
from easyquant.backtest.market import get_profile
from easyquant.backtest.runner import run_backtest
from easyquant.backtest.sweep import run_sweep
from easyquant.strategy import Bars
from easyquant.strategy.builtins import SmaCross

CASH = 100_000.0
FEE = 0.001
FAST, SLOW = 10, 30
FASTS = list(range(5, 25))  # 20 values
SLOWS = list(range(30, 230, 10))  # 20 values


def make_data(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.0002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0003, n)))
    idx = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": 1000.0}, index=idx)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ----- the bare loop: only this strategy, compiled ------------------------------------------
@njit(cache=True)
def bare_sma(open_: np.ndarray, close: np.ndarray, fast: int, slow: int, cash: float,
             fee: float) -> tuple[float, int]:
    n = len(close)
    sf = 0.0
    ss = 0.0
    pos = 0.0
    state = -1
    trades = 0
    for t in range(n):
        if state == 1 and pos == 0.0:
            q = np.floor(cash / (open_[t] * (1 + fee)))
            if q > 0:
                cash -= q * open_[t] * (1 + fee)
                pos = q
                trades += 1
        elif state == 0 and pos > 0.0:
            cash += pos * open_[t] * (1 - fee)
            pos = 0.0
        sf += close[t]
        ss += close[t]
        if t >= fast:
            sf -= close[t - fast]
        if t >= slow:
            ss -= close[t - slow]
        state = -1
        if t >= slow - 1:
            f = sf / fast
            s = ss / slow
            if f > s:
                state = 1
            elif f < s:
                state = 0
    return cash + pos * close[n - 1], trades


# ----- peers ---------------------------------------------------------------------------------
def sma_state(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    f = pd.Series(close).rolling(fast).mean().to_numpy()
    s = pd.Series(close).rolling(slow).mean().to_numpy()
    return np.where(f > s, 1.0, np.where(f < s, 0.0, -1.0))


def run_vectorbt(df: pd.DataFrame, fast: int, slow: int) -> tuple[float, int]:
    import vectorbt as vbt

    close = df["close"]
    f = vbt.MA.run(close, fast).ma
    s = vbt.MA.run(close, slow).ma
    entries = (f > s).shift(1, fill_value=False)  # decided at t, executed at t+1's open
    exits = (f < s).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=df["open"], fees=FEE,
                                    init_cash=CASH, size=np.inf, size_granularity=1.0,
                                    freq="1min")
    return float(pf.final_value()), int(pf.trades.count())


def run_backtesting_py(df: pd.DataFrame) -> tuple[float, int]:
    from backtesting import Backtest, Strategy

    class Sma(Strategy):
        def init(self) -> None:
            self.sig = self.I(sma_state, np.asarray(self.data.Close), FAST, SLOW)

        def next(self) -> None:
            if not self.position and self.sig[-1] == 1.0:
                self.buy()
            elif self.position and self.sig[-1] == 0.0:
                self.position.close()

    data = df.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = Backtest(data, Sma, cash=CASH, commission=FEE, finalize_trades=False).run()
    return float(st["Equity Final [$]"]), len(st["_trades"])


def run_backtrader(df: pd.DataFrame) -> tuple[float, int]:
    import backtrader as bt

    class Feed(bt.feeds.PandasData):
        lines = ("sig",)
        params = (("sig", -1),)

    class Sma(bt.Strategy):
        def __init__(self) -> None:
            self.n = 0

        def next_open(self) -> None:
            if len(self) < 2:
                return
            sig = self.data.sig[-1]
            if not self.position and sig == 1.0:
                size = int(self.broker.getcash() // (self.data.open[0] * (1 + FEE)))
                if size > 0:
                    self.buy(size=size)
                    self.n += 1
            elif self.position and sig == 0.0:
                self.close()

    feed = df.copy()
    feed.index = feed.index.tz_localize(None)
    feed["sig"] = sma_state(feed["close"].to_numpy(), FAST, SLOW)
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.adddata(Feed(dataname=feed))
    cerebro.addstrategy(Sma)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=FEE)
    strat = cerebro.run()[0]
    return float(cerebro.broker.getvalue()), strat.n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--skip-slow", action="store_true", help="skip backtrader/backtesting.py")
    ap.add_argument("--skip-vbt-sweep", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the ## Backtest section here")
    args = ap.parse_args()

    df = make_data(args.bars)
    cfg = BacktestConfig(cash=CASH, market=get_profile("us", commission=FEE))
    small = df.iloc[:5000]
    rows: list[tuple[str, str, float, str]] = []

    # warm up compiled code (numba caches on disk; vectorbt compiles on first use)
    run_backtest("sma_cross", small, cfg, params={"fast": FAST, "slow": SLOW})
    bare_sma(small["open"].to_numpy(), small["close"].to_numpy(), FAST, SLOW, CASH, FEE)

    t, res = timed(lambda: run_backtest("sma_cross", df, cfg,
                                        params={"fast": FAST, "slow": SLOW}), repeat=3)
    eq_trades = int(res.metrics["trades"] + int(res.trades["open"].sum()))
    rows.append(("single", "easyquant", t, f"equity {res.final_equity:,.2f}, {eq_trades} trades"))
    print(rows[-1], flush=True)
    o, c = df["open"].to_numpy(), df["close"].to_numpy()
    t, (beq, bn) = timed(lambda: bare_sma(o, c, FAST, SLOW, CASH, FEE), repeat=3)
    rows.append(("single", "bare loop", t, f"equity {beq:,.2f}, {bn} trades"))
    print(rows[-1], flush=True)

    vbt_ok = True
    try:
        run_vectorbt(small, FAST, SLOW)
        t, (veq, vn) = timed(lambda: run_vectorbt(df, FAST, SLOW), repeat=3)
        rows.append(("single", "vectorbt", t, f"equity {veq:,.2f}, {vn} trades"))
    except Exception as exc:
        vbt_ok = False
        rows.append(("single", "vectorbt", float("nan"), f"failed: {type(exc).__name__}: {exc}"))
    print(rows[-1], flush=True)

    if not args.skip_slow:
        t, (peq, pn) = timed(lambda: run_backtesting_py(df))
        rows.append(("single", "backtesting.py", t, f"equity {peq:,.2f}, {pn} trades"))
        print(rows[-1], flush=True)
        t, (teq, tn) = timed(lambda: run_backtrader(df))
        rows.append(("single", "backtrader", t, f"equity {teq:,.2f}, {tn} trades"))
        print(rows[-1], flush=True)

    # ----- sweep ----------------------------------------------------------------------------
    points = [{"fast": f, "slow": s} for f in FASTS for s in SLOWS]
    bars = Bars.from_frames(df)
    for workers in (2, 1):
        t, ranked = timed(lambda w=workers: run_sweep(SmaCross, points, Bars.from_frames(df),
                                                        cfg, workers=w))
        rows.append(("sweep", f"easyquant ({workers} thread{'s' if workers > 1 else ''})", t,
                     f"{len(ranked)} points, best {ranked[0].params}"))
        print(rows[-1], flush=True)
    del bars

    def bare_sweep() -> list[float]:
        return [bare_sma(o, c, p["fast"], p["slow"], CASH, FEE)[0] for p in points]

    t, _ = timed(bare_sweep)
    rows.append(("sweep", "bare loop", t, f"{len(points)} points"))
    print(rows[-1], flush=True)
    if vbt_ok and not args.skip_vbt_sweep:
        t, _ = timed(lambda: [run_vectorbt(df, p["fast"], p["slow"]) for p in points])
        rows.append(("sweep", "vectorbt (point by point)", t, f"{len(points)} points"))
        print(rows[-1], flush=True)

    text = render(rows, args.bars)
    print(text)
    if args.out:
        write_section(args.out, text)


def render(rows: list[tuple[str, str, float, str]], n: int) -> str:
    import numba
    import vectorbt

    lines = [
        "## Backtest",
        "",
        f"`python bench/backtest.py` — {n:,} seeded one-minute bars, SMA crossover long/flat, "
        "all-in whole shares, next-open fills, 0.1% commission; every engine in the same run on "
        f"the same data. Machine: {platform.machine()}, {_cpus()} CPUs, Python "
        f"{platform.python_version()}, numba {numba.__version__}, vectorbt {vectorbt.__version__}.",
        "Fast engines: best of 3 after a warm-up (compile) run; backtesting.py and backtrader: "
        "one run.",
        "",
        "| test | engine | seconds | result |",
        "|---|---|---:|---|",
    ]
    for test, engine, sec, note in rows:
        lines.append(f"| {test} | {engine} | {sec:.3f} | {note} |")
    lines.append("")
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the ``## Backtest`` section of ``path``, leaving the rest."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start = text.find("## Backtest")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1:])
    path.write_text(text)


if __name__ == "__main__":
    main()
