"""REST routes for the Data page: the catalog, quality reports, stored bars and instruments.

Everything is read through ``easyquant.data.queries``; nothing writes. Bars are read only for
partitions the catalog lists, so no request can make the API read outside the lake.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from easyquant.data import queries
from easyquant.errors import EasyQuantError
from monitor_api.deps import DbDep, SettingsDep
from monitor_api.routes.backtests import MAX_PRICE_BARS, Bar, downsample

router = APIRouter(prefix="/api/data", tags=["data"])

MAX_PAGE = 1000
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")]
Symbol = Annotated[str, Query(min_length=1, max_length=64, description="A stored symbol")]
Freq = Annotated[
    str,
    Query(
        min_length=2,
        max_length=8,
        pattern=r"^[0-9]+[a-zA-Z]+$",
        description="A bar frequency such as 1d or 1m",
    ),
]
Search = Annotated[str | None, Query(max_length=64, description="Part of a symbol, any case")]
FreqFilter = Annotated[str | None, Query(max_length=8, description="Only this frequency")]
SymbolFilter = Annotated[str | None, Query(max_length=64, description="Only this symbol")]


class Page(BaseModel):
    total: int = Field(description="Rows matching the filters")
    limit: int
    offset: int


class CatalogEntry(BaseModel):
    """One stored partition of the lake (a symbol at a frequency)."""

    symbol: str
    freq: str
    calendar: str | None = Field(description="The exchange calendar its gaps are checked on")
    first_ts: dt.datetime = Field(description="First stored bar")
    last_ts: dt.datetime = Field(description="Last stored bar")
    rows: int
    updated_at: dt.datetime = Field(description="When its file last changed")


class CatalogPage(Page):
    entries: list[CatalogEntry]


class QualityReport(BaseModel):
    """How one ingest went for one symbol."""

    id: int
    ingest_id: str
    source: str
    origin: str = Field(description="The file or vendor the rows came from")
    symbol: str
    freq: str
    status: Literal["stored", "unchanged", "rejected"]
    rows_read: int
    rows_skipped: int
    rows_rejected: int
    rows_stored: int
    rejects: dict[str, int] = Field(description="Rejection reason -> rows")
    samples: list[dict[str, Any]] = Field(description="A few rejected rows with line and field")
    gaps: dict[str, Any] = Field(
        description="Against the calendar: expected_bars, missing_bars, missing_sessions, "
        "first_missing_sessions, off_calendar_rows"
    )
    warnings: dict[str, Any]
    units: dict[str, str] = Field(description="Field -> the unit conversion applied")
    quarantine_path: str | None = Field(description="Where the rejected rows were kept")
    error: str | None
    created_at: dt.datetime


class ReportPage(Page):
    reports: list[QualityReport]


class StoredBars(BaseModel):
    symbol: str
    freq: str
    adjust: queries.Adjustment
    bars_freq: str = Field(
        description="The stored frequency, or 'Nx<freq>' when N bars were merged into one"
    )
    rows: int = Field(description="Stored bars in the period, before merging")
    actions: int = Field(description="Corporate actions stored for the symbol")
    bars: list[Bar] = Field(description=f"At most {MAX_PRICE_BARS}, oldest first")


class Period(BaseModel):
    start: dt.date
    end: dt.date | None = Field(description="Inclusive; null while it lasts")


class Instrument(BaseModel):
    symbol: str
    name: str
    exchange: str
    board: str = Field(description="main, chinext, star, bse, etf or crypto")
    currency: str
    lot: float
    min_order: float
    tick: float
    listed: dt.date | None
    delisted: dt.date | None
    source: str
    updated_at: dt.datetime
    st: list[Period] = Field(description="Periods under special treatment")
    suspended: list[Period] = Field(description="Periods not trading")


class InstrumentPage(Page):
    instruments: list[Instrument]


def _bad_query(field: str, msg: str, value: Any) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": msg, "input": value}]
    )


def _page(total: int, limit: int, offset: int, **rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of a list: how many rows match, which slice this is, and its rows."""
    return {"total": total, "limit": limit, "offset": offset, **rows}


@router.get("/catalog", response_model=CatalogPage)
def list_catalog(
    db: DbDep,
    limit: Limit = 100,
    offset: Offset = 0,
    freq: FreqFilter = None,
    search: Search = None,
) -> dict[str, Any]:
    """What the lake holds, by frequency and symbol."""
    total, entries = queries.catalog_page(db, freq=freq, search=search, limit=limit, offset=offset)
    return _page(total, limit, offset, entries=entries)


@router.get("/reports", response_model=ReportPage)
def list_reports(
    db: DbDep,
    limit: Limit = 100,
    offset: Offset = 0,
    symbol: SymbolFilter = None,
    freq: FreqFilter = None,
    ingest_id: Annotated[str | None, Query(max_length=200, description="Only one ingest")] = None,
    status: Annotated[
        Literal["stored", "unchanged", "rejected"] | None, Query(description="Only this outcome")
    ] = None,
) -> dict[str, Any]:
    """Every ingest's quality report, newest first."""
    total, reports = queries.report_page(
        db,
        symbol=symbol,
        freq=freq,
        ingest_id=ingest_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return _page(total, limit, offset, reports=reports)


@router.get("/bars", response_model=StoredBars, responses={404: {"description": "Not stored"}})
def get_bars(
    db: DbDep,
    settings: SettingsDep,
    symbol: Symbol,
    freq: Freq = "1d",
    adjust: Annotated[
        queries.Adjustment,
        Query(description="raw, forward (qfq: latest prices as traded) or backward (hfq)"),
    ] = "raw",
    start: Annotated[dt.date | None, Query(description="First day, inclusive")] = None,
    end: Annotated[dt.date | None, Query(description="Last day, inclusive")] = None,
) -> dict[str, Any]:
    """One stored symbol's bars for a chart, raw or adjusted on read; long series merged."""
    if start and end and end < start:
        raise _bad_query("end", f"end {end} is before start {start}", str(end))
    entry = queries.catalog_entry(db, symbol, freq)
    if entry is None:
        others = queries.stored_freqs(db, symbol)
        if others:
            raise HTTPException(
                404, f"freq: {symbol!r} is not stored at {freq}, only at {', '.join(others)}"
            )
        raise HTTPException(404, f"symbol: {symbol!r} is not in the catalog")
    try:
        frame = queries.stored_bars(settings, entry, adjust, start, end)
    except EasyQuantError as exc:
        raise HTTPException(409, f"symbol {symbol!r} at {freq}: {exc}") from exc
    merged, factor = downsample(frame, MAX_PRICE_BARS)
    bars = merged.rename_axis("time").reset_index().to_dict(orient="records")
    return {
        "symbol": symbol,
        "freq": freq,
        "adjust": adjust,
        "bars_freq": freq if factor == 1 else f"{factor}x{freq}",
        "rows": len(frame),
        "actions": queries.action_count(db, symbol),
        "bars": bars,
    }


@router.get("/instruments", response_model=InstrumentPage)
def list_instruments(
    db: DbDep,
    limit: Limit = 100,
    offset: Offset = 0,
    exchange: Annotated[str | None, Query(max_length=16, description="e.g. XSHG")] = None,
    board: Annotated[
        Literal["main", "chinext", "star", "bse", "etf", "crypto"] | None,
        Query(description="Only this board"),
    ] = None,
    search: Annotated[
        str | None, Query(max_length=64, description="Part of a symbol or name, any case")
    ] = None,
) -> dict[str, Any]:
    """The instrument master by symbol, with dated ST and suspension periods."""
    total, rows = queries.instrument_page(
        db, exchange=exchange, board=board, search=search, limit=limit, offset=offset
    )
    return _page(total, limit, offset, instruments=rows)
