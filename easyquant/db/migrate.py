"""Versioned SQL migrations: files ``NNNN_name.sql`` applied once each, in order, and recorded.

Plain SQL rather than Alembic: EasyQuant talks to PostgreSQL through psycopg2 without an ORM, so
there are no models to autogenerate from, and a numbered SQL file is the whole migration.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from easyquant.config import Settings
from easyquant.db.connection import connect
from easyquant.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x45515F4D  # advisory lock: one migrator at a time


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """List the migration files in version order; refuse misnamed or duplicate versions."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise DatabaseError(f"migration file {path.name}: name must be NNNN_lower_name.sql")
        version = int(match.group(1))
        if version in found:
            raise DatabaseError(
                f"migration files {found[version].path.name} and {path.name} "
                f"share version {version}"
            )
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def migrate(settings: Settings, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the versions applied."""
    conn = connect(settings, application_name="easyquant-migrate")
    applied_now: list[int] = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            cur.execute(
                """CREATE TABLE IF NOT EXISTS schema_migration (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            conn.commit()
            cur.execute("SELECT version, checksum FROM schema_migration")
            done = dict(cur.fetchall())
        for mig in available(directory):
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    raise DatabaseError(
                        f"migration {mig.path.name} changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            try:
                with conn.cursor() as cur:
                    cur.execute(mig.path.read_text())
                    cur.execute(
                        "INSERT INTO schema_migration (version, name, checksum) VALUES (%s,%s,%s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                conn.commit()
            except Exception as exc:
                conn.rollback()
                raise DatabaseError(f"migration {mig.path.name} failed: {exc}") from exc
            applied_now.append(mig.version)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.commit()
    finally:
        conn.close()
    return applied_now
