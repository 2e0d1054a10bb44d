"""One PostgreSQL connection as the live store and the paper venue hold it: opened in autocommit
with asynchronous commits, and its statements run so that a lost connection and a refused
statement raise the holder's own errors, each naming the holder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

from easyquant.config import Settings
from easyquant.errors import EasyQuantError


@dataclass(frozen=True)
class Holder:
    """Who holds a connection, as its errors say: its name (``what``), the error for a
    database that cannot be reached and the one for a statement the server refuses."""

    what: str
    lost: type[EasyQuantError]
    refused: type[EasyQuantError]


def unreachable(what: str, exc: BaseException) -> str:
    """The message for a database that cannot be reached: ``what`` and the driver's first line."""
    text = str(exc).strip()
    return f"{what}: database unreachable: {text.splitlines()[0] if text else exc}"


def open_connection(
    settings: Settings,
    application_name: str,
    options: str,
    holder: Holder,
) -> psycopg2.extensions.connection:
    """Connect (3 s at most) in autocommit; raise ``holder.lost`` if the server cannot be
    reached."""
    try:
        conn = psycopg2.connect(
            settings.dsn(),
            connect_timeout=3,
            application_name=application_name[:60],
            options=options,
        )
    except psycopg2.OperationalError as exc:
        raise holder.lost(unreachable(holder.what, exc)) from exc
    conn.autocommit = True
    return conn


def execute(
    cursor: Callable[[], psycopg2.extensions.cursor],
    query: str,
    params: Any,
    fetch: bool,
    holder: Holder,
    drop: Callable[[], None],
) -> list[Any]:
    """Run one query on a new ``cursor()``; return its rows if ``fetch``.

    A lost connection is dropped (``drop()``) and raises ``holder.lost``; a statement the
    server refuses is rolled back and raises ``holder.refused`` with the server's message."""
    try:
        with cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if fetch else []
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        drop()
        raise holder.lost(unreachable(holder.what, exc)) from exc
    except psycopg2.Error as exc:
        with contextlib.suppress(psycopg2.Error, EasyQuantError):
            cursor().execute("ROLLBACK")
        raise holder.refused(f"{holder.what}: {str(exc).strip()}") from exc


def close_quietly(conn: psycopg2.extensions.connection | None) -> None:
    """Close ``conn`` if there is one, whatever state it is in."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
