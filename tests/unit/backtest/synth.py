"""Seeded synthetic OHLCV for backtest tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_bars(
    n: int = 500,
    seed: int = 1,
    start: str = "2020-01-01",
    freq: str = "B",
    drift: float = 0.0003,
    vol: float = 0.015,
    price: float = 100.0,
) -> pd.DataFrame:
    """Return a random-walk OHLCV frame with a UTC DatetimeIndex named ``timestamp``."""
    rng = np.random.default_rng(seed)
    r = rng.normal(drift, vol, n)
    close = price * np.exp(np.cumsum(r))
    open_ = np.empty(n)
    open_[0] = price
    open_[1:] = close[:-1] * np.exp(rng.normal(0, vol / 3, n - 1))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    volume = rng.integers(1_000, 100_000, n).astype(float)
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=idx
    )
