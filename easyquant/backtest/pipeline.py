"""Task-sized, idempotent functions the ``easyquant_backtest`` DAG calls.

- :func:`validate` checks a request (the DAG's Params) field by field, and that the lake holds
  bars for every symbol in the period; it stores nothing.
- :func:`plan` lists the grid points, creates the parent run (running) and one queued child
  run per point (one transaction), and splits the points into batches, one mapped task each.
- :func:`run_batch` marks its points running and backtests them on data read once, storing
  each point under a deterministic id (re-running replaces it): a sweep's points with their
  metrics and final equity, as the in-process sweep stores them; a single run whole.
- :func:`finalize` ranks the points and gives the best point (backtested again) and the parent
  its metrics, trades and equity, or, when a point failed or never finished, stores the parent
  (and unfinished points) as failed.

Each has a ``*_step`` twin that is a DAG task's body (``easyquant.pipelines.run_task``): it
calls the function and finishes the task's status component with a summary.

Everything takes and returns plain JSON-able values (XCom): a request travels in its JSON form
and is parsed back into a :class:`BacktestRequest` by :func:`request_of`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from easyquant.backtest.queries import child_runs, run_state
from easyquant.backtest.request import BacktestRequest
from easyquant.backtest.service import load_benchmark, load_data
from easyquant.backtest.sizing import measure_point, points_per_task
from easyquant.backtest.store import (
    fail_run,
    finish_parent,
    finish_run,
    mark_running,
    point_id,
    start_sweep,
)
from easyquant.backtest.sweep import score
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError, DataError, EasyQuantError, StrategyError
from easyquant.status import Tracker

Request = BacktestRequest | Mapping[str, Any]
#: Errors no retry can fix: bad input, and a strategy that raises on the data.
BAD_INPUT = (ConfigError, DataError, StrategyError)
#: How many progress reports a mapped task's batch of points makes.
PROGRESS_STEPS = 20


def request_of(req: Request) -> BacktestRequest:
    """Return the request a task was given: the model, its JSON form, or what
    :func:`validate` returned (XCom carries plain values)."""
    if isinstance(req, Mapping) and isinstance(req.get("request"), Mapping):
        req = req["request"]
    return BacktestRequest.parse(req)


def check_lake(req: BacktestRequest, settings: Settings | None = None) -> dict[str, int]:
    """Check the lake holds bars for every symbol (and the benchmark) in the period; return
    the bar count per symbol. Raise DataError naming the field: ``symbols`` (or ``benchmark``)
    for a symbol never stored, ``start/end`` for a period without bars."""
    from easyquant.data import load_bars

    symbols = list(req.symbols)
    fields = dict.fromkeys(symbols, "symbols")
    bench = req.benchmark
    if bench and bench not in fields:
        fields[bench] = "benchmark"
    counts: dict[str, int] = {}
    for sym, name in fields.items():
        try:
            frame = load_bars(
                [sym],
                freq=req.freq,
                start=req.start,
                end=req.end,
                settings=settings,
            )[sym]
        except DataError as exc:
            try:
                whole = load_bars([sym], freq=req.freq, settings=settings)[sym]
            except DataError:
                raise DataError(f"{name}: {exc}") from None
            raise DataError(
                f"start/end: symbol {sym!r} has no {req.freq} bars between "
                f"{req.start or 'the start'} and {req.end or 'the end'}; the lake "
                f"holds {whole.index[0].date()} to {whole.index[-1].date()}"
            ) from None
        counts[sym] = len(frame)
    return counts


def validate(params: Mapping[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Check a request completely (fields, then data in the lake); store nothing. Return
    ``{"request": <its JSON form>, "points": <how many>, "bars": {symbol: count}}``."""
    req = BacktestRequest.parse(params)
    if req.walkforward is not None:
        raise ConfigError(
            "walkforward: the DAG runs single backtests and sweeps; "
            "run a walk-forward with `easyquant walkforward`"
        )
    return {
        "request": req.model_dump(mode="json"),
        "points": len(req.points()),
        "bars": check_lake(req, settings),
    }


def parent_run_id(dag_id: str, dag_run_id: str) -> str:
    """Return the backtest run id of a DAG run (deterministic: a retried task finds it)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", dag_run_id).strip("-")
    digest = hashlib.sha1(dag_run_id.encode()).hexdigest()[:8]
    return f"{dag_id}-{slug[:120]}-{digest}"


def batch_size(req: Request, settings: Settings | None = None) -> dict[str, Any]:
    """Choose the points per mapped task (:func:`easyquant.backtest.sizing.points_per_task`):
    the request's ``points_per_task`` when set, else from the number of points, the measured
    cost of one point on the request's data and the tasks Airflow runs at once.

    Return ``{"size", "points", "workers", "point_seconds"}`` (``point_seconds`` None when
    nothing was measured)."""
    from easyquant.backtest.runner import run_backtest

    settings = settings or get_settings()
    req = request_of(req)
    points = req.points()
    workers = settings.parallel_tasks
    seconds: float | None = None
    if req.points_per_task is None and len(points) > workers:
        cls, config = req.strategy_class(), req.run_config(settings)
        bars, bench = load_data(req, settings), load_benchmark(req, settings)
        first = points[0]
        seconds = measure_point(lambda: run_backtest(cls(**first), bars, config, benchmark=bench))
    size = points_per_task(len(points), seconds or 0.0, workers, requested=req.points_per_task)
    return {"size": size, "points": len(points), "workers": workers, "point_seconds": seconds}


def plan(
    req: Request, parent_id: str, settings: Settings | None = None, size: int | None = None
) -> list[dict[str, Any]]:
    """Create the parent run and a queued child run per point (one transaction); return the
    batches to map over: ``[{"parent_id", "points": [{"run_id", "params"}, ...]}, ...]``, of
    ``size`` points each (None: :func:`batch_size`)."""
    from easyquant.db import connect

    req = request_of(req)
    if size is None:
        size = batch_size(req, settings)["size"]
    config = req.run_config(settings)
    points: list[dict[str, Any]] = [
        {"run_id": point_id(parent_id, p), "params": p} for p in req.points()
    ]
    children = [(p["run_id"], req.spec(p["params"], "point", parent_id, config)) for p in points]
    parent = (
        req.spec(req.search(), "sweep", config=config)
        if req.grid
        else req.spec(req.make_strategy().param_values, config=config)
    )
    conn = connect(settings or get_settings())
    try:
        start_sweep(conn, parent_id, parent, children)
    finally:
        conn.close()
    return [
        {"parent_id": parent_id, "points": points[i : i + size]}
        for i in range(0, len(points), size)
    ]


def run_batch(
    req: Request,
    batch: Mapping[str, Any],
    settings: Settings | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Backtest every point of ``batch`` on data read once; store each as its child run (a
    sweep's points: metrics and final equity; a single run's: trades and equity too).

    A point that raises is stored as failed with its error and the others still run; then the
    first error is raised. Return ``[{"run_id", "params", "metrics"}, ...]``.
    """
    from easyquant.backtest.runner import run_backtest
    from easyquant.db import connect

    settings = settings or get_settings()
    req = request_of(req)
    cls = req.strategy_class()
    config = req.run_config(settings)
    points = list(batch["points"])
    conn = connect(settings)
    out: list[dict[str, Any]] = []
    first: Exception | None = None
    try:
        mark_running(conn, [p["run_id"] for p in points])
        try:
            bars = load_data(req, settings)
            bench = load_benchmark(req, settings)
        except Exception as exc:
            for p in points:
                fail_run(conn, p["run_id"], f"{type(exc).__name__}: {exc}")
            raise
        whole = not req.grid  # a sweep's points keep their metrics; the best gets the rest
        for i, p in enumerate(points):
            try:
                res = run_backtest(cls(**p["params"]), bars, config, benchmark=bench)
                finish_run(
                    conn,
                    p["run_id"],
                    metrics=res.metrics,
                    trades=res.trades if whole else None,
                    equity=res.equity if whole else None,
                    final_equity=res.final_equity,
                )
            except Exception as exc:
                fail_run(conn, p["run_id"], f"{type(exc).__name__}: {exc}")
                first = first or exc
                continue
            item = {"run_id": p["run_id"], "params": p["params"], "metrics": res.metrics}
            out.append(item)
            if progress is not None:
                progress(i + 1, len(points), item)
    finally:
        conn.close()
    if first is not None:
        raise first
    return out


def finalize(req: Request, parent_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """Rank the finished points and store the parent as the best one; when any point failed or
    never finished, store those points and the parent as failed and raise EasyQuantError.

    Return ``{"run_id", "points", "best": {"run_id", "params", "metrics"}, "ranking": [...]}``.
    """
    from easyquant.db import connect

    rank_by = request_of(req).rank_by
    conn = connect(settings or get_settings())
    try:
        if run_state(conn, parent_id) is None:
            raise ConfigError(f"backtest run {parent_id}: not planned")
        kids = child_runs(conn, parent_id)
        bad = [k for k in kids if k["state"] != "success"]
        if bad or not kids:
            for k in bad:
                if k["state"] in ("queued", "running"):
                    fail_run(conn, k["id"], "did not finish (its task failed or never ran)")
                    k["error"] = "did not finish"
            detail = "; ".join(f"{_params_text(k['params'])}: {k['error']}" for k in bad[:5])
            msg = (
                f"{len(bad)} of {len(kids)} points failed: {detail}"
                if kids
                else "no points planned"
            )
            fail_run(conn, parent_id, msg)
            raise EasyQuantError(f"backtest run {parent_id}: {msg}")
        ranked = sorted(kids, key=lambda k: (-score(k["metrics"], rank_by), k["id"]))
        if request_of(req).grid:
            _store_whole(conn, request_of(req), ranked[0], settings or get_settings())
        finish_parent(conn, parent_id, [k["id"] for k in ranked])
    finally:
        conn.close()
    best = ranked[0]
    return {
        "run_id": parent_id,
        "points": len(ranked),
        "rank_by": rank_by,
        "best": {"run_id": best["id"], "params": best["params"], "metrics": best["metrics"]},
        "ranking": [
            {
                "rank": i + 1,
                "run_id": k["id"],
                "params": k["params"],
                rank_by: k["metrics"].get(rank_by),
            }
            for i, k in enumerate(ranked[:10])
        ],
    }


def _store_whole(
    conn: Any, req: BacktestRequest, best: Mapping[str, Any], settings: Settings
) -> None:
    """Backtest a sweep's best point again and store its trades and equity curve beside its
    metrics (the other points keep their metrics only, as an in-process sweep stores them:
    writing every point's curve cost the DAG far more than the backtests)."""
    from easyquant.backtest.runner import run_backtest

    bars, bench = load_data(req, settings), load_benchmark(req, settings)
    config = req.run_config(settings)
    res = run_backtest(req.strategy_class()(**best["params"]), bars, config, benchmark=bench)
    finish_run(
        conn,
        best["id"],
        metrics=res.metrics,
        trades=res.trades,
        equity=res.equity,
        final_equity=res.final_equity,
    )


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


# ----- the DAG's task bodies ---------------------------------------------------------------
def validate_step(job: Tracker, params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`validate`, summarised: the strategy, symbols, points and bars."""
    checked = validate(params)
    req, points, bars = checked["request"], checked["points"], checked["bars"]
    what = f"{req['strategy']} on {', '.join(req['symbols'])}"
    summary = f"{what}: {points} point(s), {sum(bars.values())} bars"
    job.finish("success", summary, points=points, bars=bars)
    return checked


def plan_step(
    job: Tracker, checked: Mapping[str, Any], dag_id: str, dag_run_id: str
) -> list[dict[str, Any]]:
    """:func:`plan` for the DAG run's parent run, summarised: points and tasks."""
    parent = parent_run_id(dag_id, dag_run_id)
    sizing = batch_size(checked)
    batches = plan(checked, parent, size=sizing["size"])
    points = sum(len(b["points"]) for b in batches)
    cost = sizing["point_seconds"]
    job.finish(
        "success",
        f"run {parent}: {points} point(s) in {len(batches)} task(s) of up to {sizing['size']}"
        + (f" ({cost * 1000:.1f} ms a point, {sizing['workers']} slots)" if cost else ""),
        run_id=parent,
        points=points,
        tasks=len(batches),
        points_per_task=sizing["size"],
        slots=sizing["workers"],
        **({"point_seconds": cost} if cost else {}),
    )
    return batches


def run_batch_step(
    job: Tracker, batch: Mapping[str, Any], checked: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """:func:`run_batch`, reporting progress with the latest point's metrics
    :data:`PROGRESS_STEPS` times (a status write per point of a large batch cost more than
    its backtests)."""
    job.update(attrs={"run_ids": [p["run_id"] for p in batch["points"]]})

    def on_point(done: int, total: int, item: dict[str, Any]) -> None:
        if done % max(1, total // PROGRESS_STEPS) and done != total:
            return
        metrics = {k: v for k, v in item["metrics"].items() if v is not None}
        job.progress(done / total, f"{done}/{total}: {item['params']}", **metrics)

    results = run_batch(checked, batch, progress=on_point)
    only = results[0] if len(results) == 1 else None
    job.finish(
        "success",
        f"{len(results)} point(s) stored"
        + (f", final equity {only['metrics']['final_equity']:,.2f}" if only else ""),
        points=len(results),
    )
    return [{"run_id": r["run_id"], "params": r["params"]} for r in results]


def finalize_step(
    job: Tracker, checked: Mapping[str, Any], dag_id: str, dag_run_id: str
) -> dict[str, Any]:
    """:func:`finalize` for the DAG run's parent run, summarised: the best point."""
    parent = parent_run_id(dag_id, dag_run_id)
    summary = finalize(checked, parent)
    best = summary["best"]
    job.finish(
        "success",
        f"run {parent}: best of {summary['points']} by {summary['rank_by']}: {best['params']}",
        run_id=parent,
        points=summary["points"],
        best_params=best["params"],
        **{k: v for k, v in best["metrics"].items() if v is not None},
    )
    return summary
