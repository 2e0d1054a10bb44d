"""Where bars come from: the synthetic and Parquet sources, and :func:`make_source`.

The batch schema and the Source protocol are in :mod:`easyquant.data.batch`; the CSV source in
``_csv``, vendor adapters in :mod:`easyquant.data.vendors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from easyquant.data import calendars
from easyquant.data.batch import (
    BATCH_SCHEMA,
    TS_TYPE,
    VALUE_FIELDS,
    Batch,
    FileSource,
    Source,
    Want,
    _files,
    check_symbol,
    join_parts,
    map_columns,
    missing_ranges,
    normalise_daily,
)
from easyquant.data.frequency import NS_PER_DAY, Freq
from easyquant.errors import ConfigError, DataError

__all__ = ["SOURCES", "Batch", "ParquetSource", "Source", "SyntheticSource", "check_symbol"]
__all__ += ["make_source"]

# ----- synthetic -------------------------------------------------------------------------------
_ANCHOR = np.datetime64("1990-01-01", "D")
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(key: int, ids: np.ndarray, stream: int) -> np.ndarray:
    salt = np.uint64((key + stream * 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        h = _mix(_mix(ids.astype(np.uint64) ^ salt) + salt)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / 9007199254740992.0


def _normal(key: int, ids: np.ndarray, stream: int) -> np.ndarray:
    u1 = _uniform(key, ids, 2 * stream)
    u2 = _uniform(key, ids, 2 * stream + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class SyntheticSource:
    """Seeded, reproducible OHLCV on a real calendar's sessions and hours.

    Every value is a pure function of (seed, symbol, bar time), so a range fetched in pieces
    equals the range fetched at once. Daily closes follow a random walk with clustered
    volatility (log-AR(1) volatility, per-symbol level 15-45% a year); intraday bars are a
    Brownian bridge from the session's open to its close with a U-shaped volume profile.
    """

    name = "synthetic"

    def __init__(self, calendar: str, *, seed: int = 42) -> None:
        self.calendar = calendars.calendar_name(calendar)
        self.seed = int(seed)

    def _key(self, symbol: str) -> int:
        digest = hashlib.blake2b(f"{self.seed}:{symbol}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def _daily(self, key: int, last_day: int) -> dict[str, np.ndarray]:
        days = np.arange(last_day + 1, dtype=np.int64)
        level = _uniform(key, np.array([0]), 99)[0]
        annual = 0.15 + 0.30 * level
        shock = _normal(key, days, 1)
        # log-volatility: AR(1) with persistence 0.97 (volatility clustering)
        lv = pd.Series(shock).ewm(alpha=0.03, adjust=False).mean().to_numpy() * 2.5
        sigma = annual / np.sqrt(365.0) * np.exp(lv - 0.048)
        ret = 0.00015 + sigma * _normal(key, days, 2)
        u0 = _uniform(key, np.array([0]), 98)[0]
        p0 = float(np.exp(np.log(10) + (np.log(300) - np.log(10)) * u0))
        logc = np.log(p0) + np.cumsum(ret)
        gap = 0.25 * sigma * _normal(key, days, 3)
        logo = np.concatenate([[np.log(p0)], logc[:-1]]) + gap
        vol_base = float(np.exp(np.log(2e5) + 2.0 * _uniform(key, np.array([0]), 97)[0] * 2))
        volume = vol_base * np.exp(0.35 * _normal(key, days, 4)) * (1 + 2 * np.abs(ret) / sigma / 3)
        return {"logc": logc, "logo": logo, "sigma": sigma, "volume": volume}

    def generate(self, symbol: str, freq: Freq, start: pd.Timestamp, end: pd.Timestamp) -> pa.Table:
        """Return the bars of ``symbol`` between two dates (inclusive) as a BATCH_SCHEMA table."""
        bars, sess = calendars.bar_grid(self.calendar, freq, start, end)
        key = self._key(symbol)
        if len(bars) == 0:
            return BATCH_SCHEMA.empty_table()
        day = ((sess // NS_PER_DAY) - int(_ANCHOR.astype(np.int64))).astype(np.int64)
        if day.min() < 0:
            raise ConfigError("synthetic source: dates before 1990-01-01 are not generated")
        d = self._daily(key, int(day.max()))
        logo, logc, sigma = d["logo"][day], d["logc"][day], d["sigma"][day]
        if freq.daily:
            o, c = logo, logc
            spread = 0.5 * sigma
            hi = np.maximum(o, c) + spread * np.abs(_normal(key, day, 5))
            lo = np.minimum(o, c) - spread * np.abs(_normal(key, day, 6))
            vol = d["volume"][day]
        else:
            ids = (bars // freq.ns).astype(np.int64)
            # bar position k within its session, and bars per session K
            starts = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]])
            counts = np.diff(np.r_[starts, len(sess)])
            k = np.arange(len(sess)) - np.repeat(starts, counts)
            kk = np.repeat(counts, counts).astype(np.float64)
            step = sigma / np.sqrt(kk) * (0.7 + 0.6 * ((2 * (k + 0.5) / kk - 1) ** 2))
            inc = step * _normal(key, ids, 7)
            # cumulative within each session, summed per session so that the values do not
            # depend on where the requested range starts
            groups = np.repeat(np.arange(len(starts)), counts)
            w = pd.Series(inc).groupby(groups).cumsum().to_numpy()
            w_end = np.repeat(w[starts + counts - 1], counts)
            frac = (k + 1) / kk
            c = logo + frac * (logc - logo) + (w - frac * w_end)
            o = np.empty_like(c)
            o[1:] = c[:-1]
            o[starts] = logo[starts]
            spread = 0.4 * step
            hi = np.maximum(o, c) + spread * np.abs(_normal(key, ids, 8))
            lo = np.minimum(o, c) - spread * np.abs(_normal(key, ids, 9))
            shape = 1.0 + 2.0 * (2 * (k + 0.5) / kk - 1) ** 2
            vol = d["volume"][day] * shape / (kk * 1.6667) * np.exp(0.3 * _normal(key, ids, 10))
        op, cl = np.round(np.exp(o), 2), np.round(np.exp(c), 2)
        high = np.maximum(np.round(np.exp(hi), 2), np.maximum(op, cl))
        low = np.maximum(np.minimum(np.round(np.exp(lo), 2), np.minimum(op, cl)), 0.01)
        op, cl = np.maximum(op, 0.01), np.maximum(cl, 0.01)
        high = np.maximum(high, np.maximum(op, cl))
        n = len(bars)
        return pa.table(
            [
                pa.array(np.full(n, symbol, dtype=object), pa.string()),
                pa.array(bars, TS_TYPE),
                pa.array(op),
                pa.array(high),
                pa.array(low),
                pa.array(cl),
                pa.array(np.floor(vol)),
                pa.array(np.arange(1, n + 1, dtype=np.int64)),
            ],
            schema=BATCH_SCHEMA,
        )

    def batches(self, freq: Freq, want: Want | None = None) -> Iterator[Batch]:
        """Yield one batch per symbol, only bars before or after its stored span."""
        want = want or Want()
        symbols, start, end, stored = want.symbols, want.start, want.end, want.stored
        if not symbols:
            raise ConfigError("symbols: the synthetic source needs at least one symbol")
        if start is None or end is None:
            raise ConfigError("start/end: the synthetic source needs a date range")
        for i, symbol in enumerate(symbols):
            span = stored.get(symbol)
            parts = [
                self.generate(symbol, freq, lo, hi)
                for lo, hi in missing_ranges(start, end, span)
                if lo is not None and hi is not None and lo <= hi
            ]
            table = join_parts(parts)
            if span is not None and table.num_rows:
                ts = table.column("timestamp").cast(pa.int64()).to_numpy()
                keep = np.flatnonzero((ts < span[0]) | (ts > span[1]))
                table = table.take(pa.array(keep))
            yield Batch(
                table, f"synthetic:{symbol}", line_word="bar", progress=(i + 1) / len(symbols)
            )


# ----- parquet ---------------------------------------------------------------------------------
class ParquetSource(FileSource):
    """Bars from a Parquet file or a folder of them; columns named like the CSV source's."""

    name = "parquet"

    def batches(self, freq: Freq, want: Want | None = None) -> Iterator[Batch]:
        """Stream each file in row batches, mapped to BATCH_SCHEMA."""
        import pyarrow.parquet as pq

        files = _files(self.path, (".parquet", ".pq"))
        for n, path in enumerate(files):
            try:
                pf = pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
            names = pf.schema_arrow.names
            mapping = map_columns(names, self.columns, path=path, has_symbol=self.symbol is None)
            row = 0
            if pf.metadata.num_rows == 0:
                raise DataError(f"{path}: row 1: the file holds no rows")
            for rb in pf.iter_batches(batch_size=1 << 20, columns=sorted(set(mapping.values()))):
                table = pa.Table.from_batches([rb])
                cols = {canon: table.column(src) for canon, src in mapping.items()}
                ts = cols["timestamp"]
                if not pa.types.is_timestamp(ts.type):
                    text = ts.cast(pa.string())
                    try:  # with a zone offset, else naive (taken in ``tz`` below)
                        ts = text.cast(TS_TYPE)
                    except pa.ArrowInvalid:
                        try:
                            ts = text.cast(pa.timestamp("ns"))
                        except pa.ArrowInvalid as exc:
                            raise DataError(
                                f"{path}: field {mapping['timestamp']!r}: cannot read "
                                f"timestamps: {exc}"
                            ) from None
                if ts.type.tz is None:
                    import pyarrow.compute as pc

                    ts = pc.assume_timezone(ts, self.tz or "UTC")
                cols["timestamp"] = ts.cast(TS_TYPE)
                for f in VALUE_FIELDS:
                    try:
                        cols[f] = cols[f].cast(pa.float64())
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                        raise DataError(
                            f"{path}: field {mapping[f]!r}: not a number: {exc}"
                        ) from None
                if "symbol" in cols:
                    cols["symbol"] = cols["symbol"].cast(pa.string())
                else:
                    cols["symbol"] = pa.chunked_array(
                        [pa.array(np.full(table.num_rows, self.symbol, dtype=object), pa.string())]
                    )
                lines = np.arange(row + 1, row + table.num_rows + 1, dtype=np.int64)
                row += table.num_rows
                out = pa.table(
                    [cols[c] for c in BATCH_SCHEMA.names[:-1]] + [pa.array(lines)],
                    schema=BATCH_SCHEMA,
                )
                yield Batch(
                    normalise_daily(out, freq, self.tz or "UTC"),
                    str(path),
                    mapping,
                    line_word="row",
                    progress=(n + row / pf.metadata.num_rows) / len(files),
                )


SOURCES = ("synthetic", "csv", "parquet", "akshare", "baostock", "tushare", "yfinance", "ccxt")


def make_source(
    name: str,
    *,
    path: str | Path | None = None,
    symbol: str | None = None,
    columns: Mapping[str, str] | None = None,
    tz: str | None = None,
    calendar: str | None = None,
    seed: int = 42,
    format: str | None = None,
    exchange: str | None = None,
    settings: Any = None,
) -> Source:
    """Build a source by name: ``synthetic`` (needs calendar), ``csv`` or ``parquet`` (path)."""
    if name == "synthetic":
        if not calendar:
            raise ConfigError("calendar: the synthetic source needs a calendar, e.g. XNYS")
        return SyntheticSource(calendar, seed=seed)
    if name in ("csv", "parquet"):
        if not path:
            raise ConfigError(f"path: the {name} source needs --path FILE_OR_DIR")
        if name == "csv":
            from easyquant.data._csv import CsvSource

            return CsvSource(path, symbol=symbol, columns=columns, tz=tz, format=format)
        return ParquetSource(path, symbol=symbol, columns=columns, tz=tz)
    from easyquant.data.vendors import VENDORS, make_vendor

    if name in VENDORS:
        options: dict[str, Any] = {}
        if name == "tushare":
            from easyquant.config import get_settings

            options["token"] = (settings or get_settings()).tushare_token
        if name == "ccxt" and exchange:
            options["exchange"] = exchange
        return make_vendor(name, **options)
    raise ConfigError(f"source: expected one of {SOURCES}, got {name!r}")
