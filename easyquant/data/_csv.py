"""The CSV source: stream a file or a folder in Arrow blocks; name file, line and field on error.

The fast path reads typed columns with ``pyarrow.csv.open_csv``. When Arrow rejects a block
(a bad number, a bad timestamp, a short row, bytes that are not UTF-8) the file is scanned again
as raw bytes to find the first offending line and field, which the error then names.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from easyquant.data._freq import Freq
from easyquant.data.sources import (
    BATCH_SCHEMA,
    TS_TYPE,
    VALUE_FIELDS,
    Batch,
    _files,
    check_symbol,
)
from easyquant.errors import ConfigError, DataError

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
NULLS = ["", "NaN", "nan", "NAN", "NA", "N/A", "n/a", "null", "NULL", "None", "-nan", "-NaN"]
_AWARE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")
_EXTRA_TS_FORMATS = ("%Y%m%d", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_HEAD = 1 << 16


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
                f"the header {list(names)}"
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
                raise DataError(
                    f"{path}: line 1, field {canon!r}: missing column; the header has "
                    f"{list(names)} (map one with --columns {canon}=NAME)"
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


def _first_bad(arr: pa.Array, ok: Callable[[pa.Array], bool]) -> int | None:
    """Return the index of the first element making ``ok`` false (bisection), or None."""
    if ok(arr):
        return None
    lo, hi = 0, len(arr)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if not ok(arr.slice(lo, mid - lo)):
            hi = mid
        else:
            lo = mid
    return lo


def _casts(arr: pa.Array, to: pa.DataType) -> bool:
    try:
        arr.cast(to)
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _ts_ok(arr: pa.Array, to: pa.DataType) -> bool:
    if _casts(arr, to):
        return True
    if pa.types.is_timestamp(to) and to.tz is None:
        for fmt in _EXTRA_TS_FORMATS:
            try:
                pc.strptime(arr, format=fmt, unit="ns")
                return True
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    return False


class CsvSource:
    """Bars from a CSV file or a folder of ``*.csv`` files, streamed in blocks.

    ``columns`` maps canonical fields (timestamp, symbol, open, high, low, close, volume) to
    header names; unmapped fields are found by common names. Without a symbol column the
    symbol is ``symbol`` or the file's stem. Timestamps with a zone offset are read as such;
    naive ones are taken in ``tz`` (default UTC). A file mixing both is refused.
    """

    name = "csv"

    def __init__(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        columns: Mapping[str, str] | None = None,
        tz: str | None = None,
        block_size: int = 16 << 20,
    ) -> None:
        self.path = Path(path)
        self.symbol = check_symbol(symbol, option="symbol") if symbol else None
        self.columns = dict(columns or {})
        self.tz = tz or "UTC"
        try:
            pc.assume_timezone(pa.array([0], pa.timestamp("ns")), self.tz)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
            raise ConfigError(f"tz: unknown time zone {self.tz!r}") from None
        self.block_size = block_size

    def files(self) -> list[Path]:
        """Return the files this source reads, in order."""
        return _files(self.path, (".csv", ".csv.gz", ".txt"))

    def batches(
        self,
        freq: Freq,
        *,
        symbols: Sequence[str] | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        since: Mapping[str, int] | None = None,
    ) -> Iterator[Batch]:
        """Yield the rows of every file (filtering by symbol and time is the caller's)."""
        files = self.files()
        sizes = [max(p.stat().st_size, 1) for p in files]
        total, done = float(sum(sizes)), 0.0
        for path, size in zip(files, sizes, strict=True):
            for batch, frac in self._read_file(path, freq):
                batch.progress = (done + frac * size) / total
                yield batch
            done += size

    # ----- one file --------------------------------------------------------------------------
    def _header(self, path: Path) -> tuple[list[str], str, str | None]:
        """Check encoding and shape; return (column names, delimiter, first data line)."""
        if path.stat().st_size == 0:
            raise DataError(f"{path}: line 1: the file is empty")
        with open(path, "rb") as f:
            head = f.read(_HEAD)
        for bom, enc in (
            (codecs.BOM_UTF32_LE, "UTF-32"),
            (codecs.BOM_UTF32_BE, "UTF-32"),
            (codecs.BOM_UTF16_LE, "UTF-16"),
            (codecs.BOM_UTF16_BE, "UTF-16"),
        ):
            if head.startswith(bom):
                raise DataError(
                    f"{path}: line 1: wrong encoding ({enc} byte-order mark); "
                    "save the file as UTF-8"
                )
        if b"\x00" in head:
            line = head[: head.index(b"\x00")].count(b"\n") + 1
            raise DataError(
                f"{path}: line {line}: wrong encoding (NUL bytes, likely UTF-16); "
                "save the file as UTF-8"
            )
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4 or len(head) < _HEAD:
                line = head[: exc.start].count(b"\n") + 1
                raise DataError(
                    f"{path}: line {line}: wrong encoding: byte 0x{head[exc.start]:02x} is not "
                    "UTF-8; save the file as UTF-8"
                ) from None
            text = head[: exc.start].decode("utf-8")
        text = text.lstrip("\ufeff")
        lines = text.splitlines()
        if not lines or not lines[0].strip():
            raise DataError(f"{path}: line 1: the file has no header row")
        first = lines[0]
        delim = ","
        if "," not in first:
            delim = ";" if ";" in first else ("\t" if "\t" in first else ",")
        names = next(csv.reader([first], delimiter=delim))
        data = lines[1] if len(lines) > 1 else None
        if data is None or (not data.strip() and len(lines) == 2):
            raise DataError(f"{path}: line 2: no data rows after the header")
        return names, delim, data

    def _read_file(self, path: Path, freq: Freq) -> Iterator[tuple[Batch, float]]:
        names, delim, first_row = self._header(path)
        fixed_symbol = self.symbol
        mapping = map_columns(names, self.columns, path=path, has_symbol=fixed_symbol is None)
        if "symbol" not in mapping and fixed_symbol is None:
            fixed_symbol = check_symbol(path.name.split(".")[0], option=f"{path}: symbol")
        first_vals = next(csv.reader([first_row or ""], delimiter=delim))
        ts_idx = names.index(mapping["timestamp"])
        aware = ts_idx < len(first_vals) and bool(_AWARE.search(first_vals[ts_idx].strip()))
        ts_type = TS_TYPE if aware else pa.timestamp("ns")
        types: dict[str, pa.DataType] = {mapping["timestamp"]: ts_type}
        for f in VALUE_FIELDS:
            types[mapping[f]] = pa.float64()
        if "symbol" in mapping:
            types[mapping["symbol"]] = pa.string()
        include = list(dict.fromkeys(mapping[k] for k in mapping))
        read_opts = pacsv.ReadOptions(block_size=self.block_size, use_threads=True)
        parse_opts = pacsv.ParseOptions(delimiter=delim, ignore_empty_lines=False)
        parsers: list = [pacsv.ISO8601] + ([] if aware else list(_EXTRA_TS_FORMATS))
        conv = pacsv.ConvertOptions(
            include_columns=include,
            column_types=types,
            null_values=NULLS,
            strings_can_be_null=False,
            timestamp_parsers=parsers,
        )
        size = max(path.stat().st_size, 1)
        line = 2
        try:
            with open(path, "rb") as raw:
                reader = pacsv.open_csv(
                    raw, read_options=read_opts, parse_options=parse_opts, convert_options=conv
                )
                for rb in reader:
                    n = rb.num_rows
                    if n == 0:
                        continue
                    ts = rb.column(mapping["timestamp"])
                    if not aware:
                        ts = pc.assume_timezone(
                            ts, self.tz, ambiguous="earliest", nonexistent="earliest"
                        )
                    if fixed_symbol is not None:
                        sym = pa.DictionaryArray.from_arrays(
                            pa.array(np.zeros(n, dtype=np.int32)), pa.array([fixed_symbol])
                        ).cast(pa.string())
                    else:
                        sym = rb.column(mapping["symbol"])
                    cols = [sym, ts.cast(TS_TYPE)] + [rb.column(mapping[f]) for f in VALUE_FIELDS]
                    cols.append(pa.array(np.arange(line, line + n, dtype=np.int64)))
                    line += n
                    table = pa.Table.from_arrays(cols, schema=BATCH_SCHEMA)
                    frac = min(raw.tell() / size, 1.0)
                    yield Batch(normalise_daily(table, freq, self.tz), str(path), mapping), frac
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
            self._diagnose(path, names, delim, mapping, ts_type)
            raise DataError(f"{path}: {str(exc).splitlines()[0]}") from None

    def _diagnose(
        self,
        path: Path,
        names: list[str],
        delim: str,
        mapping: Mapping[str, str],
        ts_type: pa.DataType,
    ) -> None:
        """Scan ``path`` as raw bytes and raise DataError for its first bad line and field."""
        invalid: list[tuple[int, str, int, int]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            if not invalid:
                invalid.append(
                    (row.number or 0, row.text, row.expected_columns, row.actual_columns)
                )
            return "skip"

        include = list(dict.fromkeys(mapping.values()))
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 20, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=delim, ignore_empty_lines=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=include,
                column_types={c: pa.binary() for c in include},
                strings_can_be_null=False,
            ),
        )
        line = 2
        other = pa.timestamp("ns") if ts_type.tz else TS_TYPE
        nulls = pa.array(NULLS, pa.string())
        for rb in reader:
            found: list[tuple[int, str, str]] = []
            for canon, src in mapping.items():
                col = rb.column(src)
                i = _first_bad(col, lambda a: _casts(a, pa.string()))
                if i is not None:
                    found.append((i, src, "wrong encoding: not UTF-8 text"))
                    continue
                s = col.cast(pa.string())
                if canon in VALUE_FIELDS:
                    s = pc.if_else(pc.is_in(s, value_set=nulls), pa.scalar(None, pa.string()), s)
                    i = _first_bad(s, lambda a: _casts(a, pa.float64()))
                    if i is not None:
                        found.append((i, src, "not a number"))
                elif canon == "timestamp":
                    i = _first_bad(s, lambda a: _ts_ok(a, ts_type))
                    if i is not None:
                        single = s.slice(i, 1)
                        if _ts_ok(single, other):
                            what = (
                                "mixed timezones: this timestamp has a zone offset, earlier "
                                "ones have none"
                                if other.tz
                                else "mixed timezones: this "
                                "timestamp has no zone offset, earlier ones have one"
                            )
                        else:
                            what = "unparseable timestamp"
                        found.append((i, src, what))
            if found:
                i, src, what = min(found)
                at = line + i
                if not invalid or at < invalid[0][0]:
                    value = rb.column(src)[i].as_py()
                    value = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    raise DataError(f"{path}: line {at}, field {src!r}: {what} (value {value!r})")
            if invalid:
                break
            line += rb.num_rows
        if invalid:
            num, text, expected, actual = invalid[0]
            raise DataError(
                f"{path}: line {num}: expected {expected} fields, got {actual} (text {text[:80]!r})"
            )
