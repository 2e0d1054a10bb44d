"""The Live view on a session run by easyquant.live: equity chart, positions, fills, risk
limits; halt and resume through the page with the token."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser.conftest import TOKEN, doc_shot
from tests.e2e.browser.seed import seed_live

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def session(stack) -> str:
    return seed_live(stack.settings)


def get_session(stack, name: str) -> dict:
    r = httpx.get(f"{stack.url}/api/live/sessions/{name}", headers=AUTH, timeout=30)
    r.raise_for_status()
    return r.json()


def test_live_view_shows_the_session_and_halts_and_resumes_it(stack, session, open_page) -> None:
    s = get_session(stack, session)
    assert s["state"] == "success" and not s["halted"]
    p = open_page()
    page = p.page
    page.on("dialog", lambda d: d.accept())  # "Halt session …?" confirmation
    p.goto(stack.url, "/live")
    card = page.locator(f"article.session[data-session='{session}']")
    card.wait_for()
    card.locator("canvas").first.wait_for()
    box = card.locator("canvas").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    text = card.inner_text()
    assert "sma_cross" in text and "DASHA" in text
    positions = card.locator("h4:text('Positions') + .table-wrap tbody tr[data-id]")
    assert positions.count() == len(s["positions"])
    for pos in s["positions"]:
        assert card.locator(f"tr[data-id='{pos['symbol']}']").count() == 1
    assert "max order value" in text
    fills = card.locator("h4:text('Recent fills') + .table-wrap tbody tr")
    assert fills.count() == len(s["recent_fills"]) > 0
    doc_shot(p, "live")

    card.locator("button", has_text="Halt").click()
    card.locator("button", has_text="Resume").wait_for()
    halted = get_session(stack, session)
    assert halted["halted"] is True
    assert "Halted" in card.inner_text()
    assert card.get_attribute("class") is not None and "card-failed" in card.get_attribute("class")
    card.locator("button", has_text="Resume").click()
    card.locator("button", has_text="Halt").wait_for()
    assert get_session(stack, session)["halted"] is False
    assert [e["kind"] for e in get_session(stack, session)["risk"]["breaches"][:2]] == [
        "resume",
        "halt",
    ]
    p.assert_no_console_errors()


def test_halt_with_a_wrong_token_is_refused_and_changes_nothing(stack, session) -> None:
    url = f"{stack.url}/api/live/sessions/{session}/halt"
    r = httpx.post(url, json={}, headers={"Authorization": "Bearer wrong"}, timeout=30)
    assert r.status_code == 401
    assert get_session(stack, session)["halted"] is False
