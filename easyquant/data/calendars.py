"""Trading calendars from ``exchange-calendars`` (XNYS, XSHG, ...) and 24/7 for crypto.

Bars are labelled by their start time in UTC. Intraday bars of N minutes start at each session's
open (and again at the end of a lunch break) and never span closed hours: the last bar of a
segment may be shorter. A daily bar is labelled with its session date at midnight UTC.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from easyquant.data.frequency import NS_PER_DAY, Freq
from easyquant.errors import ConfigError

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar

ALIASES = {"CRYPTO": "24/7", "24X7": "24/7", "ALWAYS_OPEN": "24/7"}
_START = pd.Timestamp("1995-01-01")


def calendar_name(name: str) -> str:
    """Return the canonical calendar name or raise ConfigError naming the known ones."""
    import exchange_calendars as xc

    key = str(name).strip().upper()
    key = ALIASES.get(key, key)
    names = set(xc.get_calendar_names(include_aliases=True))
    if key not in names:
        raise ConfigError(
            f"calendar: unknown exchange calendar {name!r}; use an exchange-calendars code "
            "such as XNYS, XSHG, XSHE, XLON, or 24/7 for crypto"
        )
    return key


@lru_cache(maxsize=16)
def get_calendar(name: str) -> ExchangeCalendar:
    """Return the ``exchange_calendars`` calendar ``name`` covering 1995 to its last known year."""
    import exchange_calendars as xc

    return xc.get_calendar(calendar_name(name), start=_START)


def _bounds(
    cal: ExchangeCalendar, start: pd.Timestamp, end: pd.Timestamp, name: str
) -> tuple[pd.Timestamp, ...]:
    first, last = cal.first_session, cal.last_session
    if start.tz_localize(None).normalize() < first or end.tz_localize(None).normalize() > last:
        raise ConfigError(
            f"calendar {name}: sessions are known from {first.date()} to {last.date()}, "
            f"requested {start.date()} to {end.date()}"
        )
    return first, last


def schedule(name: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Return the sessions between two dates (inclusive): open, break_start, break_end, close."""
    cal = get_calendar(name)
    start, end = _naive_day(start), _naive_day(end)
    _bounds(cal, start, end, name)
    return cal.schedule.loc[start:end]


def _naive_day(ts: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def _ns(values: pd.Series | pd.Index) -> npt.NDArray[np.int64]:
    """Return datetime values as int64 nanoseconds since the epoch (UTC); NaT gives int64 min."""
    return values.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def segments(name: str, start: pd.Timestamp, end: pd.Timestamp) -> tuple[np.ndarray, ...]:
    """Return (session_ns, seg_start_ns, seg_end_ns): trading segments of the sessions in range.

    A session with a lunch break gives two segments; ``session_ns`` is the session label (UTC
    midnight of its date) of each segment.
    """
    sch = schedule(name, start, end)
    label = _ns(sch.index)
    opens = _ns(sch["open"])
    closes = _ns(sch["close"])
    bs = sch["break_start"]
    if bs.notna().any():
        bstart = _ns(bs)
        bend = _ns(sch["break_end"])
        has = bs.notna().to_numpy()
        s1, e1 = opens, np.where(has, bstart, closes)
        s2, e2 = bend[has], closes[has]
        lab = np.concatenate([label, label[has]])
        st = np.concatenate([s1, s2])
        en = np.concatenate([e1, e2])
        order = np.argsort(st, kind="stable")
        return lab[order], st[order], en[order]
    return label, opens, closes


def bar_grid(
    name: str, freq: Freq, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Return (bar_ns, session_ns): the label of every bar the calendar expects, and its session.

    ``start`` and ``end`` are dates (inclusive); times are ignored.
    """
    if freq.daily:
        sch = schedule(name, start, end)
        lab = _ns(sch.index)
        return lab, lab
    sess, st, en = segments(name, start, end)
    step = freq.ns
    counts = -((st - en) // step)  # ceil((en - st) / step)
    counts = np.maximum(counts, 0)
    total = int(counts.sum())
    seg_idx = np.repeat(np.arange(len(st)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    bars = st[seg_idx] + offsets * step
    return bars, sess[seg_idx]


def session_of(name: str, ts_ns: np.ndarray) -> np.ndarray:
    """Return the session label (UTC midnight, ns) of each intraday timestamp; -1 if none."""
    if len(ts_ns) == 0:
        return np.empty(0, dtype=np.int64)
    lo = pd.Timestamp(int(ts_ns.min()), tz="UTC") - pd.Timedelta(days=1)
    hi = pd.Timestamp(int(ts_ns.max()), tz="UTC") + pd.Timedelta(days=1)
    cal = get_calendar(name)
    lo_d = max(_naive_day(lo), cal.first_session)
    hi_d = min(_naive_day(hi), cal.last_session)
    sess, st, en = segments(name, lo_d, hi_d)
    i = np.searchsorted(st, ts_ns, side="right") - 1
    ok = (i >= 0) & (ts_ns < en[np.clip(i, 0, None)])
    return np.where(ok, sess[np.clip(i, 0, None)], -1)


def day_floor(ts_ns: np.ndarray) -> np.ndarray:
    """Return UTC midnight of each timestamp (ns)."""
    return ts_ns - ts_ns % NS_PER_DAY
