"""Operator halts against a real PostgreSQL and paper venue: a halt stops the very next order
(the write-ahead refuses it atomically), orders written before a crash are not sent once the
session was halted meanwhile (flatten orders still are), late and stale bars are refused
without stopping the session, and restarting a stored session applies the options given."""

from __future__ import annotations

import signal
import threading

import pytest

from easyquant.cli import main
from easyquant.live.service import LiveService, SessionConfig
from easyquant.live.sessions import halt_session
from tests.unit.live.support import (
    THRESHOLD,
    ListFeed,
    QueueFeed,
    bar,
    check_ledger,
    cli_args,
    event,
    lake_fixture,
    one,
    processed_day,
    rows,
    spawn_live,
    wait_until,
)

SYMBOLS = ["AAA", "BBB"]


lake = lake_fixture(SYMBOLS, end="2020-12-31")


def test_a_halt_stops_the_orders_of_the_very_next_bar(pg_settings, db, capsys):
    feed = QueueFeed()
    cfg = SessionConfig(
        session="hn1",
        strategy=THRESHOLD,
        symbols=SYMBOLS,
        params={"weight": 0.4},
        heartbeat=0.3,
    )
    svc = LiveService(cfg, pg_settings, feed=feed)
    thread = threading.Thread(target=svc.run, daemon=True)
    thread.start()
    try:
        feed.push(event(bar("AAA", 0, 90), bar("BBB", 0, 90)))  # below the level: nothing
        # above it: the strategy decides to buy both, at the next bar's open
        feed.push(event(bar("AAA", 1, 110), bar("BBB", 1, 120)))
        wait_until(lambda: processed_day(db, "hn1", 1))
        assert one(db, "SELECT count(*) FROM live_order WHERE session = 'hn1'") == 0

        assert main(["live", "halt", "--session", "hn1", "--reason", "desk"]) == 0
        capsys.readouterr()
        feed.push(event(bar("AAA", 2, 111), bar("BBB", 2, 121)))  # the buys would go here
        wait_until(lambda: processed_day(db, "hn1", 2))
        assert one(db, "SELECT count(*) FROM live_order WHERE session = 'hn1'") == 0
        assert one(db, "SELECT count(*) FROM paper_submission WHERE account = 'hn1'") == 0
        assert svc.om.halted and svc.halt_reason == "desk"
        feed.push(event(bar("AAA", 3, 112), bar("BBB", 3, 122)))
        wait_until(lambda: processed_day(db, "hn1", 3))
        assert one(db, "SELECT count(*) FROM live_order WHERE session = 'hn1'") == 0

        # resumed: the decision still stands and is carried out at the next open
        assert main(["live", "resume", "--session", "hn1"]) == 0
        capsys.readouterr()
        feed.push(event(bar("AAA", 4, 113), bar("BBB", 4, 123)))  # flags read: resumed
        wait_until(lambda: processed_day(db, "hn1", 4))
        feed.push(event(bar("AAA", 5, 114), bar("BBB", 5, 124)))
        wait_until(lambda: processed_day(db, "hn1", 5))
    finally:
        feed.close()
        thread.join(timeout=20)
    assert not thread.is_alive()
    filled = rows(
        db,
        "SELECT bar_ts::date::text, symbol FROM live_order WHERE session = 'hn1' "
        "AND state = 'filled' ORDER BY symbol",
    )
    assert [f[1] for f in filled] == ["AAA", "BBB"] and filled[0][0] >= "2024-01-06"
    check_ledger(db, "hn1")


def test_late_and_stale_bars_are_refused_and_the_session_goes_on(pg_settings, db):
    # BBB's day-1 bar arrives after day 2 was processed (AAA only), then BBB's day-2 bar
    # arrives on its own: neither may be traded on (close 150 > 100 would make it buy BBB)
    events = [
        event(bar("AAA", 0, 90), bar("BBB", 0, 90)),
        event(bar("AAA", 2, 91)),
        event(bar("BBB", 1, 150)),
        event(bar("BBB", 2, 150)),
        event(bar("AAA", 3, 92), bar("BBB", 3, 95)),
        event(bar("AAA", 4, 93), bar("BBB", 4, 96)),
    ]
    cfg = SessionConfig(session="late1", strategy=THRESHOLD, symbols=SYMBOLS, heartbeat=0.3)
    assert LiveService(cfg, pg_settings, feed=ListFeed(events)).run() == "success"
    assert one(db, "SELECT state FROM live_session WHERE id = 'late1'") == "success"
    assert one(db, "SELECT count(*) FROM live_order WHERE session = 'late1'") == 0
    taken = rows(
        db,
        "SELECT ts::date::text, symbol, close FROM live_bar WHERE session = 'late1' ORDER BY 1, 2",
    )
    assert ("2024-01-03", "BBB", 150.0) not in taken and ("2024-01-04", "BBB", 150.0) not in taken
    assert len(taken) == 7
    msgs = [
        r[0]
        for r in rows(
            db,
            "SELECT message FROM live_event WHERE session = 'late1' AND kind = 'bad_bar' "
            "ORDER BY id",
        )
    ]
    assert len(msgs) == 2, msgs
    assert msgs[0].startswith("refused bar BBB 2024-01-03") and "out of order" in msgs[0]
    assert msgs[1].startswith("refused bar BBB 2024-01-04") and "late" in msgs[1]
    assert one(db, "SELECT bad_bars FROM live_session WHERE id = 'late1'") == 2


ARGS = cli_args(SYMBOLS, end="2020-06-30", heartbeat="1", commission=False)


@pytest.mark.parametrize("flatten", [False, True])
def test_orders_written_before_a_crash_are_not_sent_after_a_halt(lake, db, flatten):
    name = f"hc_{int(flatten)}"
    # killed right after writing its second group of orders, before sending any of them
    proc = spawn_live(lake, name, ARGS, "after_write_ahead:2")
    assert proc.wait(timeout=120) == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    written = rows(
        db,
        "SELECT client_order_id FROM live_order WHERE session = %s AND state = 'new'",
        name,
    )
    assert written, "the crash point was not reached with an order written"
    held = [
        s
        for s, q in rows(db, "SELECT symbol, quantity FROM live_position WHERE session = %s", name)
        if q
    ]
    assert held  # the first group was bought

    # halted while the service was down
    halt_session(db, name, reason="desk, during the outage", flatten=flatten)
    proc = spawn_live(lake, name, ARGS)
    assert proc.wait(timeout=180) == 0, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]

    for (cid,) in written:
        state, reason = one(
            db, "SELECT state, reason FROM live_order WHERE client_order_id = %s", cid
        )
        assert (state, reason) == ("cancelled", "halted"), cid
        assert one(db, "SELECT count(*) FROM paper_submission WHERE client_order_id = %s", cid) == 0
    sent = [
        r[0]
        for r in rows(
            db,
            "SELECT o.phase FROM paper_submission p JOIN live_order o USING (client_order_id) "
            "WHERE p.account = %s AND o.created_at > (SELECT min(created_at) FROM live_order "
            "WHERE client_order_id = ANY(%s))",
            name,
            [c for (c,) in written],
        )
    ]
    left = [
        s
        for s, q in rows(db, "SELECT symbol, quantity FROM live_position WHERE session = %s", name)
        if q
    ]
    if flatten:
        # the flatten orders still went; nothing else did
        assert sent and set(sent) == {"x"}
        assert left == []
    else:
        assert sent == [] and sorted(left) == sorted(held)
    assert one(db, "SELECT halted FROM live_session WHERE id = %s", name) is True
    assert one(db, "SELECT state FROM live_session WHERE id = %s", name) == "success"
    check_ledger(db, name)


def test_restarting_a_session_applies_the_options_given(lake, db, capsys):
    base = ["live", "--session", "ro1"]
    assert main([*base, *ARGS[:-4], "--end", "2020-02-28", "--heartbeat", "0.5"]) == 0
    capsys.readouterr()
    first = one(db, "SELECT bars FROM live_session WHERE id = 'ro1'")
    # an identity field given differently is refused, naming it (seed picks the data)
    for opt, value, field in (("--seed", "7", "seed"), ("--fill", "close", "fill")):
        assert main([*base, opt, value]) == 2
        err = capsys.readouterr().err
        assert f"{field} is" in err and "use a new --session" in err, err
    # the rest is applied and stored: a longer period, a risk limit, another heartbeat
    assert (
        main([*base, "--end", "2020-04-30", "--max-daily-loss", "50000", "--heartbeat", "2"]) == 0
    )
    capsys.readouterr()
    config = one(db, "SELECT config FROM live_session WHERE id = 'ro1'")
    assert config["end"] == "2020-04-30" and config["heartbeat"] == 2.0
    assert config["risk"]["max_daily_loss"] == 50000.0
    assert config["params"] == {"fast": 3, "slow": 8} and config["seed"] == 42
    assert one(db, "SELECT bars FROM live_session WHERE id = 'ro1'") > first
    last = one(db, "SELECT last_bar_ts::date::text FROM live_session WHERE id = 'ro1'")
    assert last.startswith("2020-04")
    # a limit given later is merged with the stored ones, one by one
    assert main([*base, "--max-order-value", "60000"]) == 0
    capsys.readouterr()
    risk = one(db, "SELECT config->'risk' FROM live_session WHERE id = 'ro1'")
    assert risk["max_daily_loss"] == 50000.0 and risk["max_order_value"] == 60000.0
