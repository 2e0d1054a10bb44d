"""Make the database usable: start the embedded server when it is the default, create the
database, apply the migrations. Above ``connection`` and ``migrate``, which know nothing of it."""

from __future__ import annotations

import sys

from easyquant.config import Settings, get_settings
from easyquant.db.connection import database_name, ensure_database
from easyquant.db.migrate import migrate


def ensure_ready(settings: Settings | None = None, *, start_embedded: bool = True) -> Settings:
    """Make the database usable: start the embedded server if it is the default, create, migrate."""
    from easyquant.db.embedded import EmbeddedPostgres

    settings = settings or get_settings()
    if settings.embedded and start_embedded:
        server = EmbeddedPostgres(settings)
        if server.start():  # said once, by the command that started it
            print(
                f"easyquant: started the embedded PostgreSQL of {settings.home_dir} in the "
                f"background (127.0.0.1:{server.port}, pid {server.pid()}); it keeps running "
                "for the next commands - stop it with `easyquant db stop` (or `make down`)",
                file=sys.stderr,
            )
    ensure_database(settings, database_name(settings))
    migrate(settings)
    return settings
