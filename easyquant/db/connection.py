"""Connections to EasyQuant's PostgreSQL database (psycopg2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from easyquant.config import Settings, get_settings
from easyquant.errors import DatabaseError


def connect(
    settings: Settings | None = None,
    *,
    database: str | None = None,
    autocommit: bool = False,
    connect_timeout: int = 5,
    application_name: str = "easyquant",
) -> psycopg2.extensions.connection:
    """Open a new connection to EasyQuant's database (or ``database`` on the same server)."""
    settings = settings or get_settings()
    dsn = settings.dsn(database)
    try:
        conn = psycopg2.connect(
            dsn, connect_timeout=connect_timeout, application_name=application_name
        )
    except psycopg2.OperationalError as exc:
        where = urlsplit(dsn)
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {where.hostname}:{where.port or 5432}"
            f"/{where.path.lstrip('/')}: {str(exc).strip()}"
        ) from exc
    conn.autocommit = autocommit
    return conn


@contextmanager
def transaction(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """Run a block in one transaction: commit on success, roll back on any exception."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def ensure_database(settings: Settings, name: str) -> bool:
    """Create database ``name`` on the configured server when missing; return True if created."""
    conn = connect(settings, database="postgres", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg2.errors.DuplicateDatabase:
                return False
            return True
    finally:
        conn.close()


def drop_database(settings: Settings, name: str) -> None:
    """Drop database ``name`` on the configured server when present, ending its sessions first
    (a scratch database of a test or benchmark)."""
    conn = connect(settings, database="postgres", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def database_name(settings: Settings) -> str:
    return urlsplit(settings.dsn()).path.lstrip("/")


psycopg2.extras.register_default_jsonb(loads=json.loads, globally=True)
