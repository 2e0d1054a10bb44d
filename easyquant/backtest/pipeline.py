"""Task-sized, idempotent functions the ``easyquant_backtest`` DAG calls.

- :func:`validate` checks a request (the DAG's Params) field by field, and that the lake holds
  bars for every symbol in the period; it stores nothing.
- :func:`plan` lists the grid points, creates the parent run and one child run per point (one
  transaction), and splits the points into batches, one mapped task each.
- :func:`run_batch` backtests one batch on data read once, storing each point under a
  deterministic id (re-running replaces it).
- :func:`finalize` ranks the points and gives the parent the best point's results, or, when a
  point failed or never finished, stores the parent (and unfinished points) as failed.

Everything takes and returns plain JSON-able values (XCom).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from easyquant.backtest.service import Job, load_benchmark, load_data
from easyquant.backtest.store import (
    RunSpec,
    child_runs,
    fail_run,
    finish_parent,
    finish_run,
    run_state,
    start_sweep,
)
from easyquant.backtest.sweep import check_rank_by, grid_points, parse_values, random_points, score
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError, DataError, EasyQuantError

#: Airflow refuses to map a task over more items than ``[core] max_map_length`` (1024).
MAX_TASKS = 1024
_COSTS = ("commission", "min_commission", "stamp_duty", "slippage_bps")
_OPTIONAL = ("start", "end", "benchmark", *_COSTS)


def _field(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; re-raise a ConfigError or DataError prefixed with the field ``name``."""
    try:
        return fn(*args, **kwargs)
    except (ConfigError, DataError) as exc:
        msg = str(exc)
        if msg.startswith(f"{name}:"):
            raise
        raise type(exc)(f"{name}: {msg}") from None


def _number(name: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(f):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    return f


def _symbols(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, list | tuple):
        raise ConfigError(f"symbols: expected a list of symbols, got {value!r}")
    out = list(dict.fromkeys(str(s).strip() for s in value if str(s).strip()))
    if not out:
        raise ConfigError("symbols: expected at least one symbol")
    return out


def _grid(value: Any) -> dict[str, list[Any]]:
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"grid: expected an object of parameter -> values, got {value!r}")
    out: dict[str, list[Any]] = {}
    for key, vals in value.items():
        if isinstance(vals, str):
            out[str(key)] = _field(f"grid.{key}", parse_values, vals)
        elif isinstance(vals, list | tuple) and len(vals) > 0:
            out[str(key)] = list(vals)
        else:
            raise ConfigError(
                f"grid.{key}: expected a non-empty list, 'a,b,c' or 'start:stop:step', got {vals!r}"
            )
    return out


def parse_request(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the request normalised to plain values; raise ConfigError naming a bad field.

    Checks everything that needs no data: strategy, parameters, grid, market, costs, period.
    """
    from easyquant.strategy.registry import load_strategy

    strategy = str(params.get("strategy") or "").strip()
    if not strategy:
        raise ConfigError("strategy: required")
    req: dict[str, Any] = {
        "strategy": strategy,
        "symbols": _symbols(params.get("symbols")),
        "freq": str(params.get("freq") or "1d"),
        "market": str(params.get("market") or "us"),
        "fill": str(params.get("fill") or "next_open"),
        "cash": _number("cash", params.get("cash", 100_000.0)) or 0.0,
        "rank_by": str(params.get("rank_by") or "sharpe"),
        "points_per_task": int(_number("points_per_task", params.get("points_per_task")) or 1),
        "random": int(_number("random", params.get("random")) or 0),
        "seed": int(_number("seed", params.get("seed")) or 0),
    }
    for key in _OPTIONAL:
        val = params.get(key)
        if key in _COSTS:
            req[key] = _number(key, val)
        else:
            req[key] = None if val is None or str(val).strip() == "" else str(val).strip()
    user_params = params.get("params") or {}
    if not isinstance(user_params, Mapping):
        raise ConfigError(f"params: expected an object of name -> value, got {user_params!r}")
    req["params"] = dict(user_params)
    req["grid"] = _grid(params.get("grid"))
    if req["points_per_task"] < 1:
        raise ConfigError(f"points_per_task: must be >= 1, got {req['points_per_task']}")
    if req["random"] < 0:
        raise ConfigError(f"random: must be >= 0, got {req['random']}")
    _field("rank_by", check_rank_by, req["rank_by"])

    cls = _field("strategy", load_strategy, strategy)
    _field("params", cls, **req["params"])
    job = job_from_request(req)
    try:
        job.config()
    except ConfigError as exc:  # "cash: ..." and "fill: ..." name their field already
        if str(exc).split(":", 1)[0] in ("cash", "fill"):
            raise
        raise ConfigError(f"market: {exc}") from None
    for key in _COSTS:
        if req[key] is not None:
            from easyquant.backtest.market import get_profile

            _field(key, get_profile, req["market"], **{key: req[key]})
    from easyquant.data import _bound

    lo = _field("start", _bound, req["start"], "start", end=False)
    hi = _field("end", _bound, req["end"], "end", end=False)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"start/end: start {req['start']} is after end {req['end']}")
    points = points_of(req)
    tasks = math.ceil(len(points) / req["points_per_task"])
    if tasks > MAX_TASKS:
        raise ConfigError(
            f"grid: {len(points)} points in batches of {req['points_per_task']} "
            f"make {tasks} tasks, more than {MAX_TASKS}; raise points_per_task"
        )
    req["points"] = len(points)
    return req


def job_from_request(req: Mapping[str, Any]) -> Job:
    """Build the :class:`Job` a normalised request describes."""
    fields = {
        k: req[k]
        for k in ("strategy", "freq", "market", "fill", "cash", *_OPTIONAL)
        if req.get(k) is not None
    }
    return Job(symbols=list(req["symbols"]), params=dict(req.get("params") or {}), **fields)


def points_of(req: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the request's parameter points (one when there is no grid)."""
    from easyquant.strategy.registry import load_strategy

    cls = load_strategy(req["strategy"])
    grid = req.get("grid") or {}
    if not grid:
        return [cls(**req["params"]).param_values]
    if req.get("random"):
        return _field(
            "grid", random_points, cls, grid, req["random"], req.get("seed") or 0, req["params"]
        )
    return _field("grid", grid_points, cls, grid, req["params"])


def check_lake(req: Mapping[str, Any], settings: Settings | None = None) -> dict[str, int]:
    """Check the lake holds bars for every symbol (and the benchmark) in the period; return
    the bar count per symbol. Raise DataError naming the field: ``symbols`` (or ``benchmark``)
    for a symbol never stored, ``start/end`` for a period without bars."""
    from easyquant.data import load_bars

    symbols = list(req["symbols"])
    fields = dict.fromkeys(symbols, "symbols")
    bench = req.get("benchmark")
    if bench and bench not in fields:
        fields[bench] = "benchmark"
    counts: dict[str, int] = {}
    for sym, name in fields.items():
        try:
            frame = load_bars(
                [sym],
                freq=req["freq"],
                start=req.get("start"),
                end=req.get("end"),
                settings=settings,
            )[sym]
        except DataError as exc:
            try:
                whole = load_bars([sym], freq=req["freq"], settings=settings)[sym]
            except DataError:
                raise DataError(f"{name}: {exc}") from None
            raise DataError(
                f"start/end: symbol {sym!r} has no {req['freq']} bars between "
                f"{req.get('start') or 'the start'} and {req.get('end') or 'the end'}; the lake "
                f"holds {whole.index[0].date()} to {whole.index[-1].date()}"
            ) from None
        counts[sym] = len(frame)
    return counts


def validate(params: Mapping[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Check a request completely (fields, then data in the lake); return it normalised with
    ``points`` (how many parameter points) and ``bars`` (per symbol). Stores nothing."""
    req = parse_request(params)
    req["bars"] = check_lake(req, settings)
    return req


def parent_run_id(dag_id: str, dag_run_id: str) -> str:
    """Return the backtest run id of a DAG run (deterministic: a retried task finds it)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", dag_run_id).strip("-")
    digest = hashlib.sha1(dag_run_id.encode()).hexdigest()[:8]
    return f"{dag_id}-{slug[:120]}-{digest}"


def point_id(parent_id: str, params: Mapping[str, Any]) -> str:
    """Return the deterministic run id of a point of ``parent_id``."""
    key = json.dumps(dict(sorted(params.items())), default=str)
    return f"{parent_id}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _parent_spec(req: Mapping[str, Any], job: Job) -> RunSpec:
    if req.get("grid"):
        params = {"grid": req["grid"], "rank_by": req["rank_by"]}
        if req.get("random"):
            params |= {"random": req["random"], "seed": req.get("seed") or 0}
        return job.spec(params, kind="sweep")
    return job.spec(job.make_strategy().param_values, kind="backtest")


def plan(
    req: Mapping[str, Any], parent_id: str, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Create the parent run and a running child run per point (one transaction); return the
    batches to map over: ``[{"parent_id", "points": [{"run_id", "params"}, ...]}, ...]``."""
    from easyquant.db import connect

    job = job_from_request(req)
    points: list[dict[str, Any]] = [
        {"run_id": point_id(parent_id, p), "params": p} for p in points_of(req)
    ]
    children = [
        (p["run_id"], job.spec(p["params"], kind="point", parent_id=parent_id)) for p in points
    ]
    conn = connect(settings or get_settings())
    try:
        start_sweep(conn, parent_id, _parent_spec(req, job), children)
    finally:
        conn.close()
    size = max(1, int(req.get("points_per_task") or 1))
    return [
        {"parent_id": parent_id, "points": points[i : i + size]}
        for i in range(0, len(points), size)
    ]


def run_batch(
    req: Mapping[str, Any],
    batch: Mapping[str, Any],
    settings: Settings | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Backtest every point of ``batch`` on data read once; store each as its child run.

    A point that raises is stored as failed with its error and the others still run; then the
    first error is raised. Return ``[{"run_id", "params", "metrics"}, ...]``.
    """
    from easyquant.backtest.runner import run_backtest
    from easyquant.db import connect

    settings = settings or get_settings()
    job = job_from_request(req)
    cls = job.strategy_class()
    config = job.config()
    points = list(batch["points"])
    conn = connect(settings)
    out: list[dict[str, Any]] = []
    first: Exception | None = None
    try:
        try:
            bars = load_data(job, settings)
            bench = load_benchmark(job, settings)
        except Exception as exc:
            for p in points:
                fail_run(conn, p["run_id"], f"{type(exc).__name__}: {exc}")
            raise
        for i, p in enumerate(points):
            try:
                res = run_backtest(cls(**p["params"]), bars, config, benchmark=bench)
                finish_run(
                    conn,
                    p["run_id"],
                    metrics=res.metrics,
                    trades=res.trades,
                    equity=res.equity,
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


def finalize(
    req: Mapping[str, Any], parent_id: str, settings: Settings | None = None
) -> dict[str, Any]:
    """Rank the finished points and store the parent as the best one; when any point failed or
    never finished, store those points and the parent as failed and raise EasyQuantError.

    Return ``{"run_id", "points", "best": {"run_id", "params", "metrics"}, "ranking": [...]}``.
    """
    from easyquant.db import connect

    rank_by = req.get("rank_by") or "sharpe"
    conn = connect(settings or get_settings())
    try:
        if run_state(conn, parent_id) is None:
            raise ConfigError(f"backtest run {parent_id}: not planned")
        kids = child_runs(conn, parent_id)
        bad = [k for k in kids if k["state"] != "success"]
        if bad or not kids:
            for k in bad:
                if k["state"] == "running":
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


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"
