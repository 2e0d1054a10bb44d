"""PostgreSQL side of the lake: the catalog, quality reports and corporate actions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import psycopg2.extensions

from easyquant.config import Settings
from easyquant.db import connect

_UPSERT = """
INSERT INTO bar_catalog AS b (symbol, freq, calendar, first_ts, last_ts, rows, checksum, path)
VALUES (%(symbol)s, %(freq)s, %(calendar)s, %(first_ts)s, %(last_ts)s, %(rows)s, %(checksum)s,
        %(path)s)
ON CONFLICT (symbol, freq) DO UPDATE SET
    calendar = EXCLUDED.calendar, first_ts = EXCLUDED.first_ts, last_ts = EXCLUDED.last_ts,
    rows = EXCLUDED.rows, checksum = EXCLUDED.checksum, path = EXCLUDED.path,
    updated_at = clock_timestamp()
WHERE (b.checksum, b.rows, b.path, b.calendar) IS DISTINCT FROM
      (EXCLUDED.checksum, EXCLUDED.rows, EXCLUDED.path, EXCLUDED.calendar)
"""

_REPORT_COLS = (
    "ingest_id",
    "source",
    "origin",
    "symbol",
    "freq",
    "status",
    "rows_read",
    "rows_skipped",
    "rows_rejected",
    "rows_stored",
    "rejects",
    "samples",
    "gaps",
    "warnings",
    "quarantine_path",
    "error",
)
_JSON_COLS = {"rejects", "samples", "gaps", "warnings"}


def upsert_entries(cur: psycopg2.extensions.cursor, entries: Iterable[dict[str, Any]]) -> None:
    """Insert or update catalog rows; an unchanged partition keeps its ``updated_at``."""
    for entry in entries:
        cur.execute(_UPSERT, entry)


def insert_reports(cur: psycopg2.extensions.cursor, reports: Iterable[dict[str, Any]]) -> None:
    """Append quality reports (one per symbol and ingest)."""
    cols = ", ".join(_REPORT_COLS)
    marks = ", ".join(f"%({c})s" for c in _REPORT_COLS)
    for rep in reports:
        row = {c: rep.get(c) for c in _REPORT_COLS}
        for c in _JSON_COLS:
            row[c] = json.dumps(row[c] if row[c] is not None else {}, default=str)
        cur.execute(f"INSERT INTO quality_report ({cols}) VALUES ({marks})", row)


@contextmanager
def cursor(settings: Settings) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on a new connection: committed when the block ends, rolled back if it raises."""
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    finally:
        conn.close()


def _fetch_dicts(cur: psycopg2.extensions.cursor) -> list[dict[str, Any]]:
    """Return the rows of the query just run on ``cur`` as dicts keyed by column name."""
    assert cur.description is not None, "the query returned no rows to fetch"
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def list_entries(settings: Settings, freq: str | None = None) -> list[dict[str, Any]]:
    """Return the catalog rows (optionally one frequency), ordered by frequency and symbol."""
    with cursor(settings) as cur:
        cur.execute(
            "SELECT symbol, freq, calendar, first_ts, last_ts, rows, checksum, path, "
            "updated_at FROM bar_catalog WHERE %(f)s::text IS NULL OR freq = %(f)s "
            "ORDER BY freq, symbol",
            {"f": freq},
        )
        return _fetch_dicts(cur)


def reports(settings: Settings, ingest_id: str | None = None) -> list[dict[str, Any]]:
    """Return quality reports, of one ingest or all, oldest first."""
    with cursor(settings) as cur:
        cur.execute(
            "SELECT * FROM quality_report WHERE %(i)s::text IS NULL OR ingest_id = %(i)s "
            "ORDER BY id",
            {"i": ingest_id},
        )
        return _fetch_dicts(cur)


def upsert_actions(cur: psycopg2.extensions.cursor, actions: pd.DataFrame) -> int:
    """Insert or update corporate actions (columns symbol, ex_date, split_ratio, dividend)."""
    for r in actions.to_dict(orient="records"):
        cur.execute(
            "INSERT INTO corporate_action (symbol, ex_date, split_ratio, dividend) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (symbol, ex_date) DO UPDATE SET "
            "split_ratio = EXCLUDED.split_ratio, dividend = EXCLUDED.dividend",
            (
                r["symbol"],
                pd.Timestamp(r["ex_date"]).date(),
                float(r["split_ratio"]),
                float(r["dividend"]),
            ),
        )
    return len(actions)


def store_actions(settings: Settings, actions: pd.DataFrame) -> int:
    """Upsert corporate actions in one transaction; return how many."""
    with cursor(settings) as cur:
        return upsert_actions(cur, actions)


def load_actions(settings: Settings, symbols: Sequence[str]) -> pd.DataFrame:
    """Return the corporate actions of ``symbols`` from the ``corporate_action`` table."""
    with cursor(settings) as cur:
        cur.execute(
            "SELECT symbol, ex_date, split_ratio, dividend FROM corporate_action "
            "WHERE symbol = ANY(%s) ORDER BY symbol, ex_date",
            (list(symbols),),
        )
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["symbol", "ex_date", "split_ratio", "dividend"])
