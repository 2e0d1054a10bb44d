"""``easyquant db ...``: database set-up commands."""

from __future__ import annotations

import argparse

from easyquant.config import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="database: start the embedded server and apply migrations")
    dsub = p.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("migrate", help="create the database if needed and apply migrations")
    up.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from easyquant.db import ensure_ready

    settings = ensure_ready(get_settings())
    print(f"database ready: {settings.shown_dsn()}")
    return 0
