"""What every vendor adapter shares: incremental ranges, rate limit, retries, errors, mapping.

An adapter says how to call its library for one symbol and one date range (:meth:`fetch`) and
which layout table maps the answer (:mod:`easyquant.data.layouts`); this base class turns that
into the Source protocol. Only the ranges missing before the first and after the last stored bar
are asked for. Calls are spaced by ``min_interval`` seconds and a transient failure (rate limit,
network) is retried ``retries`` times with doubling waits. Every failure is a :class:`VendorError`
naming the vendor and the symbol; nothing is stored, as the ingest stages everything first.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from easyquant.data.batch import (
    BATCH_SCHEMA,
    TS_TYPE,
    VALUE_FIELDS,
    Batch,
    Want,
    join_parts,
    missing_ranges,
    normalise_daily,
)
from easyquant.data.frequency import Freq
from easyquant.data.layouts import UNITS, Layout
from easyquant.errors import ConfigError, DataError


class VendorError(DataError):
    """A vendor call failed: names the vendor, the symbol and what went wrong.

    ``transient`` is true for a rate limit or network failure that outlasted the retries: a
    scheduler may try the whole task again later.
    """

    transient = False


class VendorUnavailable(VendorError):
    """The vendor stayed rate-limited or unreachable through every retry."""

    transient = True


def load_library(module: str, extra: str) -> ModuleType:
    """Import a vendor library, or raise ConfigError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"source: the {extra} source needs the {module} package: "
            f"pip install 'easyquant[{extra}]'"
        ) from None


_TRANSIENT_NAMES = ("ratelimit", "ddosprotection", "timeout", "network", "connection", "temporar")


def transient_kind(exc: BaseException) -> str | None:
    """Return ``rate limit`` or ``network`` for errors worth retrying, else None."""
    names = " ".join(c.__name__.lower() for c in type(exc).__mro__)
    text = str(exc).lower()
    if any(k in text for k in ("rate limit", "too many requests", "429", "最多访问", "频繁")) or (
        "ratelimit" in names
    ):
        return "rate limit"
    if isinstance(exc, (ConnectionError, TimeoutError)) or any(
        n in names for n in _TRANSIENT_NAMES
    ):
        return "network"
    return None


def actions_from_ratio(
    days: pd.DatetimeIndex, raw_close: np.ndarray, ratio: np.ndarray, symbol: str
) -> pd.DataFrame:
    """Turn a vendor's adjusted/raw price ratio into corporate actions on the days it changes.

    ``ratio[t]`` is any adjusted price over the raw one (forward, backward or a cumulative
    factor: only its changes matter). Where it changes by more than the rounding of a price to
    0.01 explains, the bars before day t are scaled by ``f = ratio[t-1] / ratio[t]`` relative
    to those after. A cut of at most 20% is stored as a
    cash dividend ``P * (1 - f)`` (P the raw close before the ex-date), a larger one as a split
    of ``1 / f`` new shares per old share; both give the same adjusted prices.
    """
    rows = []
    for t in range(1, len(ratio)):
        a, b = ratio[t - 1], ratio[t]
        p0, p1 = float(raw_close[t - 1]), float(raw_close[t])
        if not (np.isfinite(a) and np.isfinite(b)) or b <= 0 or min(p0, p1) <= 0:
            continue
        if abs(a / b - 1) < 0.0051 * (1 / p0 + 1 / p1) + 1e-9:  # vendors round prices to 0.01
            continue
        f = a / b
        if f >= 1:
            continue  # an adjusted series never rises relative to raw at an ex-date
        p = float(raw_close[t - 1])
        if f >= 0.8:
            rows.append((symbol, days[t], 1.0, round(p * (1 - f), 6)))
        else:
            rows.append((symbol, days[t], round(1 / f, 6), 0.0))
    return pd.DataFrame(rows, columns=["symbol", "ex_date", "split_ratio", "dividend"])


def frame_to_table(
    df: pd.DataFrame,
    layout: Layout,
    symbol: str,
    *,
    ts: pd.DatetimeIndex | None = None,
    ts_format: str | None = None,
) -> pa.Table:
    """Map a vendor's answer to BATCH_SCHEMA with the layout's table (units, order, skips)."""
    cols = {
        f: next((c for c in opts if c in df.columns), None) for f, opts in layout.columns.items()
    }
    if layout.skip and layout.skip[0] in df.columns:
        df = df[df[layout.skip[0]].astype(str) != layout.skip[1]]
    if ts is None:
        raw = df[cols["timestamp"]]
        ts = pd.DatetimeIndex(pd.to_datetime(raw.astype(str), format=ts_format))
    if ts.tz is None:
        ts = ts.tz_localize(layout.tz)
    data: dict[str, Any] = {"timestamp": ts.tz_convert("UTC")}
    for f in VALUE_FIELDS:
        values = pd.to_numeric(df[cols[f]], errors="coerce").to_numpy(dtype="float64")
        data[f] = values * UNITS[layout.units[f]] if f in layout.units else values
    out = pd.DataFrame(data)
    if layout.newest_first:
        out = out.iloc[::-1]
    n = len(out)
    return pa.table(
        [
            pa.array([symbol] * n, pa.string()),
            pa.array(out["timestamp"].to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns")).cast(
                TS_TYPE
            ),
            *(pa.array(out[f].to_numpy(), pa.float64()) for f in VALUE_FIELDS),
            pa.array(np.arange(1, n + 1, dtype=np.int64)),
        ],
        schema=BATCH_SCHEMA,
    )


class VendorSource:
    """Base of the vendor adapters (see the module docstring)."""

    name = "vendor"
    calendar: str | None = None
    tz = "UTC"  # the zone whose dates label daily bars

    def __init__(
        self,
        api: Any = None,
        *,
        min_interval: float = 0.5,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self.min_interval = float(min_interval)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self._sleep = sleep
        self._clock = clock
        self._last_call: float | None = None
        self.calls: list[tuple[str, str, str | None, str | None]] = []  # what was asked, in order

    # ----- to implement ---------------------------------------------------------------------
    def load_api(self) -> Any:
        """The vendor's library: by default the package the source is named after (installed
        by the easyquant extra of that name)."""
        return load_library(self.name, self.name)

    def fetch(
        self, symbol: str, freq: Freq, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pa.Table, pd.DataFrame | None]:
        """Return (bars as BATCH_SCHEMA, corporate actions or None) for one range."""
        raise NotImplementedError

    # ----- shared ---------------------------------------------------------------------------
    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = self.load_api()
        return self._api

    def vendor_freq(self, freq: Freq, codes: Mapping[int, str]) -> str:
        """The vendor's code for bars of ``freq`` (``codes``: minutes -> code); ConfigError
        naming the frequencies it gives otherwise."""
        code = codes.get(freq.minutes)
        if code is None:
            raise ConfigError(f"freq: the {self.name} source gives bars of {sorted(codes)} minutes")
        return code

    def call(self, sym: str, what: str, fn: Callable[..., Any], /, *args: Any, **kw: Any) -> Any:
        """Call the vendor once, spaced and retried; raise VendorError naming vendor and symbol."""
        symbol = sym
        for attempt in range(self.retries + 1):
            if self._last_call is not None:
                wait = self.min_interval - (self._clock() - self._last_call)
                if wait > 0:
                    self._sleep(wait)
            self._last_call = self._clock()
            try:
                return fn(*args, **kw)
            except VendorError:
                raise
            except Exception as exc:  # the vendor's own exception classes vary
                kind = transient_kind(exc)
                if kind is None:
                    raise VendorError(
                        f"{self.name}: symbol {symbol!r}: {what} failed: {type(exc).__name__}: "
                        f"{exc}"
                    ) from None
                if attempt == self.retries:
                    raise VendorUnavailable(
                        f"{self.name}: symbol {symbol!r}: {kind} - {what} still failing after "
                        f"{self.retries + 1} tries: {exc}"
                    ) from None
                self._sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def batches(self, freq: Freq, want: Want | None = None) -> Iterator[Batch]:
        """Fetch each symbol's missing ranges; one batch per symbol."""
        want = want or Want()
        symbols, start, end, stored = want.symbols, want.start, want.end, want.stored
        if not symbols:
            raise ConfigError(f"symbols: the {self.name} source needs at least one symbol")
        end = end if end is not None else pd.Timestamp.now("UTC").tz_localize(None).normalize()
        for i, symbol in enumerate(symbols):
            span = stored.get(symbol)
            parts, actions = [], []
            for lo, hi in missing_ranges(start, end, span):
                d = lambda t: None if t is None else t.date().isoformat()  # noqa: E731
                self.calls.append((symbol, freq.name, d(lo), d(hi)))
                table, acts = self.fetch(symbol, freq, lo, hi)
                parts.append(normalise_daily(table, freq, self.tz))
                if acts is not None and len(acts):
                    actions.append(acts)
            table = join_parts(parts)
            if span is None and parts and table.num_rows == 0:
                raise VendorError(
                    f"{self.name}: symbol {symbol!r}: empty answer for {start and start.date()} "
                    f"to {end.date()} (unknown symbol, or no trading in that period)"
                )
            notes: dict[str, Any] = {"layout": self.name}
            if actions:
                notes["actions"] = pd.concat(actions, ignore_index=True)
            yield Batch(
                table,
                f"{self.name}:{symbol}",
                line_word="bar",
                progress=(i + 1) / len(symbols),
                notes=notes,
            )
