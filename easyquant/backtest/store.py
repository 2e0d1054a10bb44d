"""Store backtest runs in PostgreSQL: run, parameters, metrics, trades and equity curve.

A run row is written as ``running`` when work starts; results go in one transaction that marks
it ``success``; a failure marks it ``failed`` with the error. Writing the same run id again
replaces its results (idempotent tasks).
"""

from __future__ import annotations

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
        _start(cur, run_id, spec)


def start_sweep(
    conn: psycopg2.extensions.connection,
    parent_id: str,
    spec: RunSpec,
    children: Sequence[tuple[str, RunSpec]],
) -> None:
    """Create (or reset) a parent run and its child runs in one transaction, dropping children
    left from an earlier attempt that are not among ``children``."""
    with transaction(conn) as cur:
        _start(cur, parent_id, spec)
        cur.execute(
            "DELETE FROM backtest_run WHERE parent_id = %s AND NOT (id = ANY(%s))",
            (parent_id, [cid for cid, _ in children]),
        )
        for run_id, child in children:
            _start(cur, run_id, child)


def _start(cur: Any, run_id: str, spec: RunSpec) -> None:
    cur.execute(
        """
        INSERT INTO backtest_run (id, kind, parent_id, strategy, symbols, market, freq,
                                  period_start, period_end, config, state)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'running')
        ON CONFLICT (id) DO UPDATE SET
            kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
            strategy = EXCLUDED.strategy, symbols = EXCLUDED.symbols,
            market = EXCLUDED.market, freq = EXCLUDED.freq,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
            config = EXCLUDED.config, state = 'running', error = NULL,
            final_equity = NULL, rank = NULL, finished_at = NULL
        """,
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
        ),
    )
    for table in ("backtest_param", "backtest_metric", "backtest_trade", "backtest_equity"):
        cur.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
    _insert_params(cur, run_id, spec.params)


def _insert_params(cur: Any, run_id: str, params: Mapping[str, Any]) -> None:
    if params:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO backtest_param (run_id, name, value) VALUES %s",
            [(run_id, k, json.dumps(v, default=str)) for k, v in params.items()],
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


def fail_run(conn: psycopg2.extensions.connection, run_id: str, error: str) -> None:
    """Mark run ``run_id`` failed with ``error``; drop any partial results."""
    conn.rollback()
    with transaction(conn) as cur:
        for table in ("backtest_metric", "backtest_trade", "backtest_equity"):
            cur.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
        cur.execute(
            "UPDATE backtest_run SET state = 'failed', error = %s, "
            "finished_at = clock_timestamp() WHERE id = %s",
            (error[:4000], run_id),
        )


def run_state(conn: psycopg2.extensions.connection, run_id: str) -> str | None:
    """Return the state of run ``run_id``, or None when there is no such run."""
    with conn.cursor() as cur:
        cur.execute("SELECT state FROM backtest_run WHERE id = %s", (run_id,))
        row = cur.fetchone()
    conn.rollback()
    return None if row is None else str(row[0])


def child_runs(conn: psycopg2.extensions.connection, parent_id: str) -> list[dict[str, Any]]:
    """Return the child runs of ``parent_id`` (id, state, error, final equity, params, metrics),
    in id order."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            "SELECT r.id, r.state, r.error, r.final_equity, "
            "COALESCE((SELECT jsonb_object_agg(name, value) FROM backtest_param p "
            "WHERE p.run_id = r.id), '{}'::jsonb) AS params, "
            "COALESCE((SELECT jsonb_object_agg(name, value) FROM backtest_metric m "
            "WHERE m.run_id = r.id), '{}'::jsonb) AS metrics "
            "FROM backtest_run r WHERE parent_id = %s ORDER BY r.id",
            (parent_id,),
        )
        rows = [dict(r) for r in cur.fetchall()]
    conn.rollback()
    return rows


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


def load_run(conn: psycopg2.extensions.connection, run_id: str) -> dict[str, Any]:
    """Return a stored run: its row, params, metrics, trades (DataFrame), equity (Series) and
    its child runs (sweep points, walk-forward windows)."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT * FROM backtest_run WHERE id = %s", (run_id,))
        run = cur.fetchone()
        if run is None:
            conn.rollback()
            raise NotFoundError(f"backtest run {run_id!r}: not found")
        cur.execute("SELECT name, value FROM backtest_param WHERE run_id = %s", (run_id,))
        params = {r["name"]: r["value"] for r in cur.fetchall()}
        cur.execute("SELECT name, value FROM backtest_metric WHERE run_id = %s", (run_id,))
        metrics = {r["name"]: r["value"] for r in cur.fetchall()}
        cur.execute("SELECT * FROM backtest_trade WHERE run_id = %s ORDER BY seq", (run_id,))
        trades = pd.DataFrame(cur.fetchall())
        cur.execute(
            "SELECT ts, equity FROM backtest_equity WHERE run_id = %s ORDER BY ts", (run_id,)
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT r.id, r.rank, r.state, r.error, r.final_equity, "
            "(SELECT jsonb_object_agg(name, value) FROM backtest_param p WHERE p.run_id = r.id)"
            " AS params, (SELECT jsonb_object_agg(name, value) FROM backtest_metric m "
            "WHERE m.run_id = r.id) AS metrics FROM backtest_run r WHERE parent_id = %s "
            "ORDER BY r.rank NULLS LAST, r.id",
            (run_id,),
        )
        children = [dict(r) for r in cur.fetchall()]
    conn.rollback()
    equity = pd.Series(
        [r["equity"] for r in rows], index=pd.DatetimeIndex([r["ts"] for r in rows]), name="equity"
    )
    return {
        "run": dict(run),
        "params": params,
        "metrics": metrics,
        "trades": trades,
        "equity": equity,
        "children": children,
    }
