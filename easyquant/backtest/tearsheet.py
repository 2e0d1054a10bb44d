"""One tearsheet of a stored run, computed once and rendered by the HTML report and the
dashboard's run page: headline metrics next to a benchmark's, equity against the benchmark,
drawdowns, calendar returns, rolling statistics, return distributions, exposure and trades.

The benchmark is buy-and-hold of the run's benchmark symbol (its configured ``benchmark``, else
its first symbol) over the run's own bars, paying the run's market costs on the buy
(:func:`easyquant.backtest.tearsheet_stats.buy_and_hold`). Headline figures come from
:func:`easyquant.backtest.metrics.compute_metrics`, for the run and for the benchmark alike.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
import psycopg2.extensions

from easyquant.backtest import tearsheet_stats as ts_stats
from easyquant.backtest.metrics import METRIC_NAMES, bar_returns, compute_metrics, periods_per_year
from easyquant.errors import EasyQuantError

#: How each headline metric is shown.
METRIC_KINDS: dict[str, str] = {
    "total_return": "percent",
    "cagr": "percent",
    "volatility": "percent",
    "sharpe": "ratio",
    "sortino": "ratio",
    "calmar": "ratio",
    "max_drawdown": "percent",
    "max_drawdown_duration": "duration",
    "win_rate": "percent",
    "profit_factor": "ratio",
    "expectancy": "money",
    "trades": "count",
    "exposure": "percent",
    "turnover": "ratio",
    "alpha": "percent",
    "beta": "ratio",
    "final_equity": "money",
}
assert set(METRIC_KINDS) == set(METRIC_NAMES)
#: Freqs whose bars are whole days or longer: times are shown as dates.
DAILY_FREQS = ("1d", "1w", "1mo", "d", "w")
ROLLING_MONTHS = 6


def build(
    stored: Mapping[str, Any],
    *,
    benchmark_close: pd.Series | None = None,
    closes: Mapping[str, pd.Series] | None = None,
    children: Sequence[Mapping[str, Any]] = (),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the tearsheet (JSON-ready) of a run as ``queries.load_run`` returns it.

    ``benchmark_close``: the benchmark symbol's closes (any bars; aligned to the run's equity
    times, carried forward); ``closes``: the run's symbols' closes, for exposure (a trade's
    entry price stands in where missing); ``children``: the sweep or walk-forward's runs as
    ``queries.sweep_runs`` returns them.
    """
    run = dict(stored["run"])
    config = _dict(run.get("config"))
    market = _dict(config.get("market"))
    freq = str(run.get("freq") or "1d")
    daily = freq in DAILY_FREQS
    notes = list(warnings)
    equity = stored["equity"].astype(np.float64)
    equity.index = pd.DatetimeIndex(equity.index).as_unit("ns")
    trades = _trades_frame(stored["trades"])
    bench_sym = config.get("benchmark") or (list(run.get("symbols") or []) or [None])[0]
    out: dict[str, Any] = {
        "run": {
            "run_id": run.get("id") or run.get("run_id"),
            "kind": run.get("kind"),
            "strategy": run.get("strategy"),
            "symbols": list(run.get("symbols") or []),
            "market": run.get("market"),
            "freq": freq,
            "state": run.get("state"),
            "error": run.get("error"),
            "params": dict(stored.get("params") or {}),
            "benchmark": bench_sym,
            "cash": float(config.get("cash") or (equity.iloc[0] if len(equity) else 0.0)),
            "time_unit": "date" if daily else "datetime",
        },
        "warnings": notes,
    }
    out["sweep"] = sweep_section(run, stored.get("params") or {}, children)
    if len(equity) < 2:
        notes.append("the run has fewer than two equity points: no tearsheet")
        out.update(empty_sections())
        return out
    ts = equity.index.asi8
    ppy = periods_per_year(ts, int(market.get("periods_per_year") or 252))
    bench = None
    if benchmark_close is not None and len(benchmark_close):
        aligned = _align(benchmark_close, equity.index)
        if aligned is not None:
            bench = ts_stats.buy_and_hold(aligned, out["run"]["cash"], market)
        else:
            notes.append(f"benchmark {bench_sym}: no closes over the run's bars")
    exposure = _exposure(equity, trades, closes or {})
    held = (exposure > 0).to_numpy(dtype=np.uint8)
    closed = trades[~trades["open"]]
    traded = float(
        (closed["quantity"].abs() * (closed["entry_price"] + closed["exit_price"])).sum()
        + (
            trades.loc[trades["open"], "quantity"].abs() * trades.loc[trades["open"], "entry_price"]
        ).sum()
    )
    bench_arr = bench.to_numpy() if bench is not None else None
    mine = compute_metrics(
        equity.to_numpy(),
        ts,
        trade_pnl=closed["pnl"].to_numpy(dtype=np.float64),
        traded_value=traded,
        held=held,
        ppy=ppy,
        benchmark=bench_arr,
    )
    theirs = (
        compute_metrics(
            bench_arr,
            ts,
            trade_pnl=np.array([]),
            traded_value=float(out["run"]["cash"]),
            held=np.ones(len(ts), dtype=np.uint8),
            ppy=ppy,
            benchmark=bench_arr,
        )
        if bench_arr is not None
        else None
    )
    for k in ("win_rate", "profit_factor", "expectancy", "trades"):
        if theirs is not None:
            theirs[k] = None
    out["run"]["periods_per_year"] = ppy
    out["metrics"] = [
        {
            "key": k,
            "kind": METRIC_KINDS[k],
            "value": mine.get(k),
            "benchmark": theirs.get(k) if theirs is not None else None,
        }
        for k in METRIC_NAMES
    ]
    r = pd.Series(bar_returns(equity.to_numpy()), index=equity.index).iloc[1:]
    rb = (
        pd.Series(bar_returns(bench_arr), index=equity.index).iloc[1:]
        if bench_arr is not None
        else None
    )
    out["series"] = {
        "time": [_iso(t) for t in equity.index],
        "equity": _list(equity),
        "benchmark": _list(bench) if bench is not None else None,
        "drawdown": _list(ts_stats.drawdown(equity)),
        "benchmark_drawdown": _list(ts_stats.drawdown(bench)) if bench is not None else None,
        "exposure": _list(exposure),
    }
    out["drawdowns"] = [
        {
            **p,
            "start": _stamp(p["start"], daily),
            "trough": _stamp(p["trough"], daily),
            "recovery": _stamp(p["recovery"], daily),
        }
        for p in ts_stats.drawdown_periods(equity)
    ]
    out["monthly"] = ts_stats.monthly_table(equity)
    yearly = ts_stats.period_returns(equity, "Y")
    yb = ts_stats.period_returns(bench, "Y") if bench is not None else None
    out["yearly"] = [
        {
            "year": int(p.year),
            "return": _num(v),
            "benchmark": _num(yb.get(p)) if yb is not None else None,
        }
        for p, v in zip(cast(pd.PeriodIndex, yearly.index), yearly.to_numpy(), strict=True)
    ]
    window = max(round(ppy * ROLLING_MONTHS / 12), 2)
    rolling = ts_stats.rolling_stats(r, rb, window, ppy)
    out["rolling"] = {
        "window": window,
        "months": ROLLING_MONTHS,
        "time": out["series"]["time"][1:],
        "sharpe": rolling["sharpe"],
        "volatility": rolling["volatility"],
        "beta": rolling.get("beta"),
    }
    trade_ret = closed["pnl"] / (closed["quantity"].abs() * closed["entry_price"])
    out["distribution"] = {
        "daily": ts_stats.histogram(r.to_numpy()),
        "trades": ts_stats.histogram(trade_ret.to_numpy(dtype=np.float64)),
    }
    out["trades"] = [_trade(t, daily) for t in trades.itertuples(index=False)]
    out["trades_total"] = len(trades)
    return out


def empty_sections() -> dict[str, Any]:
    """The sections of a run without a curve."""
    return {
        "metrics": [
            {"key": k, "kind": METRIC_KINDS[k], "value": None, "benchmark": None}
            for k in METRIC_NAMES
        ],
        "series": {
            "time": [],
            "equity": [],
            "benchmark": None,
            "drawdown": [],
            "benchmark_drawdown": None,
            "exposure": [],
        },
        "drawdowns": [],
        "monthly": {"years": [], "returns": []},
        "yearly": [],
        "rolling": {
            "window": 0,
            "months": ROLLING_MONTHS,
            "time": [],
            "sharpe": [],
            "volatility": [],
            "beta": None,
        },
        "distribution": {
            "daily": ts_stats.histogram(np.array([])),
            "trades": ts_stats.histogram(np.array([])),
        },
        "trades": [],
        "trades_total": 0,
    }


def sweep_section(
    run: Mapping[str, Any], params: Mapping[str, Any], children: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """A sweep's points (and a heatmap of two swept parameters) or a walk-forward's windows
    (in- and out-of-sample metrics); None for a single run."""
    kind = run.get("kind")
    if kind not in ("sweep", "walkforward"):
        return None
    rank_by = str(params.get("rank_by") or "sharpe")
    grid = params.get("grid") if isinstance(params.get("grid"), dict) else {}
    names = list(grid or {}) or _varying([_dict(c.get("params")) for c in children])
    points = [
        {
            "run_id": c.get("run_id") or c.get("id"),
            "rank": c.get("rank"),
            "state": c.get("state"),
            "params": _dict(c.get("params")),
            "metrics": {k: _num(v) for k, v in _dict(c.get("metrics")).items()},
        }
        for c in children
    ]
    out: dict[str, Any] = {"kind": kind, "rank_by": rank_by, "params": names, "points": points}
    out["chosen"] = next((p for p in points if p["rank"] == 1), None)
    out["heatmap"] = (
        _heatmap(points, names, rank_by) if kind == "sweep" and len(names) == 2 else None
    )
    if kind == "walkforward":
        wins = []
        for i, c in enumerate(children):
            info = _dict(_dict(c.get("config")).get("walkforward_window"))
            wins.append(
                {
                    "window": int(info.get("index", i)) + 1,
                    "params": _dict(c.get("params")),
                    "in_sample": list(info.get("in_sample") or []),
                    "out_of_sample": list(info.get("out_of_sample") or []),
                    "in_sample_metrics": {
                        k: _num(v) for k, v in _dict(info.get("in_sample_metrics")).items()
                    },
                    "out_of_sample_metrics": {
                        k: _num(v) for k, v in _dict(c.get("metrics")).items()
                    },
                }
            )
        out["windows"] = sorted(wins, key=lambda w: w["window"])
    return out


def load(conn: psycopg2.extensions.connection, run_id: str, settings: Any = None) -> dict[str, Any]:
    """Return the tearsheet of stored run ``run_id``: the run from the database, the benchmark
    and symbol closes from the lake (a missing one is a warning); NotFoundError for no run.
    A sweep stores no point's curve: its chosen point (or the point itself) is run again
    (:func:`rerun_point`)."""
    from easyquant.backtest import queries

    stored = queries.load_run(conn, run_id)
    run = stored["run"]
    children = queries.sweep_runs(conn, run_id) if run["kind"] in ("sweep", "walkforward") else []
    config = _dict(run.get("config"))
    equity = stored["equity"]
    warnings: list[str] = []
    closes: dict[str, pd.Series] = {}
    bench_sym = config.get("benchmark") or (list(run["symbols"]) or [None])[0]
    wanted = list(dict.fromkeys([*run["symbols"], *([bench_sym] if bench_sym else [])]))
    _closes(equity, wanted, run["freq"], settings, closes, warnings)
    if not len(equity) and run["state"] == "success" and run["kind"] in ("sweep", "point"):
        # a sweep and its points store no curve: run the chosen point (or this one) again
        best = next((c for c in children if c.get("rank") == 1), None)
        params = best["params"] if best is not None else stored["params"]
        if run["kind"] == "point" or best is not None:
            try:
                again = rerun_point(run, params, settings)
                warnings.extend(again.pop("warnings"))
                stored = {**stored, **again}
            except EasyQuantError as exc:
                warnings.append(f"chosen point: {exc}")
            _closes(stored["equity"], wanted, run["freq"], settings, closes, warnings)
    return build(
        stored,
        benchmark_close=closes.get(bench_sym) if bench_sym else None,
        closes=closes,
        children=children,
        warnings=warnings,
    )


def _closes(
    equity: pd.Series,
    symbols: Sequence[str],
    freq: str,
    settings: Any,
    out: dict[str, pd.Series],
    warnings: list[str],
) -> None:
    """Read the closes of ``symbols`` over the curve's period into ``out`` (a symbol that
    cannot be read is a warning)."""
    from easyquant.data import load_bars

    if not len(equity):
        return
    start, end = pd.Timestamp(equity.index[0]), pd.Timestamp(equity.index[-1])
    for sym in symbols:
        try:
            frame = load_bars([sym], freq=freq, start=start, end=end, settings=settings)
            out[sym] = frame[sym]["close"]
        except EasyQuantError as exc:
            warnings.append(f"closes of {sym}: {exc}")


def rerun_point(run: Mapping[str, Any], params: Mapping[str, Any], settings: Any) -> dict[str, Any]:
    """Run a sweep's point again from the sweep's stored request (a sweep stores no point's
    curve): return its ``equity`` and ``trades`` as a stored run has them, and ``warnings``.
    The instrument master's rows are applied when the run applied them (its config says
    which; a warning when they changed since). Nothing is stored."""
    from easyquant.backtest.request import COSTS, BacktestRequest
    from easyquant.backtest.runner import run_backtest
    from easyquant.backtest.service import load_benchmark, load_data

    config = _dict(run.get("config"))
    market = _dict(config.get("market"))
    req = BacktestRequest.parse(
        {
            "strategy": run["strategy"],
            "symbols": list(run["symbols"]),
            "start": _day(run.get("period_start")),
            "end": _day(run.get("period_end")),
            "freq": run["freq"],
            "market": run["market"],
            "cash": config.get("cash") or 100_000.0,
            "fill": config.get("fill") or "next_open",
            "benchmark": config.get("benchmark"),
            "params": dict(params),
            **{k: market[k] for k in COSTS if market.get(k) is not None},
        }
    )
    bars = load_data(req, settings)
    applied = config.get("instruments")
    again = req.run_config(settings) if applied is not None else req.config()
    warnings = []
    now = again.as_dict().get("instruments")
    if applied is not None and now != applied:
        warnings.append(
            f"chosen point: the instrument master's rows of {', '.join(run['symbols'])} "
            "changed since the run; run again with today's rows"
        )
    result = run_backtest(req.make_strategy(), bars, again, benchmark=load_benchmark(req, settings))
    return {"equity": result.equity, "trades": result.trades, "warnings": warnings}


def _day(t: Any) -> str | None:
    """A stored period bound as a request gives it: the date when at midnight UTC."""
    if t is None:
        return None
    ts = pd.Timestamp(t).tz_convert("UTC") if pd.Timestamp(t).tzinfo else pd.Timestamp(t)
    return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()


def _trades_frame(trades: pd.DataFrame | None) -> pd.DataFrame:
    from easyquant.backtest.queries import TRADE_COLUMNS

    cols = list(TRADE_COLUMNS)
    if trades is None or not len(trades):
        frame = pd.DataFrame({c: [] for c in cols})
    else:
        frame = trades[cols].copy()
    for c in ("entry_price", "exit_price", "quantity", "pnl", "fees"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
    frame["entry_time"] = pd.to_datetime(frame["entry_time"], utc=True)
    frame["exit_time"] = pd.to_datetime(frame["exit_time"], utc=True)
    frame["open"] = frame["exit_time"].isna()
    return frame


def _exposure(
    equity: pd.Series, trades: pd.DataFrame, closes: Mapping[str, pd.Series]
) -> pd.Series:
    """Gross value of the positions held at each bar's close over the equity: a trade is held
    from its entry bar up to (not including) its exit bar."""
    idx = pd.DatetimeIndex(equity.index)
    gross = np.zeros(len(idx))
    for sym, group in trades.groupby("symbol"):
        c = _align(closes[str(sym)], idx) if str(sym) in closes else None
        t: Any
        for t in group.itertuples(index=False):
            a = idx.searchsorted(t.entry_time)
            b = len(idx) if t.open else idx.searchsorted(t.exit_time)
            if b <= a:
                continue
            px = c.to_numpy()[a:b] if c is not None else np.full(b - a, t.entry_price)
            px = np.where(np.isfinite(px), px, t.entry_price)
            gross[a:b] += abs(t.quantity) * px
    eq = equity.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        expo = np.where(eq > 0, gross / eq, 0.0)
    return pd.Series(expo, index=idx)


def _align(close: pd.Series, idx: pd.DatetimeIndex) -> pd.Series | None:
    """Closes at ``idx`` (the last close at or before each time); None when none falls there."""
    when = pd.DatetimeIndex(close.index)
    if when.tz is None and idx.tz is not None:
        when = when.tz_localize("UTC")
    s = pd.Series(close.to_numpy(dtype=np.float64), index=when).sort_index()
    s = s[~s.index.duplicated(keep="last")]
    out = s.reindex(idx, method="ffill")
    if out.isna().all():
        return None
    return out.bfill()


def _trade(t: Any, daily: bool) -> dict[str, Any]:
    ret = (
        t.pnl / (abs(t.quantity) * t.entry_price)
        if t.quantity and t.entry_price and not t.open
        else None
    )
    return {
        "symbol": t.symbol,
        "entry": _stamp(t.entry_time, daily),
        "entry_price": _num(t.entry_price),
        "exit": None if t.open else _stamp(t.exit_time, daily),
        "exit_price": None if t.open else _num(t.exit_price),
        "quantity": _num(t.quantity),
        "pnl": _num(t.pnl),
        "return": _num(ret) if ret is not None else None,
        "fees": _num(t.fees),
        "open": bool(t.open),
    }


def _heatmap(points: list[dict[str, Any]], names: list[str], metric: str) -> dict[str, Any]:
    xs = sorted({_key(p["params"].get(names[0])) for p in points}, key=_order)
    ys = sorted({_key(p["params"].get(names[1])) for p in points}, key=_order)
    grid: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    for p in points:
        x, y = _key(p["params"].get(names[0])), _key(p["params"].get(names[1]))
        grid[ys.index(y)][xs.index(x)] = p["metrics"].get(metric)
    return {
        "x_param": names[0],
        "y_param": names[1],
        "x": xs,
        "y": ys,
        "metric": metric,
        "values": grid,
    }


def _key(v: Any) -> Any:
    return v if isinstance(v, int | float | str) or v is None else str(v)


def _order(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) else (1, str(v))


def _varying(params: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, set[str]] = {}
    for p in params:
        for k, v in p.items():
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vals in seen.items() if len(vals) > 1]


def _dict(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else {}


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _list(s: pd.Series) -> list[float | None]:
    return [_num(v) for v in s.to_numpy(dtype=np.float64)]


def _iso(t: Any) -> str:
    return pd.Timestamp(t).isoformat()


def _stamp(t: Any, daily: bool) -> str | None:
    """A time as the tearsheet shows it: a date for daily bars, else an ISO time."""
    if t is None or (isinstance(t, float) and math.isnan(t)) or t is pd.NaT:
        return None
    ts = pd.Timestamp(t)
    if daily:
        d: dt.date = ts.date()
        return d.isoformat()
    return ts.isoformat()
