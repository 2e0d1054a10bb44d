"""Stand-ins for the vendor libraries: each function returns that library's documented result
shape (column names, dtypes, units, order) from the fixture files in tests/fixtures/vendors,
filtered to the requested dates as the service would, and records what it was asked."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


class RateLimitExceeded(Exception):  # the name ccxt gives its rate-limit error
    pass


class BadSymbol(Exception):  # ccxt: an exchange does not list the symbol
    pass


class StandIn:
    """Common bookkeeping: the calls made and failures to raise on the next calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.failures: list[BaseException] = []

    def _enter(self, *call: Any) -> None:
        self.calls.append(call)
        if self.failures:
            raise self.failures.pop(0)


def _between(df: pd.DataFrame, col: str, lo: str, hi: str, fmt: str = "%Y-%m-%d") -> pd.DataFrame:
    days = pd.to_datetime(df[col].astype(str).str[:10], format=fmt)
    lo_t = pd.Timestamp(lo) if lo else pd.Timestamp.min
    hi_t = pd.Timestamp(hi) if hi else pd.Timestamp.max
    return df[(days >= lo_t) & (days <= hi_t)].reset_index(drop=True)


class Akshare(StandIn):
    """akshare: ``stock_zh_a_hist`` gives 日期 (datetime.date), 股票代码 (str), float prices,
    成交量 (int64, 手), ... oldest first; an unknown code gives an empty frame."""

    def stock_zh_a_hist(self, symbol, period="daily", start_date="", end_date="", adjust=""):
        self._enter("stock_zh_a_hist", symbol, start_date, end_date, adjust)
        path = FIXTURES / f"akshare_stock_zh_a_hist_{symbol}{'_' + adjust if adjust else ''}.csv"
        if not path.exists():
            return pd.DataFrame()
        df = pd.read_csv(path, dtype={"股票代码": str, "成交量": "int64"})
        df = _between(df, "日期", start_date, end_date, "%Y-%m-%d")
        df["日期"] = pd.to_datetime(df["日期"]).dt.date
        return df


def _akshare_list(self: Akshare) -> pd.DataFrame:
    """``stock_info_a_code_name()``: code (str, six digits) and name."""
    self._enter("stock_info_a_code_name")
    return pd.read_csv(FIXTURES / "akshare_stock_info_a_code_name.csv", dtype=str)


def _akshare_halts(self: Akshare, date: str = "") -> pd.DataFrame:
    """``stock_tfp_em(date)``: the day's suspensions, 代码 as str."""
    self._enter("stock_tfp_em", date)
    return pd.read_csv(FIXTURES / "akshare_stock_tfp_em.csv", dtype={"代码": str})


def _akshare_minutes(
    self: Akshare,
    symbol: str,
    start_date: str = "",
    end_date: str = "",
    period: str = "5",
    adjust: str = "",
) -> pd.DataFrame:
    """``stock_zh_a_hist_min_em``: 时间 (str, the bar's end), prices, 成交量 in 手."""
    self._enter("stock_zh_a_hist_min_em", symbol, start_date, end_date, period, adjust)
    path = FIXTURES / f"akshare_stock_zh_a_hist_min_em_{symbol}_{period}.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


Akshare.stock_zh_a_hist_min_em = _akshare_minutes  # type: ignore[attr-defined]
Akshare.stock_info_a_code_name = _akshare_list  # type: ignore[attr-defined]
Akshare.stock_tfp_em = _akshare_halts  # type: ignore[attr-defined]


class Baostock(StandIn):
    """baostock: login / query_history_k_data_plus return a ResultData (error_code '0' on
    success) whose ``get_data()`` is a frame of strings."""

    def login(self):
        self._enter("login")
        return SimpleNamespace(error_code="0", error_msg="success")

    def query_history_k_data_plus(
        self, code, fields, start_date="", end_date="", frequency="d", adjustflag="3"
    ):
        self._enter("query_history_k_data_plus", code, start_date, end_date, frequency, adjustflag)
        suffix = "_adjustflag2" if adjustflag == "2" else ""
        suffix += "" if frequency == "d" else f"_{frequency}"
        path = FIXTURES / f"baostock_k_{code.split('.')[1]}{suffix}.csv"
        if not path.exists():
            return SimpleNamespace(
                error_code="10004011", error_msg="证券代码错误", get_data=pd.DataFrame
            )
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df = _between(df, "date", start_date, end_date)[fields.split(",")]
        return SimpleNamespace(error_code="0", error_msg="success", get_data=lambda: df)


def _baostock_basic(self: Baostock, code: str = "", code_name: str = "") -> SimpleNamespace:
    """``query_stock_basic()``: code, code_name, ipoDate, outDate, type, status as strings."""
    self._enter("query_stock_basic")
    df = pd.read_csv(FIXTURES / "baostock_query_stock_basic.csv", dtype=str, keep_default_na=False)
    return SimpleNamespace(error_code="0", error_msg="success", get_data=lambda: df)


Baostock.query_stock_basic = _baostock_basic  # type: ignore[attr-defined]


class Tushare(StandIn):
    """tushare pro: ``daily`` gives trade_date as 'YYYYMMDD' strings, vol in 手, amount in 千元,
    newest first; ``adj_factor`` the cumulative factor per day, newest first."""

    def daily(self, ts_code="", start_date="", end_date=""):
        self._enter("daily", ts_code, start_date, end_date)
        return self._read(f"tushare_daily_{ts_code.split('.')[0]}.csv", start_date, end_date)

    def adj_factor(self, ts_code="", start_date="", end_date=""):
        self._enter("adj_factor", ts_code, start_date, end_date)
        return self._read(f"tushare_adj_factor_{ts_code.split('.')[0]}.csv", start_date, end_date)

    @staticmethod
    def _read(name: str, lo: str, hi: str) -> pd.DataFrame:
        path = FIXTURES / name
        if not path.exists():
            return pd.DataFrame()
        df = pd.read_csv(path, dtype={"trade_date": str})
        return _between(df, "trade_date", lo, hi, "%Y%m%d")


class Yfinance(StandIn):
    """yfinance: ``Ticker(t).history(...)`` gives a frame indexed by tz-aware exchange time,
    Open..Close, Adj Close, Volume (int64), Dividends, Stock Splits; ``end`` is exclusive."""

    def Ticker(self, ticker):
        outer = self

        class _Ticker:
            def history(self, start=None, end=None, interval="1d", auto_adjust=True, actions=True):
                outer._enter("history", ticker, start, end, interval, auto_adjust)
                path = FIXTURES / f"yfinance_history_{ticker}.csv"
                if not path.exists():
                    return pd.DataFrame()
                df = pd.read_csv(path)
                idx = pd.DatetimeIndex(pd.to_datetime(df.pop("Date"), utc=True)).tz_convert(
                    "America/New_York"
                )
                df.index = idx.rename("Date")
                lo = pd.Timestamp(start, tz="America/New_York") if start else idx[0]
                hi = (
                    pd.Timestamp(end, tz="America/New_York")
                    if end
                    else idx[-1] + pd.Timedelta(days=1)
                )
                return df[(idx >= lo) & (idx < hi)]

        return _Ticker()


class CcxtExchange(StandIn):
    """A ccxt exchange: ``fetch_ohlcv(symbol, timeframe, since, limit)`` gives lists
    ``[ms, open, high, low, close, volume]`` oldest first, at most ``limit``, from ``since``."""

    def fetch_ohlcv(self, symbol, timeframe="1m", since=None, limit=None):
        self._enter("fetch_ohlcv", symbol, timeframe, since, limit)
        path = FIXTURES / f"ccxt_fetch_ohlcv_{symbol.replace('/', '')}_{timeframe}.json"
        if not path.exists():
            raise BadSymbol(f"binance does not have market symbol {symbol}")
        rows = [r for r in json.loads(path.read_text()) if since is None or r[0] >= since]
        return rows[:limit] if limit else rows
