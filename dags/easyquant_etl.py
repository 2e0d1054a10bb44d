"""EasyQuant ETL: load bars from a source into the Parquet lake, one mapped task per symbol batch.

This file defines ``easyquant_etl`` (manual runs: any source, symbols and period from the
Params) and one nightly DAG per universe of the universes file (``dags/universes.toml``, or
``EASYQUANT_UNIVERSES``): ``easyquant_etl_<name>``, scheduled on weekdays 90 minutes after its
exchange's close in that exchange's time zone. A scheduled run ingests the sessions of its data
interval; the vendor adapters fetch only what is missing. Every run updates the asset
``easyquant://lake/bars``; a universe's run also updates ``easyquant://lake/bars/<name>``
(``easyquant.data.universes.asset_uri``), so a backtest DAG can be scheduled on any of them.

A bad universes file fails this file's import with one error naming the file and the field;
the other DAG files are not affected. The file stays thin so it parses in milliseconds: only
``airflow.sdk``, ``pendulum``, the standard library and ``easyquant.data.universes`` (standard
library only) at the top; EasyQuant's data code is imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

from easyquant.data.universes import Universe, load_universes

DAG_ID = "easyquant_etl"
# The backtest DAG schedules on this asset: ``schedule=[Asset("easyquant://lake/bars")]``.
LAKE_BARS_URI = "easyquant://lake/bars"
LAKE_BARS = Asset(LAKE_BARS_URI)
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,39}$"
SOURCES = ["synthetic", "csv", "parquet", "akshare", "baostock", "tushare", "yfinance", "ccxt"]


def _optional(default: str | None, title: str, description: str, **schema: str) -> Param:
    """A text field the form may leave empty (``None``)."""
    return Param(default, type=["null", "string"], title=title, description=description, **schema)


def params(u: Universe | None = None) -> dict[str, Param]:
    """The trigger form; a universe's DAG starts from the universe's settings."""
    return {
        "source": Param(
            u.source if u else "synthetic",
            type="string",
            enum=SOURCES,
            title="Source",
            description="Where bars come from: synthetic bars, CSV / Parquet files, or a vendor "
            "adapter (akshare, baostock, tushare, yfinance, ccxt; each an easyquant extra).",
        ),
        "path": _optional(
            u.path if u else None,
            "Path",
            "csv / parquet only: a file or a folder of files, as the workers see it.",
        ),
        "symbols": Param(
            list(u.symbols) if u else ["AAA", "BBB", "CCC"],
            type="array",
            minItems=0 if u and u.rule else 1,
            items={"type": "string", "pattern": SYMBOL_PATTERN},
            title="Symbols",
            description="One symbol per line, any common spelling (600519, sh.600519, "
            "BTC/USDT, AAPL); stored as 600519.SH, BTC-USDT, AAPL.",
        ),
        "rule": _optional(
            u.rule if u else None,
            "Rule",
            "Instead of symbols: exchange:XSHG,XSHE takes those exchanges' stocks from the "
            "instrument master.",
        ),
        "exchange": _optional(
            u.exchange if u else None,
            "Exchange (ccxt)",
            "ccxt only: the exchange id, e.g. binance.",
        ),
        "start": _optional(
            None,
            "Start",
            "Manual runs: first session date (YYYY-MM-DD). Empty: the run's data interval. "
            "Scheduled runs always ingest their data interval.",
            format="date",
        ),
        "end": _optional(
            None,
            "End",
            "Manual runs: last session date, inclusive (YYYY-MM-DD). Empty: the run's data "
            "interval.",
            format="date",
        ),
        "freq": Param(
            u.freq if u else "1d",
            type="string",
            pattern=r"^[0-9]+(m|min|h|d)$",
            title="Frequency",
            examples=["1m", "5m", "15m", "1h", "1d"],
            description="Bar frequency: N minutes (1m, 5m, 15m), hours (1h) or one bar a day (1d).",
        ),
        "calendar": Param(
            u.calendar if u else "XNYS",
            type="string",
            minLength=1,
            title="Calendar",
            examples=["XNYS", "XNAS", "XSHG", "XHKG", "XLON", "24/7"],
            description="Exchange calendar (exchange-calendars code) the bars follow; 24/7 for "
            "crypto.",
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Re-fetch the whole range instead of only what is missing before the "
            "first and after the last stored bar.",
        ),
        "policy": Param(
            "reject",
            type="string",
            enum=["reject", "quarantine"],
            title="Bad rows",
            description="reject: one bad row fails its batch; quarantine: set bad rows aside.",
        ),
        "batch_size": Param(
            u.batch_size if u else 10,
            type="integer",
            minimum=1,
            maximum=1000,
            title="Symbols per task",
            description="Symbols ingested by one mapped task.",
        ),
    }


def build(dag_id: str, universe: Universe | None = None) -> Any:
    """Define one ETL DAG: validate -> plan -> ingest (mapped) -> summarise."""
    outlets = [LAKE_BARS] + ([Asset(universe.asset_uri)] if universe else [])
    schedule = None
    start = pendulum.datetime(2024, 1, 1, tz="UTC")
    if universe is not None:
        schedule = CronDataIntervalTimetable(universe.cron, timezone=universe.timezone)
        start = pendulum.datetime(2024, 1, 1, tz=universe.timezone)

    def progress(step: str) -> Any:
        from easyquant.pipelines import task_status

        return task_status("etl", dag_id, step)

    def fail_fast(exc: Exception) -> None:
        """Bad input fails at once, without retries; a vendor outage is left to retry."""
        from easyquant.pipelines import fail_fast_on_bad_input

        if not getattr(exc, "transient", False):
            fail_fast_on_bad_input(exc)

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=universe.paused if universe else None,
        params=params(universe),
        default_args={
            "retries": 2,
            "retry_delay": dt.timedelta(minutes=2),
            "retry_exponential_backoff": True,
        },
        tags=["easyquant", "etl"] + ([f"universe:{universe.name}"] if universe else []),
        doc_md=__doc__,
    )
    def etl() -> None:
        @task
        def validate() -> dict[str, Any]:
            """Check every Param and resolve the symbols and the period; touch nothing."""
            from easyquant.data.pipeline import request_from_dag

            with progress("validate") as job:
                try:
                    config = request_from_dag(get_current_context())
                except Exception as exc:
                    fail_fast(exc)
                    raise
                job.finish(
                    "success",
                    f"{len(config['symbols'])} symbols, {config['freq']}, "
                    f"{config['start']} to {config['end']}",
                    **config,
                )
                return config

        @task
        def plan(config: dict[str, Any]) -> list[list[str]]:
            """Split the symbols into batches, one mapped ingest task each."""
            from easyquant.data.pipeline import plan_batches

            with progress("plan") as job:
                batches = plan_batches(config["symbols"], config["batch_size"])
                job.finish("success", f"{len(batches)} batches", batches=len(batches))
                return batches

        @task
        def ingest(symbols: list[str], config: dict[str, Any]) -> dict[str, Any]:
            """Ingest one batch of symbols (idempotent: the lake upserts by timestamp)."""
            from easyquant.data.pipeline import ingest_batch

            with progress("ingest") as job:
                job.message(f"ingesting {', '.join(symbols)}")
                try:
                    summary = ingest_batch(symbols, config, tracker=job)
                except Exception as exc:
                    fail_fast(exc)
                    raise
                t = summary["totals"]
                job.finish(
                    "success",
                    f"{t['rows_stored']} rows stored, {t['rows_rejected']} "
                    f"rejected, {t['gaps']} missing bars",
                )
                return summary

        @task(outlets=outlets)
        def summarise(results: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
            """Fold the batch reports into one quality summary and update the lake assets."""
            from easyquant.data.pipeline import summarise as fold

            with progress("summarise") as job:
                summary = fold(list(results))
                t = summary["totals"]
                extra = {
                    "symbols": sorted(summary["symbols"]),
                    "freq": config["freq"],
                    "start": config["start"],
                    "end": config["end"],
                    "rows_stored": t.get("rows_stored", 0),
                    "universe": universe.name if universe else None,
                }
                events = get_current_context()["outlet_events"]
                for asset in outlets:
                    events[asset].extra = extra
                job.finish(
                    "success",
                    f"{t.get('symbols', 0)} symbols: {t.get('rows_stored', 0)} rows stored, "
                    f"{t.get('rows_rejected', 0)} rejected, {t.get('gaps', 0)} missing bars",
                    **t,
                    quality=summary["symbols"],
                    batches=summary["batches"],
                )
                return summary

        config = validate()
        results = ingest.partial(config=config).expand(symbols=plan(config))
        summarise(results, config)

    return etl()


easyquant_etl = build(DAG_ID)
UNIVERSES = {u.name: u for u in load_universes()}
UNIVERSE_DAGS = {u.dag_id: build(u.dag_id, u) for u in UNIVERSES.values()}
