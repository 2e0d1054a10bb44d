"""China A-share adapters: akshare and baostock (free, no token) and tushare (token).

Call shapes follow each library's documentation: akshare ``stock_zh_a_hist`` (daily, dates
``YYYYMMDD``, ``adjust`` "" / "qfq" / "hfq") and ``stock_zh_a_hist_min_em`` (minutes; 时间 is
the bar's end); baostock ``query_history_k_data_plus`` (strings; ``adjustflag`` 3 raw, 2 forward;
minute ``time`` ``YYYYMMDDHHMMSSsss`` is the bar's end) and ``query_stock_basic``; tushare pro
``daily`` (newest first) and ``adj_factor``. Each answer is mapped with its layout table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from easyquant.data.frequency import Freq, parse_freq
from easyquant.data.instruments import Instrument, Period, make_instrument, periods_from_flags
from easyquant.data.layouts import AKSHARE, BAOSTOCK, TUSHARE
from easyquant.data.symbols import canonical, vendor_code
from easyquant.data.vendors.base import (
    VendorError,
    VendorSource,
    actions_from_ratio,
    frame_to_table,
)
from easyquant.errors import ConfigError

_AK_MINUTES = (1, 5, 15, 30, 60)
_BS_MINUTES = (5, 15, 30, 60)


def _ymd(t: pd.Timestamp | None, default: str) -> str:
    return default if t is None else t.strftime("%Y%m%d")


def _iso(t: pd.Timestamp | None, default: str) -> str:
    return default if t is None else t.date().isoformat()


def _ratio_actions(table: pa.Table, adjusted: pd.Series, symbol: str) -> pd.DataFrame:
    """Corporate actions from an adjusted close series aligned with ``table``'s bars."""
    close = table.column("close").to_numpy()
    stamps = pd.DatetimeIndex(table.column("timestamp").to_pandas())
    days = stamps.tz_convert("Asia/Shanghai").tz_localize(None)  # the session dates
    adj = pd.to_numeric(adjusted, errors="coerce").to_numpy(dtype="float64")
    if len(adj) != len(close):
        return pd.DataFrame(columns=["symbol", "ex_date", "split_ratio", "dividend"])
    return actions_from_ratio(days.normalize(), close, adj / close, symbol)


class AkshareSource(VendorSource):
    """A-share daily and minute bars from akshare (East Money); adjustment from its qfq prices."""

    name = "akshare"
    calendar = "XSHG"
    tz = "Asia/Shanghai"

    def _hist(self, symbol: str, freq: Freq, lo: Any, hi: Any, adjust: str) -> pd.DataFrame:
        code = vendor_code(symbol, "code")
        if freq.daily:
            return self.call(
                symbol,
                "stock_zh_a_hist",
                self.api.stock_zh_a_hist,
                symbol=code,
                period="daily",
                start_date=_ymd(lo, "19900101"),
                end_date=_ymd(hi, "20991231"),
                adjust=adjust,
            )
        if freq.minutes not in _AK_MINUTES:
            raise ConfigError(f"freq: akshare gives minute bars of {_AK_MINUTES} minutes")
        return self.call(
            symbol,
            "stock_zh_a_hist_min_em",
            self.api.stock_zh_a_hist_min_em,
            symbol=code,
            start_date=f"{_iso(lo, '1990-01-01')} 09:30:00",
            end_date=f"{_iso(hi, '2099-12-31')} 15:00:00",
            period=str(freq.minutes),
            adjust=adjust,
        )

    def fetch(
        self, symbol: str, freq: Freq, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pa.Table, pd.DataFrame | None]:
        raw = self._hist(symbol, freq, start, end, "")
        if raw is None or len(raw) == 0:
            return frame_to_table(
                pd.DataFrame(columns=["日期", *_AK_VALUES]), AKSHARE, symbol
            ), None
        if not freq.daily:  # East Money labels a minute bar by its end: label it by its start
            ends = pd.DatetimeIndex(pd.to_datetime(raw["时间"].astype(str)))
            ts = (ends - pd.Timedelta(minutes=freq.minutes)).tz_localize(self.tz)
            return frame_to_table(raw, AKSHARE, symbol, ts=ts), None
        table = frame_to_table(raw, AKSHARE, symbol)
        qfq = self._hist(symbol, freq, start, end, "qfq")
        if qfq is None or len(qfq) != len(raw):
            return table, None
        return table, _ratio_actions(table, qfq["收盘"], symbol)

    def instruments(self, day: dt.date | None = None) -> list[Instrument]:
        """The A-share list; ST from the name (as of ``day``); suspensions on ``day``."""
        day = day or dt.date.today()
        names = self.call("*", "stock_info_a_code_name", self.api.stock_info_a_code_name)
        halted = self.call("*", "stock_tfp_em", self.api.stock_tfp_em, date=day.strftime("%Y%m%d"))
        stopped = set(halted["代码"].astype(str)) if halted is not None and len(halted) else set()
        out = []
        for i, row in enumerate(names.itertuples(index=False), start=1):
            code, name = str(row.code), str(row.name)
            inst = make_instrument({"symbol": code, "name": name}, f"akshare: row {i}")
            if name.replace("*", "").upper().startswith("ST"):
                inst.st = [Period(day)]
            if code in stopped:
                inst.suspended = [Period(day, day)]
            inst.line = i
            out.append(inst)
        return out


_AK_VALUES = ("开盘", "收盘", "最高", "最低", "成交量")
_BS_DAILY = (
    "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST"
)
_BS_MINUTE = "date,time,code,open,high,low,close,volume,amount,adjustflag"


class BaostockSource(VendorSource):
    """A-share daily and minute bars from baostock; suspended days dropped; adjustflag 2/3."""

    name = "baostock"
    calendar = "XSHG"
    tz = "Asia/Shanghai"

    def __init__(self, api: Any = None, **kw: Any) -> None:
        super().__init__(api, **kw)
        self._logged_in = False

    def _result(self, symbol: str, what: str, rs: Any) -> pd.DataFrame:
        self._check(symbol, what, rs)
        return pd.DataFrame(rs.get_data())

    @staticmethod
    def _check(symbol: str, what: str, rs: Any) -> None:
        if str(rs.error_code) != "0":
            raise VendorError(
                f"baostock: symbol {symbol!r}: {what} failed: error {rs.error_code}: {rs.error_msg}"
            )

    def _login(self) -> None:
        if not self._logged_in:
            self._check("*", "login", self.call("*", "login", self.api.login))
            self._logged_in = True

    def _k(self, symbol: str, freq: Freq, lo: Any, hi: Any, flag: str) -> pd.DataFrame:
        self._login()
        if not freq.daily and freq.minutes not in _BS_MINUTES:
            raise ConfigError(f"freq: baostock gives minute bars of {_BS_MINUTES} minutes")
        rs = self.call(
            symbol,
            "query_history_k_data_plus",
            self.api.query_history_k_data_plus,
            vendor_code(symbol, "baostock"),
            _BS_DAILY if freq.daily else _BS_MINUTE,
            start_date=_iso(lo, ""),
            end_date=_iso(hi, ""),
            frequency="d" if freq.daily else str(freq.minutes),
            adjustflag=flag,
        )
        return self._result(symbol, "query_history_k_data_plus", rs)

    def fetch(
        self, symbol: str, freq: Freq, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pa.Table, pd.DataFrame | None]:
        raw = self._k(symbol, freq, start, end, "3")
        if raw.empty:
            cols = ["date", "code", "open", "high", "low", "close", "volume"]
            return frame_to_table(pd.DataFrame(columns=cols), BAOSTOCK, symbol), None
        if freq.daily:
            table = frame_to_table(raw, BAOSTOCK, symbol)
        else:  # ``time`` is the bar's end: label by its start
            ends = pd.DatetimeIndex(pd.to_datetime(raw["time"].str[:14], format="%Y%m%d%H%M%S"))
            ts = (ends - pd.Timedelta(minutes=freq.minutes)).tz_localize(BAOSTOCK.tz)
            table = frame_to_table(raw, BAOSTOCK, symbol, ts=ts)
            return table, None
        fwd = self._k(symbol, freq, start, end, "2")
        fwd = fwd[fwd["tradestatus"].astype(str) != "0"] if "tradestatus" in fwd else fwd
        return table, _ratio_actions(table, fwd["close"], symbol)

    def instruments(
        self,
        day: dt.date | None = None,
        *,
        symbols: list[str] | None = None,
        start: dt.date | None = None,
    ) -> list[Instrument]:
        """Stocks from ``query_stock_basic`` (type 1) with listing and delisting dates.

        For ``symbols``, dated ST and suspension periods from ``start`` to ``day`` come from
        the daily ``isST`` and ``tradestatus`` fields.
        """
        self._login()
        basic = self._result(
            "*",
            "query_stock_basic",
            self.call("*", "query_stock_basic", self.api.query_stock_basic),
        )
        out = []
        for i, row in enumerate(basic.to_dict(orient="records"), start=1):
            if str(row.get("type")) != "1":
                continue
            inst = make_instrument(
                {
                    "symbol": str(row["code"]),
                    "name": str(row.get("code_name") or ""),
                    "listed": str(row.get("ipoDate") or ""),
                    "delisted": str(row.get("outDate") or ""),
                },
                f"baostock: row {i}",
            )
            inst.line = i
            out.append(inst)
        if symbols:
            wanted = {canonical(s) for s in symbols}
            out = [i for i in out if i.symbol in wanted]
            for inst in out:
                self._status_periods(inst, start, day)
        return out

    def _status_periods(self, inst: Instrument, start: dt.date | None, end: dt.date | None) -> None:
        lo = pd.Timestamp(start) if start else None
        hi = pd.Timestamp(end) if end else None
        k = self._k(inst.symbol, parse_freq("1d"), lo, hi, "3")
        if k.empty:
            return
        days = [dt.date.fromisoformat(d) for d in k["date"].astype(str)]
        inst.st = periods_from_flags(days, list(k["isST"].astype(str) == "1"))
        inst.suspended = periods_from_flags(days, list(k["tradestatus"].astype(str) == "0"))


class TushareSource(VendorSource):
    """A-share daily bars from tushare pro (token from EASYQUANT_TUSHARE_TOKEN, never logged)."""

    name = "tushare"
    calendar = "XSHG"
    tz = "Asia/Shanghai"

    def __init__(self, api: Any = None, *, token: Any = None, **kw: Any) -> None:
        super().__init__(api, **kw)
        self._token = token  # a pydantic SecretStr: printing it shows '**********'

    def load_api(self) -> Any:
        if self._token is None or not self._token.get_secret_value():
            raise ConfigError(
                "tushare_token: the tushare source needs a token; set EASYQUANT_TUSHARE_TOKEN"
            )
        return super().load_api().pro_api(self._token.get_secret_value())

    def fetch(
        self, symbol: str, freq: Freq, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pa.Table, pd.DataFrame | None]:
        if not freq.daily:
            raise ConfigError("freq: the tushare source gives daily bars (1d) only")
        args = dict(
            ts_code=vendor_code(symbol, "tushare"),
            start_date=_ymd(start, "19900101"),
            end_date=_ymd(end, "20991231"),
        )
        daily = self.call(symbol, "daily", self.api.daily, **args)
        if daily is None or daily.empty:
            cols = ["ts_code", "trade_date", "open", "high", "low", "close", "vol"]
            return frame_to_table(pd.DataFrame(columns=cols), TUSHARE, symbol), None
        table = frame_to_table(daily, TUSHARE, symbol, ts_format="%Y%m%d")
        factors = self.call(symbol, "adj_factor", self.api.adj_factor, **args)
        if factors is None or factors.empty:
            return table, None
        by_day = factors.set_index(factors["trade_date"].astype(str))["adj_factor"]
        days = daily["trade_date"].astype(str).iloc[::-1]
        adj = by_day.reindex(days.to_numpy()).to_numpy(dtype="float64")
        close = table.column("close").to_numpy()
        stamp = pd.DatetimeIndex(pd.to_datetime(days.to_numpy(), format="%Y%m%d"))
        return table, actions_from_ratio(stamp, close, np.asarray(adj), symbol)
