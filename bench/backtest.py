"""Backtest speed: EasyQuant against vectorbt, backtesting.py, backtrader and a bare loop.

All engines run in the same process on the same 1,000,000 seeded one-minute bars with the same
rules (`sma_trend`: long while the fast SMA is above the slow one, flat below; all-in whole
shares, next-open fills, 0.1% commission):

- one SMA(10, 30) run, each engine (backtrader and backtesting.py once: they are slow);
- a 20 x 20 (fast, slow) sweep: EasyQuant (in-process sweep, 1 and 2 threads), the bare loop,
  and vectorbt (its own vectorisation, 20 slow windows as columns per fast window: all 400
  columns of 1M bars at once do not fit in memory; about two minutes, ``--skip-vbt-sweep``).

Every engine's result is checked against the bare loop: final equity and trade count of the
single run, and every sweep point's final equity.

Usage: ``python bench/backtest.py [--bars N] [--skip-slow] [--skip-vbt-sweep]
[--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from results import same_as_bare as _same
from results import write_section

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.backtest.sweep import run_sweep
from easyquant.execution.market import get_profile
from easyquant.strategy import Bars
from easyquant.strategy.builtins import SmaTrend

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
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1000.0}, index=idx
    )


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
def bare_sma(
    open_: np.ndarray, close: np.ndarray, fast: int, slow: int, cash: float, fee: float
) -> tuple[float, int]:
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

    # a tz-naive index, as the other peers get: with pandas 3 vectorbt turns a tz-aware index
    # into an array of Timestamp objects several times per run (seconds for 1M bars)
    df = df.tz_localize(None)
    close = df["close"]
    f = vbt.MA.run(close, fast).ma
    s = vbt.MA.run(close, slow).ma
    entries = (f > s).shift(1, fill_value=False)  # decided at t, executed at t+1's open
    exits = (f < s).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=df["open"],
        fees=FEE,
        init_cash=CASH,
        size=np.inf,
        size_granularity=1.0,
        freq="1min",
    )
    return float(pf.final_value()), int(pf.trades.count())


def run_vectorbt_sweep(df: pd.DataFrame, fasts: list[int], slows: list[int]) -> list[float]:
    """The (fast, slow) grid with vectorbt's own vectorisation: one fast window at a time
    against every slow window as columns (all 400 columns of 1M bars at once do not fit in
    this machine's memory). Return final values in (fast, slow) order."""
    import vectorbt as vbt

    df = df.tz_localize(None)
    close = df["close"]
    slow_ma = vbt.MA.run(close, slows).ma.to_numpy()  # (n, len(slows))
    out: list[float] = []
    for fast in fasts:
        f = vbt.MA.run(close, fast).ma.to_numpy()[:, None]
        entries = np.zeros(slow_ma.shape, dtype=bool)
        exits = np.zeros(slow_ma.shape, dtype=bool)
        entries[1:] = (f > slow_ma)[:-1]  # decided at t, executed at t+1's open
        exits[1:] = (f < slow_ma)[:-1]
        cols = pd.Index(slows, name="slow")
        pf = vbt.Portfolio.from_signals(
            pd.DataFrame(
                np.repeat(close.to_numpy()[:, None], len(slows), axis=1),
                index=close.index,
                columns=cols,
            ),
            pd.DataFrame(entries, index=close.index, columns=cols),
            pd.DataFrame(exits, index=close.index, columns=cols),
            price=np.repeat(df["open"].to_numpy()[:, None], len(slows), axis=1),
            fees=FEE,
            init_cash=CASH,
            size=np.inf,
            size_granularity=1.0,
            freq="1min",
        )
        out.extend(float(v) for v in pf.final_value().to_numpy())
    return out


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
    # closed trades plus the one still open at the end, as the other engines count them
    still_open = 1 if st["_strategy"].position else 0
    return float(st["Equity Final [$]"]), len(st["_trades"]) + still_open


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


Row = tuple[str, str, float, str]


def load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--skip-slow", action="store_true", help="skip backtrader/backtesting.py")
    ap.add_argument("--skip-vbt-sweep", action="store_true", help="skip vectorbt's sweep")
    ap.add_argument("--out", type=Path, default=None, help="write the ## Backtest section here")
    args = ap.parse_args()

    df = make_data(args.bars)
    cfg = BacktestConfig(cash=CASH, market=get_profile("us", commission=FEE))
    small = df.iloc[:5000]
    rows: list[Row] = []
    loads = [load()]
    o, c = df["open"].to_numpy(), df["close"].to_numpy()

    def add(test: str, engine: str, sec: float, note: str) -> None:
        rows.append((test, engine, sec, note))
        print(rows[-1], flush=True)

    # warm up compiled code (numba caches on disk; vectorbt compiles on first use)
    run_backtest("sma_trend", small, cfg, params={"fast": FAST, "slow": SLOW})
    bare_sma(small["open"].to_numpy(), small["close"].to_numpy(), FAST, SLOW, CASH, FEE)

    t, (beq, bn) = timed(lambda: bare_sma(o, c, FAST, SLOW, CASH, FEE), repeat=5)
    add("single", "bare loop", t, f"equity {beq:,.2f}, {bn} trades")
    t, res = timed(
        lambda: run_backtest("sma_trend", df, cfg, params={"fast": FAST, "slow": SLOW}), repeat=5
    )
    n_trades = len(res.trades)
    add(
        "single",
        "easyquant",
        t,
        f"equity {res.final_equity:,.2f}, {n_trades} trades"
        + _same(res.final_equity, n_trades, beq, bn),
    )

    def with_curve() -> Any:
        r = run_backtest("sma_trend", df, cfg, params={"fast": FAST, "slow": SLOW})
        return r, r.sim.equity  # the curve is built when first read (replayed from the fills)

    t, (res, curve) = timed(with_curve, repeat=5)
    add(
        "single",
        "easyquant, equity curve read",
        t,
        f"equity {curve[-1]:,.2f}, curve of {len(curve):,} bars"
        + _same(float(curve[-1]), len(res.trades), beq, bn),
    )

    vbt_ok = True
    try:
        run_vectorbt(small, FAST, SLOW)
        t, (veq, vn) = timed(lambda: run_vectorbt(df, FAST, SLOW), repeat=3)
        add("single", "vectorbt", t, f"equity {veq:,.2f}, {vn} trades" + _same(veq, vn, beq, bn))
    except Exception as exc:
        vbt_ok = False
        add("single", "vectorbt", float("nan"), f"failed: {type(exc).__name__}: {exc}")

    if not args.skip_slow:
        t, (peq, pn) = timed(lambda: run_backtesting_py(df))
        add(
            "single",
            "backtesting.py",
            t,
            f"equity {peq:,.2f}, {pn} trades" + _same(peq, pn, beq, bn),
        )
        t, (teq, tn) = timed(lambda: run_backtrader(df))
        add("single", "backtrader", t, f"equity {teq:,.2f}, {tn} trades" + _same(teq, tn, beq, bn))
    loads.append(load())

    # ----- sweep ----------------------------------------------------------------------------
    points = [{"fast": f, "slow": s} for f in FASTS for s in SLOWS]

    def bare_sweep() -> list[float]:
        return [bare_sma(o, c, p["fast"], p["slow"], CASH, FEE)[0] for p in points]

    t, bare_eq = timed(bare_sweep)
    add("sweep 20x20", "bare loop", t, f"{len(points)} points")
    for workers in (1, 2):
        t, ranked = timed(
            lambda w=workers: run_sweep(SmaTrend, points, Bars.from_frames(df), cfg, workers=w)
        )
        got = {(r.params["fast"], r.params["slow"]): r.metrics["final_equity"] for r in ranked}
        ours = [got[(p["fast"], p["slow"])] for p in points]
        add(
            "sweep 20x20",
            f"easyquant ({workers} thread{'s' if workers > 1 else ''})",
            t,
            f"{len(ranked)} points" + _same_all(ours, bare_eq),
        )
    if vbt_ok and not args.skip_vbt_sweep:
        run_vectorbt_sweep(small, FASTS[:1], SLOWS[:2])
        t, veqs = timed(lambda: run_vectorbt_sweep(df, FASTS, SLOWS))
        add(
            "sweep 20x20",
            "vectorbt (20 columns at a time)",
            t,
            f"{len(veqs)} points" + _same_all(veqs, bare_eq),
        )
    loads.append(load())

    text = render(rows, args.bars, loads)
    print(text)
    if args.out:
        write_section(args.out, text)


def _same_all(eqs: list[float], ref: list[float]) -> str:
    bad = sum(abs(a - b) > 1e-6 * abs(b) for a, b in zip(eqs, ref, strict=True))
    if bad == 0:
        return f", all {len(ref)} final equities as the bare loop's (1e-6)"
    return f", **{bad} of {len(ref)} final equities differ from the bare loop's**"


def render(rows: list[Row], n: int, loads: list[str]) -> str:
    import backtesting
    import backtrader
    import numba
    import vectorbt

    bare = {test: sec for test, engine, sec, _ in rows if engine == "bare loop"}
    # easyquant's time per test: the single run, and the sweep on 1 thread (as the bare loop
    # and vectorbt run)
    eq = {
        test: sec
        for test, engine, sec, _ in rows
        if engine in ("easyquant", "easyquant (1 thread)")
    }
    lines = [
        "## Backtest",
        "",
        f"`python bench/backtest.py --out bench/RESULTS.md`: {n:,} seeded one-minute bars, "
        "`sma_trend` (SMA 10/30 long/flat), all-in whole shares, next-open fills, "
        "0.1% commission; every "
        "engine in the same process on the same data, in the same run. Machine: "
        f"{platform.machine()}, {_cpus()} shared CPUs, Python {platform.python_version()}, "
        f"numba {numba.__version__}, vectorbt {vectorbt.__version__}, backtesting.py "
        f"{backtesting.__version__}, backtrader {backtrader.__version__}. Load average "
        f"(1/5/15 min) at the start, after the single runs and at the end: "
        f"{'; '.join(loads)}. Fast engines: best of 5 (vectorbt 3) after a warm-up run; "
        "backtesting.py, backtrader and the sweeps: one run. The bare loop is a compiled loop "
        "that does only this strategy (the practical limit).",
        "",
        "| test | engine | seconds | x bare loop | easyquant faster by | result |",
        "|---|---|---:|---:|---:|---|",
    ]
    for test, engine, sec, note in rows:
        ratio = sec / bare[test] if test in bare and bare[test] > 0 else float("nan")
        ours = eq.get(test)
        peer = not engine.startswith("easyquant") and engine != "bare loop"
        faster = f"{sec / ours:,.1f}x" if peer and ours else ""
        secs = f"{sec:.4f}" if sec < 0.1 else f"{sec:.3f}"
        lines.append(f"| {test} | {engine} | {secs} | {ratio:,.1f} | {faster} | {note} |")
    lines.append("")
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
