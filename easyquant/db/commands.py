"""``easyquant db ...``: database set-up, and the embedded server's status and stop."""

from __future__ import annotations

import argparse

from easyquant.config import Settings, get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="database: migrations; the embedded server's status and stop")
    dsub = p.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("migrate", help="create the database if needed and apply migrations")
    up.set_defaults(func=_migrate)
    st = dsub.add_parser("status", help="whether this home's embedded server runs, and where")
    st.set_defaults(func=_status)
    stop = dsub.add_parser("stop", help="stop this home's embedded server (data stays)")
    stop.set_defaults(func=_stop)


def _migrate(args: argparse.Namespace) -> int:
    from easyquant.db import ensure_ready

    settings = ensure_ready(get_settings())
    print(f"database ready: {settings.shown_dsn()}")
    return 0


def _external(settings: Settings) -> bool:
    if settings.embedded:
        return False
    print(f"external server (EASYQUANT_DATABASE_URL): {settings.shown_dsn()}")
    return True


def _status(args: argparse.Namespace) -> int:
    """Exit 0 when the server runs, 3 when it is stopped (as ``pg_ctl status`` does)."""
    from easyquant.db.embedded import EmbeddedPostgres

    settings = get_settings()
    if _external(settings):
        return 0
    server = EmbeddedPostgres(settings)
    pid = server.pid()
    where = f"127.0.0.1:{server.port}, data {server.pgdata}"
    if pid is None:
        print(f"embedded PostgreSQL of {settings.home_dir}: stopped ({where})")
        return 3
    print(f"embedded PostgreSQL of {settings.home_dir}: running, pid {pid} ({where})")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from easyquant.db.embedded import EmbeddedPostgres

    settings = get_settings()
    if _external(settings):
        print("nothing to stop: EasyQuant does not run that server")
        return 0
    server = EmbeddedPostgres(settings)
    pid = server.pid()
    if pid is None:
        print(f"embedded PostgreSQL of {settings.home_dir}: not running")
        return 0
    server.stop()
    print(f"stopped the embedded PostgreSQL of {settings.home_dir} (pid {pid})")
    return 0
