"""Make the database usable: start the embedded server when it is the default, create the
database, apply the migrations. Above ``connection`` and ``migrate``, which know nothing of it."""

from __future__ import annotations

from easyquant.config import Settings, get_settings
from easyquant.db.connection import database_name, ensure_database
from easyquant.db.migrate import migrate


def ensure_ready(settings: Settings | None = None, *, start_embedded: bool = True) -> Settings:
    """Make the database usable: start the embedded server if it is the default, create, migrate."""
    from easyquant.db.embedded import EmbeddedPostgres

    settings = settings or get_settings()
    if settings.embedded and start_embedded:
        EmbeddedPostgres(settings).start()
    ensure_database(settings, database_name(settings))
    migrate(settings)
    return settings
