"""Demo data for a fresh install: a small synthetic lake and a few stored backtests.

``make up`` calls :func:`seed` so the dashboard has something to show on first start. It goes
through the same command line a user would type, and it is idempotent: what is already there
(demo symbols in the catalog, stored backtest runs) is left alone.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from datetime import date

from easyquant.config import Settings
from easyquant.db import connect

DEMO_SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
DEMO_YEARS = 3


def _count(settings: Settings, sql: str, args: Sequence[object] = ()) -> int:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, list(args))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _run(argv: list[str], settings: Settings) -> None:
    """Run one ``easyquant`` command in-process; raise with its output if it fails."""
    from easyquant import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(argv)
    if code != 0:
        raise RuntimeError(f"easyquant {' '.join(argv)} failed: {out.getvalue().strip()[-2000:]}")


def seed(settings: Settings, say: Callable[[str], None] = print) -> list[str]:
    """Seed the demo lake and backtests when missing; return what was done, one line each."""
    done: list[str] = []
    today = date.today()
    start = date(today.year - DEMO_YEARS, 1, 1).isoformat()
    end = today.isoformat()
    symbols = ",".join(DEMO_SYMBOLS)
    have = _count(
        settings,
        "SELECT count(DISTINCT symbol) FROM bar_catalog WHERE symbol = ANY(%s)",
        [list(DEMO_SYMBOLS)],
    )
    if have < len(DEMO_SYMBOLS):
        say(f"seeding demo bars: {symbols} daily from {start} (synthetic, XNYS calendar)")
        _run(
            [
                "ingest",
                "--source",
                "synthetic",
                "--symbols",
                symbols,
                "--start",
                start,
                "--end",
                end,
                "--freq",
                "1d",
                "--calendar",
                "XNYS",
                "--seed",
                "7",
            ],
            settings,
        )
        done.append("lake")
    if _count(settings, "SELECT count(*) FROM backtest_run") == 0:
        say("seeding demo backtests: one SMA crossover run, a 4x4 sweep and a walk-forward")
        common = ["--symbols", "AAA", "--start", start, "--end", end, "--market", "us"]
        _run(
            [
                "backtest",
                "--strategy",
                "sma_cross",
                *common,
                "--param",
                "fast=10",
                "--param",
                "slow=30",
            ],
            settings,
        )
        _run(
            [
                "sweep",
                "--strategy",
                "sma_cross",
                *common,
                "--grid",
                "fast=5,10,15,20",
                "--grid",
                "slow=30,40,50,60",
            ],
            settings,
        )
        _run(
            [
                "walkforward",
                "--strategy",
                "sma_cross",
                *common,
                "--grid",
                "fast=5,10,20",
                "--grid",
                "slow=30,50",
                "--in-sample",
                "250",
                "--out-of-sample",
                "60",
            ],
            settings,
        )
        done.append("backtests")
    return done
