"""One spelling per instrument: every common vendor spelling maps to the stored form."""

from __future__ import annotations

import pytest

from easyquant.data import symbols
from easyquant.data.instruments import derive
from easyquant.errors import ConfigError

CASES = [
    # given, canonical, kind, exchange, calendar
    ("600519", "600519.SH", "cn", "XSHG", "XSHG"),
    ("sh.600519", "600519.SH", "cn", "XSHG", "XSHG"),
    ("SH600519", "600519.SH", "cn", "XSHG", "XSHG"),
    ("sh600519", "600519.SH", "cn", "XSHG", "XSHG"),
    ("600519.XSHG", "600519.SH", "cn", "XSHG", "XSHG"),
    ("600519.SS", "600519.SH", "cn", "XSHG", "XSHG"),
    ("600519.sh", "600519.SH", "cn", "XSHG", "XSHG"),
    ("688981", "688981.SH", "cn", "XSHG", "XSHG"),
    ("000001", "000001.SZ", "cn", "XSHE", "XSHG"),
    ("sz000001", "000001.SZ", "cn", "XSHE", "XSHG"),
    ("sz.000001", "000001.SZ", "cn", "XSHE", "XSHG"),
    ("000001.XSHE", "000001.SZ", "cn", "XSHE", "XSHG"),
    ("000001.SZ", "000001.SZ", "cn", "XSHE", "XSHG"),
    ("300750", "300750.SZ", "cn", "XSHE", "XSHG"),
    ("430047", "430047.BJ", "cn", "BJSE", "XSHG"),
    ("830799", "830799.BJ", "cn", "BJSE", "XSHG"),
    ("920001", "920001.BJ", "cn", "BJSE", "XSHG"),
    ("bj.430047", "430047.BJ", "cn", "BJSE", "XSHG"),
    ("BTCUSDT", "BTC-USDT", "crypto", None, "24/7"),
    ("BTC/USDT", "BTC-USDT", "crypto", None, "24/7"),
    ("BTC-USDT", "BTC-USDT", "crypto", None, "24/7"),
    ("btc_usdt", "BTC-USDT", "crypto", None, "24/7"),
    ("ETH/BTC", "ETH-BTC", "crypto", None, "24/7"),
    ("1000PEPEUSDC", "1000PEPE-USDC", "crypto", None, "24/7"),
    ("AAPL", "AAPL", "other", None, None),
    ("BRK-B", "BRK-B", "other", None, None),
    ("BRK.B", "BRK.B", "other", None, None),
    ("SPY", "SPY", "other", None, None),
    ("AAA", "AAA", "other", None, None),
]


@pytest.mark.parametrize(("given", "stored", "kind", "exchange", "calendar"), CASES)
def test_every_spelling_maps_to_one_form(given, stored, kind, exchange, calendar):
    info = symbols.parse(given)
    assert (info.symbol, info.kind, info.exchange, info.calendar) == (
        stored,
        kind,
        exchange,
        calendar,
    )
    assert symbols.canonical(stored) == stored  # the stored form is a fixed point


@pytest.mark.parametrize(
    ("stored", "style", "spelled"),
    [
        ("600519.SH", "code", "600519"),
        ("600519.SH", "baostock", "sh.600519"),
        ("000001.SZ", "baostock", "sz.000001"),
        ("600519.SH", "yahoo", "600519.SS"),
        ("000001.SZ", "tushare", "000001.SZ"),
        ("BTC-USDT", "ccxt", "BTC/USDT"),
        ("BTC-USDT", "binance", "BTCUSDT"),
        ("AAPL", "yahoo", "AAPL"),
    ],
)
def test_vendor_spellings_round_trip(stored, style, spelled):
    assert symbols.vendor_code(stored, style) == spelled
    assert symbols.canonical(spelled) == stored


@pytest.mark.parametrize(
    ("bad", "says"),
    [("700001", "cannot tell the exchange"), ("600519.XX", "unknown exchange suffix 'XX'")],
)
def test_unplaceable_codes_are_refused_naming_the_symbol(bad, says):
    with pytest.raises(ConfigError, match=says) as info:
        symbols.canonical(bad)
    assert repr(bad) in str(info.value)


def test_calendar_follows_from_the_exchange():
    assert symbols.calendar_of(["600519", "000001.SZ", "430047.BJ"]) == "XSHG"
    assert symbols.calendar_of(["BTCUSDT", "ETH/USDT"]) == "24/7"
    assert symbols.calendar_of(["600519", "BTCUSDT"]) is None
    assert symbols.calendar_of(["AAPL"]) is None


@pytest.mark.parametrize(
    ("code", "board", "lot", "min_order"),
    [
        ("600519", "main", 100, 100),
        ("601318", "main", 100, 100),
        ("000001", "main", 100, 100),
        ("002594", "main", 100, 100),
        ("300750", "chinext", 100, 100),
        ("301236", "chinext", 100, 100),
        ("688981", "star", 1, 200),
        ("689009", "star", 1, 200),
        ("430047", "bse", 1, 100),
        ("830799", "bse", 1, 100),
        ("920001", "bse", 1, 100),
        ("510300", "etf", 100, 100),
    ],
)
def test_board_follows_from_the_code_without_a_master_row(code, board, lot, min_order):
    inst = derive(code)
    assert (inst.board, inst.lot, inst.min_order, inst.currency) == (board, lot, min_order, "CNY")
