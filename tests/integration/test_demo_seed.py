"""`make up` seeds demo data once: a synthetic lake and stored backtests, idempotently."""

from __future__ import annotations

from typing import Any

from easyquant import demo
from easyquant.db import connect


def _counts(settings: Any) -> tuple[int, int, int]:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(DISTINCT symbol) FROM bar_catalog")
        symbols = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM backtest_run")
        runs = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM backtest_trade")
        trades = cur.fetchone()[0]
    return symbols, runs, trades


def test_seed_fills_an_empty_install_once(pg_settings: Any) -> None:
    lines: list[str] = []
    assert demo.seed(pg_settings, lines.append) == ["lake", "backtests"]
    symbols, runs, trades = _counts(pg_settings)
    assert symbols == len(demo.DEMO_SYMBOLS)
    # one run, the sweep's 16 points and the walk-forward: more than a handful of stored runs
    assert runs > 16
    assert trades > 0
    assert any("demo bars" in line for line in lines)

    # a second start changes nothing
    assert demo.seed(pg_settings, lines.append) == []
    assert _counts(pg_settings) == (symbols, runs, trades)
