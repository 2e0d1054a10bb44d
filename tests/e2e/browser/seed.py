"""Seed data the dashboard shows: a small synthetic lake, backtests stored by the real backtest
code (a single run, a two-parameter sweep, a walk-forward, a minute-bar run, a failed run) and
status components of every kind.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from easyquant import status
from easyquant.config import Settings
from easyquant.db import connect

DAILY = ["DASHA", "DASHB"]
MINUTE = "DASHM"
START, END = "2021-01-01", "2022-12-31"
MINUTE_START, MINUTE_END = "2022-03-01", "2022-03-31"
AIRFLOW = "http://airflow.invalid"


@dataclass(frozen=True)
class Seeded:
    backtest: str
    sweep: str
    walkforward: str
    minute: str
    failed: str
    grid: dict[str, list[int]]


def clear_backtests(settings: Settings) -> None:
    conn = connect(settings)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM backtest_run")
    conn.commit()
    conn.close()


def seed_lake(settings: Settings) -> None:
    from tests.conftest import synthetic_lake

    synthetic_lake(settings, DAILY, (START, END), seed=11)
    synthetic_lake(settings, [MINUTE], (MINUTE_START, MINUTE_END), seed=11, freq="1m")


def seed_backtests(settings: Settings) -> Seeded:
    """Store runs through easyquant.backtest.service (the code the CLI and DAGs use)."""
    from easyquant.backtest.request import BacktestRequest
    from easyquant.backtest.service import execute, execute_sweep, execute_walkforward
    from easyquant.errors import DataError

    clear_backtests(settings)
    seed_lake(settings)
    base = dict(strategy="sma_cross", start=START, end=END, market="us", cash=100_000.0)
    one = execute(
        BacktestRequest.parse(base | {"symbols": DAILY, "params": {"fast": 10, "slow": 40}}),
        settings=settings,
    )
    grid = {"fast": [5, 10, 20], "slow": [30, 50, 80]}
    sweep_id, _ = execute_sweep(
        BacktestRequest.parse(base | {"symbols": ["DASHA"], "grid": grid}),
        settings=settings,
        show_progress=False,
    )
    wf_id, _, _ = execute_walkforward(
        BacktestRequest.parse(
            base
            | {
                "symbols": ["DASHA"],
                "grid": {"fast": [5, 10], "slow": [30, 60]},
                "walkforward": {"in_sample": 150, "out_of_sample": 60},
            }
        ),
        settings=settings,
        show_progress=False,
    )
    minute = execute(
        BacktestRequest.parse(
            {
                "strategy": "sma_cross",
                "symbols": [MINUTE],
                "start": MINUTE_START,
                "end": MINUTE_END,
                "freq": "1m",
                "params": {"fast": 30, "slow": 120},
                "market": "us",
            }
        ),
        settings=settings,
    )
    failed_id = "failedrun0000001"
    with contextlib.suppress(DataError):  # stored as a failed run, with its error
        execute(
            BacktestRequest.parse(base | {"symbols": ["NOSUCH"]}),
            settings=settings,
            run_id=failed_id,
        )
    return Seeded(
        backtest=one.run_id or "",
        sweep=sweep_id,
        walkforward=wf_id,
        minute=minute.run_id or "",
        failed=failed_id,
        grid=grid,
    )


def seed_status() -> dict[str, str]:
    """Status components of every kind: a DAG run with mapped and plain tasks, a live session,
    a CLI job, a failed task, and one whose heartbeat stops (stale within a second). Tasks ran
    on two workers; the queued one on none yet."""
    run_id = "manual__2026-11-23T10:00:00+00:00"
    dag_run = f"dag_run:easyquant_etl:{run_id}"
    url = f"{AIRFLOW}/dags/easyquant_etl/runs/manual__2026-11-23T10%3A00%3A00%2B00%3A00"
    status.report(
        dag_run,
        kind="dag_run",
        name=f"easyquant_etl {run_id}",
        state="running",
        progress=0.5,
        message="3 of 5 tasks done",
        url=url,
        attrs={"dag_id": "easyquant_etl", "run_id": run_id},
    )
    for task_id, idx, state, progress, host in [
        ("plan", -1, "success", 1.0, "worker1@node-a"),
        ("ingest", 0, "success", 1.0, "worker1@node-a"),
        ("ingest", 1, "running", 0.4, "worker2@node-b"),
        ("ingest", 2, "failed", 0.7, "worker2@node-b"),
        ("update_catalog", -1, "queued", None, None),
    ]:
        cid = f"task:easyquant_etl:{run_id}:{task_id}:{idx}:1"
        status.report(
            cid,
            kind="task",
            name=f"easyquant_etl.{task_id}" + (f"[{idx}]" if idx >= 0 else ""),
            state=state,
            progress=progress,
            parent_id=dag_run,
            message=f"{task_id} {state}",
            host=host,
            url=f"{url}/tasks/{task_id}",
            attrs={
                "dag_id": "easyquant_etl",
                "run_id": run_id,
                "task_id": task_id,
                "map_index": idx,
                "try_number": 1,
            },
        )
    status.report(
        "live:paper-demo",
        kind="live",
        name="paper-demo sma_cross",
        state="running",
        progress=None,
        message="equity 101,234.50",
        metrics={"equity": 101234.5},
        heartbeat_interval=60,
    )
    status.report(
        "cli:ingest-42",
        kind="cli",
        name="easyquant ingest",
        state="success",
        progress=1.0,
        message="3 symbols, 1,512 rows",
    )
    status.report(
        "etl:stale-feed",
        kind="etl",
        name="feed poller",
        state="running",
        progress=0.2,
        message="waiting for bars",
        heartbeat_interval=0.2,
    )
    return {
        "dag_run": dag_run,
        "live": "live:paper-demo",
        "stale": "etl:stale-feed",
        "failed_task": f"task:easyquant_etl:{run_id}:ingest:2:1",
    }


A_SHARES = ["600519.SH", "300750.SZ"]
MASTER = """symbol,name,exchange,board,currency,lot,min_order,tick,listed,delisted,st,suspended
600519,贵州茅台,,,,,,,2001-08-27,,,2024-03-04..2024-03-05
000001,平安银行,,,,,,,1991-04-03,,,
300750,宁德时代,,,,,,,2018-06-11,,,
688981,中芯国际,,,,,,,2020-07-16,,,
600001,ST 邯钢,,,,,,,1998-01-22,2009-12-29,2005-04-01..2006-05-31;2008-01-02..,
AAPL,Apple,XNAS,main,USD,1,1,0.01,1980-12-12,,,
"""


def seed_market_data(settings: Settings, folder: Path) -> None:
    """A-share bars on the Shanghai calendar with a split and a dividend, a file in akshare's
    layout (volume in lots), a file with a bad row kept in quarantine, and the instrument
    master: what the Data page shows."""
    import pandas as pd

    from easyquant.data import catalog, instruments, load_bars, make_source
    from easyquant.data.ingest import ingest
    from tests.conftest import REPO, synthetic_lake

    synthetic_lake(settings, A_SHARES, ("2023-01-01", "2024-06-28"), seed=23, calendar="XSHG")
    # the traded prices of 600519.SH drop by a 2.5 dividend on 2023-06-30 and halve in a 2:1
    # split on 2024-01-08 (volume doubles): raw bars jump there, adjusted ones run on smoothly
    bars = load_bars("600519.SH", settings=settings)["600519.SH"]
    day = bars.index.tz_localize(None).normalize()
    prices = ["open", "high", "low", "close"]
    bars.loc[day >= pd.Timestamp("2023-06-30"), prices] -= 2.5
    split = day >= pd.Timestamp("2024-01-08")
    bars.loc[split, prices] /= 2
    bars.loc[split, "volume"] *= 2
    traded = folder / "600519.SH.csv"
    bars.set_axis(day.strftime("%Y-%m-%d"), axis=0).rename_axis("date").to_csv(traded)
    ingest(make_source("csv", path=traded), settings=settings, full=True)
    catalog.store_actions(
        settings,
        pd.DataFrame(
            [
                {
                    "symbol": "600519.SH",
                    "ex_date": "2023-06-30",
                    "split_ratio": 1.0,
                    "dividend": 2.5,
                },
                {
                    "symbol": "600519.SH",
                    "ex_date": "2024-01-08",
                    "split_ratio": 2.0,
                    "dividend": 0.0,
                },
            ]
        ),
    )
    akshare = REPO / "tests" / "fixtures" / "layouts" / "akshare_000001.csv"
    ingest(make_source("csv", path=akshare), settings=settings, full=True)
    bad = folder / "688981.csv"
    bad.write_text(
        "date,open,high,low,close,volume\n2024-01-02,40,41,39,40.5,120000\n"
        "2024-01-03,40.5,39,40,40.2,98000\n2024-01-04,40.2,41.5,40,41.2,150000\n",
        encoding="utf-8",
    )
    ingest(make_source("csv", path=bad, calendar="XSHG"), settings=settings, policy="quarantine")
    master = folder / "instruments.csv"
    master.write_text(MASTER, encoding="utf-8")
    instruments.store(settings, instruments.read_csv(master))


LIVE_SESSION = "replay-dash"


def seed_live(settings: Settings) -> str:
    """Run a paper session to its end through easyquant.live (replaying the seeded lake)."""
    from easyquant.live.service import LiveService, SessionConfig

    config = SessionConfig(
        session=LIVE_SESSION,
        strategy="sma_cross",
        symbols=DAILY,
        params={"fast": 5, "slow": 20},
        start=START,
        end=END,
        heartbeat=0.5,
        risk={"max_order_value": 60_000},
    )
    state = LiveService(config, settings).run()
    assert state == "success", state
    return LIVE_SESSION
