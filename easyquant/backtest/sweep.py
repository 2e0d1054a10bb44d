"""Parameter sweeps (grid and random search) and walk-forward analysis, run in-process.

The DAG runs the same points one per task through ``easyquant.backtest.pipeline``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.metrics import (
    LOWER_IS_BETTER,
    METRIC_NAMES,
    bench_stats,
    compute_metrics,
    periods_per_year,
)
from easyquant.backtest.runner import benchmark_close, evaluate
from easyquant.backtest.simulation import Prepared
from easyquant.errors import ConfigError
from easyquant.strategy.base import Bars, Strategy

Grid = Mapping[str, Sequence[Any]]


def grid_points(
    cls: type[Strategy], grid: Grid, fixed: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Return every valid combination of ``grid`` (combinations the strategy rejects, e.g.
    fast >= slow, are skipped; a misspelled or out-of-range value is an error)."""
    fixed = dict(fixed or {})
    unknown = [k for k in [*grid, *fixed] if k not in cls.params]
    if unknown:
        cls(**dict.fromkeys(unknown))  # raises ConfigError naming them
    keys = list(grid)
    for key in keys:
        for v in grid[key]:
            cls.params[key].coerce(v, owner=cls.name)  # raises ConfigError naming it
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        params = {**fixed, **dict(zip(keys, combo, strict=True))}
        try:
            out.append(cls(**params).param_values)
        except ConfigError:
            continue
    if not out:
        raise ConfigError(f"strategy {cls.name}: no valid parameter combination in the grid")
    return out


def random_points(
    cls: type[Strategy], grid: Grid, n: int, seed: int = 0, fixed: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Return ``n`` distinct valid combinations drawn at random (seeded) from ``grid``."""
    pts = grid_points(cls, grid, fixed)
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(pts))[: max(1, n)]
    return [pts[i] for i in sorted(pick)]


@dataclass
class PointResult:
    """One parameter point's metrics (no trades or curve: a sweep keeps only the summary)."""

    params: dict[str, Any]
    metrics: dict[str, Any]
    error: str | None = None


def score(metrics: Mapping[str, Any], rank_by: str) -> float:
    """Return a sortable score (higher is better; missing values rank last)."""
    v = metrics.get(rank_by)
    if v is None or not math.isfinite(float(v)):
        return -math.inf
    return -float(v) if rank_by in LOWER_IS_BETTER else float(v)


def check_rank_by(rank_by: str) -> None:
    if rank_by not in METRIC_NAMES:
        raise ConfigError(f"rank by {rank_by!r}: expected one of {', '.join(METRIC_NAMES)}")


def run_sweep(
    cls: type[Strategy],
    points: Sequence[Mapping[str, Any]],
    data: Bars,
    config: BacktestConfig,
    *,
    rank_by: str = "sharpe",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PointResult]:
    """Backtest every point on ``data`` (threads: the compiled loop releases the GIL); return
    results ranked best first. Indicators are computed once per window across points."""
    check_rank_by(rank_by)
    data.shared = True  # every point runs on it: strategies may memoise indicators
    prep = Prepared(data, config)
    _ = prep.day, prep.ref_close  # compute shared arrays once, before threads
    bench = benchmark_close(data, config)
    bench_st = bench_stats(bench)
    ppy = periods_per_year(data.index.asi8, config.market.periods_per_year)
    workers = workers or min(2, os.cpu_count() or 1)

    def one(p: Mapping[str, Any]) -> PointResult:
        strat = cls(**p)
        _, _, metrics = evaluate(strat, prep, bench, ppy, benchmark_stats=bench_st)
        return PointResult(strat.param_values, metrics)

    results: list[PointResult] = []
    if workers <= 1 or len(points) < 4:
        for i, p in enumerate(points):
            results.append(one(p))
            if progress:
                progress(i + 1, len(points))
    else:
        with ThreadPoolExecutor(workers) as pool:
            for i, r in enumerate(pool.map(one, points)):
                results.append(r)
                if progress:
                    progress(i + 1, len(points))
    return rank(results, rank_by)


def rank(results: Iterable[PointResult], rank_by: str) -> list[PointResult]:
    """Return results sorted best first by ``rank_by``."""
    return sorted(results, key=lambda r: score(r.metrics, rank_by), reverse=True)


@dataclass
class Window:
    """One walk-forward window: the best in-sample point and its out-of-sample result."""

    index: int
    in_sample: tuple[Any, Any]
    out_of_sample: tuple[Any, Any]
    params: dict[str, Any]
    in_sample_metrics: dict[str, Any]
    out_of_sample_metrics: dict[str, Any]
    equity: np.ndarray


def walk_windows(
    n: int, in_sample: int, out_of_sample: int, step: int | None = None
) -> list[tuple[int, int, int]]:
    """Return rolling (start, split, end) bar windows: in-sample [start, split), out-of-sample
    [split, end)."""
    if in_sample < 2 or out_of_sample < 1:
        raise ConfigError("walk-forward: in-sample must be >= 2 bars and out-of-sample >= 1")
    step = step or out_of_sample
    out = []
    start = 0
    while start + in_sample + out_of_sample <= n:
        out.append((start, start + in_sample, start + in_sample + out_of_sample))
        start += step
    if not out:
        raise ConfigError(
            f"walk-forward: {n} bars cannot hold one window of {in_sample} in-sample + "
            f"{out_of_sample} out-of-sample bars"
        )
    return out


def walk_forward(
    cls: type[Strategy],
    points: Sequence[Mapping[str, Any]],
    data: Bars,
    config: BacktestConfig,
    *,
    in_sample: int,
    out_of_sample: int,
    step: int | None = None,
    rank_by: str = "sharpe",
    progress: Callable[[int, int], None] | None = None,
) -> list[Window]:
    """Optimise on each in-sample window, then trade the winner on the following out-of-sample
    window. The out-of-sample run sees the in-sample bars as history (indicators warm up) but
    starts flat at the split and only its bars after the split count."""
    windows = walk_windows(len(data), in_sample, out_of_sample, step)
    out: list[Window] = []
    for i, (a, b, c) in enumerate(windows):
        ranked = run_sweep(cls, points, data[a:b], config, rank_by=rank_by)
        best = ranked[0]
        strat = cls(**best.params)
        hist = data[a:c]
        decisions = strat.decisions(hist)
        decisions.target[: b - a - 1] = np.nan  # no orders before the split
        if decisions.target.shape[0] > b - a - 1:
            # re-assert the state at the last in-sample bar so a held signal enters at the split
            last = _last_decision(strat.decisions(data[a:b]).target)
            row = decisions.target[b - a - 1]
            decisions.target[b - a - 1] = np.where(np.isnan(row), last, row)
        oos = data[b - 1 : c]
        prep = Prepared(hist, config)
        sim = prep.run(decisions, strat.sizing)
        eq = sim.equity[b - a - 1 :]
        closed = (sim.trades["exit_bar"] >= 0) & (sim.trades["entry_bar"] >= b - a)
        traded = float(np.abs(sim.fills["quantity"] * sim.fills["price"]).sum())
        bench = benchmark_close(oos, config)
        metrics = compute_metrics(
            eq,
            oos.index.asi8,
            trade_pnl=sim.trades["pnl"][closed],
            traded_value=traded,
            held=sim.held[b - a - 1 :],
            ppy=periods_per_year(oos.index.asi8, config.market.periods_per_year),
            benchmark=bench,
        )
        out.append(
            Window(
                i,
                (data.index[a], data.index[b - 1]),
                (data.index[b], data.index[c - 1]),
                best.params,
                best.metrics,
                metrics,
                eq,
            )
        )
        if progress:
            progress(i + 1, len(windows))
    return out


def _last_decision(target: np.ndarray) -> np.ndarray:
    out = np.full(target.shape[1], np.nan)
    for j in range(target.shape[1]):
        good = np.flatnonzero(~np.isnan(target[:, j]))
        if len(good):
            out[j] = target[good[-1], j]
    return out


def stitch(windows: Sequence[Window], cash: float) -> np.ndarray:
    """Chain the out-of-sample equity curves (each rescaled to continue the previous one)."""
    level = cash
    parts: list[np.ndarray] = []
    for w in windows:
        e = w.equity / w.equity[0] * level
        parts.append(e[1:] if parts else e)
        level = e[-1]
    return np.concatenate(parts) if parts else np.array([cash])
