"""Vendor adapters at the library boundary: documented result shapes in, bars in shares out.

Each vendor library is replaced by a stand-in (tests/unit/data/standins.py) whose functions
return that library's documented result shape from fixture files; the adapters import the real
library lazily, so these tests need none of them installed.
"""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from pydantic import SecretStr

from easyquant.data.batch import Want
from easyquant.data.frequency import parse_freq
from easyquant.data.ingest import ingest
from easyquant.data.lake import Lake
from easyquant.data.vendors import VendorError, make_vendor
from easyquant.errors import ConfigError
from tests.unit.data import standins

STANDINS = {
    "akshare": standins.Akshare,
    "baostock": standins.Baostock,
    "tushare": standins.Tushare,
    "yfinance": standins.Yfinance,
    "ccxt": standins.CcxtExchange,
}
CASES = {  # vendor -> (symbol as the user writes it, stored symbol, start, end, bars)
    "akshare": ("000001", "000001.SZ", "2024-06-01", "2024-06-30", 8),
    "baostock": ("sh.600000", "600000.SH", "2024-06-01", "2024-06-30", 7),  # one day suspended
    "tushare": ("000001.SZ", "000001.SZ", "2024-06-01", "2024-06-30", 8),
    "yfinance": ("AAPL", "AAPL", "2024-05-01", "2024-05-31", 7),
    "ccxt": ("BTC/USDT", "BTC-USDT", "2024-01-01", "2024-01-10", 10),
}


def adapter(name: str, api=None, **kw):
    waits: list[float] = []
    src = make_vendor(name, api=api or STANDINS[name](), sleep=waits.append, **kw)
    return src, waits


def ingest_one(src, symbol: str, start: str, end: str, settings, **kw):
    """Ingest ``symbol`` from ``src`` into ``settings``' lake, without recording the run."""
    return ingest(
        src, symbols=[symbol], start=start, end=end, settings=settings, record=False, **kw
    )


def bars(settings, symbol: str) -> pd.DataFrame:
    return Lake(settings.lake_dir).read("1d", symbol).to_pandas().set_index("timestamp")


@pytest.mark.parametrize("name", list(CASES))
def test_adapter_stores_the_vendor_bars_volume_in_shares(settings, name):
    given, symbol, start, end, n = CASES[name]
    src, _ = adapter(name)
    r = ingest_one(src, given, start, end, settings)
    assert list(r.symbols) == [symbol] and r.symbols[symbol].rows_stored == n
    got = bars(settings, symbol)
    assert got.index.is_monotonic_increasing and len(got) == n
    assert all(t.hour == 0 and t.minute == 0 for t in got.index)  # daily bars: session dates
    first = got.iloc[0]
    expected = {  # the first bar of each fixture, volume in shares
        "akshare": ("2024-06-07", 10.30, 10.27, 812345 * 100),
        "baostock": ("2024-06-07", 6.80, 6.77, 81234500),
        "tushare": ("2024-06-07", 10.30, 10.27, 812345 * 100),
        "yfinance": ("2024-05-06", 182.35, 181.71, 78569700),
        "ccxt": ("2024-01-01", 42283.58, None, None),
    }[name]
    assert got.index[0].date().isoformat() == expected[0]
    assert first["open"] == pytest.approx(expected[1])
    if expected[2] is not None:
        assert (first["close"], first["volume"]) == (pytest.approx(expected[2]), expected[3])
    assert r.calendar == {"yfinance": "XNYS", "ccxt": "24/7"}.get(name, "XSHG")


def test_akshare_and_tushare_give_identical_bars(settings, tmp_path):
    from easyquant.config import load_settings

    other = load_settings(home=tmp_path / "o", database_url="postgresql://x@127.0.0.1:1/x")
    for name, s in (("akshare", settings), ("tushare", other)):
        src, _ = adapter(name)
        ingest_one(src, "000001", "2024-06-01", "2024-06-30", s)
    a = Lake(settings.lake_dir).read("1d", "000001.SZ")
    b = Lake(other.lake_dir).read("1d", "000001.SZ")
    assert a.equals(b)


@pytest.mark.parametrize(
    ("name", "ex_date", "split", "dividend"),
    [
        ("akshare", "2024-06-14", 1.0, 0.72),  # 0.719 announced; qfq prices rounded to 0.01
        ("tushare", "2024-06-14", 1.0, 0.719),
        ("baostock", "2024-06-14", 1.0, 6.87 * 0.05),
        ("yfinance", "2024-05-10", 1.0, 0.25),
    ],
)
def test_vendor_adjustment_becomes_corporate_actions(settings, name, ex_date, split, dividend):
    given, symbol, start, end, _ = CASES[name]
    src, _ = adapter(name)
    r = ingest_one(src, given, start, end, settings)
    acts = r.actions
    assert list(acts["symbol"]) == [symbol] and len(acts) == 1
    assert acts["ex_date"][0] == pd.Timestamp(ex_date)
    assert acts["split_ratio"][0] == split
    assert acts["dividend"][0] == pytest.approx(dividend, abs=0.006)
    assert r.symbols[symbol].warnings["corporate_actions"] == 1
    raw = bars(settings, symbol)  # raw prices are what is stored
    assert raw.loc[raw.index < pd.Timestamp(ex_date, tz="UTC"), "close"].iloc[-1] == pytest.approx(
        {"akshare": 10.37, "tushare": 10.37, "baostock": 6.87, "yfinance": 184.57}[name]
    )


@pytest.mark.parametrize("name", list(CASES))
def test_incremental_fetch_asks_only_for_the_missing_ranges(settings, name):
    given, symbol, start, end, _ = CASES[name]
    mid = {"ccxt": ("2024-01-04", "2024-01-06")}.get(name)
    if mid is None:
        mid = ("2024-05-08", "2024-05-09") if name == "yfinance" else ("2024-06-12", "2024-06-14")
    src, _ = adapter(name)
    ingest_one(src, given, mid[0], mid[1], settings)
    stored = bars(settings, symbol)
    src, _ = adapter(name)
    r = ingest_one(src, given, start, end, settings)
    first, last = stored.index[0].date().isoformat(), stored.index[-1].date().isoformat()
    assert src.calls == [
        (symbol, "1d", start, first),
        (symbol, "1d", last, end),
    ]
    asked = [c for c in src.api.calls if c[0] not in ("login",)]
    assert asked, "the library was called"
    again = bars(settings, symbol)
    assert len(again) == CASES[name][4] and again.index.is_unique
    assert r.symbols[symbol].rows_stored == len(again) - len(stored)
    # a range inside what is stored: the vendor is not asked, and the summary says why
    src, _ = adapter(name)
    r = ingest_one(src, given, mid[0], mid[1], settings)
    assert src.calls == [] and src.api.calls == []
    assert "already_stored" in r.symbols[symbol].warnings


def test_library_calls_carry_vendor_spellings_and_dates():
    day, june = parse_freq("1d"), (pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-30"))
    src, _ = adapter("akshare")
    src.fetch("000001.SZ", day, *june)
    assert src.api.calls == [
        ("stock_zh_a_hist", "000001", "20240601", "20240630", ""),
        ("stock_zh_a_hist", "000001", "20240601", "20240630", "qfq"),
    ]
    src, _ = adapter("baostock")
    list(src.batches(day, Want(["600000.SH"], *june)))
    assert src.api.calls[1] == (
        "query_history_k_data_plus",
        "sh.600000",
        "2024-06-01",
        "2024-06-30",
        "d",
        "3",
    )
    src, _ = adapter("tushare")
    src.fetch("000001.SZ", day, *june)
    assert src.api.calls[0] == ("daily", "000001.SZ", "20240601", "20240630")
    src, _ = adapter("yfinance")
    src.fetch("600519.SH", day, *june)  # Yahoo spells Shanghai .SS; its end date is exclusive
    assert src.api.calls[0] == ("history", "600519.SS", "2024-06-01", "2024-07-01", "1d", False)
    src, _ = adapter("ccxt")
    src.fetch("BTC-USDT", day, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-10"))
    assert src.api.calls[0] == ("fetch_ohlcv", "BTC/USDT", "1d", 1704067200000, 1000)


@pytest.mark.parametrize(
    ("name", "symbol", "says"),
    [
        ("yfinance", "AAPL", r"freq: the yfinance source gives bars of \[1, 5, 15, 30, 60, 1440\]"),
        (
            "ccxt",
            "BTC-USDT",
            r"freq: the ccxt source gives bars of \[1, 5, 15, 30, 60, 240, 1440\]",
        ),
    ],
)
def test_a_frequency_the_vendor_does_not_give_is_refused_before_any_call(name, symbol, says):
    src, _ = adapter(name)
    with pytest.raises(ConfigError, match=says):
        src.fetch(symbol, parse_freq("2h"), pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-30"))
    assert src.api.calls == []


# ----- vendor errors: clear, naming vendor and symbol; the lake untouched -------------------
def _seeded(settings, snap):
    src, _ = adapter("akshare")
    ingest_one(src, "000001", "2024-06-01", "2024-06-12", settings)
    return snap(settings.lake_dir)


@pytest.mark.parametrize(
    ("name", "failures", "says"),
    [
        ("ccxt", [standins.RateLimitExceeded("binance 429 Too Many Requests")] * 4, "rate limit"),
        ("akshare", [ConnectionError("Max retries exceeded")] * 4, "network"),
        ("tushare", [Exception("抱歉\uff0c您每分钟最多访问该接口500次")] * 4, "rate limit"),
        ("yfinance", [TimeoutError("read timed out")] * 4, "network"),
    ],
)
def test_transient_errors_are_retried_with_backoff_then_named(settings, snap, name, failures, says):
    before = _seeded(settings, snap)
    api = STANDINS[name]()
    api.failures = list(failures)
    src, waits = adapter(name, api=api, min_interval=0.0)
    given, symbol, start, end, _ = CASES[name]
    with pytest.raises(VendorError) as info:
        ingest_one(src, given, start, end, settings)
    msg = str(info.value)
    assert msg.startswith(f"{name}: symbol {symbol!r}: {says}") and "after 4 tries" in msg, msg
    assert waits == [1.0, 2.0, 4.0]  # doubling backoff between the four tries
    assert snap(settings.lake_dir) == before


def test_a_transient_error_that_clears_is_absorbed(settings):
    api = standins.CcxtExchange()
    api.failures = [standins.RateLimitExceeded("429")]
    src, waits = adapter("ccxt", api=api, min_interval=0.0)
    r = ingest_one(src, "BTCUSDT", "2024-01-01", "2024-01-10", settings)
    assert r.symbols["BTC-USDT"].rows_stored == 10 and waits == [1.0]


@pytest.mark.parametrize(
    ("name", "given", "symbol", "says"),
    [
        ("akshare", "600999", "600999.SH", "empty answer"),
        ("tushare", "600999.SH", "600999.SH", "empty answer"),
        ("yfinance", "ZZZZ", "ZZZZ", "empty answer"),
        ("baostock", "600999", "600999.SH", "error 10004011"),
        ("ccxt", "FOO/USDT", "FOO-USDT", "BadSymbol"),
    ],
)
def test_unknown_symbols_and_empty_answers_are_named(settings, snap, name, given, symbol, says):
    before = _seeded(settings, snap)
    src, _ = adapter(name)
    with pytest.raises(VendorError) as info:
        ingest_one(src, given, "2024-06-01", "2024-06-30", settings)
    assert str(info.value).startswith(f"{name}: symbol {symbol!r}:") and says in str(info.value)
    assert snap(settings.lake_dir) == before


def test_calls_are_spaced_by_the_rate_limit():
    now = [100.0]
    waits: list[float] = []
    src = make_vendor(
        "tushare",
        api=standins.Tushare(),
        min_interval=0.5,
        sleep=waits.append,
        clock=lambda: now[0],
    )
    for _ in range(3):
        src.call("X", "daily", lambda: None)
        now[0] += 0.2
    assert waits == [pytest.approx(0.3), pytest.approx(0.3)]  # 0.5 s apart, 0.2 s elapsed


def test_tushare_token_comes_from_the_setting_and_is_never_shown():
    from pydantic import SecretStr

    src = make_vendor("tushare", token=None)
    with pytest.raises(ConfigError, match="EASYQUANT_TUSHARE_TOKEN"):
        _ = src.api
    src = make_vendor("tushare", token=SecretStr("s3cr3t-token"))
    assert "s3cr3t" not in repr(vars(src)) and "s3cr3t" not in str(vars(src))


def test_missing_library_names_the_extra_to_install():
    src = make_vendor("akshare")
    with pytest.raises(ConfigError, match=r"pip install 'easyquant\[akshare\]'"):
        _ = src.api


def test_akshare_stock_list_gives_boards_st_and_the_days_suspensions():
    import datetime as dt

    src, _ = adapter("akshare")
    rows = {i.symbol: i for i in src.instruments(dt.date(2024, 6, 14))}
    assert sorted(rows) == [
        "000001.SZ",
        "300750.SZ",
        "600519.SH",
        "600817.SH",
        "688981.SH",
        "830799.BJ",
    ]
    assert [rows[s].board for s in ("000001.SZ", "300750.SZ", "688981.SH", "830799.BJ")] == [
        "main",
        "chinext",
        "star",
        "bse",
    ]
    assert rows["600519.SH"].name == "贵州茅台" and not rows["600519.SH"].st
    st = rows["600817.SH"]
    assert [(p.start, p.end) for p in st.st] == [(dt.date(2024, 6, 14), None)]
    assert [(p.start, p.end) for p in st.suspended] == [
        (dt.date(2024, 6, 14), dt.date(2024, 6, 14))
    ]
    assert src.api.calls[1] == ("stock_tfp_em", "20240614")


def test_baostock_stock_list_keeps_stocks_with_listing_dates():
    import datetime as dt

    src, _ = adapter("baostock")
    rows = {i.symbol: i for i in src.instruments()}
    assert sorted(rows) == ["000001.SZ", "600000.SH", "600001.SH"]  # no index, no ETF
    assert rows["600001.SH"].listed == dt.date(1998, 1, 22)
    assert rows["600001.SH"].delisted == dt.date(2009, 12, 29)


@pytest.mark.parametrize(
    ("name", "given", "symbol", "first", "volume"),
    [
        ("baostock", "600000", "600000.SH", (6.78, 6.79), 1523400),  # volume in shares
        ("akshare", "000001", "000001.SZ", (10.28, 10.30), 52341 * 100),  # 成交量 in 手
    ],
)
def test_minute_bars_are_labelled_by_their_start(settings, name, given, symbol, first, volume):
    src, _ = adapter(name)
    ingest_one(src, given, "2024-06-11", "2024-06-11", settings, freq="5m")
    got = Lake(settings.lake_dir).read("5m", symbol).to_pandas().set_index("timestamp")
    local = [t.tz_convert("Asia/Shanghai").strftime("%H:%M") for t in got.index]
    assert local[:2] == ["09:30", "09:35"]  # the vendor's 09:35 bar covers 09:30-09:35
    if name == "baostock":
        assert local[2:] == ["11:25", "13:00"]  # the last bar before lunch and the first after
    assert (got["open"].iloc[0], got["close"].iloc[0]) == pytest.approx(first)
    assert got["volume"].iloc[0] == volume


def test_baostock_gives_dated_st_and_suspension_periods():
    import datetime as dt

    src, _ = adapter("baostock")
    (inst,) = src.instruments(
        dt.date(2024, 6, 19), symbols=["sh.600000"], start=dt.date(2024, 6, 1)
    )
    assert inst.symbol == "600000.SH" and inst.listed == dt.date(1999, 11, 10)
    assert [(p.start, p.end) for p in inst.suspended] == [
        (dt.date(2024, 6, 12), dt.date(2024, 6, 12))
    ]
    assert [(p.start, p.end) for p in inst.st] == [(dt.date(2024, 6, 18), None)]  # still ST


def test_ccxt_pages_forward_with_since_until_the_end(settings):
    src, _ = adapter("ccxt", limit=4)
    r = ingest_one(src, "BTC/USDT", "2024-01-01", "2024-01-08", settings)
    assert r.symbols["BTC-USDT"].rows_stored == 8
    day = 86_400_000
    first = 1704067200000
    assert [c[3] for c in src.api.calls] == [first, first + 3 * day + 1, first + 7 * day + 1]


@pytest.mark.parametrize("name", ["akshare", "baostock", "tushare", "yfinance", "ccxt"])
def test_a_missing_vendor_library_names_the_extra_that_installs_it(monkeypatch, name):
    monkeypatch.setitem(sys.modules, name, None)  # the import fails as when not installed
    options = {"token": SecretStr("t")} if name == "tushare" else {}
    src = make_vendor(name, **options)
    says = rf"source: the {name} source needs the {name} package: pip install 'easyquant\[{name}\]'"
    with pytest.raises(ConfigError, match=says):
        _ = src.api
