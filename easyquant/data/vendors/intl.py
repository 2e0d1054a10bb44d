"""US equities from yfinance and crypto from any exchange ccxt supports.

yfinance ``Ticker.history(start, end (exclusive), interval, auto_adjust=False, actions=True)``
returns a frame indexed by exchange-local time with Open, High, Low, Close, Adj Close, Volume,
Dividends and Stock Splits. Yahoo's OHLC are already split-adjusted, so only the dividends that
``Adj Close`` carries become corporate actions. ccxt ``fetch_ohlcv(symbol, timeframe, since,
limit)`` returns ``[[ms, open, high, low, close, volume], ...]`` oldest first, paged by ``since``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from easyquant.data.frequency import Freq
from easyquant.data.layouts import BINANCE, YAHOO
from easyquant.data.symbols import vendor_code
from easyquant.data.vendors.base import (
    VendorSource,
    actions_from_ratio,
    frame_to_table,
)
from easyquant.errors import ConfigError

_YF_INTERVALS = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "60m", 1440: "1d"}
_CCXT_FRAMES = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "1h", 240: "4h", 1440: "1d"}


class YfinanceSource(VendorSource):
    """Bars from Yahoo Finance through yfinance; dividends from Adj Close."""

    name = "yfinance"
    calendar = "XNYS"
    tz = "America/New_York"

    def fetch(
        self, symbol: str, freq: Freq, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pa.Table, pd.DataFrame | None]:
        interval = self.vendor_freq(freq, _YF_INTERVALS)
        ticker = self.call(symbol, "Ticker", self.api.Ticker, vendor_code(symbol, "yahoo"))
        df = self.call(
            symbol,
            "history",
            ticker.history,
            start=None if start is None else start.date().isoformat(),
            end=None if end is None else (end + pd.Timedelta(days=1)).date().isoformat(),
            interval=interval,
            auto_adjust=False,
            actions=True,
        )
        if df is None or df.empty:
            empty = pd.DataFrame(columns=["Open", "High", "Low", "Close", "Volume"])
            return frame_to_table(empty, YAHOO, symbol, ts=pd.DatetimeIndex([], tz="UTC")), None
        index = pd.DatetimeIndex(df.index)
        table = frame_to_table(df, YAHOO, symbol, ts=index)
        if not freq.daily or "Adj Close" not in df.columns:
            return table, None
        days = index.tz_localize(None).normalize() if index.tz else index.normalize()
        close = df["Close"].to_numpy(dtype="float64")
        ratio = df["Adj Close"].to_numpy(dtype="float64") / close
        return table, actions_from_ratio(days, close, ratio, symbol)


class CcxtSource(VendorSource):
    """OHLCV from a ccxt exchange (default binance), paged forward with ``since``."""

    name = "ccxt"
    calendar = "24/7"

    def __init__(self, api: Any = None, *, exchange: str = "binance", limit: int = 1000, **kw: Any):
        super().__init__(api, **kw)
        self.exchange = exchange
        self.limit = int(limit)

    def load_api(self) -> Any:
        ccxt = super().load_api()
        if not hasattr(ccxt, self.exchange):
            raise ConfigError(f"exchange: ccxt knows no exchange {self.exchange!r}")
        return getattr(ccxt, self.exchange)({"enableRateLimit": True})

    def fetch(
        self, symbol: str, freq: Freq, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pa.Table, pd.DataFrame | None]:
        frame = self.vendor_freq(freq, _CCXT_FRAMES)
        pair = vendor_code(symbol, "ccxt")
        since = 0 if start is None else int(start.tz_localize("UTC").value // 1_000_000)
        stop = (
            None if end is None else int((end.tz_localize("UTC").value // 1_000_000) + 86_400_000)
        )
        rows: list[list[float]] = []
        while True:
            page = self.call(
                symbol, "fetch_ohlcv", self.api.fetch_ohlcv, pair, frame, since, self.limit
            )
            if not page:
                break
            rows.extend(r for r in page if stop is None or r[0] < stop)
            last = int(page[-1][0])
            if len(page) < self.limit or (stop is not None and last >= stop) or last < since:
                break
            since = last + 1
        df = pd.DataFrame(rows, columns=["open_time", "open", "high", "low", "close", "volume"])
        ts = pd.DatetimeIndex(pd.to_datetime(np.asarray(df["open_time"], dtype="int64"), unit="ms"))
        return frame_to_table(df, BINANCE, symbol, ts=ts.tz_localize("UTC")), None
