"""`make up` seeds demo data once: a synthetic lake and stored backtests, idempotently."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from easyquant import demo
from easyquant.config import Settings, get_settings, load_settings
from easyquant.db import connect, drop_database, ensure_database, migrate


@pytest.fixture()
def fresh_install(
    pg_server: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """An empty database and lake, as on a user's first `make up`."""
    name = f"eq_demo_{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        home=tmp_path / "home",
        database_url=pg_server.dsn(name),
        embedded_pg_port=pg_server.embedded_pg_port,
    )
    ensure_database(settings, name)
    migrate(settings)
    monkeypatch.setenv("EASYQUANT_DATABASE_URL", settings.dsn())
    monkeypatch.setenv("EASYQUANT_HOME", str(settings.home))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()
    drop_database(settings, name)


def _counts(settings: Settings) -> tuple[int, int, int]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(DISTINCT symbol) FROM bar_catalog")
        symbols = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM backtest_run")
        runs = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM backtest_trade")
        trades = cur.fetchone()[0]
    return symbols, runs, trades


def test_seed_fills_an_empty_install_once(fresh_install: Settings) -> None:
    lines: list[str] = []
    assert demo.seed(fresh_install, lines.append) == ["lake", "backtests"]
    symbols, runs, trades = _counts(fresh_install)
    assert symbols == len(demo.DEMO_SYMBOLS)
    # one run, the sweep's 16 points and the walk-forward: more than a handful of stored runs
    assert runs > 16
    assert trades > 0
    assert any("demo bars" in line for line in lines)

    # a second start changes nothing
    assert demo.seed(fresh_install, lines.append) == []
    assert _counts(fresh_install) == (symbols, runs, trades)
