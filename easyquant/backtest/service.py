"""Run a :class:`~easyquant.backtest.request.BacktestRequest` in-process: load, run, check,
store and report status. The command line and the demo seed call these; the DAG's tasks share
the loading (:func:`load_data`) and the stored form (``BacktestRequest.spec``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from easyquant import status
from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.lookahead import check_lookahead
from easyquant.backtest.metrics import compute_metrics, periods_per_year
from easyquant.backtest.request import BacktestRequest
from easyquant.backtest.runner import BacktestResult, DataLike, as_bars, run_backtest
from easyquant.backtest.store import (
    RunSpec,
    fail_run,
    finish_run,
    new_run_id,
    point_id,
    start_run,
)
from easyquant.backtest.sweep import (
    PointResult,
    Window,
    run_sweep,
    stitch,
    walk_forward,
    walk_windows,
)
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError
from easyquant.strategy.base import Bars


@contextmanager
def stored_run(
    run_id: str, spec: RunSpec, *, store: bool, settings: Settings | None = None
) -> Iterator[Any]:
    """Open a connection and start run ``run_id`` (when ``store``); yield the connection (None
    when not storing). If the block raises, the run is stored as failed with the error (its
    partial results dropped), or as stopped when interrupted (Ctrl-C, SystemExit), and the
    exception propagates; the connection is always closed."""
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
        except (KeyboardInterrupt, SystemExit) as exc:
            fail_run(conn, run_id, f"interrupted ({type(exc).__name__})", state="stopped")
            raise
    finally:
        conn.close()


class Where(TypedDict, total=False):
    """Where a run reads and stores: ``data`` instead of the lake, ``settings`` (default: the
    environment's), ``store`` (False: nothing stored), ``run_id`` (default: a new one)."""

    data: DataLike | None
    settings: Settings | None
    store: bool
    run_id: str | None


@dataclass
class Running:
    """A run under way: its id, the connection it stores through (None when not storing), its
    status component and its bars."""

    run_id: str
    conn: Any
    tracker: status.Tracker
    settings: Settings | None
    data: DataLike | None

    def bars(self, req: BacktestRequest) -> Bars:
        return as_bars(self.data) if self.data is not None else load_data(req, self.settings)


@contextmanager
def tracked_run(
    req: BacktestRequest, spec: RunSpec, where: Where, **attrs: Any
) -> Iterator[Running]:
    """:func:`stored_run` reported as the ``backtest:<run id>`` status component."""
    run_id = where.get("run_id") or new_run_id()
    settings = where.get("settings")
    with (
        stored_run(run_id, spec, store=where.get("store", True), settings=settings) as conn,
        status.track(
            "backtest",
            req.label,
            component_id=f"backtest:{run_id}",
            heartbeat_interval=30,
            attrs={"run_id": run_id, **attrs},
        ) as tracker,
    ):
        yield Running(run_id, conn, tracker, settings, where.get("data"))


@contextmanager
def progress_bar(
    run: Running, what: str, total: int, shown: bool, every: int = 1
) -> Iterator[Callable[[int, int], None]]:
    """Yield a progress callback ``(done, total)`` that moves a terminal bar (when ``shown``)
    and reports every ``every``-th step (and the last) to the run's status component."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, disable=None if shown else True, leave=False)

    def step(done: int, total: int) -> None:
        bar.update(1)
        if done % every == 0 or done == total:
            run.tracker.progress(done / total, f"{what} {done}/{total}")

    try:
        yield step
    finally:
        bar.close()


def load_data(req: BacktestRequest, settings: Settings | None = None) -> Bars:
    """Read the request's bars from the lake."""
    from easyquant.data import load_bars

    frames = load_bars(
        list(req.symbols), freq=req.freq, start=req.start, end=req.end, settings=settings
    )
    return as_bars(frames)


def load_benchmark(req: BacktestRequest, settings: Settings | None = None) -> pd.Series | None:
    """Read the benchmark's closes when it is not one of the request's symbols."""
    if not req.benchmark or req.benchmark in req.symbols:
        return None
    from easyquant.data import load_bars

    frames = load_bars(
        [req.benchmark], freq=req.freq, start=req.start, end=req.end, settings=settings
    )
    return frames[req.benchmark]["close"]


def execute(
    req: BacktestRequest,
    *,
    lookahead: bool = False,
    lookahead_cuts: int = 20,
    progress: Callable[[int, int], None] | None = None,
    **where: Unpack[Where],
) -> BacktestResult:
    """Run one backtest end to end: load, (check look-ahead), run, store, report.

    The request was checked when parsed; a failure after the run started is stored as a
    failed run with its error, and re-raised.
    """
    strategy = req.make_strategy()
    config = req.run_config(where.get("settings"))
    with tracked_run(req, req.spec(strategy.param_values, config=config), where) as run:
        run_id, conn, tracker = run.run_id, run.conn, run.tracker
        tracker.progress(0.05, "loading data")
        bars = run.bars(req)
        bench = load_benchmark(req, run.settings) if run.data is None else None
        tracker.progress(0.2, f"running on {len(bars)} bars")
        result = run_backtest(strategy, bars, config, benchmark=bench)
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


def execute_sweep(
    req: BacktestRequest, *, show_progress: bool = True, **where: Unpack[Where]
) -> tuple[str, list[PointResult]]:
    """Run the request's grid (or ``random`` points of it) in-process; store the sweep and its
    ranked points; return (run id, ranked results)."""
    if not req.grid:
        raise ConfigError("grid: give at least one parameter to search")
    cls = req.strategy_class()
    points = req.points()
    config = req.run_config(where.get("settings"))
    spec = req.spec(req.search(), kind="sweep", config=config)
    with tracked_run(req, spec, where, points=len(points)) as run:
        run_id, conn, tracker = run.run_id, run.conn, run.tracker
        bars = run.bars(req)
        every = max(1, len(points) // 20)
        with progress_bar(run, "points", len(points), show_progress, every) as step:
            ranked = run_sweep(cls, points, bars, config, rank_by=req.rank_by, progress=step)
        if conn is not None:
            store_points(conn, run_id, req, ranked, config)
            finish_run(conn, run_id, metrics=ranked[0].metrics, rank=None)
        tracker.finish(
            "success",
            f"best {ranked[0].params}",
            points=len(ranked),
            best=ranked[0].metrics.get(req.rank_by),
        )
    return run_id, ranked


def store_points(
    conn: Any,
    parent_id: str,
    req: BacktestRequest,
    ranked: Sequence[PointResult],
    config: BacktestConfig,
) -> None:
    """Store each point (run with ``config``) as a child run with its metrics and rank."""
    for i, r in enumerate(ranked):
        pid = point_id(parent_id, r.params)
        start_run(conn, pid, req.spec(r.params, "point", parent_id, config))
        if r.error:
            fail_run(conn, pid, r.error)
        else:
            finish_run(conn, pid, metrics=r.metrics, rank=i + 1)


#: Trade statistics that mean nothing for a stitched out-of-sample curve.
_NOT_STITCHED = (
    "trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "turnover",
    "exposure",
    "alpha",
    "beta",
)


def execute_walkforward(
    req: BacktestRequest, *, show_progress: bool = True, **where: Unpack[Where]
) -> tuple[str, list[Window], dict[str, Any]]:
    """Walk forward: optimise on each in-sample window, trade the winner out of sample; store
    each window (best params, out-of-sample metrics) and the stitched out-of-sample metrics."""
    wf = req.walkforward
    if wf is None or not req.grid:
        raise ConfigError("walkforward: give the windows (in_sample, out_of_sample) and a grid")
    cls = req.strategy_class()
    points = req.points()
    config = req.run_config(where.get("settings"))
    spec = req.spec(req.search(), kind="walkforward", config=config)
    with tracked_run(req, spec, where) as run:
        run_id, conn, tracker = run.run_id, run.conn, run.tracker
        bars = run.bars(req)
        n_windows = len(walk_windows(len(bars), wf.in_sample, wf.out_of_sample, wf.step))
        with progress_bar(run, "window", n_windows, show_progress) as step:
            windows = walk_forward(
                cls,
                points,
                bars,
                config,
                in_sample=wf.in_sample,
                out_of_sample=wf.out_of_sample,
                step=wf.step,
                rank_by=req.rank_by,
                progress=step,
            )
        curve = stitch(windows, req.cash)
        idx = _stitched_index(windows, bars)
        summary = compute_metrics(
            curve,
            idx.asi8,
            trade_pnl=np.array([]),
            traded_value=0.0,
            held=np.ones(len(curve), dtype=np.uint8),
            ppy=periods_per_year(idx.asi8, config.market.periods_per_year),
        )
        for key in _NOT_STITCHED:
            summary.pop(key, None)
        if conn is not None:
            for w in windows:
                wid = f"{run_id}-w{w.index:03d}"
                start_run(conn, wid, window_spec(req, w, run_id, config))
                a = _position(bars, w.out_of_sample[0]) - 1
                b = _position(bars, w.out_of_sample[1]) + 1
                finish_run(
                    conn,
                    wid,
                    metrics=w.out_of_sample_metrics,
                    rank=w.index + 1,
                    equity=pd.Series(w.equity, index=bars.index[a:b]),
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


def window_spec(req: BacktestRequest, w: Window, parent_id: str, config: BacktestConfig) -> RunSpec:
    """The stored form of a walk-forward window: a point run over its out-of-sample period
    with ``config``, its configuration carrying the window (index, in- and out-of-sample
    periods, in-sample metrics)."""
    spec = req.spec(w.params, "point", parent_id, config)
    stored = {
        **spec.config,
        "walkforward_window": {
            "index": w.index,
            "in_sample": [w.in_sample[0].isoformat(), w.in_sample[1].isoformat()],
            "out_of_sample": [w.out_of_sample[0].isoformat(), w.out_of_sample[1].isoformat()],
            "in_sample_metrics": w.in_sample_metrics,
        },
    }
    return replace(spec, config=stored, start=w.out_of_sample[0], end=w.out_of_sample[1])


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
