"""Market data: sources, validation, calendars, adjustment, resampling and the Parquet lake.

The public surface: :func:`load_bars` (what backtests read), :func:`ingest` and the sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from easyquant.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from easyquant.config import Settings
    from easyquant.data.batch import Source

# ``ingest`` is the submodule easyquant.data.ingest (its function: easyquant.data.ingest.ingest)
__all__ = ["load_bars", "make_source", "parse_time", "time_bound"]


def load_bars(
    symbols: str | Sequence[str],
    freq: str = "1d",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    settings: Settings | None = None,
    adjust: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Read stored bars: symbol -> frame indexed by UTC ``timestamp``, float64 OHLCV columns,
    and ``limit_up``/``limit_down`` (the day's published limits, nan where none) when stored.

    ``start``/``end`` are inclusive (a date alone covers that whole day). ``adjust`` is None
    (raw), ``forward`` or ``backward`` (corporate actions from the database). When ``freq`` is
    not stored but 1m bars are, they are resampled on the session calendar. Raise DataError
    naming the symbol when it has no stored data, or none in the period.
    """
    import numpy as np
    import pandas as pd

    from easyquant.config import get_settings
    from easyquant.data.frequency import parse_freq
    from easyquant.data.lake import Lake
    from easyquant.data.resample import resample

    settings = settings or get_settings()
    f = parse_freq(freq)
    names = [symbols] if isinstance(symbols, str) else list(symbols)
    if not names:
        raise ConfigError("symbols: expected at least one symbol")
    lake = Lake(settings.lake_dir)
    lo = time_bound(start, "start", end=False)
    hi = time_bound(end, "end", end=True)
    out: dict[str, pd.DataFrame] = {}
    for sym in names:
        table = lake.read(f.name, sym)
        resample_from = None
        if table is None and f.name != "1m":
            table = lake.read("1m", sym)
            resample_from = lake.calendar("1m", sym) if table is not None else None
            if table is not None and resample_from is None:
                table = None
        if table is None:
            raise DataError(f"symbol {sym!r}: no {f.name} bars stored in {lake.root}")
        ts = table.column("timestamp").cast("int64").to_numpy()
        a = 0 if lo is None else int(np.searchsorted(ts, lo, side="left"))
        b = len(ts) if hi is None else int(np.searchsorted(ts, hi, side="left"))
        df = table.slice(a, b - a).to_pandas()
        df = df.set_index(pd.DatetimeIndex(df.pop("timestamp"), name="timestamp"))
        df.index = df.index.tz_convert("UTC") if df.index.tz else df.index.tz_localize("UTC")
        cols = ["open", "high", "low", "close", "volume"]
        cols += [c for c in ("limit_up", "limit_down") if c in df.columns]
        df = df[cols].astype("float64")
        if resample_from is not None:  # a day's limits do not carry to other bars
            df = resample(df, f, resample_from)
        if df.empty:
            raise DataError(f"symbol {sym!r}: no {f.name} bars between {start} and {end}")
        out[sym] = df
    if adjust is not None:
        from easyquant.data import catalog
        from easyquant.data.adjust import ADJUSTMENTS
        from easyquant.data.adjust import adjust as apply

        if adjust not in ADJUSTMENTS:
            raise ConfigError(f"adjust: expected one of {ADJUSTMENTS} or None, got {adjust!r}")
        actions = catalog.load_actions(settings, names)
        for sym, df in out.items():
            out[sym] = apply(df, actions[actions["symbol"] == sym], adjust)
    return out


def parse_time(value: str | pd.Timestamp | None, option: str) -> pd.Timestamp | None:
    """``value`` as a UTC timestamp (a naive one is taken as UTC), None when empty; raise
    ConfigError naming ``option`` when it is not a date or time."""
    import pandas as pd

    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{option}: expected a date or time like 2024-01-31, got {value!r}"
        ) from None
    return ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")


def time_bound(value: str | pd.Timestamp | None, option: str, *, end: bool) -> int | None:
    """Return a period bound as ns UTC, or None; raise ConfigError naming ``option``.

    A date alone as an ``end`` covers that whole day (the bound is the next midnight).
    """
    import pandas as pd

    ts = parse_time(value, option)
    if ts is None:
        return None
    date_only = isinstance(value, str) and len(value.strip()) <= 10
    if end:
        ts = ts + pd.Timedelta(days=1) if date_only else ts + pd.Timedelta(1, "ns")
    return int(ts.value)


def make_source(name: str, **options: Any) -> Source:
    """Build a source by name: ``synthetic``, ``csv`` or ``parquet``."""
    from easyquant.data.sources import make_source as build

    return build(name, **options)
