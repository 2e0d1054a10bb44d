"""Load, run, check, store and report status: what the CLI and the DAG's tasks share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from easyquant import status
from easyquant.backtest.engine import BacktestConfig
from easyquant.backtest.lookahead import check_lookahead
from easyquant.backtest.market import get_profile
from easyquant.backtest.metrics import compute_metrics, periods_per_year
from easyquant.backtest.runner import BacktestResult, as_bars, run_backtest
from easyquant.backtest.store import RunSpec, fail_run, finish_run, new_run_id, start_run
from easyquant.backtest.sweep import (
    PointResult,
    Window,
    check_rank_by,
    grid_points,
    random_points,
    run_sweep,
    stitch,
    walk_forward,
    walk_windows,
)
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError
from easyquant.strategy.base import Bars, Strategy
from easyquant.strategy.registry import load_strategy


@dataclass
class Job:
    """One backtest request, as the CLI and DAG params give it."""

    strategy: str
    symbols: Sequence[str]
    start: str | None = None
    end: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    market: str = "us"
    cash: float = 100_000.0
    commission: float | None = None
    min_commission: float | None = None
    stamp_duty: float | None = None
    slippage_bps: float | None = None
    fill: str = "next_open"
    freq: str = "1d"
    benchmark: str | None = None

    def strategy_class(self) -> type[Strategy]:
        return load_strategy(self.strategy)

    def make_strategy(self, params: Mapping[str, Any] | None = None) -> Strategy:
        return self.strategy_class()(**dict(params if params is not None else self.params))

    def config(self) -> BacktestConfig:
        profile = get_profile(
            self.market,
            commission=self.commission,
            min_commission=self.min_commission,
            stamp_duty=self.stamp_duty,
            slippage_bps=self.slippage_bps,
        )
        return BacktestConfig(
            cash=self.cash, market=profile, fill=self.fill, benchmark=self.benchmark
        )

    def validate(self) -> None:
        """Raise ConfigError for anything wrong before any data is read or run stored."""
        if not self.symbols:
            raise ConfigError("symbols: expected at least one symbol")
        self.make_strategy()
        self.config()
        if self.start and self.end and pd.Timestamp(self.start) > pd.Timestamp(self.end):
            raise ConfigError(f"period: start {self.start} is after end {self.end}")

    def spec(
        self, params: Mapping[str, Any], kind: str = "backtest", parent_id: str | None = None
    ) -> RunSpec:
        return RunSpec(
            strategy=self.strategy,
            symbols=list(self.symbols),
            market=self.market,
            params=dict(params),
            config=self.config().as_dict(),
            freq=self.freq,
            start=self.start,
            end=self.end,
            kind=kind,
            parent_id=parent_id,
        )


@contextmanager
def stored_run(
    run_id: str, spec: RunSpec, *, store: bool, settings: Settings | None = None
) -> Iterator[Any]:
    """Open a connection and start run ``run_id`` (when ``store``); yield the connection (None
    when not storing). If the block raises, the run is stored as failed with the error (its
    partial results dropped) and the error propagates; the connection is always closed."""
    if not store:
        yield None
        return
    from easyquant.db import connect

    conn = connect(settings or get_settings())
    try:
        start_run(conn, run_id, spec)
        try:
            yield conn
        except Exception as exc:
            fail_run(conn, run_id, f"{type(exc).__name__}: {exc}")
            raise
    finally:
        conn.close()


def load_data(job: Job, settings: Settings | None = None) -> Bars:
    """Read the job's bars from the lake (plus the benchmark when it is another symbol)."""
    from easyquant.data import load_bars

    frames = load_bars(
        list(job.symbols), freq=job.freq, start=job.start, end=job.end, settings=settings
    )
    return as_bars(frames)


def load_benchmark(job: Job, settings: Settings | None = None) -> pd.Series | None:
    if not job.benchmark or job.benchmark in job.symbols:
        return None
    from easyquant.data import load_bars

    frames = load_bars(
        [job.benchmark], freq=job.freq, start=job.start, end=job.end, settings=settings
    )
    return frames[job.benchmark]["close"]


def execute(
    job: Job,
    *,
    data: Bars | None = None,
    settings: Settings | None = None,
    store: bool = True,
    run_id: str | None = None,
    lookahead: bool = False,
    lookahead_cuts: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run one backtest end to end: validate, load, (check look-ahead), run, store, report.

    Bad input raises before anything is stored; a failure after the run started is stored as
    a failed run with its error, and re-raised.
    """
    job.validate()
    strategy = job.make_strategy()
    run_id = run_id or new_run_id()
    name = f"{job.strategy} {','.join(job.symbols)}"
    with (
        stored_run(run_id, job.spec(strategy.param_values), store=store, settings=settings) as conn,
        status.track(
            "backtest",
            name,
            component_id=f"backtest:{run_id}",
            heartbeat_interval=30,
            attrs={"run_id": run_id},
        ) as tracker,
    ):
        tracker.progress(0.05, "loading data")
        bars = data if data is not None else load_data(job, settings)
        bench = load_benchmark(job, settings) if data is None else None
        tracker.progress(0.2, f"running on {len(bars)} bars")
        result = run_backtest(strategy, bars, job.config(), benchmark=bench)
        if lookahead:
            tracker.progress(0.5, "checking look-ahead")
            check_lookahead(
                strategy, bars, cuts=lookahead_cuts, full=result.decisions, progress=progress
            )
        result.run_id = run_id
        if conn is not None:
            tracker.progress(0.9, "storing results")
            finish_run(
                conn,
                run_id,
                metrics=result.metrics,
                trades=result.trades,
                equity=result.equity,
                final_equity=result.final_equity,
            )
        tracker.finish(
            "success",
            f"final equity {result.final_equity:,.2f}",
            **{k: v for k, v in result.metrics.items() if v is not None},
        )
    return result


def _bar(desc: str, total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=None if enabled else True, leave=False)


def execute_sweep(
    job: Job,
    grid: Mapping[str, Sequence[Any]],
    *,
    random: int | None = None,
    seed: int = 0,
    rank_by: str = "sharpe",
    data: Bars | None = None,
    settings: Settings | None = None,
    store: bool = True,
    run_id: str | None = None,
    show_progress: bool = True,
) -> tuple[str, list[PointResult]]:
    """Run a grid (or ``random`` points of it) in-process; store the sweep and its ranked
    points; return (run id, ranked results)."""
    job.validate()
    check_rank_by(rank_by)
    cls = job.strategy_class()
    points = (
        random_points(cls, grid, random, seed, job.params)
        if random
        else grid_points(cls, grid, job.params)
    )
    run_id = run_id or new_run_id()
    spec = job.spec(
        {"grid": {k: list(v) for k, v in grid.items()}, "random": random, "rank_by": rank_by},
        kind="sweep",
    )
    with (
        stored_run(run_id, spec, store=store, settings=settings) as conn,
        status.track(
            "backtest",
            f"sweep {job.strategy} {','.join(job.symbols)}",
            component_id=f"backtest:{run_id}",
            heartbeat_interval=30,
            attrs={"run_id": run_id, "points": len(points)},
        ) as tracker,
    ):
        bars = data if data is not None else load_data(job, settings)
        bar = _bar("sweep", len(points), show_progress)

        def on_progress(done: int, total: int) -> None:
            bar.update(1)
            if done % max(1, total // 20) == 0 or done == total:
                tracker.progress(done / total, f"{done}/{total} points")

        try:
            ranked = run_sweep(
                cls, points, bars, job.config(), rank_by=rank_by, progress=on_progress
            )
        finally:
            bar.close()
        if conn is not None:
            store_points(conn, run_id, job, ranked)
            finish_run(conn, run_id, metrics=ranked[0].metrics, rank=None)
        tracker.finish(
            "success",
            f"best {ranked[0].params}",
            points=len(ranked),
            best=ranked[0].metrics.get(rank_by),
        )
    return run_id, ranked


def point_id(parent_id: str, params: Mapping[str, Any]) -> str:
    """Return the deterministic run id of a sweep point (idempotent re-runs)."""
    import hashlib
    import json

    key = json.dumps(dict(sorted(params.items())), default=str)
    return f"{parent_id}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def store_points(conn: Any, parent_id: str, job: Job, ranked: Sequence[PointResult]) -> None:
    """Store each point as a child run with its metrics and rank."""
    for i, r in enumerate(ranked):
        pid = point_id(parent_id, r.params)
        start_run(conn, pid, job.spec(r.params, kind="point", parent_id=parent_id))
        if r.error:
            fail_run(conn, pid, r.error)
        else:
            finish_run(conn, pid, metrics=r.metrics, rank=i + 1)


def execute_walkforward(
    job: Job,
    grid: Mapping[str, Sequence[Any]],
    *,
    in_sample: int,
    out_of_sample: int,
    step: int | None = None,
    rank_by: str = "sharpe",
    data: Bars | None = None,
    settings: Settings | None = None,
    store: bool = True,
    run_id: str | None = None,
    show_progress: bool = True,
) -> tuple[str, list[Window], dict[str, Any]]:
    """Walk forward: optimise on each in-sample window, trade the winner out of sample; store
    each window (best params, out-of-sample metrics) and the stitched out-of-sample metrics."""
    job.validate()
    check_rank_by(rank_by)
    cls = job.strategy_class()
    points = grid_points(cls, grid, job.params)
    run_id = run_id or new_run_id()
    spec = job.spec(
        {
            "grid": {k: list(v) for k, v in grid.items()},
            "in_sample": in_sample,
            "out_of_sample": out_of_sample,
            "step": step,
            "rank_by": rank_by,
        },
        kind="walkforward",
    )
    with (
        stored_run(run_id, spec, store=store, settings=settings) as conn,
        status.track(
            "backtest",
            f"walkforward {job.strategy} {','.join(job.symbols)}",
            component_id=f"backtest:{run_id}",
            heartbeat_interval=30,
            attrs={"run_id": run_id},
        ) as tracker,
    ):
        bars = data if data is not None else load_data(job, settings)
        n_windows = len(walk_windows(len(bars), in_sample, out_of_sample, step))
        bar = _bar("walk-forward", n_windows, show_progress)

        def on_progress(done: int, total: int) -> None:
            bar.update(1)
            tracker.progress(done / total, f"window {done}/{total}")

        try:
            windows = walk_forward(
                cls,
                points,
                bars,
                job.config(),
                in_sample=in_sample,
                out_of_sample=out_of_sample,
                step=step,
                rank_by=rank_by,
                progress=on_progress,
            )
        finally:
            bar.close()
        curve = stitch(windows, job.cash)
        idx = _stitched_index(windows, bars)
        summary = compute_metrics(
            curve,
            idx.asi8,
            trade_pnl=np.array([]),
            traded_value=0.0,
            held=np.ones(len(curve), dtype=np.uint8),
            ppy=periods_per_year(idx.asi8, job.config().market.periods_per_year),
        )
        for key in (
            "trades",
            "win_rate",
            "profit_factor",
            "expectancy",
            "turnover",
            "exposure",
            "alpha",
            "beta",
        ):
            summary.pop(key, None)
        if conn is not None:
            for w in windows:
                wid = f"{run_id}-w{w.index:03d}"
                start_run(conn, wid, window_spec(job, w, run_id))
                finish_run(
                    conn,
                    wid,
                    metrics=w.out_of_sample_metrics,
                    rank=w.index + 1,
                    equity=pd.Series(
                        w.equity,
                        index=bars.index[
                            _position(bars, w.out_of_sample[0]) - 1 : _position(
                                bars, w.out_of_sample[1]
                            )
                            + 1
                        ],
                    ),
                    final_equity=float(w.equity[-1]),
                )
            finish_run(
                conn,
                run_id,
                metrics=summary,
                equity=pd.Series(curve, index=idx),
                final_equity=float(curve[-1]),
            )
        tracker.finish(
            "success",
            f"{len(windows)} windows",
            **{k: v for k, v in summary.items() if v is not None},
        )
    return run_id, windows, summary


def window_spec(job: Job, w: Window, parent_id: str) -> RunSpec:
    """The stored form of a walk-forward window: a point run over its out-of-sample period,
    its configuration carrying the window (index, in- and out-of-sample periods, in-sample
    metrics)."""
    spec = job.spec(w.params, kind="point", parent_id=parent_id)
    config = {
        **spec.config,
        "walkforward_window": {
            "index": w.index,
            "in_sample": [w.in_sample[0].isoformat(), w.in_sample[1].isoformat()],
            "out_of_sample": [w.out_of_sample[0].isoformat(), w.out_of_sample[1].isoformat()],
            "in_sample_metrics": w.in_sample_metrics,
        },
    }
    return replace(spec, config=config, start=w.out_of_sample[0], end=w.out_of_sample[1])


def _stitched_index(windows: Sequence[Window], bars: Bars) -> pd.DatetimeIndex:
    pos: list[int] = []
    for i, w in enumerate(windows):
        a = _position(bars, w.out_of_sample[0]) - 1
        b = _position(bars, w.out_of_sample[1])
        pos.extend(range(a if i == 0 else a + 1, b + 1))
    return bars.index[pos]


def _position(bars: Bars, ts: Any) -> int:
    """Return the position of bar time ``ts`` (one of the bars' times)."""
    return int(bars.index.searchsorted(ts))
