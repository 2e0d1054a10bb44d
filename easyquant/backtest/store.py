"""Store backtest runs in PostgreSQL: run, parameters, metrics, trades and equity curve.

A run's state is one of the status vocabulary (``easyquant.status.STATES``): a sweep's points
are written ``queued`` when planned and ``running`` when their task starts; a run done in-process
is written ``running`` when work starts; results go in one transaction that marks it
``success``; a failure marks it ``failed`` with the error, an interruption ``stopped``. Writing
the same run id again replaces its results (idempotent tasks).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import psycopg2.extensions
import psycopg2.extras

from easyquant.db import transaction
from easyquant.errors import NotFoundError

MAX_EQUITY_POINTS = 5000


def new_run_id() -> str:
    """Return a fresh run id."""
    return uuid.uuid4().hex[:16]


def point_id(parent_id: str, params: Mapping[str, Any]) -> str:
    """Return the deterministic run id of a point of ``parent_id`` (idempotent re-runs)."""
    key = json.dumps(dict(sorted(params.items())), default=str)
    return f"{parent_id}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class RunSpec:
    """What a run is: strategy, symbols, market, period, configuration and parameters."""

    strategy: str
    symbols: Sequence[str]
    market: str
    params: Mapping[str, Any]
    config: Mapping[str, Any]
    freq: str = "1d"
    start: Any = None
    end: Any = None
    kind: str = "backtest"
    parent_id: str | None = None


def start_run(conn: psycopg2.extensions.connection, run_id: str, spec: RunSpec) -> None:
    """Create (or reset) run ``run_id`` as running, with its parameters."""
    with transaction(conn) as cur:
        _start(cur, [(run_id, spec)], "running")


def mark_running(conn: psycopg2.extensions.connection, run_ids: Sequence[str]) -> None:
    """Mark queued (or re-tried) runs as running: their task has started."""
    with transaction(conn) as cur:
        cur.execute(
            "UPDATE backtest_run SET state = 'running', error = NULL, finished_at = NULL "
            "WHERE id = ANY(%s)",
            (list(run_ids),),
        )


def start_sweep(
    conn: psycopg2.extensions.connection,
    parent_id: str,
    spec: RunSpec,
    children: Sequence[tuple[str, RunSpec]],
) -> None:
    """Create (or reset) a parent run (running) and its child runs (queued) in one transaction,
    dropping children left from an earlier attempt that are not among ``children``."""
    with transaction(conn) as cur:
        _start(cur, [(parent_id, spec)], "running")
        cur.execute(
            "DELETE FROM backtest_run WHERE parent_id = %s AND NOT (id = ANY(%s))",
            (parent_id, [cid for cid, _ in children]),
        )
        _start(cur, children, "queued")


def _start(cur: Any, runs: Sequence[tuple[str, RunSpec]], state: str) -> None:
    """Insert (or reset) ``runs`` in ``state``: one statement a thousand runs (a sweep's
    10,000 points are ten round trips, not 10,000)."""
    rows = [
        (
            run_id,
            spec.kind,
            spec.parent_id,
            spec.strategy,
            list(spec.symbols),
            spec.market,
            spec.freq,
            spec.start,
            spec.end,
            json.dumps(dict(spec.config), default=str),
            state,
        )
        for run_id, spec in runs
    ]
    psycopg2.extras.execute_values(
        cur,
        """
        INSERT INTO backtest_run (id, kind, parent_id, strategy, symbols, market, freq,
                                  period_start, period_end, config, state)
        VALUES %s
        ON CONFLICT (id) DO UPDATE SET
            kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
            strategy = EXCLUDED.strategy, symbols = EXCLUDED.symbols,
            market = EXCLUDED.market, freq = EXCLUDED.freq,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
            config = EXCLUDED.config, state = EXCLUDED.state, error = NULL,
            final_equity = NULL, rank = NULL, finished_at = NULL
        """,
        rows,
        page_size=1000,
    )
    ids = [run_id for run_id, _ in runs]
    for table in ("backtest_param", "backtest_metric", "backtest_trade", "backtest_equity"):
        cur.execute(f"DELETE FROM {table} WHERE run_id = ANY(%s)", (ids,))
    params = [
        (rid, k, json.dumps(v, default=str)) for rid, spec in runs for k, v in spec.params.items()
    ]
    psycopg2.extras.execute_values(
        cur, "INSERT INTO backtest_param (run_id, name, value) VALUES %s", params, page_size=1000
    )


def finish_run(
    conn: psycopg2.extensions.connection,
    run_id: str,
    *,
    metrics: Mapping[str, Any],
    trades: pd.DataFrame | None = None,
    equity: pd.Series | None = None,
    final_equity: float | None = None,
    rank: int | None = None,
) -> None:
    """Store a successful run's metrics, trades and equity in one transaction."""
    with transaction(conn) as cur:
        for table in ("backtest_metric", "backtest_trade", "backtest_equity"):
            cur.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO backtest_metric (run_id, name, value) VALUES %s",
            [(run_id, k, _num(v)) for k, v in metrics.items()],
        )
        if trades is not None and len(trades):
            rows = [
                (
                    run_id,
                    i,
                    r.symbol,
                    r.entry_time.to_pydatetime(),
                    float(r.entry_price),
                    None if r.open else pd.Timestamp(r.exit_time).to_pydatetime(),
                    None if r.open else float(r.exit_price),
                    float(r.quantity),
                    float(r.pnl),
                    float(r.fees),
                )
                for i, r in enumerate(cast(Iterable[Any], trades.itertuples(index=False)))
            ]
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO backtest_trade (run_id, seq, symbol, entry_time, entry_price, "
                "exit_time, exit_price, quantity, pnl, fees) VALUES %s",
                rows,
                page_size=1000,
            )
        if equity is not None and len(equity):
            eq = thin(equity)
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO backtest_equity (run_id, ts, equity) VALUES %s",
                [
                    (run_id, ts.to_pydatetime(), float(v))
                    for ts, v in zip(pd.DatetimeIndex(eq.index), eq.to_numpy(), strict=True)
                ],
                page_size=2000,
            )
        cur.execute(
            "UPDATE backtest_run SET state = 'success', error = NULL, final_equity = %s, "
            "rank = %s, finished_at = clock_timestamp() WHERE id = %s",
            (
                _num(final_equity if final_equity is not None else metrics.get("final_equity")),
                rank,
                run_id,
            ),
        )
        if cur.rowcount != 1:
            raise NotFoundError(f"backtest run {run_id}: not found (start_run first)")


def fail_run(
    conn: psycopg2.extensions.connection, run_id: str, error: str, *, state: str = "failed"
) -> None:
    """Mark run ``run_id`` failed (or ``stopped``: interrupted) with ``error``; drop any
    partial results."""
    if state not in ("failed", "stopped"):
        raise ValueError(f"fail_run state: expected failed or stopped, got {state!r}")
    conn.rollback()
    with transaction(conn) as cur:
        for table in ("backtest_metric", "backtest_trade", "backtest_equity"):
            cur.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
        cur.execute(
            "UPDATE backtest_run SET state = %s, error = %s, "
            "finished_at = clock_timestamp() WHERE id = %s",
            (state, error[:4000], run_id),
        )


def finish_parent(
    conn: psycopg2.extensions.connection, parent_id: str, ranked_ids: Sequence[str]
) -> None:
    """Finish a sweep in one transaction: rank its children (best first) and give the parent
    the best child's metrics, trades, equity curve and final equity."""
    if not ranked_ids:
        raise ValueError("finish_parent: no ranked runs")
    best = ranked_ids[0]
    with transaction(conn) as cur:
        psycopg2.extras.execute_values(
            cur,
            "UPDATE backtest_run AS r SET rank = v.rank FROM (VALUES %s) AS v(id, rank) "
            "WHERE r.id = v.id",
            [(rid, i + 1) for i, rid in enumerate(ranked_ids)],
        )
        for table in ("backtest_metric", "backtest_trade", "backtest_equity"):
            cur.execute(f"DELETE FROM {table} WHERE run_id = %s", (parent_id,))
        cur.execute(
            "INSERT INTO backtest_metric (run_id, name, value) "
            "SELECT %s, name, value FROM backtest_metric WHERE run_id = %s",
            (parent_id, best),
        )
        cur.execute(
            "INSERT INTO backtest_trade (run_id, seq, symbol, entry_time, entry_price, "
            "exit_time, exit_price, quantity, pnl, fees) SELECT %s, seq, symbol, entry_time, "
            "entry_price, exit_time, exit_price, quantity, pnl, fees FROM backtest_trade "
            "WHERE run_id = %s",
            (parent_id, best),
        )
        cur.execute(
            "INSERT INTO backtest_equity (run_id, ts, equity) "
            "SELECT %s, ts, equity FROM backtest_equity WHERE run_id = %s",
            (parent_id, best),
        )
        cur.execute(
            "UPDATE backtest_run SET state = 'success', error = NULL, finished_at = "
            "clock_timestamp(), final_equity = (SELECT final_equity FROM backtest_run "
            "WHERE id = %s) WHERE id = %s",
            (best, parent_id),
        )
        if cur.rowcount != 1:
            raise NotFoundError(f"backtest run {parent_id}: not found (start_run first)")


def thin(equity: pd.Series, limit: int = MAX_EQUITY_POINTS) -> pd.Series:
    """Return ``equity`` with at most ``limit`` evenly spaced points (always the last)."""
    if len(equity) <= limit:
        return equity
    pos = np.unique(np.r_[np.linspace(0, len(equity) - 1, limit - 1).astype(int), len(equity) - 1])
    return equity.iloc[pos]
