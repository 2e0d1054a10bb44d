"""Bars as the live service sees them: one bar, one timestamp's bars, the guard that refuses bad
ones, and the growing history the strategy decides on."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from easyquant.strategy.base import Bars

COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class LiveBar:
    """One bar of one symbol; ``ts`` is the bar's label (its start) in ns since the epoch, UTC."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    @property
    def time(self) -> pd.Timestamp:
        return pd.Timestamp(self.ts, tz="UTC")

    def problem(self) -> str | None:
        """Return why this bar is unusable (NaN, <= 0, high < low, ...) or None when fine."""
        values = {c: getattr(self, c) for c in COLUMNS}
        for name, v in values.items():
            if not isinstance(v, int | float) or not math.isfinite(v):
                return f"{name} is not a finite number ({v!r})"
        for name in ("open", "high", "low", "close"):
            if values[name] <= 0:
                return f"{name} must be > 0, got {values[name]!r}"
        if self.volume < 0:
            return f"volume must be >= 0, got {self.volume!r}"
        if self.high < self.low:
            return f"high {self.high!r} < low {self.low!r}"
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            return "open and close must lie between low and high"
        return None


@dataclass
class BarEvent:
    """The bars of one timestamp (a subset of the session's symbols), as a feed delivers them.

    ``received`` is the monotonic clock (``time.perf_counter``) when the feed handed it over.
    """

    ts: int
    bars: dict[str, LiveBar]
    received: float = 0.0

    @property
    def time(self) -> pd.Timestamp:
        return pd.Timestamp(self.ts, tz="UTC")


@dataclass
class Refusal:
    bar: LiveBar
    reason: str

    def message(self) -> str:
        return f"refused bar {self.bar.symbol} {self.bar.time.isoformat()}: {self.reason}"


@dataclass
class BarGuard:
    """Refuse out-of-order, duplicated and invalid bars; accept the rest.

    A bar is out of order when its time is not after the last accepted event's (whatever
    symbol that event had): the strategy has already decided on a later time, and its history
    only grows forward. One time's bars arriving in two events are refused the same way
    (``late``) from the second event on."""

    symbols: Sequence[str]
    last: dict[str, int] = field(default_factory=dict)
    last_event: int | None = None

    def check(self, event: BarEvent) -> tuple[BarEvent | None, list[Refusal]]:
        """Return the event with only acceptable bars (None when none is left) and refusals."""
        good: dict[str, LiveBar] = {}
        refused: list[Refusal] = []
        for sym, bar in event.bars.items():
            if sym not in self.symbols or bar.symbol != sym:
                refused.append(Refusal(bar, f"symbol {bar.symbol!r} is not traded by this session"))
                continue
            if bar.ts != event.ts:
                refused.append(Refusal(bar, "bar time differs from its event's time"))
                continue
            last = self.last.get(sym)
            if last is not None and bar.ts == last:
                refused.append(Refusal(bar, "duplicate: a bar with this time was already taken"))
                continue
            newest = max(last if last is not None else bar.ts, self.last_event or bar.ts)
            if bar.ts < newest:
                when = pd.Timestamp(newest, tz="UTC").isoformat()
                refused.append(Refusal(bar, f"out of order: earlier than the last bar ({when})"))
                continue
            if self.last_event is not None and bar.ts == self.last_event:
                refused.append(Refusal(bar, "late: this time's bars were already processed"))
                continue
            why = bar.problem()
            if why is not None:
                refused.append(Refusal(bar, f"invalid: {why}"))
                continue
            good[sym] = bar
        for sym, bar in good.items():
            self.last[sym] = bar.ts
        if good:
            self.last_event = event.ts
        if not good:
            return None, refused
        return BarEvent(event.ts, good, event.received), refused


class History:
    """Every accepted bar so far as aligned (time x symbol) arrays; ``bars()`` views them as the
    :class:`Bars` a strategy decides on (no copy). A symbol without a bar at a time is NaN, as
    when the backtester aligns symbols on the union of their times."""

    def __init__(self, symbols: Sequence[str], capacity: int = 1024) -> None:
        self.symbols = list(symbols)
        self._col = {s: j for j, s in enumerate(self.symbols)}
        m = len(self.symbols)
        self.n = 0
        self._ts = np.empty(capacity, dtype=np.int64)
        self._a = {c: np.full((capacity, m), np.nan) for c in COLUMNS}

    def __len__(self) -> int:
        return self.n

    @property
    def last_ts(self) -> int | None:
        return int(self._ts[self.n - 1]) if self.n else None

    def _grow(self) -> None:
        cap = 2 * len(self._ts)
        ts = np.empty(cap, dtype=np.int64)
        ts[: self.n] = self._ts[: self.n]
        self._ts = ts
        for c, a in self._a.items():
            b = np.full((cap, a.shape[1]), np.nan)
            b[: self.n] = a[: self.n]
            self._a[c] = b

    def append(self, ts: int, bars: Mapping[str, LiveBar]) -> None:
        """Add one timestamp's bars (``ts`` must be later than the last)."""
        if self.n and ts <= self._ts[self.n - 1]:
            raise ValueError("history: timestamps must increase")
        if self.n == len(self._ts):
            self._grow()
        t = self.n
        self._ts[t] = ts
        for sym, bar in bars.items():
            j = self._col[sym]
            self._a["open"][t, j] = bar.open
            self._a["high"][t, j] = bar.high
            self._a["low"][t, j] = bar.low
            self._a["close"][t, j] = bar.close
            self._a["volume"][t, j] = bar.volume
        self.n += 1

    def extend(self, events: Iterable[BarEvent]) -> None:
        for ev in events:
            self.append(ev.ts, ev.bars)

    def bars(self) -> Bars:
        """The history as Bars: views of the arrays, the time index built only if read."""
        n = self.n
        return Bars(None, self.symbols, {c: a[:n] for c, a in self._a.items()}, ts=self._ts[:n])


def events_from_frames(frames: Mapping[str, pd.DataFrame]) -> list[BarEvent]:
    """Group ``{symbol: DataFrame}`` (as ``load_bars`` returns) into one event per timestamp.

    Each symbol's rows keep their order: a duplicated or out-of-order row becomes an event of
    its own where it stands, for the guard to refuse (with a warning) rather than being hidden
    by the grouping."""
    per_sym: list[list[LiveBar]] = []
    for sym, df in frames.items():
        idx = pd.DatetimeIndex(df.index)
        utc = idx.tz_convert("UTC") if idx.tz is not None else idx.tz_localize("UTC")
        ts = utc.as_unit("ns").asi8
        cols = [df[c].to_numpy(np.float64) if c in df else np.zeros(len(df)) for c in COLUMNS]
        per_sym.append(
            [
                LiveBar(
                    sym,
                    int(ts[i]),
                    float(cols[0][i]),
                    float(cols[1][i]),
                    float(cols[2][i]),
                    float(cols[3][i]),
                    float(cols[4][i]),
                )
                for i in range(len(df))
            ]
        )
    # merge the symbols' rows by time, taking each symbol's rows in their own order
    pos = [0] * len(per_sym)
    out: list[BarEvent] = []
    while True:
        heads = [rows[pos[k]].ts for k, rows in enumerate(per_sym) if pos[k] < len(rows)]
        if not heads:
            return out
        t = min(heads)
        bars: dict[str, LiveBar] = {}
        for k, rows in enumerate(per_sym):
            if pos[k] < len(rows) and rows[pos[k]].ts == t:
                bars[rows[pos[k]].symbol] = rows[pos[k]]
                pos[k] += 1
        out.append(BarEvent(t, bars))
