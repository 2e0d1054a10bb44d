"""Limit and stop orders that rest across bars, live against the backtest on a real PostgreSQL:
the same fills on us, cn and crypto; cancels and replacements through the order journal; a
kill -9 between a cancel and its replacement changes nothing and sends nothing twice; under a
volume cap, the same partial fills, and a kill between partials changes nothing."""

from __future__ import annotations

import os
import signal

import pytest

from easyquant.live.service import LiveService, SessionConfig
from tests.integration import test_live_service
from tests.unit.live.support import (
    check_ledger,
    live_fills,
    one,
    replay_equals_backtest,
    rows,
    session_backtest,
    spawn_live,
)

SYMBOLS = ["AAA", "BBB"]  # as in the lake
lake = test_live_service.lake  # the same synthetic lake (a fixture)
STRATEGY = "tests.integration.resting_strategy:Resting"
CLI_ARGS = [
    *("--strategy", STRATEGY, "--symbols", ",".join(SYMBOLS), "--commission", "0.001"),
    *("--start", "2020-01-01", "--end", "2020-12-31", "--speed", "max"),
]


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


def parts_over_bars(db, session: str) -> int:  # type: ignore[no-untyped-def]
    """How many orders filled in parts on more than one bar."""
    return one(
        db,
        "SELECT count(*) FROM (SELECT client_order_id FROM live_fill WHERE session = %s "
        "GROUP BY client_order_id HAVING count(DISTINCT bar_ts) > 1) p",
        session,
    )


@pytest.mark.parametrize(
    ("market", "fill", "cap"),
    [
        ("us", "next_open", None),
        ("cn", "next_open", None),
        ("crypto", "next_open", None),
        ("us", "close", None),
        ("us", "next_open", 0.001),
        ("cn", "close", 0.001),
    ],
)
def test_resting_orders_live_equal_the_backtest(lake, db, market, fill, cap):
    name = f"rest_{market}_{fill}" + ("_capped" if cap else "")
    cfg = config(name, market=market, fill=fill, max_volume_fraction=cap)
    bt, _fills = replay_equals_backtest(lake, db, cfg)
    assert bt.sim.rested > 5
    facts = resting_facts(db, name)
    assert facts["filled_later"] > 0 and facts["cancelled"] > 0 and facts["expired"] > 0, facts
    if cap:  # working orders filled in parts, each part a fill of its own
        assert bt.sim.rejects.get("volume limit", 0) > 5
        assert parts_over_bars(db, name) > 3
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


def crash_then_finish(lake, db, session: str, crashes: tuple[str, ...], args: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Run the session killed at each crash point in turn, then to its end."""
    for crash in crashes:
        proc = spawn_live(lake, session, args, crash)
        try:
            code = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        assert code == -signal.SIGKILL, proc.stderr.read().decode()[-3000:]  # type: ignore
    proc = spawn_live(lake, session, args)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-3000:]  # type: ignore
    assert one(db, "SELECT state FROM live_session WHERE id = %s", session) == "success"


@pytest.mark.slow
def test_a_kill_between_a_cancel_and_its_replacement_changes_nothing(lake, db):
    session = "rest_crash"
    # killed after a cancel's intent is journalled (not sent), after it reached the venue but
    # before the replacement was sized and sent, and after a working order was tried
    crashes = ("after_cancel_write:2", "after_cancel:3", "after_cancel_write:4", "after_poll:6")
    crash_then_finish(lake, db, session, crashes, CLI_ARGS)

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
    _bt, expected = session_backtest(lake, cfg)
    assert live_fills(db, session) == expected
    ref = config("rest_ref")
    assert LiveService(ref, lake).run() == "success"
    assert live_fills(db, "rest_ref") == expected
    assert resting_facts(db, session)["cancelled"] == resting_facts(db, "rest_ref")["cancelled"]


@pytest.mark.slow
def test_a_kill_between_partial_fills_changes_nothing(lake, db):
    session = "rest_cap_crash"
    # killed after an order is journalled (not sent), after the venue filled a part of it but
    # before that was recorded, and after a working order's later part was tried
    crashes = ("after_write_ahead:5", "after_submit:9", "after_poll:4", "after_record:20")
    crash_then_finish(lake, db, session, crashes, [*CLI_ARGS, "--max-volume-fraction", "0.001"])
    check_ledger(db, session)  # no order sent twice; cash and positions as the fills say
    cfg = config(session, max_volume_fraction=0.001)
    bt, expected = session_backtest(lake, cfg)
    assert bt.sim.rejects.get("volume limit", 0) > 5
    assert live_fills(db, session) == expected
    assert parts_over_bars(db, session) > 3
    ref = config("rest_cap_ref", max_volume_fraction=0.001)
    assert LiveService(ref, lake).run() == "success"
    assert live_fills(db, "rest_cap_ref") == expected
