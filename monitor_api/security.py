"""What stands between the network and the routes: exposure, hosts, origins, tokens, bodies.

- ``check_exposure``: the API refuses to start on a non-loopback address without a token.
- ``Guard`` (pure ASGI middleware, so it runs before any body is read):
  a ``Host`` header naming a host the API does not serve is refused (400: DNS rebinding);
  a state-changing request from a foreign ``Origin`` is refused (403: CSRF), as is one whose body
  is not ``application/json`` (415: a plain HTML form cannot send it); ``/api`` requests are
  authenticated before their body is read (401); a body over ``max_body_bytes`` is refused (413)
  whether it announces its length or streams; ``OPTIONS`` answers with the path's ``Allow``
  methods; a websocket from a foreign ``Origin`` or ``Host`` is refused before the handshake.
- Tokens travel in the ``Authorization`` header, or for a browser's websocket in a subprotocol
  ``bearer.<base64url(token)>`` beside ``easyquant``: never in a URL. ``RedactTokens`` masks a
  ``token=`` or ``ticket=`` query value that a client put in a URL anyway, in uvicorn's logs.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.routing import Match

from easyquant.config import Settings
from easyquant.errors import ConfigError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SUBPROTOCOL = "easyquant"
BEARER_PREFIX = "bearer."


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to serve a non-loopback address without ``EASYQUANT_API_TOKEN``, in any mode."""
    if settings.api_token is None and not is_loopback(settings.api_host):
        raise ConfigError(
            f"EASYQUANT_API_TOKEN: required when EASYQUANT_API_HOST is {settings.api_host!r} "
            "(not loopback): anyone who reaches it could halt, resume and trigger"
        )


def trusted_hosts(settings: Settings) -> frozenset[str]:
    """Host names the API answers: loopback names, ``api_host`` and ``allowed_hosts``."""
    hosts = set(LOOPBACK_NAMES)
    if settings.api_host not in ("0.0.0.0", "::", ""):
        hosts.add(settings.api_host.strip("[]").lower())
    hosts.update(h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip())
    return frozenset(hosts)


def host_name(header: str) -> str:
    """The host of a ``Host`` header or URL netloc, without port or IPv6 brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def same_origin(origin: str, host_header: str) -> bool:
    """True when ``origin`` (scheme://host[:port]) names the host and port the request reached."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.lower()


def token_matches(settings: Settings, presented: str | None) -> bool:
    """True when no token is configured or ``presented`` is it (constant-time)."""
    if settings.api_token is None:
        return True
    if not presented:
        return False
    return secrets.compare_digest(
        presented.encode(), settings.api_token.get_secret_value().encode()
    )


def bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def offered_subprotocols(headers: Headers) -> list[str]:
    raw = headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def subprotocol_token(offered: list[str]) -> str | None:
    """The token a browser sent as subprotocol ``bearer.<base64url(token)>``, if any."""
    for proto in offered:
        if proto.startswith(BEARER_PREFIX):
            encoded = proto[len(BEARER_PREFIX) :]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


class Guard:
    """Checks every request against ``settings`` before the app sees it (see the module doc)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = trusted_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        refusal = self._refusal(scope, headers, host)
        if refusal is not None:
            code, detail, extra = refusal
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": detail[:100]})
            else:
                await _respond(send, code, {"detail": detail}, extra)
            return
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            await self._options(scope, send)
            return
        if scope["type"] == "http":
            bounded = _Bounded(receive, send, self.settings.max_body_bytes)
            await self.app(scope, bounded, bounded.pass_on)
        else:
            await self.app(scope, receive, send)

    def _refusal(
        self, scope: Scope, headers: Headers, host: str
    ) -> tuple[int, str, dict[str, str]] | None:
        if host_name(host) not in self.hosts:
            return 400, "unknown Host header: set EASYQUANT_ALLOWED_HOSTS to serve it", {}
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            return 400, "the URL holds a NUL character", {}
        origin = headers.get("origin")
        unsafe = scope["type"] == "websocket" or scope.get("method") in UNSAFE_METHODS
        if unsafe and origin is not None and not same_origin(origin, host):
            return 403, "cross-origin request refused", {}
        if scope["type"] == "websocket":
            return None
        if scope["path"].startswith("/api/") and scope["method"] != "OPTIONS":
            presented = bearer(headers.get("authorization"))
            if not token_matches(self.settings, presented):
                return (
                    401,
                    "missing or wrong API token: send 'Authorization: Bearer "
                    "<EASYQUANT_API_TOKEN>'",
                    {"www-authenticate": "Bearer"},
                )
        if scope["method"] in UNSAFE_METHODS:
            ctype = headers.get("content-type")
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            if (ctype is not None or has_body) and (
                ctype is None or ctype.split(";")[0].strip().lower() != "application/json"
            ):
                return 415, "send the body as application/json", {}
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"request body over {self.max_body} bytes", {}
        return None

    @property
    def max_body(self) -> int:
        return self.settings.max_body_bytes

    async def _options(self, scope: Scope, send: Send) -> None:
        """Answer ``OPTIONS`` with the methods the path allows (no CORS: same origin only)."""
        methods: set[str] = set()
        mounted = False  # the dashboard's static files, mounted at "/", match every path
        app = scope.get("app")
        for route in getattr(getattr(app, "router", None), "routes", []):
            match, _ = route.matches({**scope, "method": "GET"})
            if match == Match.NONE:
                continue
            route_methods = getattr(route, "methods", None)
            if route_methods:
                methods |= set(route_methods)
            else:
                mounted = True
        if not methods and mounted:
            methods = {"GET", "HEAD"}
        if not methods:
            await _respond(send, 404, {"detail": "Not Found"})
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        await _respond(send, 204, None, {"allow": allow})


# a JSON string escape for NUL (not itself escaped): PostgreSQL text cannot hold it
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class _Bounded:
    """A ``receive`` that refuses a streamed body growing past ``limit`` bytes (413), and a
    body holding a NUL character (400) before its last part reaches the app."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self.receive = receive
        self.send = send
        self.limit = limit
        self.seen = 0
        self.parts: list[bytes] = []
        self.started = False
        self.refused = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request" and not self.refused:
            body = message.get("body", b"")
            self.seen += len(body)
            self.parts.append(body)
            if self.seen > self.limit:
                return await self._refuse(413, f"request body over {self.limit} bytes")
            if not message.get("more_body", False):
                whole = b"".join(self.parts)
                self.parts = []
                if b"\x00" in whole or _JSON_NUL.search(whole):
                    return await self._refuse(400, "the body holds a NUL character")
        return message

    async def _refuse(self, code: int, detail: str) -> Message:
        self.refused = True
        if not self.started:
            await _respond(self.send, code, {"detail": detail})
        return {"type": "http.disconnect"}

    async def pass_on(self, message: Message) -> None:
        """The app's ``send``: dropped once a 413 went out in its place."""
        if self.refused and not self.started:
            return
        self.started = True
        await self.send(message)


async def _respond(
    send: Send, code: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None
) -> None:
    payload = b"" if body is None else json.dumps(body).encode()
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    if body is not None:
        raw.append((b"content-type", b"application/json"))
    raw.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": code, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class RedactTokens(logging.Filter):
    """Mask ``token=``/``ticket=`` query values in log records (uvicorn logs request paths)."""

    PATTERN = re.compile(r"((?:[?&]|%3F|%26)(?:token|ticket|access_token)=)[^&\s\"']*", re.I)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                self.PATTERN.sub(r"\1***", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = self.PATTERN.sub(r"\1***", record.msg)
        return True


def install_log_redaction() -> None:
    """Add ``RedactTokens`` to uvicorn's loggers, once."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


_DETAIL = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        }
    }
}
GUARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "The Host header names a host this API does not serve, or the URL "
        "or body holds a NUL character"
    },
    401: {"description": "EASYQUANT_API_TOKEN is set and the bearer token is missing or wrong"},
    413: {"description": "The request body is over EASYQUANT_MAX_BODY_BYTES"},
    503: {"description": "The database does not answer"},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The Origin header names another site"},
    415: {"description": "The body is not application/json"},
}


def document_responses(app: Any) -> None:
    """Add the answers ``Guard`` (and the database dependency) may give to every API route's
    OpenAPI description; a route's own description of a code wins."""
    from fastapi.routing import APIRoute

    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            continue
        extra = dict(GUARD_RESPONSES)
        if "{" in route.path:
            extra[404] = {"description": "No such item (the detail names it)"}
        if route.methods & UNSAFE_METHODS:
            extra.update(WRITE_RESPONSES)
        for code, doc in extra.items():
            route.responses.setdefault(code, {**doc, "content": _DETAIL})


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options that bound what one client can make the server hold."""
    return {
        "ws_max_size": settings.ws_max_message,
        "ws_max_queue": 4,
        "h11_max_incomplete_event_size": 64 * 1024,
        # per-message deflate costs one compressor per client per frame: with 100 dashboards it
        # took most of the server's CPU; status frames are small and travel on a LAN
        "ws_per_message_deflate": False,
    }
