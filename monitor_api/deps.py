"""Dependencies shared by the routers: settings, the bridge, database connections, the token."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

import psycopg2.extensions
from fastapi import Depends, HTTPException, Request, WebSocket, status
from starlette.requests import HTTPConnection

from easyquant.config import Settings
from easyquant.db import connect
from monitor_api.bridge import StatusBridge


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


def token_ok(settings: Settings, presented: str | None) -> bool:
    """Return True when no token is configured or ``presented`` matches it."""
    if settings.api_token is None:
        return True
    if not presented:
        return False
    return secrets.compare_digest(
        presented.encode(), settings.api_token.get_secret_value().encode()
    )


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def require_token(request: Request) -> None:
    """Refuse the request with 401 when a token is configured and not presented correctly."""
    settings: Settings = request.app.state.settings
    if not token_ok(settings, _bearer(request.headers.get("authorization"))):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token: send 'Authorization: Bearer <EASYQUANT_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def websocket_token(ws: WebSocket) -> str | None:
    return _bearer(ws.headers.get("authorization")) or ws.query_params.get("token")


SettingsDep = Annotated[Settings, Depends(get_settings)]
BridgeDep = Annotated[StatusBridge, Depends(get_bridge)]
DbDep = Annotated[psycopg2.extensions.connection, Depends(get_db)]
