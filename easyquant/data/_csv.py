"""The CSV source: stream a file or a folder in Arrow blocks; name file, line and field on error.

The fast path reads typed columns with ``pyarrow.csv.open_csv``. When Arrow rejects a block
(a bad number, a bad timestamp, a short row, bytes that are not UTF-8) the file is scanned again
as raw bytes to find the first offending line and field, which the error then names.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from easyquant.data import layouts
from easyquant.data.batch import (
    BATCH_SCHEMA,
    LIMIT_FIELDS,
    TS_TYPE,
    VALUE_FIELDS,
    Batch,
    FileSource,
    Want,
    _files,
    check_symbol,
    map_columns,
    normalise_daily,
)
from easyquant.data.frequency import Freq
from easyquant.errors import DataError

NULLS = ["", "NaN", "nan", "NAN", "NA", "N/A", "n/a", "null", "NULL", "None", "-nan", "-NaN"]
_AWARE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")
_EXTRA_TS_FORMATS = ("%Y%m%d", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_HEAD = 1 << 16


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


# Zones with one UTC offset since the date given (no daylight saving): naive times there are
# shifted by a constant instead of a per-value zone lookup (IANA tz database).
_FIXED_OFFSETS = {
    "UTC": (0, 0),
    "Asia/Shanghai": (8, 687_225_600_000_000_000),  # no DST after 1991-10-10
    "Asia/Hong_Kong": (8, 315_532_800_000_000_000),  # none after 1980
    "Asia/Tokyo": (9, 0),
}


def _localise(ts: pa.Array, tz: str) -> pa.Array:
    """Read naive times as wall-clock times in ``tz``; return them as UTC."""
    fixed = _FIXED_OFFSETS.get(tz)
    if fixed is not None:
        hours, since = fixed
        lo = pc.min(ts).cast(pa.int64()).as_py()
        if lo is not None and lo >= since:
            shifted = pc.subtract(ts.cast(pa.int64()), hours * 3_600_000_000_000)
            return shifted.cast(pa.timestamp("ns")).cast(TS_TYPE)
    return pc.assume_timezone(ts, tz, ambiguous="earliest", nonexistent="earliest").cast(TS_TYPE)


def _actions_from_adjusted(parts: list[tuple[pa.Table, pa.Array]]) -> pd.DataFrame:
    """Dividends and splits implied by an adjusted-close column, per symbol."""
    from easyquant.data.vendors.base import actions_from_ratio

    table = pa.concat_tables([t for t, _ in parts])
    adj = np.concatenate([a.to_numpy(zero_copy_only=False) for _, a in parts])
    df = table.select(["symbol", "timestamp", "close"]).to_pandas()
    df["ratio"] = adj / df["close"].to_numpy()
    frames = []
    for sym, g in df.groupby("symbol", sort=False):
        days = pd.DatetimeIndex(g["timestamp"]).tz_localize(None)
        frames.append(actions_from_ratio(days, g["close"].to_numpy(), g["ratio"].to_numpy(), sym))
    return pd.concat(frames, ignore_index=True)


class CsvSource(FileSource):
    """Bars from a CSV file or a folder of ``*.csv`` files, streamed in blocks.

    Each file's layout is recognised from its header (see :mod:`easyquant.data.layouts`) or
    forced with ``format``; the plain layout maps canonical fields (timestamp, symbol, open,
    high, low, close, volume) to header names by ``columns`` and then by common names. Without
    a symbol column the symbol is ``symbol`` or the file's name. Timestamps with a zone offset
    are read as such; naive ones are taken in ``tz`` (default: the layout's, else UTC). A file
    mixing both is refused. Volumes are converted to shares.
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
        format: str | None = None,
    ) -> None:
        super().__init__(path, symbol=symbol, columns=columns, tz=tz)
        self.block_size = block_size
        self.format = layouts.check_format(format)

    def files(self) -> list[Path]:
        """Return the files this source reads, in order."""
        return _files(self.path, (".csv", ".csv.gz", ".txt"))

    def batches(self, freq: Freq, want: Want | None = None) -> Iterator[Batch]:
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
    def _head(self, path: Path) -> tuple[list[str], str, str | None]:
        """Check encoding; return (first row's fields, delimiter, second line)."""
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
        return names, delim, data

    def _layout(self, path: Path) -> tuple[layouts.Resolved, str, str | None]:
        """Return the file's resolved layout, delimiter and first data line."""
        first, delim, second = self._head(path)
        res = layouts.resolve(first, path, self.format)
        if res is not None and res.layout is not None and not res.layout.header:
            return res, delim, ",".join(first)
        if second is None or not second.strip():
            raise DataError(f"{path}: line 2: no data rows after the header")
        if res is None:
            bare, factors = layouts.split_units(first, path)
            try:
                mapping = map_columns(bare, self.columns, path=path, has_symbol=self.symbol is None)
            except DataError as exc:
                raise DataError(
                    f"{exc} - the header matches no known layout ({', '.join(layouts.LAYOUTS)}) "
                    "either"
                ) from None
            orig = {f: first[bare.index(c)] for f, c in mapping.items()}
            conv = {
                f: factors[bare.index(c)] for f, c in mapping.items() if bare.index(c) in factors
            }
            res = layouts.Resolved(
                None,
                first,
                orig,
                {f: v for f, v in conv.items() if v != 1.0},
                {f: f"x{v:g} -> shares" for f, v in conv.items() if v != 1.0},
            )
        return res, delim, second

    def _read_file(self, path: Path, freq: Freq) -> Iterator[tuple[Batch, float]]:
        res, delim, first_row = self._layout(path)
        lay, names, mapping = res.layout, res.names, res.mapping
        tz = self.tz or (lay.tz if lay else "UTC")
        fixed_symbol = self.symbol
        if "symbol" in mapping and fixed_symbol is not None:
            del mapping["symbol"]
        if "symbol" not in mapping and fixed_symbol is None:
            fixed_symbol = check_symbol(
                layouts.symbol_from_name(lay, path), option=f"{path}: symbol"
            )
        limits = layouts.limit_columns(names)
        if len(limits) == 1:
            (given,) = limits.values()
            other = next(f for f in LIMIT_FIELDS if f not in limits)
            raise DataError(
                f"{path}: line 1, field {given!r}: a published limit column needs its pair "
                f"({' or '.join(layouts.LIMIT_NAMES[other])})"
            )
        mapping = {**mapping, **limits}
        first_vals = next(csv.reader([first_row or ""], delimiter=delim))
        ts_idx = names.index(mapping["timestamp"])
        epoch = lay is not None and lay.ts == "epoch"
        aware = (
            not epoch
            and ts_idx < len(first_vals)
            and bool(_AWARE.search(first_vals[ts_idx].strip()))
        )
        ts_type = pa.int64() if epoch else (TS_TYPE if aware else pa.timestamp("ns"))
        types: dict[str, pa.DataType] = {mapping["timestamp"]: ts_type}
        for f in (*VALUE_FIELDS, *limits):
            types[mapping[f]] = pa.float64()
        include = list(dict.fromkeys(mapping[k] for k in mapping))
        if "symbol" in mapping:
            types[mapping["symbol"]] = pa.string()
        skip = lay.skip if lay is not None and lay.skip and lay.skip[0] in names else None
        if skip is not None:
            types[skip[0]] = pa.string()
            include.append(skip[0])
        unit_col = next((c for c in layouts.UNIT_COLUMNS if c in names), None)
        if unit_col is not None:
            types[unit_col] = pa.string()
            include.append(unit_col)
        adj = lay.adj_close if lay is not None and lay.adj_close in names else None
        if adj is not None:
            types[adj] = pa.float64()
            include.append(adj)
        adjusted: list[tuple[pa.Table, pa.Array]] = []
        start_line = 1 if lay is not None and not lay.header else 2
        read_opts = pacsv.ReadOptions(
            block_size=self.block_size,
            use_threads=True,
            column_names=None if start_line == 2 else names,
        )
        parse_opts = pacsv.ParseOptions(delimiter=delim, ignore_empty_lines=False)
        extra = (
            (lay.ts_formats if lay and lay.ts_formats else _EXTRA_TS_FORMATS) if not aware else ()
        )
        parsers: list = [pacsv.ISO8601, *extra]
        conv = pacsv.ConvertOptions(
            include_columns=include,
            column_types=types,
            null_values=NULLS,
            strings_can_be_null=False,
            timestamp_parsers=parsers,
        )
        notes: dict[str, Any] = {"layout": lay.name if lay else "plain"}
        if res.converted:
            notes["units"] = res.converted
        size = max(path.stat().st_size, 1)
        line = start_line
        held: list[pa.Table] = []
        try:
            with open(path, "rb") as raw:
                reader = pacsv.open_csv(
                    raw, read_options=read_opts, parse_options=parse_opts, convert_options=conv
                )
                for rb in reader:
                    n = rb.num_rows
                    if n == 0:
                        continue
                    lines = pa.array(np.arange(line, line + n, dtype=np.int64))
                    line += n
                    table = self._to_batch(rb, mapping, fixed_symbol, lines, tz, epoch, aware, res)
                    if unit_col is not None:
                        table = self._row_units(table, rb.column(unit_col), path, unit_col)
                        notes["units"] = {"volume": f"per row, column {unit_col!r} -> shares"}
                    if skip is not None:
                        table = self._skip(table, rb.column(skip[0]), skip[1], notes)
                    if lay is not None and lay.newest_first:
                        held.append(table)
                        continue
                    table = normalise_daily(table, freq, tz)
                    if adj is not None and freq.daily:
                        adjusted.append((table, rb.column(adj)))
                    frac = min(raw.tell() / size, 1.0)
                    yield Batch(table, str(path), mapping, notes=notes), frac
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
            self._diagnose(path, names, delim, mapping, ts_type, start_line)
            raise DataError(f"{path}: {str(exc).splitlines()[0]}") from None
        if adjusted:  # read to the end: the adjusted close's changes are corporate actions
            notes["actions"] = _actions_from_adjusted(adjusted)
        if held:
            table = pa.concat_tables(held)
            table = table.take(pa.array(np.arange(table.num_rows - 1, -1, -1)))
            yield Batch(normalise_daily(table, freq, tz), str(path), mapping, notes=notes), 1.0

    @staticmethod
    def _to_batch(
        rb: pa.RecordBatch,
        mapping: Mapping[str, str],
        fixed_symbol: str | None,
        lines: pa.Array,
        tz: str,
        epoch: bool,
        aware: bool,
        res: layouts.Resolved,
    ) -> pa.Table:
        n = rb.num_rows
        ts = rb.column(mapping["timestamp"])
        if epoch:
            v = ts.to_numpy(zero_copy_only=False)
            ns = np.where(v < 100_000_000_000_000, v * 1_000_000, v * 1_000)
            ts = pa.array(ns.astype("datetime64[ns]"), pa.timestamp("ns")).cast(TS_TYPE)
        elif not aware:
            ts = _localise(ts, tz)
        if fixed_symbol is not None:
            sym = pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array([fixed_symbol])
            ).cast(pa.string())
        else:
            sym = rb.column(mapping["symbol"])
        values = []
        for f in VALUE_FIELDS:
            col = rb.column(mapping[f])
            if f in res.factors:
                col = pc.multiply(col, res.factors[f])
            values.append(col)
        cols = [sym, ts.cast(TS_TYPE), *values, lines]
        table = pa.Table.from_arrays(cols, schema=BATCH_SCHEMA)
        for f in LIMIT_FIELDS:
            if f in mapping:
                table = table.append_column(f, rb.column(mapping[f]))
        return table

    @staticmethod
    def _row_units(table: pa.Table, units: pa.Array, path: Path, column: str) -> pa.Table:
        """Convert each row's volume to shares by the unit its units column names."""
        first = int(table.column("line")[0].as_py())
        factors = layouts.unit_factors(units.to_pylist(), path, first, column)
        volume = pc.multiply(table.column("volume"), pa.array(factors, pa.float64()))
        return table.set_column(table.schema.get_field_index("volume"), "volume", volume)

    @staticmethod
    def _skip(table: pa.Table, flag: pa.Array, value: str, notes: dict[str, Any]) -> pa.Table:
        """Drop rows that are not bars (e.g. suspended days), counting them per symbol."""
        drop = pc.fill_null(pc.equal(flag, value), False)
        if not pc.any(drop).as_py():
            return table
        dropped = table.filter(drop).column("symbol").to_pylist()
        counts = notes.setdefault("not_bars", {})
        for s in dropped:
            counts[s] = counts.get(s, 0) + 1
        return table.filter(pc.invert(drop))

    def _diagnose(
        self,
        path: Path,
        names: list[str],
        delim: str,
        mapping: Mapping[str, str],
        ts_type: pa.DataType,
        start_line: int = 2,
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
            read_options=pacsv.ReadOptions(
                block_size=1 << 20,
                use_threads=False,
                column_names=None if start_line == 2 else names,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delim, ignore_empty_lines=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=include,
                column_types={c: pa.binary() for c in include},
                strings_can_be_null=False,
            ),
        )
        line = start_line
        aware = pa.types.is_timestamp(ts_type) and ts_type.tz is not None
        other = pa.timestamp("ns") if aware else TS_TYPE
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
                if canon in VALUE_FIELDS or canon in LIMIT_FIELDS:
                    s = pc.if_else(pc.is_in(s, value_set=nulls), pa.scalar(None, pa.string()), s)
                    i = _first_bad(s, lambda a: _casts(a, pa.float64()))
                    if i is not None:
                        found.append((i, src, "not a number"))
                elif canon == "timestamp":
                    i = _first_bad(s, lambda a: _ts_ok(a, ts_type))
                    if i is not None:
                        single = s.slice(i, 1)
                        if pa.types.is_timestamp(ts_type) and _ts_ok(single, other):
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
