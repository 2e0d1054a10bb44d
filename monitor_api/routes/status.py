"""Status routes: health, components and their events, and the /ws/status websocket."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, WebSocket

from easyquant import status_queries
from easyquant.status import State
from easyquant.status_queries import database_answers, fetch_components, public
from monitor_api.deps import BridgeDep, DbDep, SettingsDep, websocket_token
from monitor_api.security import SUBPROTOCOL, offered_subprotocols, token_matches

router = APIRouter(prefix="/api", tags=["status"])
MAX_COMPONENTS = 1000
ws_router = APIRouter()


@router.get("/health")
def health(bridge: BridgeDep, db: DbDep) -> dict[str, Any]:
    """Report whether the database answers, the listener's state and how many clients listen."""
    database = database_answers(db)
    ok = database and bridge.listener_state == "listening"
    return {
        "status": "ok" if ok else "degraded",
        "database": database,
        "listener": bridge.listener_state,
        "clients": len(bridge.clients),
    }


@router.get("/components")
def list_components(
    db: DbDep,
    kind: str | None = Query(default=None, pattern=r"^[a-z][a-z0-9_]{0,39}$"),
    state: State | None = None,
    limit: int = Query(default=200, ge=1, le=MAX_COMPONENTS, description="Components per page"),
    offset: int = Query(default=0, ge=0, le=10_000_000, description="Components to skip"),
) -> dict[str, Any]:
    """List components in the order they last changed (oldest first), optionally filtered by
    kind and state, a page at a time; ``total`` counts every match."""
    rows = fetch_components(db, kind=kind, state=state, limit=limit, offset=offset)
    total = status_queries.count_components(db, kind=kind, state=state)
    return {
        "components": [public(r) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/components/{component_id:path}/events")
def component_events(
    component_id: str, db: DbDep, limit: int = Query(default=200, ge=1, le=10_000)
) -> dict[str, Any]:
    """Return a component's event history, newest first."""
    _one(db, component_id)
    return {"events": status_queries.component_events(db, component_id, limit)}


@router.get("/components/{component_id:path}")
def get_component(component_id: str, db: DbDep) -> dict[str, Any]:
    """Return one component; 404 when unknown."""
    return public(_one(db, component_id))


def _one(db: Any, component_id: str) -> dict[str, Any]:
    rows = fetch_components(db, ids=[component_id])
    if not rows:
        raise HTTPException(404, f"no component with id {component_id!r}")
    return rows[0]


@ws_router.websocket("/ws/status")
async def ws_status(ws: WebSocket, bridge: BridgeDep, settings: SettingsDep) -> None:
    """Send a snapshot of every component, then updates as they change."""
    offered = offered_subprotocols(ws.headers)
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    if not token_matches(settings, websocket_token(ws)):
        await ws.close(code=1008, reason="missing or wrong API token")
        return
    if len(bridge.clients) >= settings.ws_max_clients:
        await ws.close(code=1013, reason="too many clients; try again later")
        return
    await bridge.serve(ws)
