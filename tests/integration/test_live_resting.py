"""Limit and stop orders that rest across bars, live against the backtest on a real PostgreSQL:
the same fills on us, cn and crypto; cancels and replacements through the order journal; a
kill -9 between a cancel and its replacement changes nothing and sends nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.config import Settings
from easyquant.live.bars import History
from easyquant.live.journal import Store
from easyquant.live.service import LiveService, SessionConfig
from easyquant.strategy.registry import make_strategy
from tests.conftest import REPO
from tests.integration import test_live_service
from tests.unit.live.support import check_ledger, one, rows

SYMBOLS = ["AAA", "BBB"]  # as in the lake
lake = test_live_service.lake  # the same synthetic lake (a fixture)
live_fills = test_live_service.live_fills
STRATEGY = "tests.integration.resting_strategy:Resting"


def config(session: str, **kw) -> SessionConfig:
    base = dict(
        session=session,
        strategy=STRATEGY,
        symbols=SYMBOLS,
        commission=0.001,
        start="2020-01-01",
        end="2020-12-31",
        heartbeat=0.5,
    )
    base.update(kw)
    return SessionConfig(**base)


def backtest_of(settings: Settings, cfg: SessionConfig):
    """The session's bars through the backtester, with the session's settings."""
    store = Store(settings, cfg.session)
    store.connect()
    hist = History(SYMBOLS)
    hist.extend(store.load_events())
    store.close()
    data = hist.bars()
    bt = run_backtest(
        make_strategy(cfg.strategy, cfg.params),
        data,
        BacktestConfig(cash=cfg.cash, market=cfg.profile(), fill=cfg.fill),
    )
    f = bt.sim.fills
    fills = sorted(
        (
            (int(data.index.asi8[b]), SYMBOLS[s], float(q), float(p), float(fe))
            for b, s, q, p, fe in zip(
                f["bar"], f["symbol"], f["quantity"], f["price"], f["fees"], strict=True
            )
        ),
        key=lambda x: (x[0], x[1]),
    )
    return bt, fills


def resting_facts(db, session: str) -> dict[str, int]:
    """How often orders kept working, filled later, were cancelled or expired."""
    return {
        "filled_later": one(
            db,
            "SELECT count(DISTINCT o.client_order_id) FROM live_order o JOIN live_fill f USING "
            "(client_order_id) WHERE o.session = %s AND f.bar_ts > o.bar_ts",
            session,
        ),
        "cancelled": one(
            db,
            "SELECT count(*) FROM live_order WHERE session = %s AND cancel_requested_at IS NOT "
            "NULL",
            session,
        ),
        "expired": one(
            db,
            "SELECT count(*) FROM live_order WHERE session = %s AND reason = 'day order expired'",
            session,
        ),
    }


@pytest.mark.parametrize(
    ("market", "fill"),
    [("us", "next_open"), ("cn", "next_open"), ("crypto", "next_open"), ("us", "close")],
)
def test_resting_orders_live_equal_the_backtest(lake, db, market, fill):
    name = f"rest_{market}_{fill}"
    cfg = config(name, market=market, fill=fill)
    assert LiveService(cfg, lake).run() == "success"
    check_ledger(db, name)  # cash and positions as the fills say; nothing sent twice
    bt, expected = backtest_of(lake, cfg)
    got = live_fills(db, name)
    assert len(expected) > 10
    assert bt.sim.rested > 5
    assert got == expected
    assert one(db, "SELECT equity FROM live_session WHERE id = %s", name) == pytest.approx(
        bt.final_equity, rel=1e-12
    )
    facts = resting_facts(db, name)
    assert facts["filled_later"] > 0 and facts["cancelled"] > 0 and facts["expired"] > 0, facts
    # every cancel reached the venue once
    assert (
        rows(
            db,
            "SELECT client_order_id FROM paper_cancel WHERE account = %s GROUP BY "
            "client_order_id HAVING count(*) > 1",
            name,
        )
        == []
    )


def _spawn(settings: Settings, session: str, crash: str | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["EASYQUANT_DATABASE_URL"] = settings.dsn()
    env["EASYQUANT_HOME"] = str(settings.home)
    env.pop("EASYQUANT_LIVE_CRASH", None)
    if crash:
        env["EASYQUANT_LIVE_CRASH"] = crash
    args = ["--strategy", STRATEGY, "--symbols", ",".join(SYMBOLS), "--commission", "0.001"]
    args += ["--start", "2020-01-01", "--end", "2020-12-31", "--speed", "max"]
    return subprocess.Popen(
        [sys.executable, "-m", "easyquant.cli", "live", "--session", session, *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@pytest.mark.slow
def test_a_kill_between_a_cancel_and_its_replacement_changes_nothing(lake, db):
    session = "rest_crash"
    # killed after a cancel's intent is journalled (not sent), after it reached the venue but
    # before the replacement was sized and sent, and after a working order was tried
    crashes = ("after_cancel_write:2", "after_cancel:3", "after_cancel_write:4", "after_poll:6")
    for crash in crashes:
        proc = _spawn(lake, session, crash)
        try:
            code = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        assert code == -signal.SIGKILL, proc.stderr.read().decode()[-3000:]  # type: ignore
    proc = _spawn(lake, session, None)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-3000:]  # type: ignore
    assert one(db, "SELECT state FROM live_session WHERE id = %s", session) == "success"

    check_ledger(db, session)  # no order sent twice; cash and positions as the fills say
    assert (
        rows(
            db,
            "SELECT client_order_id FROM paper_cancel WHERE account = %s GROUP BY "
            "client_order_id HAVING count(*) > 1",
            session,
        )
        == []
    )
    # the same fills as an uninterrupted session, and as the backtest
    cfg = config(session)
    _bt, expected = backtest_of(lake, cfg)
    assert live_fills(db, session) == expected
    ref = config("rest_ref")
    assert LiveService(ref, lake).run() == "success"
    assert live_fills(db, "rest_ref") == expected
    assert resting_facts(db, session)["cancelled"] == resting_facts(db, "rest_ref")["cancelled"]
