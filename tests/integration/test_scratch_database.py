"""A scratch database is created once and dropped with the sessions still open on it."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from easyquant.config import Settings, load_settings
from easyquant.db import connect, drop_database, ensure_database


def test_drop_ends_open_sessions_and_is_idempotent(pg_server: Settings) -> None:
    name = f"eq_scratch_{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        home=pg_server.home,
        database_url=pg_server.dsn(name),
        embedded_pg_port=pg_server.embedded_pg_port,
    )
    assert ensure_database(settings, name) is True
    assert ensure_database(settings, name) is False
    held = connect(settings)  # a session still open on the database
    try:
        drop_database(settings, name)
        with pytest.raises(psycopg2.OperationalError):
            held.cursor().execute("SELECT 1")
    finally:
        held.close()
    admin = connect(settings, database="postgres", autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
            assert cur.fetchone()[0] == 0
    finally:
        admin.close()
    drop_database(settings, name)  # already gone: nothing to do
