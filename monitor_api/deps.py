"""Dependencies shared by the routers: settings, the bridge, database connections, the token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg2.extensions
from fastapi import Depends, HTTPException, Request, WebSocket, status
from starlette.requests import HTTPConnection

from easyquant.config import Settings
from easyquant.db import connect
from monitor_api.bridge import StatusBridge
from monitor_api.security import bearer, offered_subprotocols, subprotocol_token, token_matches


def get_settings(request: HTTPConnection) -> Settings:
    return request.app.state.settings


def get_bridge(request: HTTPConnection) -> StatusBridge:
    return request.app.state.bridge


def get_db(request: Request) -> Iterator[psycopg2.extensions.connection]:
    """Open a connection for one request and close it after."""
    from easyquant.errors import DatabaseError

    try:
        conn = connect(request.app.state.settings, application_name="easyquant-api")
    except DatabaseError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    try:
        yield conn
    finally:
        conn.close()


def require_token(request: Request) -> None:
    """Refuse the request with 401 when a token is configured and not presented correctly
    (``security.Guard`` checks first, before the body is read; this keeps a route safe when
    it is mounted without the guard)."""
    settings: Settings = request.app.state.settings
    if not token_matches(settings, bearer(request.headers.get("authorization"))):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token: send 'Authorization: Bearer <EASYQUANT_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def websocket_token(ws: WebSocket) -> str | None:
    """The token from the ``Authorization`` header or a ``bearer.<base64url>`` subprotocol;
    never from the URL."""
    return bearer(ws.headers.get("authorization")) or subprotocol_token(
        offered_subprotocols(ws.headers)
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
BridgeDep = Annotated[StatusBridge, Depends(get_bridge)]
DbDep = Annotated[psycopg2.extensions.connection, Depends(get_db)]
