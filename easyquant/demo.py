"""Demo data for a fresh install: a small synthetic lake and a few stored backtests.

``make up`` calls :func:`seed` so the dashboard has something to show on first start. The lake goes
through the command line a user would type, the backtests through the same
:class:`~easyquant.backtest.request.BacktestRequest` the command line and the DAG build. It is
idempotent: what is already there (demo symbols in the catalog, stored backtest runs) is left
alone.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from datetime import date

from easyquant.backtest.queries import count_runs
from easyquant.backtest.request import BacktestRequest
from easyquant.config import Settings
from easyquant.db import connect

DEMO_SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
DEMO_YEARS = 3


def _run(argv: list[str], settings: Settings) -> None:
    """Run one ``easyquant`` command in-process; raise with its output if it fails."""
    from easyquant import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(argv)
    if code != 0:
        raise RuntimeError(f"easyquant {' '.join(argv)} failed: {out.getvalue().strip()[-2000:]}")


def demo_requests(start: str, end: str) -> list[BacktestRequest]:
    """The demo's backtests: one SMA crossover run, a 4x4 sweep and a walk-forward on AAA."""
    base = {"strategy": "sma_cross", "symbols": ["AAA"], "start": start, "end": end}
    return [
        BacktestRequest.parse(base | {"params": {"fast": 10, "slow": 30}}),
        BacktestRequest.parse(base | {"grid": {"fast": "5,10,15,20", "slow": "30,40,50,60"}}),
        BacktestRequest.parse(
            base
            | {
                "grid": {"fast": [5, 10, 20], "slow": [30, 50]},
                "walkforward": {"in_sample": 250, "out_of_sample": 60},
            }
        ),
    ]


def seed(settings: Settings, say: Callable[[str], None] = print) -> list[str]:
    """Seed the demo lake and backtests when missing; return what was done, one line each."""
    from easyquant.backtest.service import execute, execute_sweep, execute_walkforward

    done: list[str] = []
    today = date.today()
    start = date(today.year - DEMO_YEARS, 1, 1).isoformat()
    end = today.isoformat()
    symbols = ",".join(DEMO_SYMBOLS)
    from easyquant.data.catalog import list_entries

    have = len({e["symbol"] for e in list_entries(settings)} & set(DEMO_SYMBOLS))
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
    conn = connect(settings)
    try:
        runs = count_runs(conn)
    finally:
        conn.close()
    if runs == 0:
        say("seeding demo backtests: one SMA crossover run, a 4x4 sweep and a walk-forward")
        single, sweep, walkforward = demo_requests(start, end)
        execute(single, settings=settings)
        execute_sweep(sweep, settings=settings, show_progress=False)
        execute_walkforward(walkforward, settings=settings, show_progress=False)
        done.append("backtests")
    return done
