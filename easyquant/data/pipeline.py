"""Task-sized, idempotent steps for the ETL DAG (and anything else that batches ingests).

Each step takes plain JSON-able arguments and returns JSON-able results, so Airflow can map
``ingest_batch`` over ``plan_batches`` and pass results through XCom.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from easyquant.config import Settings, get_settings
from easyquant.data.batch import check_symbol
from easyquant.data.sources import make_source
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


def ingest_batch(
    symbols: list[str],
    *,
    source: str = "synthetic",
    freq: str = "1d",
    start: str | None = None,
    end: str | None = None,
    calendar: str | None = None,
    path: str | None = None,
    full: bool = False,
    policy: str = "reject",
    tracker: Any = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Ingest one batch of symbols; report progress on ``tracker`` (a status Tracker)."""
    settings = settings or get_settings()
    src = make_source(source, path=path, calendar=calendar)

    def progress(frac: float, message: str, metrics: dict[str, Any]) -> None:
        if tracker is not None:
            tracker.progress(frac, message, **metrics)

    result = ingest_module().ingest(
        src,
        freq=freq,
        symbols=symbols,
        start=start,
        end=end,
        calendar=calendar,
        full=full,
        policy=policy,
        settings=settings,
        progress=progress,
    )
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


def ingest_module() -> ModuleType:
    from easyquant.data import ingest

    return ingest
