"""Read-only queries over what the lake holds, for the monitor API and other readers.

Pages of the catalog, the quality reports and the instrument master (``limit``/``offset``
with the total count), one catalog entry, and one stored partition's bars for a chart. Every
function takes an open connection and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
import psycopg2.extensions

from easyquant.config import Settings
from easyquant.data import catalog, instruments
from easyquant.errors import DataError

Adjustment = Literal["raw", "forward", "backward"]
CATALOG_COLUMNS = ("symbol", "freq", "calendar", "first_ts", "last_ts", "rows", "updated_at")
# catalog.py writes the reports; these are its columns with the id and time the table adds
REPORT_COLUMNS = ("id", *catalog._REPORT_COLS, "created_at")
INSTRUMENT_COLUMNS = (
    *(c for c in instruments.COLUMNS if c not in instruments.PERIOD_KINDS),
    "source",
    "updated_at",
)
# the key of a quality report's warnings under which the ingest lists the units it converted
UNITS_KEY = "units_converted"


def _like(text: str) -> str:
    """A case-insensitive substring pattern for ILIKE, with the pattern characters escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(
    equal: dict[str, Any], search: str | None = None, search_sql: str = ""
) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (and their arguments) for columns equal to the given values (None: no
    condition) and, with ``search``, for ``search_sql`` matching it as a substring."""
    where = [f"{name} = %({name})s" for name, value in equal.items() if value]
    args = {name: value for name, value in equal.items() if value}
    if search:
        where.append(search_sql)
        args["search"] = _like(search)
    return where, args


def _page(
    conn: psycopg2.extensions.connection,
    table: str,
    columns: tuple[str, ...],
    where: list[str],
    args: dict[str, Any],
    order: str,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Count the rows of ``table`` matching ``where`` and return one page of them."""
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}{clause}", args)
        row = cur.fetchone()
        total = int(row[0]) if row else 0
        cur.execute(
            f"SELECT {', '.join(columns)} FROM {table}{clause} ORDER BY {order} "
            "LIMIT %(limit)s OFFSET %(offset)s",
            {**args, "limit": limit, "offset": offset},
        )
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
    return total, rows


def catalog_page(
    conn: psycopg2.extensions.connection,
    *,
    freq: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Return (total, entries) of the catalog by frequency and symbol; ``search`` matches part
    of a symbol, case-insensitively."""
    where, args = _where({"freq": freq}, search, "symbol ILIKE %(search)s")
    return _page(conn, "bar_catalog", CATALOG_COLUMNS, where, args, "freq, symbol", limit, offset)


def catalog_entry(
    conn: psycopg2.extensions.connection, symbol: str, freq: str
) -> dict[str, Any] | None:
    """Return the catalog row of one partition, or None when it is not stored."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(CATALOG_COLUMNS)} FROM bar_catalog WHERE symbol = %s AND freq = %s",
            (symbol, freq),
        )
        row = cur.fetchone()
    return dict(zip(CATALOG_COLUMNS, row, strict=True)) if row else None


def stored_freqs(conn: psycopg2.extensions.connection, symbol: str) -> list[str]:
    """Return the frequencies at which ``symbol`` is stored."""
    with conn.cursor() as cur:
        cur.execute("SELECT freq FROM bar_catalog WHERE symbol = %s ORDER BY freq", (symbol,))
        return [r[0] for r in cur.fetchall()]


def report_page(
    conn: psycopg2.extensions.connection,
    *,
    symbol: str | None = None,
    freq: str | None = None,
    ingest_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Return (total, reports), newest first; each report's ``units`` is what its ingest
    converted (field -> conversion), taken from its warnings."""
    where, args = _where({"symbol": symbol, "freq": freq, "ingest_id": ingest_id, "status": status})
    total, rows = _page(
        conn, "quality_report", REPORT_COLUMNS, where, args, "id DESC", limit, offset
    )
    for r in rows:
        units = (r["warnings"] or {}).get(UNITS_KEY)
        r["units"] = {str(k): str(v) for k, v in units.items()} if isinstance(units, dict) else {}
    return total, rows


def action_count(conn: psycopg2.extensions.connection, symbol: str) -> int:
    """Return how many corporate actions (splits, dividends) are stored for ``symbol``."""
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM corporate_action WHERE symbol = %s", (symbol,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def stored_bars(
    settings: Settings,
    entry: dict[str, Any],
    adjust: Adjustment = "raw",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Return the bars of one catalog ``entry`` (from :func:`catalog_entry`, so only stored
    partitions are read), raw or adjusted on read; empty when none fall in [start, end]."""
    from easyquant.data import load_bars

    try:
        return load_bars(
            entry["symbol"],
            freq=entry["freq"],
            start=start.isoformat() if start else None,
            end=end.isoformat() if end else None,
            settings=settings,
            adjust=None if adjust == "raw" else adjust,
        )[entry["symbol"]]
    except DataError as exc:
        if "no " in str(exc) and " between " in str(exc):
            return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])
        raise


def instrument_page(
    conn: psycopg2.extensions.connection,
    *,
    exchange: str | None = None,
    board: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Return (total, instruments) by symbol, each with its dated ``st`` and ``suspended``
    periods (start, end; end None while it lasts); ``search`` matches part of the symbol or
    the name."""
    where, args = _where(
        {"exchange": exchange.upper() if exchange else None, "board": board},
        search,
        "(symbol ILIKE %(search)s OR name ILIKE %(search)s)",
    )
    total, rows = _page(
        conn, "instrument", INSTRUMENT_COLUMNS, where, args, "symbol", limit, offset
    )
    by_symbol = {r["symbol"]: r for r in rows}
    for r in rows:
        r["st"], r["suspended"] = [], []
    if by_symbol:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT symbol, kind, start_date, end_date FROM instrument_period "
                "WHERE symbol = ANY(%s) ORDER BY symbol, kind, start_date",
                (list(by_symbol),),
            )
            for sym, kind, start, end in cur.fetchall():
                by_symbol[sym][kind].append({"start": start, "end": end})
    return total, rows
