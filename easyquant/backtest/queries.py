"""Read stored backtest runs: the one place that queries the tables ``store`` writes.

monitor_api's routes, the report command, the demo seed and the DAG's last task read through
these functions; each takes an open connection and leaves no transaction open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import psycopg2.extensions
import psycopg2.extras

from easyquant.errors import ConfigError, NotFoundError

#: Run fields a list may be sorted by, under their public names.
SORT_FIELDS: dict[str, str] = {
    "run_id": "r.id",
    "kind": "r.kind",
    "strategy": "r.strategy",
    "market": "r.market",
    "freq": "r.freq",
    "start": "r.period_start",
    "end": "r.period_end",
    "state": "r.state",
    "rank": "r.rank",
    "final_equity": "r.final_equity",
    "created_at": "r.created_at",
    "finished_at": "r.finished_at",
    "sweep_id": "sweep_id",
}
TRADE_COLUMNS = (
    "symbol",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "pnl",
    "fees",
)


def _by_name(table: str, empty: str | None) -> str:
    """SQL for a run's rows of ``table`` as one JSON object name -> value (``empty`` when it
    has none: '{}' or NULL)."""
    agg = f"(SELECT jsonb_object_agg(x.name, x.value) FROM {table} x WHERE x.run_id = r.id)"
    return f"COALESCE({agg}, {empty})" if empty else agg


_PARAMS = _by_name("backtest_param", "'{}'::jsonb")
_METRICS = _by_name("backtest_metric", "'{}'::jsonb")
# One run as lists show it (the public names of docs/contracts.md).
RUN_COLUMNS = f"""
    r.id AS run_id, r.kind, r.strategy, r.symbols, r.market, r.freq,
    r.period_start AS start, r.period_end AS "end", r.state, r.error, r.rank, r.final_equity,
    r.created_at, r.finished_at, r.config,
    CASE WHEN r.kind IN ('sweep', 'walkforward') THEN r.id ELSE r.parent_id END AS sweep_id,
    {_PARAMS} AS params, {_METRICS} AS metrics
"""


def _rows(
    conn: psycopg2.extensions.connection, sql: str, args: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, list(args))
        rows = [dict(r) for r in cur.fetchall()]
    conn.rollback()
    return rows


def count_runs(conn: psycopg2.extensions.connection) -> int:
    """Return how many runs are stored (points and windows included)."""
    return int(_rows(conn, "SELECT count(*) AS n FROM backtest_run")[0]["n"])


def run_state(conn: psycopg2.extensions.connection, run_id: str) -> str | None:
    """Return the state of run ``run_id``, or None when there is no such run."""
    rows = _rows(conn, "SELECT state FROM backtest_run WHERE id = %s", [run_id])
    return str(rows[0]["state"]) if rows else None


def child_runs(conn: psycopg2.extensions.connection, parent_id: str) -> list[dict[str, Any]]:
    """Return the child runs of ``parent_id`` (id, state, error, final equity, params, metrics),
    in id order."""
    return _rows(
        conn,
        f"SELECT r.id, r.state, r.error, r.final_equity, {_PARAMS} AS params, "
        f"{_METRICS} AS metrics FROM backtest_run r WHERE parent_id = %s ORDER BY r.id",
        [parent_id],
    )


def metric_names(conn: psycopg2.extensions.connection) -> set[str]:
    """Return the names of every stored metric."""
    return {r["name"] for r in _rows(conn, "SELECT DISTINCT name FROM backtest_metric")}


def list_runs(
    conn: psycopg2.extensions.connection,
    *,
    sort: str = "-created_at",
    limit: int = 200,
    kind: str | None = None,
    sweep_id: str | None = None,
) -> list[dict[str, Any]]:
    """Return stored runs (:data:`RUN_COLUMNS`) sorted by a run field or a metric name
    (``-`` first for descending; missing values last), optionally of one kind or one sweep.
    Raise ConfigError naming ``sort`` for an unknown key."""
    from easyquant.backtest.metrics import METRIC_NAMES

    desc = sort.startswith("-")
    key = sort.lstrip("-")
    join = ""
    args: list[Any] = []
    if key in SORT_FIELDS:
        order = SORT_FIELDS[key]
    elif key in METRIC_NAMES or key in metric_names(conn):
        join = "LEFT JOIN backtest_metric sm ON sm.run_id = r.id AND sm.name = %s"
        args.append(key)
        order = "sm.value"
    else:
        raise ConfigError(
            f"sort: unknown sort key {key!r}: expected one of {', '.join(SORT_FIELDS)} "
            "or a stored metric name"
        )
    where = []
    if kind:
        where.append("r.kind = %s")
        args.append(kind)
    if sweep_id:
        where.append("(r.parent_id = %s OR r.id = %s)")
        args += [sweep_id, sweep_id]
    sql = (
        f"SELECT {RUN_COLUMNS} FROM backtest_run r {join} "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + f"ORDER BY {order} {'DESC' if desc else 'ASC'} NULLS LAST, r.created_at DESC, r.id "
        "LIMIT %s"
    )
    return _rows(conn, sql, [*args, limit])


def get_run(conn: psycopg2.extensions.connection, run_id: str) -> dict[str, Any]:
    """Return one run (:data:`RUN_COLUMNS`); NotFoundError when there is none."""
    rows = _rows(conn, f"SELECT {RUN_COLUMNS} FROM backtest_run r WHERE r.id = %s", [run_id])
    if not rows:
        raise NotFoundError(f"no backtest run with id {run_id!r}")
    return rows[0]


def sweep_runs(
    conn: psycopg2.extensions.connection,
    sweep_id: str,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Return the runs of a sweep or walk-forward (:data:`RUN_COLUMNS`), best rank first;
    ``limit``/``offset`` take one page of them."""
    page = " LIMIT %s OFFSET %s" if limit is not None else ""
    return _rows(
        conn,
        f"SELECT {RUN_COLUMNS} FROM backtest_run r WHERE r.parent_id = %s "
        "ORDER BY r.rank NULLS LAST, r.id" + page,
        [sweep_id, *([limit, offset] if limit is not None else [])],
    )


def count_sweep_runs(conn: psycopg2.extensions.connection, sweep_id: str) -> int:
    """How many runs a sweep or walk-forward has."""
    return int(
        _rows(conn, "SELECT count(*) AS n FROM backtest_run WHERE parent_id = %s", [sweep_id])[0][
            "n"
        ]
    )


def equity_points(conn: psycopg2.extensions.connection, run_id: str) -> list[tuple[Any, float]]:
    """Return a run's stored equity curve as (time, equity) pairs in time order."""
    rows = _rows(
        conn, "SELECT ts, equity FROM backtest_equity WHERE run_id = %s ORDER BY ts", [run_id]
    )
    return [(r["ts"], r["equity"]) for r in rows]


def trades(
    conn: psycopg2.extensions.connection, run_id: str, limit: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Return a run's first ``limit`` trades (all when None) and how many it has."""
    total = _rows(conn, "SELECT count(*) AS n FROM backtest_trade WHERE run_id = %s", [run_id])
    rows = _rows(
        conn,
        f"SELECT {', '.join(TRADE_COLUMNS)} FROM backtest_trade WHERE run_id = %s "
        "ORDER BY seq LIMIT %s",
        [run_id, limit],
    )
    return rows, int(total[0]["n"])


def load_run(conn: psycopg2.extensions.connection, run_id: str) -> dict[str, Any]:
    """Return a stored run: its row, params, metrics, trades (DataFrame), equity (Series) and
    its child runs (sweep points, walk-forward windows; metrics None when they have none)."""
    found = _rows(conn, "SELECT * FROM backtest_run WHERE id = %s", [run_id])
    if not found:
        raise NotFoundError(f"backtest run {run_id!r}: not found")
    params = _rows(conn, "SELECT name, value FROM backtest_param WHERE run_id = %s", [run_id])
    metrics = _rows(conn, "SELECT name, value FROM backtest_metric WHERE run_id = %s", [run_id])
    trade_rows = _rows(
        conn, "SELECT * FROM backtest_trade WHERE run_id = %s ORDER BY seq", [run_id]
    )
    equity = equity_points(conn, run_id)
    children = _rows(
        conn,
        "SELECT r.id, r.rank, r.state, r.error, r.final_equity, "
        f"{_by_name('backtest_param', None)} AS params, "
        f"{_by_name('backtest_metric', None)} AS metrics "
        "FROM backtest_run r WHERE parent_id = %s ORDER BY r.rank NULLS LAST, r.id",
        [run_id],
    )
    return {
        "run": found[0],
        "params": {r["name"]: r["value"] for r in params},
        "metrics": {r["name"]: r["value"] for r in metrics},
        "trades": pd.DataFrame(trade_rows),
        "equity": pd.Series(
            [v for _, v in equity],
            index=pd.DatetimeIndex([t for t, _ in equity]),
            name="equity",
        ),
        "children": children,
    }
