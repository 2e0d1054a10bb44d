"""Task-sized, idempotent functions the ``easyquant_backtest`` DAG calls.

``plan`` validates the request and lists grid points; ``run_point`` backtests one point and
stores it under a deterministic id (re-running replaces it); ``rank_and_store`` ranks the points
and finishes the parent run. Everything takes and returns plain JSON-able values (XCom).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from easyquant.backtest.service import Job, execute, point_id
from easyquant.backtest.store import RunSpec, fail_run, finish_run, set_ranks, start_run
from easyquant.backtest.sweep import check_rank_by, grid_points, parse_values, score
from easyquant.config import Settings, get_settings
from easyquant.db import connect
from easyquant.errors import ConfigError


def job_from_params(params: Mapping[str, Any]) -> Job:
    """Build a Job from DAG params (symbols as a list or comma string; params as a dict)."""
    symbols = params.get("symbols") or []
    if isinstance(symbols, str):
        symbols = [s.strip() for s in symbols.split(",") if s.strip()]
    keys = ("strategy", "start", "end", "market", "cash", "commission", "min_commission",
            "stamp_duty", "slippage_bps", "fill", "freq", "benchmark")
    fields = {k: params[k] for k in keys if params.get(k) not in (None, "")}
    if "strategy" not in fields:
        raise ConfigError("params.strategy: required")
    return Job(symbols=list(symbols), params=dict(params.get("params") or {}), **fields)


def plan(params: Mapping[str, Any], parent_id: str,
         settings: Settings | None = None) -> list[dict[str, Any]]:
    """Validate the request, create the parent run, and return one dict per grid point
    (a single point when no grid is given)."""
    job = job_from_params(params)
    job.validate()
    rank_by = params.get("rank_by") or "sharpe"
    check_rank_by(rank_by)
    grid = {k: (parse_values(v) if isinstance(v, str) else list(v))
            for k, v in (params.get("grid") or {}).items()}
    cls = job.strategy_class()
    points = grid_points(cls, grid, job.params) if grid else [job.make_strategy().param_values]
    conn = connect(settings or get_settings())
    try:
        start_run(conn, parent_id, job.spec({"grid": grid, "rank_by": rank_by}, kind="sweep"))
    finally:
        conn.close()
    return [{"request": dict(params), "parent_id": parent_id, "params": p} for p in points]


def run_point(point: Mapping[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Backtest one grid point and store it as a child run; return its id and metrics."""
    job = job_from_params(point["request"])
    job.params = dict(point["params"])
    rid = point_id(point["parent_id"], job.params)
    settings = settings or get_settings()
    conn = connect(settings)
    try:
        start_run(conn, rid, RunSpec(**{**job.spec(job.params).__dict__, "kind": "point",
                                        "parent_id": point["parent_id"]}))
        try:
            res = execute(job, settings=settings, run_id=rid, store=False)
            finish_run(conn, rid, metrics=res.metrics, trades=res.trades, equity=res.equity,
                       final_equity=res.final_equity)
        except Exception as exc:
            fail_run(conn, rid, f"{type(exc).__name__}: {exc}")
            raise
    finally:
        conn.close()
    return {"run_id": rid, "params": job.params, "metrics": res.metrics}


def rank_and_store(parent_id: str, results: Sequence[Mapping[str, Any]], rank_by: str = "sharpe",
                   settings: Settings | None = None) -> dict[str, Any]:
    """Rank the points, store ranks, and finish the parent run with the best point's metrics."""
    check_rank_by(rank_by)
    ranked = sorted(results, key=lambda r: score(r["metrics"], rank_by), reverse=True)
    conn = connect(settings or get_settings())
    try:
        if not ranked:
            fail_run(conn, parent_id, "no grid point finished")
            raise ConfigError(f"sweep {parent_id}: no grid point finished")
        set_ranks(conn, [r["run_id"] for r in ranked])
        finish_run(conn, parent_id, metrics=ranked[0]["metrics"])
    finally:
        conn.close()
    return {"run_id": parent_id, "best": ranked[0], "points": len(ranked)}
