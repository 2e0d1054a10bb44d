"""A scratch PostgreSQL database for a benchmark: a new database on the server in
EASYQUANT_DATABASE_URL (dropped afterwards), or an embedded server in a temp dir."""

from __future__ import annotations

import atexit
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def scratch_settings(home: Path, prefix: str) -> tuple[Any, Callable[[], None]]:
    """Return migrated settings and the function that removes what was made."""
    from easyquant import status
    from easyquant.config import load_settings
    from easyquant.db import drop_database, ensure_database, ensure_ready, migrate

    url = os.environ.get("EASYQUANT_DATABASE_URL")
    if url:
        base = load_settings(home=home, database_url=url)
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        settings = load_settings(home=home, database_url=base.dsn(name))
        ensure_database(settings, name)
        migrate(settings)

        def drop() -> None:
            status.set_default_writer(None)
            drop_database(settings, name)

        return settings, drop
    from easyquant.db.embedded import EmbeddedPostgres

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings = load_settings(home=home, database_url=None, embedded_pg_port=port)
    server = EmbeddedPostgres(settings)
    atexit.register(server.stop, "immediate")  # also when the benchmark fails half way
    ensure_ready(settings)

    def stop() -> None:
        status.set_default_writer(None)
        server.stop(mode="fast")

    return settings, stop
