"""Each risk limit halts the session at the order (or bar) that would breach it: the order is
refused and never sent, the breach shows in status, and flatten_on_breach closes positions."""

from __future__ import annotations

import pytest

from easyquant.live.service import LiveService, SessionConfig
from tests.unit.live.support import THRESHOLD, ListFeed, bar, check_ledger, event, one, rows


def run(pg_settings, name: str, events, risk, **params) -> LiveService:
    cfg = SessionConfig(
        session=name,
        strategy=THRESHOLD,
        symbols=["AAA", "BBB"],
        params=params or {"weight": 0.8},
        heartbeat=0.3,
        risk=risk,
    )
    svc = LiveService(cfg, pg_settings, feed=ListFeed(events))
    assert svc.run() == "success"
    return svc


def up(days: int = 4):
    """Both symbols above the threshold from day 0: buy both at day 1's open (40k each)."""
    return [event(bar("AAA", d, 110), bar("BBB", d, 120)) for d in range(days)]


def assert_breach(db, name: str, limit: str) -> None:
    halted, reason = one(db, "SELECT halted, halt_reason FROM live_session WHERE id = %s", name)
    assert halted is True and limit in reason, reason
    kinds = [
        r[0] for r in rows(db, "SELECT kind FROM live_event WHERE session = %s ORDER BY id", name)
    ]
    assert "breach" in kinds and "halt" in kinds
    comp = one(db, "SELECT row_to_json(c) FROM component c WHERE id = %s", f"live:{name}")
    assert comp["metrics"]["halted"] is True and limit in comp["metrics"]["halt_reason"]
    events = [
        r[0]
        for r in rows(
            db,
            "SELECT message FROM component_event WHERE component_id = %s ORDER BY id",
            f"live:{name}",
        )
    ]
    assert any(m.startswith("halted: risk limit breached: " + limit) for m in events), events
    check_ledger(db, name)


@pytest.mark.parametrize(
    ("limit", "value", "sent"),
    [
        ("max_order_value", 30_000.0, 0),  # each buy is ~40k: the first is refused
        ("max_position_value", 35_000.0, 0),
        ("max_gross_exposure", 60_000.0, 1),  # the first buy fits, the second would not
    ],
)
def test_order_limits_refuse_the_order_and_halt(pg_settings, db, limit, value, sent):
    name = f"risk_{limit}"
    run(pg_settings, name, up(), {limit: value})
    assert_breach(db, name, limit)
    orders = rows(
        db,
        "SELECT symbol, state, reason FROM live_order WHERE session = %s "
        "ORDER BY bar_ts, pass, symbol",
        name,
    )
    refused = [o for o in orders if o[1] == "risk_rejected"]
    assert len(refused) == 1 and limit in refused[0][2]
    assert sum(1 for o in orders if o[1] == "filled") == sent
    assert one(db, "SELECT count(*) FROM paper_submission WHERE account = %s", name) == sent
    # halted: nothing was sent on the later bars either
    assert (
        one(
            db, "SELECT count(*) FROM live_order WHERE session = %s AND bar_ts > '2024-01-03'", name
        )
        == 0
    )


def test_limits_below_the_orders_let_trading_go_on(pg_settings, db):
    name = "risk_roomy"
    run(
        pg_settings,
        name,
        up(),
        {
            "max_order_value": 50_000.0,
            "max_position_value": 50_000.0,
            "max_gross_exposure": 100_000.0,
            "max_daily_loss": 5_000.0,
        },
    )
    assert one(db, "SELECT halted FROM live_session WHERE id = %s", name) is False
    assert (
        one(db, "SELECT count(*) FROM live_order WHERE session = %s AND state = 'filled'", name)
        == 2
    )


def test_daily_loss_halts_and_flattens_when_asked(pg_settings, db):
    # bought at 110 / 120 on day 1; day 2 closes 20% lower: ~16k lost against a 5k limit
    events = [*up(2), event(bar("AAA", 2, 110, 111, 88, 88), bar("BBB", 2, 120, 121, 96, 96))]
    events += [
        event(bar("AAA", 3, 101), bar("BBB", 3, 102)),
        event(bar("AAA", 4, 130), bar("BBB", 4, 130)),
    ]
    name = "risk_loss"
    run(pg_settings, name, events, {"max_daily_loss": 5_000.0, "flatten_on_breach": True})
    assert_breach(db, name, "max_daily_loss")
    assert one(db, "SELECT halted_at IS NOT NULL FROM live_session WHERE id = %s", name)
    flat = rows(
        db,
        "SELECT symbol, side, state, bar_ts::date::text FROM live_order WHERE "
        "session = %s AND phase = 'x' ORDER BY symbol",
        name,
    )
    assert flat == [
        ("AAA", "sell", "filled", "2024-01-05"),
        ("BBB", "sell", "filled", "2024-01-05"),
    ]
    assert not [
        q for (q,) in rows(db, "SELECT quantity FROM live_position WHERE session = %s", name) if q
    ]
    # day 4 is above the threshold again, but the session stays halted: nothing bought
    assert (
        one(
            db, "SELECT count(*) FROM live_order WHERE session = %s AND bar_ts > '2024-01-05'", name
        )
        == 0
    )


def test_bad_limits_are_refused(pg_settings):
    from easyquant.errors import ConfigError

    for risk, needle in (
        ({"max_order_value": -1}, "max_order_value"),
        ({"max_daily_loss": "lots"}, "max_daily_loss"),
        ({"max_leverage": 2}, r"unknown field\(s\) max_leverage"),
    ):
        with pytest.raises(ConfigError, match=needle):
            SessionConfig(session="r", strategy=THRESHOLD, symbols=["AAA"], risk=risk).validate()
