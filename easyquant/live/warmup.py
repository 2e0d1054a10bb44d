"""A session's warm-up: the lake's bars just before its first live bar, enough for the
strategy's decision window, so that its first live decision is the one a backtest makes on
the same bar. Warm-up bars are history only: never traded, never stored with the session
(they are read from the lake again after a restart, and by the parity check).
"""

from __future__ import annotations

import pandas as pd

from easyquant.config import Settings
from easyquant.errors import DataError
from easyquant.live.bars import BarEvent, events_from_frames
from easyquant.live.config import SessionConfig
from easyquant.strategy.base import Strategy


def warmup_size(config: SessionConfig, strategy: Strategy) -> int:
    """Bars of each symbol to load: the configured number, else the strategy's window."""
    if config.warmup is not None:
        return int(config.warmup)
    return int(strategy.decision_window() or 0)


def load_warmup(
    config: SessionConfig, bars: int, before: int, settings: Settings
) -> list[BarEvent]:
    """The last ``bars`` bars of each symbol in the lake strictly before ``before`` (ns), as
    events in time order; a symbol the lake does not hold contributes none."""
    from easyquant.data import load_bars

    if bars <= 0:
        return []
    end = pd.Timestamp(before - 1, tz="UTC")
    frames = {}
    for sym in config.symbols:
        try:
            df = load_bars(sym, freq=config.freq, end=end, settings=settings)[sym]
        except DataError:
            continue
        df = df[pd.DatetimeIndex(df.index).asi8 < before].iloc[-bars:]
        if len(df):
            frames[sym] = df
    return events_from_frames(frames) if frames else []
