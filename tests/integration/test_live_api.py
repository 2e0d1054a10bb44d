"""monitor_api's live routes against a real PostgreSQL: sessions, equity, halt / resume with the
token guard, 404s, and the OpenAPI description."""

from __future__ import annotations

import httpx
import pytest

from easyquant.config import load_settings
from easyquant.live.service import LiveService, SessionConfig
from tests.conftest import LiveServer
from tests.unit.live.support import ListFeed, bar, event, one

TOKEN = "s3cret-token-for-tests"


@pytest.fixture()
def session(db, pg_settings):
    # buys both symbols at day 1's open; the last close marks them
    events = [event(bar("AAA", d, 110 + d), bar("BBB", d, 120 + d)) for d in range(4)]
    cfg = SessionConfig(
        session="api1",
        strategy="tests.unit.live.support:Threshold",
        symbols=["AAA", "BBB"],
        params={"weight": 0.8},
        heartbeat=0.3,
        risk={"max_order_value": 90_000.0},
    )
    assert LiveService(cfg, pg_settings, feed=ListFeed(events)).run() == "success"
    return "api1"


@pytest.fixture()
def api(pg_settings):
    with LiveServer(pg_settings) as server:
        yield server


@pytest.fixture()
def guarded_api(pg_settings):
    settings = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, api_token=TOKEN
    )
    with LiveServer(settings) as server:
        yield server


def test_sessions_list_has_the_shape_the_dashboard_expects(session, api, db):
    r = httpx.get(f"{api.url}/api/live/sessions")
    assert r.status_code == 200
    sessions = r.json()["sessions"]
    assert [s["session"] for s in sessions] == ["api1"]
    s = sessions[0]
    assert s["strategy"] == "tests.unit.live.support:Threshold"
    assert s["symbols"] == ["AAA", "BBB"] and s["state"] == "success" and s["halted"] is False
    cash = one(db, "SELECT cash FROM live_session WHERE id = 'api1'")
    assert s["cash"] == pytest.approx(cash)
    pos = {p["symbol"]: p for p in s["positions"]}
    assert set(pos) == {"AAA", "BBB"}
    assert pos["AAA"]["market_value"] == pytest.approx(pos["AAA"]["quantity"] * 113)
    assert pos["AAA"]["avg_price"] == pytest.approx(111)
    assert s["equity"] == pytest.approx(cash + sum(p["market_value"] for p in pos.values()))
    assert s["open_orders"] == []
    assert {f["symbol"] for f in s["recent_fills"]} == {"AAA", "BBB"}
    assert s["risk"]["limits"]["max_order_value"] == 90_000.0
    assert s["risk"]["limits"]["max_daily_loss"] is None and s["risk"]["breaches"] == []

    eq = httpx.get(f"{api.url}/api/live/sessions/api1/equity").json()["points"]
    assert len(eq) == 4 and eq[0]["equity"] == pytest.approx(100_000.0)
    assert eq[-1]["equity"] == pytest.approx(s["equity"])
    assert httpx.get(f"{api.url}/api/live/sessions/nope/equity").status_code == 404


def test_halt_and_resume_need_the_token_and_404_for_unknown(session, guarded_api, db):
    url = guarded_api.url
    assert httpx.get(f"{url}/api/live/sessions").status_code == 401
    assert httpx.post(f"{url}/api/live/sessions/api1/halt", json={}).status_code == 401
    assert one(db, "SELECT halted FROM live_session WHERE id = 'api1'") is False
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(
        f"{url}/api/live/sessions/api1/halt", json={"reason": "desk", "flatten": True}, headers=auth
    )
    assert r.status_code == 200 and r.json()["halted"] is True
    assert one(db, "SELECT halted AND flatten_requested FROM live_session WHERE id = 'api1'")
    s = httpx.get(f"{url}/api/live/sessions", headers=auth).json()["sessions"][0]
    assert s["halted"] and s["halt_reason"] == "desk"
    assert s["risk"]["breaches"][0]["kind"] == "halt"
    r = httpx.post(f"{url}/api/live/sessions/api1/resume", headers=auth)
    assert r.status_code == 200 and r.json()["halted"] is False
    assert (
        one(db, "SELECT halted OR flatten_requested FROM live_session WHERE id = 'api1'") is False
    )
    assert (
        httpx.post(f"{url}/api/live/sessions/ghost/halt", json={}, headers=auth).status_code == 404
    )
    assert httpx.post(f"{url}/api/live/sessions/ghost/resume", headers=auth).status_code == 404
    bad = httpx.post(f"{url}/api/live/sessions/api1/halt", json={"flatten": "maybe"}, headers=auth)
    assert bad.status_code == 422 and "flatten" in bad.text
    assert one(db, "SELECT halted FROM live_session WHERE id = 'api1'") is False
    # an unknown (mistyped) field is refused, naming it, and halts nothing
    typo = httpx.post(
        f"{url}/api/live/sessions/api1/halt", json={"reason": "x", "flaten": True}, headers=auth
    )
    assert typo.status_code == 422 and "flaten" in typo.text, typo.text
    assert one(db, "SELECT halted FROM live_session WHERE id = 'api1'") is False


def test_openapi_describes_the_live_routes(api):
    spec = httpx.get(f"{api.url}/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/live/sessions",
        "/api/live/sessions/{session}/equity",
        "/api/live/sessions/{session}/halt",
        "/api/live/sessions/{session}/resume",
    ):
        assert path in paths, path
    ok = paths["/api/live/sessions"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/SessionList")
    fields = spec["components"]["schemas"]["LiveSession"]["properties"]
    assert {
        "session",
        "strategy",
        "symbols",
        "state",
        "halted",
        "equity",
        "cash",
        "positions",
        "open_orders",
        "recent_fills",
        "risk",
    } <= set(fields)


def test_a_sessions_state_is_a_status_state_and_a_halt_is_a_flag(session, api, db):
    from psycopg2.errors import CheckViolation

    from easyquant.status import STATES

    comp = one(db, "SELECT state FROM component WHERE id = 'live:api1'")
    assert comp == one(db, "SELECT state FROM live_session WHERE id = 'api1'") == "success"
    for state in STATES:
        with db.cursor() as cur:
            cur.execute("UPDATE live_session SET state = %s WHERE id = 'api1'", (state,))
        db.rollback()
    for bad in ("finished", "halted"):
        with pytest.raises(CheckViolation), db.cursor() as cur:
            cur.execute("UPDATE live_session SET state = %s WHERE id = 'api1'", (bad,))
        db.rollback()
    r = httpx.post(f"{api.url}/api/live/sessions/api1/halt", json={"reason": "check"})
    assert r.status_code == 200 and r.json()["halted"] is True and r.json()["state"] == "success"
