"""Parity: replay a live session's bars through the backtester and compare orders, fills, P&L.

The backtest runs over every bar the session took from its first up to the end of the date
(positions carry over from earlier days), with the session's strategy, parameters, cash,
market profile and fill timing; then the date's executed orders, fills and P&L are compared
with the session's ledger. Any halt, flatten or refused order in the session shows as a
difference, as it should.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from easyquant import status
from easyquant.config import Settings
from easyquant.data.frequency import parse_freq
from easyquant.db import connect
from easyquant.errors import ConfigError, DataError, NotFoundError
from easyquant.live.journal import Store
from easyquant.live.queries import session_rows
from easyquant.live.records import SessionRow, ns_of, ts_of
from easyquant.live.warmup import load_warmup, warmup_size
from easyquant.strategy.base import Bars, Decisions, Strategy

DAY_NS = 86_400_000_000_000
REL = 1e-9


def _day_bounds(date: str, freq: str, offset_ns: int) -> tuple[int, int]:
    try:
        day = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise ConfigError(f"date: expected YYYY-MM-DD, got {date!r}") from None
    if day.tzinfo is not None or day != day.normalize():
        raise ConfigError(f"date: expected a plain date YYYY-MM-DD, got {date!r}")
    lo = int(day.tz_localize("UTC").value)
    if parse_freq(freq).name != "1d":  # intraday bars: the exchange's trading date
        lo -= offset_ns
    return lo, lo + DAY_NS


class NoBars(DataError):
    """The session took no bars on the date (nothing to compare: skipped, not different)."""


def session_bounds(row: SessionRow, date: str) -> tuple[int, int]:
    """The date's bounds (ns, UTC, half-open) for a session: the UTC day for daily bars, the
    exchange's trading date for intraday bars."""
    from easyquant.live.config import SessionConfig

    profile = SessionConfig.from_row(row).profile()
    return _day_bounds(date, row.freq, int(profile.utc_offset_hours * 3600e9))


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(1e-9, REL * max(abs(a), abs(b)))


def _trading_from(strategy: Strategy, first: int) -> Strategy:
    """The same strategy, deciding on every bar but trading from bar ``first`` on (the bars
    before it are a live session's warm-up)."""
    if first == 0:
        return strategy

    class FromFirst(type(strategy)):  # type: ignore[misc]
        def decisions(self, data: Bars) -> Decisions:
            out = super().decisions(data)
            out.target[:first] = np.nan
            return out

    return FromFirst(**strategy.param_values)


def check_parity(settings: Settings, session: str, date: str) -> dict[str, Any]:
    """Return a report: ``identical`` and the differences in orders, fills and P&L on ``date``.

    Raise NotFoundError for an unknown session, ConfigError for a bad date, NoBars (a
    DataError) when the session took no bars that day.
    """
    from easyquant.backtest.config import BacktestConfig
    from easyquant.backtest.runner import run_backtest
    from easyquant.live.config import SessionConfig

    store = Store(settings, session)
    store.connect()
    try:
        row = store.load_session()
        if row is None:
            raise NotFoundError(f"session {session!r}: no such live session")
        cfg = SessionConfig.from_row(row)
        strategy = cfg.validate()
        profile = cfg.profile()
        lo, hi = session_bounds(row, date)
        stored = store.load_events()
        events = [e for e in stored if e.ts < hi]
        if not any(e.ts >= lo for e in events):
            raise NoBars(f"session {session}: no bars on {date}")
        # the history the session started with: decided on, never traded
        warm = load_warmup(cfg, warmup_size(cfg, strategy), stored[0].ts, settings)
        events = warm + events
        day = (session, ts_of(lo), ts_of(hi))  # the query parameters of the day's rows
        live_fills = store.exec(
            "SELECT f.bar_ts, f.symbol, f.quantity, f.price, f.fees, o.phase FROM live_fill f "
            "JOIN live_order o USING (client_order_id) WHERE f.session = %s AND f.bar_ts >= %s "
            "AND f.bar_ts < %s ORDER BY f.bar_ts, f.symbol",
            day,
            fetch=True,
        )
        unsent = store.exec(
            "SELECT client_order_id, state, reason FROM live_order WHERE session = %s AND "
            "bar_ts >= %s AND bar_ts < %s AND state IN ('risk_rejected', 'cancelled') "
            "ORDER BY bar_ts",
            day,
            fetch=True,
        )
        eq_rows = store.exec(
            "SELECT ts, equity FROM live_equity WHERE session = %s AND ts < %s ORDER BY ts",
            (session, ts_of(hi)),
            fetch=True,
        )
    finally:
        store.close()

    frames: dict[str, pd.DataFrame] = {}
    for sym in cfg.symbols:
        rows = [
            (e.ts, b.open, b.high, b.low, b.close, b.volume)
            for e in events
            if (b := e.bars.get(sym)) is not None
        ]
        if not rows:
            continue
        a = np.array(rows, dtype=np.float64)
        idx = pd.DatetimeIndex(
            np.array([r[0] for r in rows], dtype="datetime64[ns]"), name="timestamp"
        ).tz_localize("UTC")
        frames[sym] = pd.DataFrame(
            {"open": a[:, 1], "high": a[:, 2], "low": a[:, 3], "close": a[:, 4], "volume": a[:, 5]},
            index=idx,
        )
    # symbols that never had a bar stay as all-NaN columns, as in the live history
    data = Bars.from_frames({s: frames[s] for s in cfg.symbols if s in frames})
    if len(data.symbols) != len(cfg.symbols):
        full = {
            c: np.full((len(data), len(cfg.symbols)), np.nan)
            for c in ("open", "high", "low", "close", "volume")
        }
        for j, s in enumerate(cfg.symbols):
            if s in data.symbols:
                k = data.symbols.index(s)
                for c in full:
                    full[c][:, j] = getattr(data, c)[:, k]
        data = Bars(data.index, cfg.symbols, full)
    first = len(warm)  # the session's first bar (the warm-up's timestamps come before it)
    bt = run_backtest(
        _trading_from(strategy, first),
        data,
        BacktestConfig(
            cash=float(row.initial_cash),
            market=profile,
            fill=cfg.fill,
            instruments=cfg.instruments(settings),
        ),
    )
    sim = bt.sim
    ts = data.index.asi8
    f_ts = ts[sim.fills["bar"]] if len(sim.fills["bar"]) else np.empty(0, dtype=np.int64)
    sel = (f_ts >= lo) & (f_ts < hi)
    bt_fills = sorted(
        (
            int(f_ts[i]),
            data.symbols[int(sim.fills["symbol"][i])],
            float(sim.fills["quantity"][i]),
            float(sim.fills["price"][i]),
            float(sim.fills["fees"][i]),
        )
        for i in np.flatnonzero(sel)
    )
    lv_fills = sorted(
        (int(ns_of(r[0]) or 0), r[1], float(r[2]), float(r[3]), float(r[4])) for r in live_fills
    )
    diffs: list[str] = []

    def when(t: int) -> str:
        return pd.Timestamp(t, tz="UTC").isoformat()

    bt_by = {(f[0], f[1]): f for f in bt_fills}
    lv_by: dict[tuple[int, str], tuple[int, str, float, float, float]] = {}
    for f in lv_fills:
        key = (f[0], f[1])
        if key in lv_by:  # two live fills on one bar and symbol (a flatten and a trade)
            diffs.append(f"fill {when(f[0])} {f[1]}: more than one live fill on this bar")
        lv_by[key] = f
    orders_live = {(k[0], k[1], "buy" if f[2] > 0 else "sell") for k, f in lv_by.items()}
    orders_bt = {(k[0], k[1], "buy" if f[2] > 0 else "sell") for k, f in bt_by.items()}
    for o in sorted(orders_bt - orders_live):
        diffs.append(f"order {when(o[0])} {o[1]} {o[2]}: executed in the backtest, not live")
    for o in sorted(orders_live - orders_bt):
        diffs.append(f"order {when(o[0])} {o[1]} {o[2]}: executed live, not in the backtest")
    for key in sorted(set(bt_by) & set(lv_by)):
        bf, lf = bt_by[key], lv_by[key]
        for name, i in (("quantity", 2), ("price", 3), ("fees", 4)):
            x, y = float(bf[i]), float(lf[i])
            if not _close(x, y):
                diffs.append(f"fill {when(key[0])} {key[1]}: {name} live {y!r}, backtest {x!r}")
    for cid, state, reason in unsent:
        diffs.append(f"order {cid}: {state} live ({reason})")

    eq_live = {int(ns_of(r[0]) or 0): float(r[1]) for r in eq_rows}
    before = [t for t in ts[first:] if t < lo]
    in_day = [i for i, t in enumerate(ts) if lo <= t < hi]
    start_bt = float(sim.equity[first + len(before) - 1]) if before else float(row.initial_cash)
    end_bt = float(sim.equity[in_day[-1]])
    start_lv = eq_live.get(int(before[-1])) if before else float(row.initial_cash)
    end_lv = eq_live.get(int(ts[in_day[-1]]))
    pnl_bt = end_bt - start_bt
    pnl_lv = None if start_lv is None or end_lv is None else end_lv - start_lv
    if pnl_lv is None or (not _close(pnl_lv, pnl_bt) and abs(pnl_lv - pnl_bt) > 1e-6):
        diffs.append(f"P&L on {date}: live {pnl_lv!r}, backtest {pnl_bt!r}")
    if end_lv is None or not (_close(end_lv, end_bt) or abs(end_lv - end_bt) <= 1e-6):
        diffs.append(f"equity at the end of {date}: live {end_lv!r}, backtest {end_bt!r}")
    identical = not diffs
    summary = (
        f"session {session} on {date}: "
        + ("identical to the backtest" if identical else f"{len(diffs)} difference(s)")
        + f" ({len(lv_fills)} live fill(s), {len(bt_fills)} backtest fill(s), P&L live "
        + (f"{pnl_lv:,.2f}" if pnl_lv is not None else "n/a")
        + f", backtest {pnl_bt:,.2f})"
    )
    return {
        "session": session,
        "date": date,
        "identical": identical,
        "bars": len(in_day),
        "orders": {"live": len(orders_live), "backtest": len(orders_bt)},
        "fills": {"live": len(lv_fills), "backtest": len(bt_fills)},
        "pnl": {"live": pnl_lv, "backtest": pnl_bt},
        "equity": {"live": end_lv, "backtest": end_bt},
        "differences": diffs,
        "summary": summary,
    }


def report_parity(report: dict[str, Any], *, parent_id: str | None = None) -> bool:
    """Report a parity result as a status component ``parity:{session}:{date}``."""
    metrics = {k: report[k] for k in ("bars",)}
    for group in ("orders", "fills", "pnl"):
        for side, v in report[group].items():
            metrics[f"{group}_{side}"] = v if not isinstance(v, float) or math.isfinite(v) else None
    metrics["differences"] = len(report["differences"])
    return status.report(
        f"parity:{report['session']}:{report['date']}",
        kind="parity",
        name=f"parity {report['session']} {report['date']}",
        state="success" if report["identical"] else "failed",
        progress=1.0,
        message=report["summary"],
        metrics=metrics,
        attrs={
            "session": report["session"],
            "date": report["date"],
            "differences": report["differences"][:20],
        },
        parent_id=parent_id,
        heartbeat_interval=86_400.0,
    )


def sessions_on(settings: Settings, date: str) -> list[str]:
    """Return the sessions that took bars on ``date``, each by its own bounds for the date
    (as :func:`check_parity` selects them)."""
    _day_bounds(date, "1d", 0)  # a bad date fails here, naming it
    conn = connect(settings)
    try:
        rows = sorted(session_rows(conn), key=lambda r: r.id)
        with conn.cursor() as cur:
            found = []
            for row in rows:
                lo, hi = session_bounds(row, date)
                cur.execute(
                    "SELECT EXISTS (SELECT 1 FROM live_bar WHERE session = %s AND ts >= %s "
                    "AND ts < %s)",
                    (row.id, ts_of(lo), ts_of(hi)),
                )
                if cur.fetchone()[0]:  # type: ignore[index]
                    found.append(row.id)
            return found
    finally:
        conn.close()
