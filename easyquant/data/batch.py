"""What every source yields: the batch schema, the Source protocol and column mapping.

A source yields :class:`Batch` objects: Arrow tables with the columns of :data:`BATCH_SCHEMA`
(``line`` is the 1-based position of each row in its origin, for error messages). Vendor
adapters implement the same protocol: honour ``symbols``, ``start``/``end`` and ``since`` and
name their origin in each batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa

from easyquant.data.frequency import Freq
from easyquant.data.symbols import SYMBOL_RE as SYMBOL_RE  # the one rule, used here too
from easyquant.data.symbols import check_symbol as check_symbol
from easyquant.errors import ConfigError, DataError

PRICE_FIELDS = ("open", "high", "low", "close")
VALUE_FIELDS = (*PRICE_FIELDS, "volume")
# the day's published limit prices: optional columns, appended after ``line`` when a source
# gives them (null on a day it gives none)
LIMIT_FIELDS = ("limit_up", "limit_down")
TS_TYPE = pa.timestamp("ns", tz="UTC")
BATCH_SCHEMA = pa.schema(
    [("symbol", pa.string()), ("timestamp", TS_TYPE)]
    + [(f, pa.float64()) for f in VALUE_FIELDS]
    + [("line", pa.int64())]
)


@dataclass
class Batch:
    """Rows from one origin (a file, a generator): an Arrow table with BATCH_SCHEMA."""

    table: pa.Table
    origin: str
    fields: Mapping[str, str] = field(default_factory=dict)  # canonical -> name in the origin
    line_word: str = "line"
    progress: float | None = None
    # what the source did to the rows: {"layout": name, "units": {field: conversion},
    # "not_bars": {symbol: rows dropped as not bars (e.g. suspended days)}}
    notes: dict[str, Any] = field(default_factory=dict)

    def field_name(self, canonical: str) -> str:
        return self.fields.get(canonical, canonical)


Span = tuple[int, int]  # first and last stored bar of a symbol, ns UTC


@dataclass(frozen=True)
class Want:
    """What an ingest asks of a source: ``symbols`` (None: all it has), an inclusive date range,
    and ``stored``: symbol -> (first, last) stored bar (ns UTC); fetch only what lies before the
    first or after the last (see :func:`missing_ranges`)."""

    symbols: Sequence[str] | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    stored: Mapping[str, Span] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """A provider of bars: yields batches of ``freq`` bars for what ``want`` asks."""

    name: str

    def batches(self, freq: Freq, want: Want | None = None) -> Iterator[Batch]: ...


def join_parts(parts: list[pa.Table]) -> pa.Table:
    """Concatenate the tables fetched for one symbol's ranges, numbering their rows anew."""
    if not parts:
        return BATCH_SCHEMA.empty_table()
    table = pa.concat_tables(parts)
    if len(parts) > 1:
        lines = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
        table = table.set_column(table.schema.get_field_index("line"), "line", lines)
    return table


def missing_ranges(
    start: pd.Timestamp | None, end: pd.Timestamp | None, stored: Span | None
) -> list[tuple[pd.Timestamp | None, pd.Timestamp | None]]:
    """Return the date ranges (inclusive, naive UTC days) to fetch around a stored span.

    With nothing stored: ``[(start, end)]``. Else the part of ``start..end`` up to the first
    stored day and the part from the last stored day on (the ingest drops the stored bars
    those days overlap). An open ``start`` asks for nothing before the first stored bar.
    """
    if stored is None:
        return [(start, end)]
    first = pd.Timestamp(stored[0]).normalize()
    last = pd.Timestamp(stored[1]).normalize()
    out: list[tuple[pd.Timestamp | None, pd.Timestamp | None]] = []
    if start is not None and start < first:
        out.append((start, first if end is None else min(end, first)))
    if end is None or end >= last:
        out.append((last if start is None else max(start, last), end))
    return out


class FileSource:
    """Bars read from files: a path (file or folder), the symbol of files without a symbol
    column, a column mapping and the zone of naive times (checked here)."""

    def __init__(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        columns: Mapping[str, str] | None = None,
        tz: str | None = None,
    ) -> None:
        import pyarrow.compute as pc

        self.path = Path(path)
        self.symbol = check_symbol(symbol, option="symbol") if symbol else None
        self.columns = dict(columns or {})
        self.tz = tz
        try:
            pc.assume_timezone(pa.array([0], pa.timestamp("ns")), tz or "UTC")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
            raise ConfigError(f"tz: unknown time zone {tz!r}") from None


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        if not found:
            raise DataError(f"{path}: no {' or '.join(suffixes)} files in this folder")
        return found
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    return [path]


ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": (
        "timestamp",
        "datetime",
        "date_time",
        "time",
        "date",
        "dt",
        "ts",
        "trade_time",
        "trade_date",
        "bar_time",
        "open_time",
    ),
    "symbol": ("symbol", "ticker", "code", "sym", "instrument", "ts_code", "asset"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "last", "price"),
    "volume": ("volume", "vol", "v", "qty", "quantity"),
}


def _norm(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


def map_columns(
    names: Sequence[str], overrides: Mapping[str, str], *, path: Path | str, has_symbol: bool = True
) -> dict[str, str]:
    """Map canonical fields to the origin's column names: overrides first, then known aliases.

    Raise DataError naming the file and the missing field when a required column is absent.
    """
    mapping: dict[str, str] = {}
    for canon, src in overrides.items():
        if canon not in ALIASES:
            raise ConfigError(f"columns: unknown field {canon!r}; expected one of {list(ALIASES)}")
        if src not in names:
            raise DataError(
                f"{path}: line 1, field {canon!r}: column {src!r} given in --columns is not in "
                f"the header ({len(names)} columns)"
            )
        mapping[canon] = src
    normed = {_norm(n): n for n in reversed(names)}
    for canon, aliases in ALIASES.items():
        if canon in mapping or (canon == "symbol" and not has_symbol):
            continue
        for alias in aliases:
            if alias in normed and normed[alias] not in mapping.values():
                mapping[canon] = normed[alias]
                break
        else:
            if canon != "symbol":
                # the header is not quoted: this may be no data file at all
                raise DataError(
                    f"{path}: line 1, field {canon!r}: missing column; none of the header's "
                    f"{len(names)} columns is named {' or '.join(aliases[:4])} "
                    f"(map one with --columns {canon}=NAME)"
                )
    return mapping


def normalise_daily(table: pa.Table, freq: Freq, tz: str) -> pa.Table:
    """Label daily bars with their session date at midnight UTC (dates taken in ``tz``)."""
    if not freq.daily or table.num_rows == 0:
        return table
    ts = table.column("timestamp")
    ns = ts.cast(pa.int64()).to_numpy(zero_copy_only=False)
    if not np.any(ns % 86_400_000_000_000):
        return table
    idx = pd.DatetimeIndex(ts.to_numpy(zero_copy_only=False)).tz_localize("UTC")
    days = idx.tz_convert(tz).tz_localize(None).normalize().tz_localize("UTC")
    i = table.schema.get_field_index("timestamp")
    return table.set_column(
        i, "timestamp", pa.array(days.values.astype("datetime64[ns]"), TS_TYPE).cast(TS_TYPE)
    )
