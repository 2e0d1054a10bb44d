"""EasyQuant ETL: load bars from a source into the Parquet lake, one mapped task per symbol batch.

Scheduled nightly on weekdays after the close of the default calendar (XNYS, 17:30 New York); a
scheduled run ingests the sessions of its data interval, a manual run the Params' start and end.
The last task updates the asset ``easyquant://lake/bars`` that the backtest DAG is scheduled on.

This file stays thin so it parses in milliseconds: only ``airflow.sdk``, ``pendulum`` and the
standard library at the top; EasyQuant (pandas, pyarrow) is imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

DAG_ID = "easyquant_etl"
# The backtest DAG schedules on this asset: ``schedule=[Asset("easyquant://lake/bars")]``.
LAKE_BARS_URI = "easyquant://lake/bars"
LAKE_BARS = Asset(LAKE_BARS_URI)
# The default calendar's close is 16:00 New York; run 90 minutes later, Monday to Friday.
SCHEDULE_CRON = "30 17 * * 1-5"
SCHEDULE_TZ = "America/New_York"
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$"

PARAMS = {
    "source": Param(
        "synthetic",
        type="string",
        enum=["synthetic", "csv", "parquet"],
        title="Source",
        description="Where bars come from: seeded synthetic bars, or CSV / Parquet files.",
    ),
    "path": Param(
        None,
        type=["null", "string"],
        title="Path",
        description="csv / parquet only: a file or a folder of files, as the workers see it.",
    ),
    "symbols": Param(
        ["AAA", "BBB", "CCC"],
        type="array",
        minItems=1,
        items={"type": "string", "pattern": SYMBOL_PATTERN},
        title="Symbols",
        description="One symbol per line: 1-40 letters, digits, '.', '_' or '-'.",
    ),
    "start": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Start",
        description="Manual runs: first session date (YYYY-MM-DD). Empty: the run's data "
        "interval. Scheduled runs always ingest their data interval.",
    ),
    "end": Param(
        None,
        type=["null", "string"],
        format="date",
        title="End",
        description="Manual runs: last session date, inclusive (YYYY-MM-DD). Empty: the run's "
        "data interval.",
    ),
    "freq": Param(
        "1d",
        type="string",
        pattern=r"^[0-9]+(m|min|h|d)$",
        title="Frequency",
        examples=["1m", "5m", "15m", "1h", "1d"],
        description="Bar frequency: N minutes (1m, 5m, 15m), hours (1h) or one bar a day (1d).",
    ),
    "calendar": Param(
        "XNYS",
        type="string",
        minLength=1,
        title="Calendar",
        examples=["XNYS", "XNAS", "XSHG", "XSHE", "XLON", "24/7"],
        description="Exchange calendar (exchange-calendars code) the bars follow; 24/7 for crypto.",
    ),
    "full_refresh": Param(
        False,
        type="boolean",
        title="Full refresh",
        description="Re-fetch the whole range instead of only bars after the last stored one.",
    ),
    "policy": Param(
        "reject",
        type="string",
        enum=["reject", "quarantine"],
        title="Bad rows",
        description="reject: one bad row fails its batch; quarantine: set bad rows aside.",
    ),
    "batch_size": Param(
        10,
        type="integer",
        minimum=1,
        maximum=1000,
        title="Symbols per task",
        description="Symbols ingested by one mapped task.",
    ),
}


def _progress(step: str) -> Any:
    """Report the current task as an ``etl`` status component (one per task and map index)."""
    from easyquant.pipelines import task_status

    return task_status("etl", DAG_ID, step)


def _fail_on_bad_input(exc: Exception) -> None:
    """Bad input is not transient: fail at once, without retries, with the field-naming message."""
    from easyquant.pipelines import fail_fast_on_bad_input

    fail_fast_on_bad_input(exc)


def _local_date(value: Any, tz: str) -> str | None:
    if value is None:
        return None
    return pendulum.instance(value).in_timezone(tz).date().isoformat()


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable(SCHEDULE_CRON, timezone=SCHEDULE_TZ),
    start_date=pendulum.datetime(2024, 1, 1, tz=SCHEDULE_TZ),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args={
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    tags=["easyquant", "etl"],
    doc_md=__doc__,
)
def easyquant_etl() -> None:
    @task
    def validate() -> dict[str, Any]:
        """Check every Param and resolve the period to ingest; touch nothing."""
        with _progress("validate") as job:
            try:
                config = _validate(get_current_context())
            except Exception as exc:
                _fail_on_bad_input(exc)
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

        with _progress("plan") as job:
            batches = plan_batches(config["symbols"], config["batch_size"])
            job.finish("success", f"{len(batches)} batches", batches=len(batches))
            return batches

    @task
    def ingest(symbols: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Ingest one batch of symbols (idempotent: the lake upserts by timestamp)."""
        from easyquant.data.pipeline import ingest_batch

        with _progress("ingest") as job:
            job.message(f"ingesting {', '.join(symbols)}")
            try:
                summary = ingest_batch(
                    symbols,
                    source=config["source"],
                    freq=config["freq"],
                    start=config["start"],
                    end=config["end"],
                    calendar=config["calendar"],
                    path=config["path"],
                    full=config["full_refresh"],
                    policy=config["policy"],
                    tracker=job,
                )
            except Exception as exc:
                _fail_on_bad_input(exc)
                raise
            t = summary["totals"]
            job.finish(
                "success",
                f"{t['rows_stored']} rows stored, {t['rows_rejected']} "
                f"rejected, {t['gaps']} missing bars",
            )
            return summary

    @task(outlets=[LAKE_BARS])
    def summarise(results: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
        """Fold the batch reports into one quality summary and update the lake asset."""
        from easyquant.data.pipeline import summarise as fold

        with _progress("summarise") as job:
            summary = fold(list(results))
            t = summary["totals"]
            ctx = get_current_context()
            ctx["outlet_events"][LAKE_BARS].extra = {
                "symbols": sorted(summary["symbols"]),
                "freq": config["freq"],
                "start": config["start"],
                "end": config["end"],
                "rows_stored": t.get("rows_stored", 0),
            }
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


def _validate(ctx: Any) -> dict[str, Any]:
    """Return the run's checked configuration; raise ConfigError naming the first bad field."""
    from easyquant.data import calendars
    from easyquant.data.frequency import parse_freq
    from easyquant.data.sources import SOURCES, check_symbol
    from easyquant.errors import ConfigError

    p = ctx["params"]
    source = p.get("source") or "synthetic"
    if source not in SOURCES:
        raise ConfigError(f"source: expected one of {SOURCES}, got {source!r}")
    path = p.get("path") or None
    if source != "synthetic" and not path:
        raise ConfigError(f"path: the {source} source needs a file or folder")
    raw = p.get("symbols")
    if isinstance(raw, str):
        raw = [s for s in raw.replace("\n", ",").split(",") if s.strip()]
    if not raw:
        raise ConfigError("symbols: expected at least one symbol")
    symbols = list(dict.fromkeys(check_symbol(str(s).strip()) for s in raw))
    calendar = calendars.calendar_name(p.get("calendar") or "")
    freq = parse_freq(p.get("freq") or "1d").name
    batch_size = int(p.get("batch_size") or 10)
    if batch_size < 1:
        raise ConfigError(f"batch_size: must be >= 1, got {batch_size}")

    run_type = ctx["dag_run"].run_type
    scheduled = str(getattr(run_type, "value", run_type)) == "scheduled"
    policy = p.get("policy") or "reject"
    if policy not in ("reject", "quarantine"):
        raise ConfigError(f"policy: expected reject or quarantine, got {policy!r}")
    tz = str(calendars.get_calendar(calendar).tz)
    interval = (
        _local_date(ctx.get("data_interval_start"), tz),
        _local_date(ctx.get("data_interval_end"), tz),
    )
    if scheduled:
        start, end = interval
    else:
        start = _date(p.get("start"), "start") or interval[0]
        end = _date(p.get("end"), "end") or interval[1]
    if start is None or end is None:
        raise ConfigError("start/end: a manual run without a data interval needs both dates")
    if start > end:
        raise ConfigError(f"start/end: start {start} is after end {end}")
    return {
        "source": source,
        "path": path,
        "symbols": symbols,
        "calendar": calendar,
        "freq": freq,
        "start": start,
        "end": end,
        "full_refresh": bool(p.get("full_refresh")),
        "policy": policy,
        "batch_size": batch_size,
        "scheduled": scheduled,
    }


def _date(value: Any, option: str) -> str | None:
    from easyquant.errors import ConfigError

    if value is None or str(value).strip() == "":
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise ConfigError(f"{option}: expected a date like 2024-01-31, got {value!r}") from None


easyquant_etl()
