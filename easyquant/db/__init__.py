"""Database access: connections, the embedded default server and versioned SQL migrations."""

from easyquant.db.connection import connect, drop_database, ensure_database, transaction
from easyquant.db.migrate import migrate
from easyquant.db.ready import ensure_ready

__all__ = ["connect", "drop_database", "ensure_database", "ensure_ready", "migrate", "transaction"]
