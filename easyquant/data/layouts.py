"""Vendor file layouts: each a small table (column -> field, units, order, timestamp format).

A CSV file's layout is recognised from its header (or, for header-less Binance klines, from its
first row), or forced by name. Sources of the facts: akshare ``stock_zh_a_hist`` and
``stock_zh_a_hist_min_em`` docs (成交量 in 手 = 100 shares); tushare pro ``daily`` docs (vol in
手, amount in 千元, rows newest first); baostock ``query_history_k_data_plus`` docs (volume in
shares, tradestatus 1 trading / 0 suspended); Binance public-data README (spot klines: 12
columns, no header, open_time in ms, in µs from 2025-01-01); Yahoo Finance CSV download.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from easyquant.errors import ConfigError, DataError

# unit name (as written in a header annotation or a layout) -> multiplier to base units
UNITS: dict[str, float] = {
    "shares": 1.0,
    "share": 1.0,
    "股": 1.0,
    "units": 1.0,
    "lots": 100.0,
    "lot": 100.0,
    "手": 100.0,
    "hands": 100.0,
}
# a column naming the volume's unit row by row (e.g. 手 or 股)
UNIT_COLUMNS = ("volume_unit", "vol_unit", "unit", "units", "单位", "成交量单位")
_ANNOTATED = re.compile(r"^(.*?)\s*[(\uff08\[]\s*([^)\uff09\]]+?)\s*[)\uff09\]]$")


@dataclass(frozen=True)
class Layout:
    """One vendor's file layout.

    ``columns``: field -> accepted column names (the first present is used); ``optional``
    fields may be absent. ``names``: the columns of a header-less layout, in order. ``units``:
    field -> unit name of :data:`UNITS`. ``ts``: ``text`` (dates and times; ``ts_formats``
    tried after ISO 8601) or ``epoch`` (integer milliseconds, or microseconds when the value
    is that large). ``skip``: (column, value) marking rows that are not bars. ``tz``: the zone
    of naive times.
    """

    name: str
    columns: Mapping[str, tuple[str, ...]]
    optional: tuple[str, ...] = ("symbol",)
    names: tuple[str, ...] = ()
    units: Mapping[str, str] = field(default_factory=dict)
    newest_first: bool = False
    ts: str = "text"
    ts_formats: tuple[str, ...] = ()
    skip: tuple[str, str] | None = None
    adj_close: str | None = None
    tz: str = "UTC"
    symbol_from_name: str = r"^([^.]+)"
    signature: tuple[str, ...] = ()  # more header names needed to recognise it (not to force it)

    @property
    def header(self) -> bool:
        return not self.names


YAHOO = Layout(
    "yahoo",
    {
        "timestamp": ("Date", "Datetime"),
        "open": ("Open",),
        "high": ("High",),
        "low": ("Low",),
        "close": ("Close",),
        "volume": ("Volume",),
    },
    optional=("symbol",),
    adj_close="Adj Close",
)
AKSHARE = Layout(
    "akshare",
    {
        "timestamp": ("日期", "时间"),
        "symbol": ("股票代码",),
        "open": ("开盘",),
        "close": ("收盘",),
        "high": ("最高",),
        "low": ("最低",),
        "volume": ("成交量",),
    },
    units={"volume": "手"},
    tz="Asia/Shanghai",
)
TUSHARE = Layout(
    "tushare",
    {
        "symbol": ("ts_code",),
        "timestamp": ("trade_date", "trade_time"),
        "open": ("open",),
        "high": ("high",),
        "low": ("low",),
        "close": ("close",),
        "volume": ("vol",),
    },
    optional=(),
    units={"volume": "手"},
    newest_first=True,
    ts_formats=("%Y%m%d",),
    tz="Asia/Shanghai",
)
BAOSTOCK = Layout(
    "baostock",
    {
        "timestamp": ("date",),
        "symbol": ("code",),
        "open": ("open",),
        "high": ("high",),
        "low": ("low",),
        "close": ("close",),
        "volume": ("volume",),
    },
    optional=(),
    units={"volume": "shares"},
    skip=("tradestatus", "0"),
    signature=("adjustflag",),
    tz="Asia/Shanghai",
)
BINANCE = Layout(
    "binance",
    {
        "timestamp": ("open_time",),
        "open": ("open",),
        "high": ("high",),
        "low": ("low",),
        "close": ("close",),
        "volume": ("volume",),
    },
    names=(
        "open_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "close_time",
        "quote_asset_volume",
        "number_of_trades",
        "taker_buy_base",
        "taker_buy_quote",
        "ignore",
    ),
    ts="epoch",
    symbol_from_name=r"^([A-Za-z0-9]+)",
)
# the day's published limit prices, optional in every layout (tushare's stk_limit names them
# up_limit/down_limit; Chinese exports 涨停价/跌停价)
LIMIT_NAMES = {
    "limit_up": ("limit_up", "up_limit", "涨停价"),
    "limit_down": ("limit_down", "down_limit", "跌停价"),
}


def limit_columns(names: Sequence[str]) -> dict[str, str]:
    """Return {limit field: column name} for the published-limit columns in ``names``; a file
    must give both or neither."""
    found: dict[str, str] = {}
    bare = {n.strip().lower(): n for n in reversed(names)}
    for fld, options in LIMIT_NAMES.items():
        col = next((bare[o] for o in options if o in bare), None)
        if col is not None:
            found[fld] = col
    return found


# recognised in this order: the most specific header first
LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (AKSHARE, TUSHARE, BAOSTOCK, YAHOO, BINANCE)}
FORMATS = ("auto", "plain", *LAYOUTS)


@dataclass(frozen=True)
class Resolved:
    """A layout applied to one file: field -> column, and the units to convert."""

    layout: Layout | None  # None: the plain layout (columns found by common names)
    names: list[str]  # the file's column names (header-less: the layout's)
    mapping: dict[str, str]  # field -> column name
    factors: dict[str, float]  # field -> multiplier to base units (only fields converted)
    converted: dict[str, str]  # field -> "unit -> base unit", for the quality report


def check_format(name: str | None) -> str:
    """Return a known layout name (``auto`` when None); raise ConfigError naming the choices."""
    key = (name or "auto").strip().lower()
    if key not in FORMATS:
        raise ConfigError(f"format: unknown layout {name!r}; expected one of {FORMATS}")
    return key


def _headerless(first: Sequence[str]) -> Layout | None:
    for lay in LAYOUTS.values():
        if not lay.header and len(first) == len(lay.names) and first[0].strip().isdigit():
            return lay
    return None


def _match(lay: Layout, names: Sequence[str]) -> dict[str, str] | None:
    present = set(names)
    out = {}
    for fld, options in lay.columns.items():
        hit = next((c for c in options if c in present), None)
        if hit is None:
            if fld in lay.optional:
                continue
            return None
        out[fld] = hit
    return out


def split_units(names: Sequence[str], path: Path | str) -> tuple[list[str], dict[int, float]]:
    """Strip unit annotations such as ``volume(手)`` or ``vol (lots)`` from header names.

    Return the bare names and {column index: multiplier}. Raise DataError naming the file,
    line 1 and the column for a unit that is not in :data:`UNITS`.
    """
    bare, factors = [], {}
    for i, name in enumerate(names):
        m = _ANNOTATED.match(name.strip())
        if not m or not m.group(1):
            bare.append(name)
            continue
        unit = m.group(2).strip().lower()
        if unit not in UNITS:
            raise DataError(
                f"{path}: line 1, field {name!r}: unknown unit {m.group(2)!r}; "
                f"expected one of {sorted(UNITS)}"
            )
        bare.append(m.group(1))
        factors[i] = UNITS[unit]
    return bare, factors


def resolve(first: Sequence[str], path: Path | str, forced: str = "auto") -> Resolved | None:
    """Find the layout of a file from its first row; None means the plain layout.

    ``forced`` names a layout to use whatever the header; a header that lacks one of its
    columns is refused naming the file, line 1 and the field.
    """
    if forced == "plain":
        return None
    if forced != "auto":
        lay = LAYOUTS[forced]
        if not lay.header:
            names = list(lay.names)
            if len(first) != len(names):
                raise DataError(
                    f"{path}: line 1: the {lay.name} layout has {len(names)} columns, "
                    f"this row has {len(first)}"
                )
        else:
            names = list(first)
        mapping = _match(lay, names)
        if mapping is None:
            missing = next(
                f
                for f, opts in lay.columns.items()
                if f not in lay.optional and not set(opts) & set(names)
            )
            raise DataError(
                f"{path}: line 1, field {missing!r}: the {lay.name} layout needs a column "
                f"{' or '.join(lay.columns[missing])}; the header's {len(first)} columns have none"
            )
        return _resolved(lay, names, mapping)
    bare = _headerless(first)
    if bare is not None:
        return _resolved(bare, list(bare.names), dict(_match(bare, bare.names) or {}))
    for lay in LAYOUTS.values():
        if lay.header and set(lay.signature) <= set(first):
            mapping = _match(lay, first)
            if mapping is not None:
                return _resolved(lay, list(first), mapping)
    return None


def _resolved(lay: Layout, names: list[str], mapping: dict[str, str]) -> Resolved:
    factors, converted = {}, {}
    for fld, unit in lay.units.items():
        if UNITS[unit] != 1.0:
            factors[fld] = UNITS[unit]
            converted[fld] = f"{unit} -> shares (x{UNITS[unit]:g})"
    return Resolved(lay, names, mapping, factors, converted)


def unit_factors(
    units: list[str | None], path: Path | str, first_line: int, column: str
) -> list[float]:
    """Multipliers to shares for a units column's values; raise DataError naming the first
    unknown unit's line and the column."""
    out = []
    for i, unit in enumerate(units):
        key = (unit or "shares").strip().lower()
        if key not in UNITS:
            raise DataError(
                f"{path}: line {first_line + i}, field {column!r}: unknown unit {unit!r}; "
                f"expected one of {sorted(UNITS)}"
            )
        out.append(UNITS[key])
    return out


def symbol_from_name(lay: Layout | None, path: Path) -> str:
    """Return the symbol a file's name gives (``BTCUSDT-1d-2024-01.csv`` -> ``BTCUSDT``)."""
    pattern = lay.symbol_from_name if lay else r"^([^.]+)"
    m = re.match(pattern, path.name)
    return m.group(1) if m else path.stem
