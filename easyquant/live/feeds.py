"""Where live bars come from: one protocol, a replay of the lake and a synthetic live random walk.

A feed yields :class:`BarEvent` objects (the bars of one timestamp) in time order, only after
``after`` (the last bar the session already processed), and waits between them as its clock
says. Waiting goes through ``stop.wait`` so a stop request ends the wait at once. A venue's
market-data adapter implements the same protocol.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from easyquant.config import Settings
from easyquant.data import time_bound
from easyquant.errors import ConfigError
from easyquant.live.bars import BarEvent, LiveBar, events_from_frames

MARKET_CALENDARS = {"us": "XNYS", "cn": "XSHG", "crypto": "24/7"}
FEEDS = ("replay", "synthetic")


@runtime_checkable
class Feed(Protocol):
    """A source of live bars."""

    name: str
    #: True when bars arrive at a real-time pace (each is stored as it is processed); False
    #: for as fast as possible (bars are stored in groups)
    paced: bool

    def events(self, *, after: int | None, stop: threading.Event) -> Iterator[BarEvent]:
        """Yield events later than ``after`` (ns UTC), in time order, until exhausted or
        ``stop`` is set. The service calls it again with an earlier ``after`` when it had to
        reload its state (after a database outage): a feed must be able to deliver again
        every bar after any ``after`` it is given (a venue adapter fetches missed bars)."""
        ...


def parse_speed(value: str | float | None) -> float:
    """Return a replay speed: a multiple of real time > 0, or 0 for as fast as possible."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("max", "fast", "asap", "0"):
            return 0.0
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(
                f"speed: expected a multiple of real time (e.g. 60) or 'max', got {value!r}"
            ) from None
    speed = float(value)
    if not np.isfinite(speed) or speed < 0:
        raise ConfigError(f"speed: must be > 0 (or 'max'), got {value!r}")
    return speed


class ReplayFeed:
    """Bars from the Parquet lake, replayed at ``speed`` x real time (0: as fast as possible)."""

    name = "replay"

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        freq: str = "1d",
        start: str | None = None,
        end: str | None = None,
        speed: float = 0.0,
        settings: Settings | None = None,
    ) -> None:
        from easyquant.data import load_bars

        self.symbols = list(symbols)
        self.speed = parse_speed(speed)
        self.paced = self.speed > 0
        frames = load_bars(self.symbols, freq=freq, start=start, end=end, settings=settings)
        self._events = events_from_frames(frames)
        self._ts = np.array([e.ts for e in self._events], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._events)

    def events(self, *, after: int | None, stop: threading.Event) -> Iterator[BarEvent]:
        i = 0 if after is None else int(np.searchsorted(self._ts, after, side="right"))
        if i >= len(self._events):
            return
        wall0 = time.monotonic()
        bar0 = int(self._ts[i])
        for ev in self._events[i:]:
            if stop.is_set():
                return
            if self.speed > 0:
                due = wall0 + (ev.ts - bar0) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
            ev.received = time.perf_counter()
            yield ev


class SyntheticFeed:
    """A live random walk on the market's calendar and trading hours.

    Values come from the seeded synthetic data source, so they are a pure function of (seed,
    symbol, bar time): a restarted session sees the same bars. The feed's clock starts at
    ``start`` (default: now; after a restart, the end of the last processed bar) and runs at
    ``speed`` x real time; a bar is delivered once its interval has ended on that clock.
    Outside trading hours nothing is delivered.
    """

    name = "synthetic"

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        market: str = "us",
        freq: str = "1m",
        speed: float = 1.0,
        seed: int = 42,
        start: str | None = None,
        end: str | None = None,
    ) -> None:
        from easyquant.data.frequency import parse_freq
        from easyquant.data.sources import SyntheticSource

        if market not in MARKET_CALENDARS:
            raise ConfigError(
                f"market: expected one of {', '.join(MARKET_CALENDARS)}, got {market!r}"
            )
        self.symbols = list(symbols)
        self.freq = parse_freq(freq)
        self.speed = parse_speed(speed)
        self.paced = self.speed > 0
        self.calendar = MARKET_CALENDARS[market]
        self.source = SyntheticSource(self.calendar, seed=seed)
        self.start = time_bound(start, "start", end=False)
        self.end = time_bound(end, "end", end=False)
        self._days: dict[int, list[BarEvent]] = {}

    def _day(self, day: pd.Timestamp) -> list[BarEvent]:
        key = int(day.value)
        if key not in self._days:
            frames = {}
            for sym in self.symbols:
                table = self.source.generate(sym, self.freq, day, day)
                if table.num_rows:
                    df = table.to_pandas().set_index("timestamp")
                    frames[sym] = df
            self._days = {key: events_from_frames(frames) if frames else []}
        return self._days[key]

    def _bar_end(self, ts: int) -> int:
        if self.freq.daily:
            from easyquant.data import calendars

            sch = calendars.schedule(self.calendar, pd.Timestamp(ts), pd.Timestamp(ts))
            if len(sch):
                return int(pd.Timestamp(sch["close"].iloc[0]).value)
            return ts + 86_400_000_000_000
        return ts + self.freq.ns

    def events(self, *, after: int | None, stop: threading.Event) -> Iterator[BarEvent]:
        now_ns = time.time_ns()
        if after is not None:
            clock0 = self._bar_end(after)
        elif self.start is not None:
            clock0 = self.start
        else:
            clock0 = now_ns
        wall0 = time.monotonic()

        def clock() -> float:
            if self.speed == 0:
                return float("inf")
            return clock0 + (time.monotonic() - wall0) * 1e9 * self.speed

        day = (
            pd.Timestamp(int(after if after is not None else clock0), tz="UTC")
            .tz_localize(None)
            .normalize()
        )
        last = after if after is not None else (self.start - 1 if self.start else clock0 - 1)
        while not stop.is_set():
            if self.end is not None and day.value > self.end:
                return
            for ev in self._day(day):
                if ev.ts <= last:
                    continue
                if self.end is not None and ev.ts > self.end:
                    return
                due = self._bar_end(ev.ts)
                while clock() < due:
                    wait = (due - clock()) / 1e9 / max(self.speed, 1e-9)
                    if stop.wait(min(max(wait, 0.001), 1.0)):
                        return
                last = ev.ts
                ev.received = time.perf_counter()
                yield ev
            day = day + pd.Timedelta(days=1)
            # skip ahead over closed days without spinning
            while clock() < day.value and not stop.is_set():
                stop.wait(min(1.0, max((day.value - clock()) / 1e9 / max(self.speed, 1e-9), 0.001)))


def make_feed(
    name: str,
    symbols: Sequence[str],
    *,
    market: str = "us",
    freq: str = "1d",
    speed: str | float | None = None,
    start: str | None = None,
    end: str | None = None,
    seed: int = 42,
    settings: Settings | None = None,
) -> Feed:
    """Build a feed by name (``replay`` or ``synthetic``); ConfigError naming a bad option."""
    if name == "replay":
        return ReplayFeed(
            symbols, freq=freq, start=start, end=end, speed=parse_speed(speed), settings=settings
        )
    if name == "synthetic":
        return SyntheticFeed(
            symbols,
            market=market,
            freq=freq,
            speed=parse_speed(speed if speed is not None else 1.0),
            seed=seed,
            start=start,
            end=end,
        )
    raise ConfigError(f"feed: expected one of {', '.join(FEEDS)}, got {name!r}")


__all__ = [
    "FEEDS",
    "MARKET_CALENDARS",
    "BarEvent",
    "Feed",
    "LiveBar",
    "ReplayFeed",
    "SyntheticFeed",
    "make_feed",
    "parse_speed",
]
