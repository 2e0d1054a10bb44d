"""Task-sized, idempotent steps for the ETL DAG (and anything else that batches ingests).

Each step takes plain JSON-able arguments and returns JSON-able results, so Airflow can map
``ingest_batch`` over ``plan_batches`` and pass results through XCom.
"""

from __future__ import annotations

from typing import Any

from easyquant.config import Settings, get_settings
from easyquant.data.batch import check_symbol
from easyquant.data.request import parse_request
from easyquant.errors import ConfigError


def plan_batches(symbols: list[str] | str, batch_size: int = 10) -> list[list[str]]:
    """Split the symbol list into batches of at most ``batch_size`` (order kept, deduplicated)."""
    if isinstance(symbols, str):
        symbols = [s for s in symbols.split(",") if s.strip()]
    names = list(dict.fromkeys(check_symbol(s.strip()) for s in symbols))
    if not names:
        raise ConfigError("symbols: expected at least one symbol")
    if batch_size < 1:
        raise ConfigError(f"batch_size: must be >= 1, got {batch_size}")
    return [names[i : i + batch_size] for i in range(0, len(names), batch_size)]


def request_from_dag(ctx: Any) -> dict[str, Any]:
    """Check a DAG run's Params once (as an IngestRequest) and resolve symbols and period.

    A scheduled run ingests its data interval (as dates in the calendar's time zone); a manual
    run the Params' start and end, else its data interval (a start alone runs to today). A
    ``rule`` takes its symbols from the instrument master. Return the request as JSON (for
    XCom) plus ``scheduled``.
    """
    from easyquant.data import calendars

    p = dict(ctx["params"])
    symbols = p.get("symbols") or None
    if not symbols and p.get("rule"):
        symbols = rule_symbols(str(p["rule"]))
    calendar = calendars.calendar_name(p.get("calendar") or "")
    run_type = ctx["dag_run"].run_type
    scheduled = str(getattr(run_type, "value", run_type)) == "scheduled"
    tz = str(calendars.get_calendar(calendar).tz)
    interval = (
        _local_date(ctx.get("data_interval_start"), tz),
        _local_date(ctx.get("data_interval_end"), tz),
    )
    start, end = interval
    if not scheduled:  # the Params' dates, else the run's interval; the end defaults to today
        import pandas as pd

        today = pd.Timestamp.now(tz).date().isoformat()
        start = p.get("start") or interval[0]
        end = p.get("end") or interval[1] or (today if start else None)
    request = parse_request(
        {
            "source": p.get("source") or "synthetic",
            "path": p.get("path") or None,
            "symbols": symbols,
            "exchange": p.get("exchange") or None,
            "calendar": calendar,
            "freq": p.get("freq") or "1d",
            "start": start,
            "end": end,
            "full": bool(p.get("full_refresh")),
            "policy": p.get("policy") or "reject",
            "batch_size": int(p.get("batch_size") or 10),
        }
    )
    if request.start is None or request.end is None:
        raise ConfigError("start/end: a manual run without a data interval needs both dates")
    if request.path:  # a run's path is anyone's who can trigger it: only import folders
        request = request.model_copy(update={"path": str(get_settings().import_path(request.path))})
    if not request.symbols:
        raise ConfigError("symbols: expected at least one symbol")
    out = request.model_dump(mode="json")
    out["symbols"] = list(request.symbols)
    out["scheduled"] = scheduled
    return out


def _local_date(value: Any, tz: str) -> str | None:
    if value is None:
        return None
    import pandas as pd

    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.tz_convert(tz).date().isoformat()


def rule_symbols(rule: str, settings: Settings | None = None) -> list[str]:
    """Resolve ``exchange:XSHG,XSHE`` to those exchanges' stocks in the instrument master."""
    from easyquant.data.instruments import load

    kind, _, names = rule.partition(":")
    wanted = {n.strip().upper() for n in names.split(",") if n.strip()}
    if kind != "exchange" or not wanted:
        raise ConfigError(f"rule: expected exchange:XSHG,XSHE, got {rule!r}")
    master = load(settings or get_settings())
    found = [s for s, i in master.items() if i.exchange in wanted and i.board != "etf"]
    if not found:
        raise ConfigError(
            f"rule: no instruments of {sorted(wanted)} in the instrument master; load them "
            "with easyquant data instruments load FILE (or fetch --source akshare)"
        )
    return found


def ingest_batch(
    symbols: list[str],
    config: dict[str, Any],
    *,
    tracker: Any = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Ingest one batch of a request's symbols; report progress on ``tracker``."""
    settings = settings or get_settings()
    request = parse_request({k: v for k, v in config.items() if k != "scheduled"})

    def progress(frac: float, message: str, metrics: dict[str, Any]) -> None:
        if tracker is not None:
            tracker.progress(frac, message, **metrics)

    result = request.run(settings, symbols=symbols, progress=progress)
    summary = result.to_dict()
    if tracker is not None:
        tracker.metrics(
            **summary["totals"],
            ingest_id=result.ingest_id,
            quality={s: _brief(r) for s, r in summary["symbols"].items()},
        )
    return summary


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold batch results into one summary (totals and per-symbol status)."""
    totals: dict[str, int] = {}
    symbols: dict[str, Any] = {}
    for r in results:
        for k, v in r.get("totals", {}).items():
            totals[k] = totals.get(k, 0) + int(v)
        for s, rep in r.get("symbols", {}).items():
            symbols[s] = _brief(rep)
    return {"totals": totals, "symbols": symbols, "batches": len(results)}


def _brief(rep: dict[str, Any]) -> dict[str, Any]:
    return {k: rep.get(k) for k in ("status", "rows_read", "rows_stored", "rows_rejected")} | {
        "missing_bars": rep.get("gaps", {}).get("missing_bars", 0)
    }
