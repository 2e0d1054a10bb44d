"""REST routes for live trading: sessions (positions, orders, fills, risk), equity curves, and
halt / resume (the service acts on its next bar).

Reads through ``easyquant.live.queries``; halt and resume (``easyquant.live.sessions``) only set
the session's flags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from easyquant.errors import NotFoundError
from easyquant.live import queries, sessions
from easyquant.status import State
from monitor_api.deps import DbDep

router = APIRouter(prefix="/api/live", tags=["live"])

SessionName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$",
        description="A live session name",
    ),
]


class Position(BaseModel):
    symbol: str
    quantity: float
    avg_price: float
    market_value: float = Field(description="quantity x the last close")


class Risk(BaseModel):
    limits: dict[str, Any] = Field(
        description="max_position_value, max_gross_exposure, "
        "max_order_value, max_daily_loss (null: none), "
        "flatten_on_breach"
    )
    breaches: list[dict[str, Any]] = Field(
        description="Recent breaches, halts and resumes, newest first: {at, kind, message, detail}"
    )


class LiveSession(BaseModel):
    session: str
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    market: str
    feed: str
    broker: str
    state: State = Field(
        description="queued, running, success (the feed ended), failed or stopped; a halt is "
        "the halted flag"
    )
    halted: bool
    halt_reason: str | None
    equity: float | None
    cash: float | None
    last_bar_time: str | None
    bars: int
    bad_bars: int
    positions: list[Position]
    open_orders: list[dict[str, Any]] = Field(
        description="Orders written and not yet answered by the venue"
    )
    recent_fills: list[dict[str, Any]] = Field(description="The last 20 fills, newest first")
    risk: Risk


class SessionList(BaseModel):
    sessions: list[LiveSession]


class EquityPoint(BaseModel):
    time: str
    equity: float


class EquityCurve(BaseModel):
    points: list[EquityPoint]


class HaltRequest(BaseModel):
    """Unknown fields are refused (422 naming the field): a mistyped ``flaten`` must not
    halt without flattening."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)
    flatten: bool = Field(default=False, description="Also close every position")


@router.get("/sessions", response_model=SessionList)
def list_sessions(db: DbDep) -> dict[str, Any]:
    """Every live session with its positions, open orders, recent fills and risk state."""
    return {"sessions": queries.list_sessions(db)}


def _known(read: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run ``read``; an unknown session is a 404 naming it."""
    try:
        return read(*args, **kw)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/sessions/{session}", response_model=LiveSession)
def get_session(session: SessionName, db: DbDep) -> dict[str, Any]:
    """One live session; 404 when unknown."""
    return _known(queries.get_session, db, session)


@router.get("/sessions/{session}/equity", response_model=EquityCurve)
def session_equity(session: SessionName, db: DbDep) -> dict[str, Any]:
    """The session's equity after every bar (thinned to about 5,000 points)."""
    return {"points": _known(queries.equity_points, db, session)}


@router.post("/sessions/{session}/halt", response_model=LiveSession)
def halt(
    session: SessionName, db: DbDep, body: Annotated[HaltRequest | None, Body()] = None
) -> dict[str, Any]:
    """Halt a session (optionally flattening); it stops sending orders from its next bar."""
    req = body or HaltRequest()
    return _known(sessions.halt_session, db, session, reason=req.reason, flatten=req.flatten)


@router.post("/sessions/{session}/resume", response_model=LiveSession)
def resume(session: SessionName, db: DbDep) -> dict[str, Any]:
    """Resume a halted session; it trades again from its next bar."""
    return _known(sessions.resume_session, db, session)
