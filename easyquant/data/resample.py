"""Resample bars to a coarser frequency without crossing closed hours.

Each bar goes to the bin that starts at its session segment's open plus a whole number of
target periods (or to its session for ``1d``), so a 1h bar never spans a lunch break or the
night, and the last bin of a segment may be shorter.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from easyquant.data import calendars
from easyquant.data.frequency import Freq, parse_freq
from easyquant.errors import DataError


def resample(bars: pd.DataFrame, to: str | Freq, calendar: str) -> pd.DataFrame:
    """Return ``bars`` (indexed by UTC ``timestamp``, OHLCV columns) at frequency ``to``.

    Open is the first open, high the max, low the min, close the last close, volume the sum.
    Published limit prices hold for one day's bars only and are not resampled (dropped).
    Bars outside the calendar's trading hours raise DataError.
    """
    target = parse_freq(to, option="to")
    if bars.empty:
        return bars.copy()
    idx = cast(pd.DatetimeIndex, bars.index)
    ts = idx.as_unit("ns").asi8 if hasattr(idx, "as_unit") else idx.asi8
    lo = pd.Timestamp(int(ts.min())).normalize() - pd.Timedelta(days=1)
    hi = pd.Timestamp(int(ts.max())).normalize() + pd.Timedelta(days=1)
    cal = calendars.get_calendar(calendar)
    lo, hi = max(lo, cal.first_session), min(hi, cal.last_session)
    sess, st, en = calendars.segments(calendar, lo, hi)
    i = np.searchsorted(st, ts, side="right") - 1
    ok = (i >= 0) & (ts < en[np.clip(i, 0, None)])
    if not ok.all():
        bad = pd.Timestamp(int(ts[~ok][0]), tz="UTC")
        raise DataError(f"resample: bar {bad.isoformat()} is outside the {calendar} sessions")
    if target.daily:
        label = sess[i]
    else:
        seg = st[i]
        label = seg + (ts - seg) // target.ns * target.ns
    key = pd.DatetimeIndex(label, tz="UTC", name="timestamp")
    g = bars.groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "open": g["open"].first(),
            "high": g["high"].max(),
            "low": g["low"].min(),
            "close": g["close"].last(),
            "volume": g["volume"].sum(),
        }
    )
    out.index.name = "timestamp"
    return out.astype("float64")
