"""REST routes for stored backtests: the runs table, one run in full, and sweeps.

Everything here reads through ``easyquant.backtest.queries`` (and the Parquet lake for prices);
nothing writes, and there is no SQL here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections import OrderedDict
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import psycopg2.extensions
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from easyquant.backtest import queries
from easyquant.backtest.queries import SORT_FIELDS
from easyquant.errors import ConfigError, EasyQuantError, NotFoundError
from easyquant.status import State
from monitor_api.deps import DbDep, SettingsDep

router = APIRouter(prefix="/api", tags=["backtests"])

RunKind = Literal["backtest", "sweep", "walkforward", "point"]
RunId = Annotated[str, Path(min_length=1, max_length=200, description="A backtest run id")]

SORT_PATTERN = re.compile(r"^-?[a-z][a-z0-9_]{0,62}$")
# Price bars sent for one symbol at most; longer series are merged into coarser OHLC bars.
MAX_PRICE_BARS = 2000
# Equity points sent with one run at most (drawdown is computed before thinning).
MAX_EQUITY_POINTS = 2500
# Trades sent with one run at most (the earliest; ``trades_total`` says how many exist).
MAX_TRADES = 5000
# Sweep points sent in one page at most.
MAX_SWEEP_PAGE = 10_000

Metrics = dict[str, float | None]


class BacktestRun(BaseModel):
    """One stored run as the runs table shows it."""

    run_id: str
    kind: RunKind = Field(
        description="backtest, sweep, walkforward, or point (a sweep point "
        "or walk-forward window, whose parent is sweep_id)"
    )
    strategy: str
    symbols: list[str]
    market: str
    freq: str
    start: dt.datetime | None = Field(description="First bar of the period (null: all stored)")
    end: dt.datetime | None
    params: dict[str, Any]
    state: State
    error: str | None
    rank: int | None = Field(description="Rank of a point within its sweep (1 is best)")
    final_equity: float | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    metrics: Metrics
    sweep_id: str | None = Field(
        description="The sweep or walk-forward this run belongs to "
        "(its own id for a sweep or walk-forward run)"
    )


class BacktestList(BaseModel):
    runs: list[BacktestRun]


class EquityDrawdownPoint(BaseModel):
    time: dt.datetime
    equity: float
    drawdown: float = Field(description="equity / running peak - 1 (0 or negative)")


class Trade(BaseModel):
    symbol: str
    entry_time: dt.datetime
    entry_price: float
    exit_time: dt.datetime | None
    exit_price: float | None
    quantity: float
    pnl: float
    fees: float


class Bar(BaseModel):
    time: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


class BacktestDetail(BacktestRun):
    """A run with its equity curve, trades and the prices of its symbols over its period."""

    config: dict[str, Any]
    equity: list[EquityDrawdownPoint] = Field(
        description=f"At most about {MAX_EQUITY_POINTS} evenly spaced points (always the "
        "deepest drawdown)"
    )
    trades: list[Trade]
    trades_total: int
    prices: dict[str, list[Bar]] = Field(
        description=f"Per symbol; more than {MAX_PRICE_BARS} bars are merged into coarser OHLC bars"
    )
    prices_freq: dict[str, str] = Field(
        description="Per symbol: the stored frequency, or "
        "'Nx<freq>' when N bars were merged into one"
    )
    warnings: list[str]


class SweepPoint(BaseModel):
    run_id: str
    rank: int | None
    state: State
    error: str | None
    params: dict[str, Any]
    metrics: Metrics


class WalkForwardWindow(BaseModel):
    window: int = Field(description="1-based window number")
    run_id: str
    params: dict[str, Any] = Field(description="The in-sample winner, traded out of sample")
    in_sample_period: list[dt.datetime] | None
    out_of_sample_period: list[dt.datetime] | None
    in_sample: Metrics
    out_of_sample: Metrics


class Sweep(BaseModel):
    sweep_id: str
    kind: Literal["sweep", "walkforward"]
    strategy: str
    symbols: list[str]
    state: State
    rank_by: str | None
    params: list[str] = Field(description="Names of the swept parameters")
    grid: dict[str, list[Any]]
    metrics: Metrics = Field(
        description="The best point's metrics (sweep) or the stitched "
        "out-of-sample metrics (walk-forward)"
    )
    points: list[SweepPoint] = Field(description="One page of points, best rank first")
    points_total: int = Field(description="How many points (or windows) the run has")
    limit: int
    offset: int
    walkforward: list[WalkForwardWindow] | None = Field(
        description="The windows among this page's points, in window order"
    )


def _bad_query(field: str, msg: str, value: Any) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": msg, "input": value}]
    )


def _run(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["metrics"] = _metrics(out["metrics"])
    return out


def _metrics(raw: dict[str, Any] | None) -> Metrics:
    out: Metrics = {}
    for k, v in (raw or {}).items():
        out[k] = float(v) if isinstance(v, int | float) and math.isfinite(v) else None
    return out


@router.get("/backtests", response_model=BacktestList)
def list_backtests(
    db: DbDep,
    sort: str = Query(
        default="-created_at",
        max_length=64,
        description="A run field (" + ", ".join(SORT_FIELDS) + ") or a metric name (e.g. "
        "sharpe); prefix '-' for descending. Missing values sort last.",
    ),
    limit: int = Query(default=200, ge=1, le=5000),
    kind: RunKind | None = Query(default=None, description="Only runs of this kind"),
    sweep_id: str | None = Query(
        default=None, max_length=200, description="Only the runs of this sweep or walk-forward"
    ),
) -> dict[str, Any]:
    """List stored runs (sweep points and walk-forward windows included), sorted."""
    if not SORT_PATTERN.match(sort):
        raise _bad_query(
            "sort", "expected a field or metric name, optionally prefixed by '-'", sort
        )
    try:
        rows = queries.list_runs(db, sort=sort, limit=limit, kind=kind, sweep_id=sweep_id)
    except ConfigError as exc:
        raise _bad_query("sort", str(exc).removeprefix("sort: "), sort) from None
    return {"runs": [_run(r) for r in rows]}


def _fetch_run(db: psycopg2.extensions.connection, run_id: str) -> dict[str, Any]:
    try:
        return _run(queries.get_run(db, run_id))
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/backtests/{run_id}", response_model=BacktestDetail)
def get_backtest(run_id: RunId, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    """One run: its row, equity with drawdown, trades, and its symbols' prices for the period."""
    run = _fetch_run(db, run_id)
    eq = queries.equity_points(db, run_id)
    trades, trades_total = queries.trades(db, run_id, MAX_TRADES)
    equity = _equity(eq)
    warnings: list[str] = []
    if int(trades_total) > len(trades):
        warnings.append(f"showing the first {len(trades)} of {trades_total} trades")
    start = run["start"] or (eq[0][0] if eq else None)
    end = _inclusive_end(run["end"]) or (eq[-1][0] if eq else None)
    prices, freqs = _prices(run["symbols"], run["freq"], start, end, settings, warnings)
    return {
        **run,
        "equity": equity,
        "trades": trades,
        "trades_total": trades_total,
        "prices": prices,
        "prices_freq": freqs,
        "warnings": warnings,
    }


@router.get("/backtests/{run_id}/tearsheet")
def get_tearsheet(run_id: RunId, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    """One run's tearsheet (``easyquant.backtest.tearsheet``): headline metrics by kind next
    to buy-and-hold of the benchmark, equity and drawdown series, the five worst drawdowns,
    monthly and yearly returns, rolling statistics, return distributions, exposure, trades,
    and a sweep's or walk-forward's points or windows."""
    from easyquant.backtest import tearsheet

    try:
        return tearsheet.load(db, run_id, settings)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


def _inclusive_end(end: dt.datetime | None) -> dt.datetime | str | None:
    """A period stored as a bare date (midnight UTC) ends with that whole day, as the run read
    it: pass it on as the date."""
    if end is not None and end.astimezone(dt.UTC).time() == dt.time(0):
        return end.astimezone(dt.UTC).date().isoformat()
    return end


def _equity(
    rows: list[tuple[dt.datetime, float]], limit: int = MAX_EQUITY_POINTS
) -> list[dict[str, Any]]:
    """Equity with drawdown (computed on every stored point), thinned to about ``limit``
    evenly spaced points that always keep the first, the last and the deepest drawdown."""
    if not rows:
        return []
    values = np.array([r[1] for r in rows], dtype=float)
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, values / peak - 1.0, 0.0)
    n = len(rows)
    keep = np.arange(n)
    if n > limit:
        keep = np.unique(
            np.r_[np.linspace(0, n - 1, limit - 1).astype(int), n - 1, int(np.argmin(dd))]
        )
    return [
        {"time": rows[i][0], "equity": float(values[i]), "drawdown": float(dd[i])} for i in keep
    ]


class PriceCache:
    """Downsampled bars of recently shown (symbol, period)s, so that showing a run again reads
    no Parquet file. An entry is keyed by the partitions' size and change time: a new ingest
    makes a new key. Least recently used entries go first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], tuple[list[dict[str, Any]], str]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get_or_load(
        self, sym: str, freq: str, start: Any, end: Any, settings: Any
    ) -> tuple[list[dict[str, Any]], str]:
        from easyquant.data.lake import Lake

        lake = Lake(settings.lake_dir)
        files: list[tuple[int, int] | None] = []
        for f in (freq, "1m"):
            try:
                st = lake.path(f, sym).stat()
                files.append((st.st_mtime_ns, st.st_size))
            except OSError:
                files.append(None)
        key = (str(settings.lake_dir), sym, freq, str(start), str(end), *files)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = _load_prices(sym, freq, start, end, settings)
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


PRICES = PriceCache()


def _prices(
    symbols: list[str], freq: str, start: Any, end: Any, settings: Any, warnings: list[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    prices: dict[str, list[dict[str, Any]]] = {}
    freqs: dict[str, str] = {}
    for sym in symbols:
        try:
            prices[sym], freqs[sym] = PRICES.get_or_load(sym, freq, start, end, settings)
        except EasyQuantError as exc:
            warnings.append(f"prices of {sym}: {exc}")
    return prices, freqs


def _load_prices(
    sym: str, freq: str, start: Any, end: Any, settings: Any
) -> tuple[list[dict[str, Any]], str]:
    from easyquant.data import load_bars

    frame = load_bars([sym], freq=freq, start=start, end=end, settings=settings)[sym]
    frame, factor = downsample(frame, MAX_PRICE_BARS)
    return [
        {"time": ts.to_pydatetime(), "open": o, "high": h, "low": lo, "close": c, "volume": v}
        for ts, o, h, lo, c, v in zip(
            frame.index,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ], freq if factor == 1 else f"{factor}x{freq}"


def downsample(frame: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """Merge runs of consecutive bars into at most ``limit`` OHLCV bars (each stamped with its
    first bar's time); return the frame and how many bars went into one."""
    n = len(frame)
    if n <= limit:
        return frame, 1
    factor = math.ceil(n / limit)
    groups = np.arange(n) // factor
    g = frame.groupby(groups)
    out = pd.DataFrame(
        {
            "open": g["open"].first().to_numpy(),
            "high": g["high"].max().to_numpy(),
            "low": g["low"].min().to_numpy(),
            "close": g["close"].last().to_numpy(),
            "volume": g["volume"].sum().to_numpy(),
        },
        index=frame.index[::factor],
    )
    return out, factor


@router.get("/sweeps/{sweep_id}", response_model=Sweep)
def get_sweep(
    sweep_id: RunId,
    db: DbDep,
    limit: int = Query(default=1000, ge=1, le=MAX_SWEEP_PAGE, description="Points per page"),
    offset: int = Query(default=0, ge=0, le=10_000_000, description="Points to skip"),
) -> dict[str, Any]:
    """A sweep or walk-forward: swept parameter names, every point with its metrics and run
    id, and for a walk-forward each window's in-sample and out-of-sample metrics."""
    run = _fetch_run(db, sweep_id)
    if run["kind"] not in ("sweep", "walkforward"):
        raise HTTPException(
            404, f"run {sweep_id!r} is a {run['kind']} run, not a sweep or walk-forward"
        )
    children = [_run(r) for r in queries.sweep_runs(db, sweep_id, limit, offset)]
    grid = run["params"].get("grid") or {}
    grid = {k: list(v) for k, v in grid.items()} if isinstance(grid, dict) else {}
    names = list(grid) or _varying(c["params"] for c in children)
    points = [
        {
            "run_id": c["run_id"],
            "rank": c["rank"],
            "state": c["state"],
            "error": c["error"],
            "params": c["params"],
            "metrics": c["metrics"],
        }
        for c in children
    ]
    walkforward = None
    if run["kind"] == "walkforward":
        walkforward = [_window(i, c) for i, c in enumerate(children)]
        walkforward.sort(key=lambda w: w["window"])
    return {
        "sweep_id": sweep_id,
        "kind": run["kind"],
        "strategy": run["strategy"],
        "symbols": run["symbols"],
        "state": run["state"],
        "rank_by": run["params"].get("rank_by"),
        "params": names,
        "grid": grid,
        "metrics": run["metrics"],
        "points": points,
        "points_total": queries.count_sweep_runs(db, sweep_id),
        "limit": limit,
        "offset": offset,
        "walkforward": walkforward,
    }


def _varying(params: Any) -> list[str]:
    seen: dict[str, set[str]] = {}
    for p in params:
        for k, v in p.items():
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vals in seen.items() if len(vals) > 1]


def _window(i: int, child: dict[str, Any]) -> dict[str, Any]:
    info = (child.get("config") or {}).get("walkforward_window") or {}
    index = info.get("index")
    return {
        "window": (int(index) if isinstance(index, int) else (child["rank"] or i + 1) - 1) + 1,
        "run_id": child["run_id"],
        "params": child["params"],
        "in_sample_period": info.get("in_sample"),
        "out_of_sample_period": info.get("out_of_sample")
        or ([child["start"], child["end"]] if child["start"] and child["end"] else None),
        "in_sample": _metrics(info.get("in_sample_metrics")),
        "out_of_sample": child["metrics"],
    }
