"""Portfolio speed: momentum rotation over a wide universe, EasyQuant against vectorbt and a bare
compiled loop, in the same process on the same data, with the same trades.

The strategy: every 21 bars (monthly), from bar 60 on, hold the 20 symbols with the best 60-bar
return at equal target weights (2.5% of equity each: half the equity, so a buy never waits
for cash), traded at the next bar's open, sells first; fractional units and no costs (so every
engine sizes the same way). As EasyQuant acts on a decision that changes a symbol's target, a
symbol that stays in the top 20 keeps its position (it is not traded back to its weight): the
peers are given the same orders. Data: 500
seeded random-walk symbols x 2,520 daily bars (10 years).

- EasyQuant: the built-in ``momentum_rotation`` (``lookback=60, top=20, rebalance=21``), its
  weights halved, from prepared ``Bars`` (the strategy's decisions and the fill loop timed);
- vectorbt: ``Portfolio.from_orders`` with ``size_type="targetpercent"``, one group with cash
  sharing, orders sorted sells first (``call_seq="auto"``), the same targets shifted to the
  next bar and priced at its open (target computation timed with it);
- the bare loop: a compiled loop doing only this strategy (momentum, top 20, rebalance).

Every engine's final equity and fill count are checked against the bare loop's. Each engine is
run ``--runs`` times after a warm-up run, a run being the best of ``--best-of`` calls (vectorbt:
one); the table gives the median and range of the runs.

Usage: ``python bench/portfolio.py [--symbols 500] [--bars 2520] [--runs 3]
[--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
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
from easyquant.execution.market import get_profile
from easyquant.strategy import Bars
from easyquant.strategy.builtins import MomentumRotation

CASH = 1_000_000.0
LOOKBACK, TOP, REBALANCE = 60, 20, 21
WEIGHT = 0.5 / TOP  # half the equity invested: an entrant's buy never waits for cash


class HalfInvested(MomentumRotation):
    """The built-in rotation holding each of its ``top`` symbols at ``0.5 / top`` of equity."""

    name = "momentum_rotation_half"

    def weights(self, data: Bars) -> np.ndarray:
        return super().weights(data) * (WEIGHT * self.top)


def make_data(m: int, n: int, seed: int = 11) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Return (index, open, close): ``n`` daily bars of ``m`` seeded random walks."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0002, 0.0003, m)
    r = rng.normal(drift, 0.02, (n, m))
    close = 20 * np.exp(np.cumsum(r, axis=0))
    open_ = np.vstack([close[:1] / np.exp(r[:1]), close[:-1]]) * np.exp(
        rng.normal(0, 0.004, (n, m))
    )
    idx = pd.bdate_range("2014-01-02", periods=n, tz="UTC", name="timestamp")
    return idx, np.ascontiguousarray(open_), np.ascontiguousarray(close)


def as_bars(idx: pd.DatetimeIndex, open_: np.ndarray, close: np.ndarray) -> Bars:
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    frames = {
        f"S{j:03d}": pd.DataFrame(
            {
                "open": open_[:, j],
                "high": high[:, j],
                "low": low[:, j],
                "close": close[:, j],
                "volume": 1e6,
            },
            index=idx,
        )
        for j in range(close.shape[1])
    }
    return Bars.from_frames(frames)


def timed(fn: Callable[[], Any], runs: int, best_of: int) -> tuple[list[float], Any]:
    """Return each run's time (the best of ``best_of`` calls) and the last result."""
    fn()  # warm-up: compiled code, caches
    times, out = [], None
    for _ in range(runs):
        best = float("inf")
        for _ in range(best_of):
            gc.collect()
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        times.append(best)
    return times, out


# ----- the bare loop ------------------------------------------------------------------------
@njit(cache=True)
def bare_rotation(
    open_: np.ndarray, close: np.ndarray, lookback: int, top: int, every: int, cash: float
) -> tuple[float, int]:
    n, m = close.shape
    pos = np.zeros(m)
    target = np.zeros(m)
    new = np.zeros(m)
    pending = np.zeros(m, dtype=np.bool_)
    any_pending = False
    fills = 0
    w = WEIGHT
    for t in range(n):
        if any_pending:
            eq = cash
            for s in range(m):
                eq += pos[s] * open_[t, s]
            for side in range(2):  # sells first
                for s in range(m):
                    if not pending[s]:
                        continue
                    px = open_[t, s]
                    d = target[s] * eq / px - pos[s]
                    if side == 1 and d > 0 and d * px > cash:  # what the cash pays for
                        d = cash / px * (1 - 1e-12)
                    if (side == 0 and d < 0) or (side == 1 and d > 0):
                        cash -= d * px
                        pos[s] += d
                        fills += 1
            pending[:] = False
            any_pending = False
        if t >= lookback and (t - lookback) % every == 0:
            mom = close[t] / close[t - lookback] - 1.0
            order = np.argsort(-mom, kind="mergesort")
            new[:] = 0.0
            for k in range(min(top, m)):
                new[order[k]] = w
            for s in range(m):
                if new[s] != target[s]:  # a changed target: an order
                    target[s] = new[s]
                    pending[s] = True
                    any_pending = True
    eq = cash
    for s in range(m):
        eq += pos[s] * close[n - 1, s]
    return eq, fills


# ----- the engines --------------------------------------------------------------------------
def run_easyquant(bars: Bars) -> tuple[float, int]:
    cfg = BacktestConfig(cash=CASH, market=get_profile("crypto", tick=0.0))
    params = {"lookback": LOOKBACK, "top": TOP, "rebalance": REBALANCE}
    res = run_backtest(HalfInvested(**params), bars, cfg)
    return float(res.final_equity), len(res.fills)


def run_vectorbt(idx: pd.DatetimeIndex, open_: np.ndarray, close: np.ndarray) -> tuple[float, int]:
    import vectorbt as vbt

    n, m = close.shape
    mom = np.full((n, m), np.nan)
    mom[LOOKBACK:] = close[LOOKBACK:] / close[:-LOOKBACK] - 1.0
    size = np.full((n, m), np.nan)
    held = np.zeros(m)
    for t in range(LOOKBACK, n - 1, REBALANCE):
        new = np.zeros(m)
        new[np.argsort(-mom[t], kind="stable")[:TOP]] = WEIGHT
        changed = new != held
        size[t + 1, changed] = new[changed]  # an order only where the target changed
        held = new
    naive = idx.tz_localize(None)
    pf = vbt.Portfolio.from_orders(
        pd.DataFrame(close, index=naive),
        size=size,
        size_type="targetpercent",
        price=open_,
        val_price=open_,
        init_cash=CASH,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        freq="1D",
    )
    return float(pf.final_value()), int(pf.orders.count())


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--bars", type=int, default=2520)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--best-of", type=int, default=5, help="calls per run (its best is kept)")
    ap.add_argument("--out", type=Path, default=None, help="write the ## Portfolio section here")
    args = ap.parse_args()

    idx, open_, close = make_data(args.symbols, args.bars)
    bars = as_bars(idx, open_, close)
    rows: list[tuple[str, list[float], str]] = []
    t_bare, (beq, bn) = timed(
        lambda: bare_rotation(open_, close, LOOKBACK, TOP, REBALANCE, CASH), args.runs, args.best_of
    )
    rows.append(("bare loop", t_bare, f"equity {beq:,.2f}, {bn} fills"))
    t_eq, (eeq, en) = timed(lambda: run_easyquant(bars), args.runs, args.best_of)
    rows.append(("easyquant", t_eq, f"equity {eeq:,.2f}, {en} fills" + _same(eeq, en, beq, bn)))
    t_vbt, (veq, vn) = timed(lambda: run_vectorbt(idx, open_, close), args.runs, 1)
    rows.append(("vectorbt", t_vbt, f"equity {veq:,.2f}, {vn} orders" + _same(veq, vn, beq, bn)))
    for row in rows:
        print(row, flush=True)
    text = render(rows, args)
    print(text)
    if args.out:
        write_section(args.out, text)


def render(rows: list[tuple[str, list[float], str]], args: argparse.Namespace) -> str:
    import numba
    import vectorbt

    med = {name: statistics.median(ts) for name, ts, _ in rows}
    lines = [
        "## Portfolio",
        "",
        f"`python bench/portfolio.py --out bench/RESULTS.md`: momentum rotation over "
        f"{args.symbols} seeded random-walk symbols x {args.bars:,} daily bars (every "
        f"{REBALANCE} bars the top {TOP} by {LOOKBACK}-bar return at a target weight of "
        f"{WEIGHT:.1%} each; a changed target is traded at the next open, sells first; "
        "fractional units, no costs); every engine in the same "
        f"process on the same data, in the same run. Machine: {platform.machine()}, shared "
        f"CPUs, Python {platform.python_version()}, numba {numba.__version__}, vectorbt "
        f"{vectorbt.__version__}. Each engine {args.runs} runs after a warm-up run, a run "
        f"being the best of {args.best_of} calls (vectorbt: one call); median (min - max) of "
        "the runs; ratios of the medians. EasyQuant is timed from prepared `Bars` (decisions "
        "and fill loop); vectorbt with its target computation.",
        "",
        "| engine | seconds, median (min - max) | x bare loop | x easyquant | result |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ts, note in rows:
        lines.append(
            f"| {name} | {med[name]:.4f} ({min(ts):.4f} - {max(ts):.4f}) | "
            f"{med[name] / med['bare loop']:,.1f} | {med[name] / med['easyquant']:,.2f} | {note} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
