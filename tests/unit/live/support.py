"""Helpers for the live-trading tests: scripted feeds, a threshold strategy, ledger checks."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from easyquant.live.bars import BarEvent, LiveBar
from easyquant.strategy.base import Param, Strategy, SymbolBars
from tests.conftest import spawn_python, synthetic_lake

DAY = 86_400_000_000_000
T0 = int(pd.Timestamp("2024-01-02", tz="UTC").value)
#: the import path of ``Threshold``, as a session config names its strategy
THRESHOLD = f"{__name__}:Threshold"


class Threshold(Strategy):
    """Hold ``weight`` of equity while the close is above ``level``, nothing below it."""

    name = "threshold"
    level = Param(100.0, gt=0)
    weight = Param(0.5, ge=-2, le=2)

    def signal(self, bars: SymbolBars) -> np.ndarray:
        return np.where(bars.close > self.level, self.weight, 0.0)


def bar(
    symbol: str,
    day: int,
    o: float,
    h: float | None = None,
    lo: float | None = None,
    c: float | None = None,
    v: float = 1000.0,
) -> LiveBar:
    """A bar on day ``day`` after 2024-01-02 (defaults: flat at ``o``)."""
    c = o if c is None else c
    h = max(o, c) if h is None else h
    lo = min(o, c) if lo is None else lo
    return LiveBar(symbol, T0 + day * DAY, float(o), float(h), float(lo), float(c), float(v))


def event(*bars: LiveBar) -> BarEvent:
    return BarEvent(bars[0].ts, {b.symbol: b for b in bars})


class ListFeed:
    """A feed that yields given events (after ``after``), as fast as possible."""

    name = "list"
    paced = False

    def __init__(self, events: Sequence[BarEvent]) -> None:
        self._events = list(events)

    def events(self, *, after: int | None, stop: threading.Event) -> Iterator[BarEvent]:
        for ev in self._events:
            if stop.is_set():
                return
            if after is not None and ev.ts <= after:
                continue
            ev.received = time.perf_counter()
            yield ev


class QueueFeed:
    """A feed the test drives: ``push(event)``; ``close()`` ends it."""

    name = "queue"
    paced = True

    def __init__(self) -> None:
        self.q: queue.Queue[BarEvent | None] = queue.Queue()

    def push(self, ev: BarEvent) -> None:
        self.q.put(ev)

    def close(self) -> None:
        self.q.put(None)

    def events(self, *, after: int | None, stop: threading.Event) -> Iterator[BarEvent]:
        while not stop.is_set():
            try:
                ev = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            if ev is None:
                return
            ev.received = time.perf_counter()
            yield ev


def one(db: Any, sql: str, *args: Any) -> Any:
    with db.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    db.rollback()
    return None if row is None else (row[0] if len(row) == 1 else row)


def rows(db: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(sql, args)
        out = cur.fetchall()
    db.rollback()
    return out


def check_ledger(db: Any, session: str) -> dict[str, Any]:
    """Assert the ledger adds up and agrees with the paper venue's; return it for comparisons.

    Cash = initial cash - sum(fill value + fees); each position = sum of its fills; the venue's
    cash, positions and fills are the same; no client order id reached the venue twice; every
    fill's order was written before the venue received it.
    """
    initial, cash = one(db, "SELECT initial_cash, cash FROM live_session WHERE id = %s", session)
    flow = one(
        db,
        "SELECT COALESCE(sum(quantity * price + fees), 0) FROM live_fill WHERE session = %s",
        session,
    )
    assert cash == __import__("pytest").approx(initial - flow, rel=1e-12, abs=1e-6)
    by_fills = dict(
        rows(
            db,
            "SELECT symbol, sum(quantity) FROM live_fill WHERE session = %s GROUP BY symbol",
            session,
        )
    )
    positions = dict(
        rows(db, "SELECT symbol, quantity FROM live_position WHERE session = %s", session)
    )
    for sym in set(by_fills) | set(positions):
        assert abs(by_fills.get(sym, 0.0) - positions.get(sym, 0.0)) < 1e-9, sym
    venue_cash = one(db, "SELECT cash FROM paper_account WHERE account = %s", session)
    assert abs(venue_cash - cash) < 1e-6
    venue_pos = dict(
        rows(db, "SELECT symbol, quantity FROM paper_position WHERE account = %s", session)
    )
    for sym in set(venue_pos) | set(positions):
        assert abs(venue_pos.get(sym, 0.0) - positions.get(sym, 0.0)) < 1e-9, sym
    dup = rows(
        db,
        "SELECT client_order_id, count(*) FROM paper_submission WHERE account = %s "
        "GROUP BY client_order_id HAVING count(*) > 1",
        session,
    )
    assert dup == [], f"client order ids sent more than once: {dup}"
    late = rows(
        db,
        "SELECT p.client_order_id FROM paper_order p LEFT JOIN live_order o ON "
        "o.client_order_id = p.client_order_id WHERE p.account = %s AND "
        "(o.client_order_id IS NULL OR o.created_at > p.received_at)",
        session,
    )
    assert late == [], f"orders the venue received before they were written: {late}"
    fills = rows(
        db,
        "SELECT regexp_replace(client_order_id, '^[^-]+', ''), symbol, bar_ts, "
        "quantity, price, fees FROM live_fill WHERE session = %s ORDER BY bar_ts, "
        "symbol, client_order_id",
        session,
    )
    vfills = rows(
        db,
        "SELECT regexp_replace(client_order_id, '^[^-]+', ''), symbol, bar_ts, "
        "quantity, price, fees FROM paper_fill WHERE account = %s ORDER BY bar_ts, "
        "symbol, client_order_id",
        session,
    )
    assert fills == vfills
    orders = rows(
        db,
        "SELECT regexp_replace(client_order_id, '^[^-]+', ''), symbol, side, "
        "quantity, kind, state, filled_qty, reason FROM live_order WHERE session = %s "
        "ORDER BY bar_ts, phase, pass, symbol",
        session,
    )
    return {
        "cash": cash,
        "positions": {k: v for k, v in positions.items() if v},
        "fills": fills,
        "orders": orders,
    }


def live_fills(db: Any, session: str) -> list[tuple[Any, ...]]:
    """``session``'s stored fills as (bar ns, symbol, quantity, price, fees), by bar and symbol."""
    return [
        (int(np.datetime64(r[0].replace(tzinfo=None), "ns").astype(np.int64)), *r[1:])
        for r in rows(
            db,
            "SELECT bar_ts, symbol, quantity, price, fees FROM live_fill "
            "WHERE session = %s ORDER BY bar_ts, symbol",
            session,
        )
    ]


def stored_bars(settings: Any, session: str, symbols: Sequence[str]) -> Any:
    """The bars ``session`` recorded, as one frame the backtester takes."""
    from easyquant.live.bars import History
    from easyquant.live.journal import Store

    store = Store(settings, session)
    store.connect()
    hist = History(list(symbols))
    hist.extend(store.load_events())
    store.close()
    return hist.bars()


def backtest_fills(bt: Any, data: Any, symbols: Sequence[str]) -> list[tuple[Any, ...]]:
    """A backtest's fills in ``live_fills``' shape and order."""
    f = bt.sim.fills
    return sorted(
        (
            (int(data.index.asi8[b]), symbols[s], float(q), float(p), float(fe))
            for b, s, q, p, fe in zip(
                f["bar"], f["symbol"], f["quantity"], f["price"], f["fees"], strict=True
            )
        ),
        key=lambda x: (x[0], x[1]),
    )


def session_backtest(settings: Any, cfg: Any) -> tuple[Any, list[tuple[Any, ...]]]:
    """The bars session ``cfg`` recorded through the backtester with the session's strategy,
    parameters, cash, market (its instrument master rows too) and fill timing: (the result,
    its fills as ``backtest_fills``)."""
    from easyquant.backtest.config import BacktestConfig
    from easyquant.backtest.runner import run_backtest

    data = stored_bars(settings, cfg.session, cfg.symbols)
    bt = run_backtest(
        cfg.strategy,
        data,
        BacktestConfig(
            cash=cfg.cash,
            market=cfg.profile(),
            fill=cfg.fill,
            instruments=cfg.instruments(settings),
        ),
        params=cfg.params,
    )
    return bt, backtest_fills(bt, data, cfg.symbols)


def replay_equals_backtest(settings: Any, db: Any, cfg: Any) -> tuple[Any, list[tuple[Any, ...]]]:
    """Run session ``cfg`` to its end on ``settings``; check that its ledger adds up and that
    its fills and final equity are the backtest's on the bars it recorded (a real comparison:
    more than ten fills). Returns (the backtest result, the fills)."""
    import pytest

    from easyquant.live.service import LiveService

    assert LiveService(cfg, settings).run() == "success"
    check_ledger(db, cfg.session)  # cash and positions as the fills say; nothing sent twice
    bt, expected = session_backtest(settings, cfg)
    got = live_fills(db, cfg.session)
    assert len(expected) > 10
    assert got == expected
    equity = one(db, "SELECT equity FROM live_session WHERE id = %s", cfg.session)
    assert equity == pytest.approx(bt.final_equity, rel=1e-12)
    return bt, got


def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def processed_day(db: Any, session: str, day: int) -> bool:
    """Whether ``session`` has stored its bar of January ``2 + day``."""
    ts = one(db, "SELECT last_bar_ts FROM live_session WHERE id = %s", session)
    return ts is not None and ts.day == 2 + day


def cli_args(
    symbols: Sequence[str], *, end: str, heartbeat: str, commission: bool = True
) -> list[str]:
    """`easyquant live` options for the sma_cross (3/8) replay the CLI tests run from 2020."""
    return [
        *("--strategy", "sma_cross", "--symbols", ",".join(symbols)),
        *("--param", "fast=3", "--param", "slow=8"),
        *(("--commission", "0.001") if commission else ()),
        *("--start", "2020-01-01", "--end", end, "--heartbeat", heartbeat),
    ]


def spawn_live(
    settings: Any,
    session: str,
    args: Sequence[str],
    crash: str | None = None,
    *,
    stdout: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start `easyquant live` for ``session`` in its own process group against ``settings``'
    database and home; ``crash`` names a crash point (``hook:n``) the process stops itself at.
    Its stderr is piped, its stdout goes to ``stdout``."""
    env = dict(os.environ)
    env["EASYQUANT_DATABASE_URL"] = settings.dsn()
    env["EASYQUANT_HOME"] = str(settings.home)
    env.pop("EASYQUANT_LIVE_CRASH", None)
    if crash:
        env["EASYQUANT_LIVE_CRASH"] = crash
    return spawn_python(
        ["-m", "easyquant.cli", "live", "--session", session, *args], env, stdout=stdout
    )


def finished_session(settings: Any, session: str) -> str:
    """Store ``session``: the Threshold strategy on AAA over two bars, run to its end."""
    from easyquant.live.service import LiveService, SessionConfig

    cfg = SessionConfig(
        session=session,
        strategy=THRESHOLD,
        symbols=["AAA"],
        params={"weight": 0.5},
        heartbeat=0.3,
    )
    feed = ListFeed([event(bar("AAA", d, 100 + d)) for d in range(2)])
    assert LiveService(cfg, settings, feed=feed).run() == "success"
    return session


def sma_replay(session: str, **kw: Any) -> Any:
    """The sma_cross (3/8) replay from 2020 with 0.1% commission the ledger tests compare with
    the backtest; ``kw`` sets the symbols, the end and any other session option."""
    from easyquant.live.service import SessionConfig

    base: dict[str, Any] = dict(
        session=session,
        strategy="sma_cross",
        params={"fast": 3, "slow": 8},
        commission=0.001,
        start="2020-01-01",
    )
    base.update(kw)
    return SessionConfig(**base)


def lake_fixture(symbols: Sequence[str], *, end: str) -> Any:
    """A module-scoped ``lake`` fixture: ``synthetic_lake`` of ``symbols`` from 2020 to ``end``
    in the test database, yielding its settings."""
    import pytest

    @pytest.fixture(scope="module")
    def lake(pg_settings: Any) -> Any:
        synthetic_lake(pg_settings, symbols, ("2020-01-01", end), seed=3)
        return pg_settings

    return lake
