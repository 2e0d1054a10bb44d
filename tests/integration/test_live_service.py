"""The live service on a real PostgreSQL: a replayed session whose ledger adds up and equals the
backtest, bad bars refused, halt / resume / flatten, the CLI, and bad input refused untouched."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.cli import main
from easyquant.execution.market import get_profile
from easyquant.live.service import LiveService, SessionConfig
from tests.unit.live.support import (
    THRESHOLD,
    ListFeed,
    QueueFeed,
    backtest_fills,
    bar,
    check_ledger,
    event,
    lake_fixture,
    live_fills,
    one,
    processed_day,
    replay_equals_backtest,
    rows,
    sma_replay,
    stored_bars,
    wait_until,
)

SYMBOLS = ["AAA", "BBB"]


lake = lake_fixture(SYMBOLS, end="2022-12-31")


def replay_config(session: str, **kw) -> SessionConfig:
    return sma_replay(session, **{"symbols": SYMBOLS, "end": "2021-12-31", "heartbeat": 0.5, **kw})


def test_replayed_session_adds_up_and_equals_the_backtest(lake, db, capsys):
    state = LiveService(replay_config("rp1"), lake).run()
    assert state == "success"
    ledger = check_ledger(db, "rp1")
    assert len(ledger["fills"]) > 40  # the strategy trades often: a real comparison

    # the backtester on the same bars (from the session's own record) gives the same fills
    data = stored_bars(lake, "rp1", SYMBOLS)
    assert len(data) == 505  # 2020 and 2021 XNYS sessions
    bt = run_backtest(
        "sma_cross",
        data,
        BacktestConfig(cash=100_000.0, market=get_profile("us", commission=0.001)),
        params={"fast": 3, "slow": 8},
    )
    expected = backtest_fills(bt, data, SYMBOLS)
    assert live_fills(db, "rp1") == expected
    assert one(db, "SELECT equity FROM live_session WHERE id = 'rp1'") == pytest.approx(
        bt.final_equity, rel=1e-12
    )
    # every order filled at once (market orders at the next open): ids are deterministic
    ids = [
        r[0]
        for r in rows(
            db, "SELECT client_order_id FROM live_order WHERE session = 'rp1' ORDER BY bar_ts"
        )
    ]
    assert ids[0].startswith("rp1-2020") and len(set(ids)) == len(ids)

    comp = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'live:rp1'")
    assert comp["kind"] == "live" and comp["state"] == "success", comp
    m = comp["metrics"]
    assert m["bars"] == 505 and m["equity"] == pytest.approx(bt.final_equity)
    assert m["latency_p99_ms"] is not None and m["orders_sent"] == len(ids)
    assert one(db, "SELECT state FROM live_session WHERE id = 'rp1'") == "success"

    # easyquant parity on a day with fills: identical
    day = str(np.datetime64(expected[len(expected) // 2][0], "ns").astype("datetime64[D]"))
    code = main(["parity", "--session", "rp1", "--date", day, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["identical"], out
    assert out["fills"]["live"] == out["fills"]["backtest"] >= 1
    assert out["pnl"]["live"] == pytest.approx(out["pnl"]["backtest"])
    comp = one(db, "SELECT row_to_json(c) FROM component c WHERE id = %s", f"parity:rp1:{day}")
    assert comp["kind"] == "parity" and comp["state"] == "success"


def test_parity_reports_differences_when_a_halt_changed_the_session(lake, db, capsys):
    # a gross exposure limit halts the session at its first buy: from then on it differs
    cfg = replay_config("rp2", risk={"max_gross_exposure": 10_000.0})
    assert LiveService(cfg, lake).run() == "success"
    assert one(db, "SELECT halted FROM live_session WHERE id = 'rp2'") is True
    first = rows(
        db,
        "SELECT bar_ts::date::text, reason FROM live_order WHERE session = 'rp2' "
        "AND state = 'risk_rejected' ORDER BY bar_ts LIMIT 1",
    )
    assert first and "max_gross_exposure" in first[0][1]
    code = main(["parity", "--session", "rp2", "--date", first[0][0]])
    out = capsys.readouterr().out
    assert code == 1
    assert "difference" in out and "executed in the backtest, not live" in out
    assert "risk_rejected" in out
    check_ledger(db, "rp2")


def test_parity_bad_input(lake, db, capsys):
    assert main(["parity", "--session", "nope", "--date", "2021-01-04"]) == 2
    assert "session 'nope'" in capsys.readouterr().err
    LiveService(replay_config("rp3", end="2020-03-31"), lake).run()
    assert main(["parity", "--session", "rp3", "--date", "2021-13-45"]) == 2
    assert "date:" in capsys.readouterr().err
    assert main(["parity", "--session", "rp3", "--date", "2020-01-04"]) == 2  # a Saturday
    assert "no bars on 2020-01-04" in capsys.readouterr().err


BAD = [
    ("duplicate", lambda: bar("AAA", 1, 101)),
    ("out of order", lambda: bar("AAA", 0, 150)),
    ("not a finite number", lambda: bar("AAA", 2, float("nan"), 150, 90, 140)),
    ("must be > 0", lambda: bar("AAA", 2, 0.0, 150, 0.0, 140)),
    ("high 90.0 < low 150.0", lambda: bar("AAA", 2, 140, 90, 150, 140)),
]


def test_bad_bars_are_refused_with_a_warning_and_never_traded_on(pg_settings, db):
    # close > 100 would make the threshold strategy buy: every bad bar says so; none is taken
    events = [event(bar("AAA", 0, 90)), event(bar("AAA", 1, 95))]
    events += [event(make()) for _, make in BAD]
    events += [event(bar("AAA", 2, 95)), event(bar("AAA", 3, 96))]
    cfg = SessionConfig(
        session="bad1", strategy=THRESHOLD, symbols=["AAA"], feed="replay", heartbeat=0.3
    )
    svc = LiveService(cfg, pg_settings, feed=ListFeed(events))
    assert svc.run() == "success"
    assert one(db, "SELECT count(*) FROM live_order WHERE session = 'bad1'") == 0
    assert one(db, "SELECT count(*) FROM paper_submission WHERE account = 'bad1'") == 0
    taken = [
        r[0] for r in rows(db, "SELECT close FROM live_bar WHERE session = 'bad1' ORDER BY ts")
    ]
    assert taken == [90, 95, 95, 96]
    msgs = [
        r[0]
        for r in rows(
            db,
            "SELECT message FROM live_event WHERE session = 'bad1' AND "
            "kind = 'bad_bar' ORDER BY id",
        )
    ]
    assert len(msgs) == len(BAD)
    for (why, _), msg in zip(BAD, msgs, strict=True):
        assert msg.startswith("refused bar AAA 2024-01-0") and why in msg, (why, msg)
    assert one(db, "SELECT bad_bars FROM live_session WHERE id = 'bad1'") == len(BAD)
    events_seen = rows(
        db,
        "SELECT message, metrics->>'bad_bars' FROM component_event WHERE "
        "component_id = 'live:bad1' AND message LIKE 'refused bar%%' ORDER BY id",
    )
    assert len(events_seen) == len(BAD) and events_seen[-1][1] == str(len(BAD))


def _run_in_thread(svc: LiveService) -> threading.Thread:
    t = threading.Thread(target=svc.run, daemon=True)
    t.start()
    return t


def test_halt_flatten_and_resume_through_the_cli(pg_settings, db, capsys):
    feed = QueueFeed()
    cfg = SessionConfig(
        session="hr1",
        strategy=THRESHOLD,
        symbols=["AAA", "BBB"],
        params={"weight": 0.8},
        heartbeat=0.3,
    )
    svc = LiveService(cfg, pg_settings, feed=feed)
    thread = _run_in_thread(svc)
    feed.push(event(bar("AAA", 0, 110), bar("BBB", 0, 120)))  # decide: hold both
    feed.push(event(bar("AAA", 1, 111), bar("BBB", 1, 121)))  # bought at this open
    wait_until(lambda: processed_day(db, "hr1", 1))
    held = dict(rows(db, "SELECT symbol, quantity FROM live_position WHERE session = 'hr1'"))
    assert held["AAA"] > 0 and held["BBB"] > 0

    assert main(["live", "halt", "--session", "hr1", "--flatten", "--reason", "test"]) == 0
    assert "halted" in capsys.readouterr().out
    feed.push(event(bar("AAA", 2, 112), bar("BBB", 2, 122)))  # flags read when stored
    wait_until(lambda: processed_day(db, "hr1", 2))
    feed.push(event(bar("AAA", 3, 113), bar("BBB", 3, 123)))  # flattened at this open
    wait_until(lambda: processed_day(db, "hr1", 3))
    flat = rows(
        db,
        "SELECT client_order_id, state FROM live_order WHERE session = 'hr1' AND "
        "phase = 'x' ORDER BY symbol",
    )
    assert [r[1] for r in flat] == ["filled", "filled"]
    assert flat[0][0] == "hr1-20240105T000000-x0-AAA"
    assert not [
        q
        for _, q in rows(db, "SELECT symbol, quantity FROM live_position WHERE session = 'hr1'")
        if q
    ]
    feed.push(event(bar("AAA", 4, 114), bar("BBB", 4, 124)))  # halted: nothing bought
    wait_until(lambda: processed_day(db, "hr1", 4))
    assert (
        one(db, "SELECT count(*) FROM live_order WHERE session = 'hr1' AND bar_ts > '2024-01-05'")
        == 0
    )
    status = json.loads(_cli(["live", "status", "--session", "hr1", "--json"], capsys))
    s = status["sessions"][0]
    assert s["halted"] and s["halt_reason"] == "test" and s["positions"] == []

    assert main(["live", "resume", "--session", "hr1"]) == 0
    capsys.readouterr()
    feed.push(event(bar("AAA", 5, 115), bar("BBB", 5, 125)))  # flags read: resumed
    wait_until(lambda: processed_day(db, "hr1", 5))
    feed.push(event(bar("AAA", 6, 116), bar("BBB", 6, 126)))  # the targets again
    wait_until(lambda: processed_day(db, "hr1", 6))
    held = dict(rows(db, "SELECT symbol, quantity FROM live_position WHERE session = 'hr1'"))
    assert held["AAA"] > 0 and held["BBB"] > 0
    feed.close()
    thread.join(timeout=20)
    assert not thread.is_alive()
    kinds = [
        r[0] for r in rows(db, "SELECT kind FROM live_event WHERE session = 'hr1' ORDER BY id")
    ]
    assert kinds[:3] == ["halt", "flatten", "resume"], kinds
    check_ledger(db, "hr1")


def _cli(args, capsys) -> str:
    assert main(args) == 0
    return capsys.readouterr().out


def test_restart_continues_after_the_last_bar(lake, db):
    cfg = replay_config("rs1", end="2020-06-30")
    assert LiveService(cfg, lake).run() == "success"
    n = one(db, "SELECT count(*) FROM live_bar WHERE session = 'rs1'")
    cfg2 = replay_config("rs1", end="2020-12-31")
    cfg2.end = "2020-12-31"
    # a stored session refuses a changed identity, naming the field ...
    with pytest.raises(Exception, match="params"):
        LiveService(replay_config("rs1", params={"fast": 4, "slow": 8}), lake).run()
    # ... and continues after its last bar otherwise (the period may grow)
    assert LiveService(cfg2, lake).run() == "success"
    m = one(db, "SELECT count(*) FROM live_bar WHERE session = 'rs1'")
    assert (
        m > n and one(db, "SELECT count(DISTINCT ts) FROM live_bar WHERE session = 'rs1'") == m // 2
    )
    whole = LiveService(replay_config("rs2", end="2020-12-31"), lake).run()
    assert whole == "success"
    a, b = check_ledger(db, "rs1"), check_ledger(db, "rs2")
    assert a == b


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--symbols", "AAA,bad sym"], "invalid symbol 'bad sym'"),
        (["--speed", "fast-ish"], "speed:"),
        (["--speed", "-3"], "speed:"),
        (["--market", "mars"], "unknown market 'mars'"),
        (["--feed", "telepathy"], "feed:"),
        (["--broker", "acme"], "broker:"),
        (["--fill", "later"], "fill:"),
        (["--max-order-value", "-5"], "max_order_value"),
        (["--param", "fast=x"], "parameter fast"),
        (["--param", "fast=40"], "fast (40) must be < slow (30)"),
        (["--cash", "0"], "cash:"),
        (["--session", "bad name!"], "session:"),
        (["--freq", "7x"], "freq:"),
    ],
)
def test_live_cli_refuses_bad_input_naming_the_field(lake, db, capsys, args, needle):
    base = {
        "--session": "cli1",
        "--strategy": "sma_cross",
        "--symbols": "AAA,BBB",
        "--feed": "replay",
        "--end": "2020-02-28",
    }
    argv = ["live"]
    given = dict(zip(args[::2], args[1::2], strict=True))
    for k, v in {**base, **given}.items():
        argv += [k, v]
    before = one(db, "SELECT count(*) FROM live_session")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert one(db, "SELECT count(*) FROM live_session") == before


def test_live_cli_unknown_session_and_missing_symbols(lake, db, capsys):
    assert main(["live", "halt", "--session", "ghost"]) == 2
    assert "session 'ghost': no such live session" in capsys.readouterr().err
    assert main(["live", "resume", "--session", "ghost"]) == 2
    assert main(["live", "--session", "ghost2"]) == 2
    assert "--strategy and --symbols" in capsys.readouterr().err
    assert main(["live", "--session", "nodata", "--strategy", "sma_cross", "--symbols", "ZZZ"]) == 2
    assert "symbol 'ZZZ'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("market", "fill", "extra"),
    [
        ("cn", "next_open", {}),  # lots of 100, T+1, price limits, stamp duty, minimum fee
        ("crypto", "next_open", {"slippage_bps": 5.0}),  # fractional quantities, no shorting
        ("us", "close", {}),  # decisions execute at the same bar's close
        ("us", "next_open", {"params": {"fast": 2, "slow": 4}, "cash": 3_000.0}),  # cash-bound
    ],
)
def test_live_equals_the_backtest_across_markets_and_fill_timing(lake, db, market, fill, extra):
    name = f"mk_{market}_{fill}_{len(extra)}"
    cfg = replay_config(name, market=market, fill=fill, **extra)
    replay_equals_backtest(lake, db, cfg)
