"""Vendor layouts: each stores the same bars as a plain CSV, volume in shares; bad input refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from easyquant.config import load_settings
from easyquant.data.ingest import ingest
from easyquant.data.lake import Lake
from easyquant.data.sources import make_source
from easyquant.errors import DataError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "layouts"


def stored(settings, path: Path, **kw) -> tuple[dict[str, pa.Table], dict]:
    result = ingest(make_source("csv", path=path, **kw), settings=settings, record=False)
    lake = Lake(settings.lake_dir)
    tables = {s: lake.read("1d", s) for s in lake.symbols("1d")}
    return tables, result.to_dict()


def plain(tmp_path: Path, name: str, **kw) -> dict[str, pa.Table]:
    settings = load_settings(home=tmp_path / "plain", database_url="postgresql://x@127.0.0.1:1/x")
    return stored(settings, FIXTURES / name, **kw)[0]


@pytest.mark.parametrize(
    ("vendor", "plain_file", "symbol", "kw", "converted"),
    [
        ("akshare_000001.csv", "plain_000001.csv", "000001.SZ", {}, True),
        ("tushare_000001.csv", "plain_000001.csv", "000001.SZ", {}, True),
        ("baostock_600000.csv", "plain_600000.csv", "600000.SH", {}, False),
        ("yahoo_AAPL.csv", "plain_AAPL.csv", "AAPL", {"symbol": "AAPL"}, False),
        ("binance", "plain_BTC.csv", "BTC-USDT", {}, False),
    ],
)
def test_vendor_layout_stores_the_plain_bars(
    settings, tmp_path, vendor, plain_file, symbol, kw, converted
):
    got, report = stored(settings, FIXTURES / vendor, **kw)
    want = plain(tmp_path, plain_file, **kw)
    assert list(got) == [symbol] and list(want) == [symbol]
    assert got[symbol].equals(want[symbol]), (got[symbol].to_pandas(), want[symbol].to_pandas())
    warnings = report["symbols"][symbol]["warnings"]
    assert warnings["layout"] == vendor.split("_")[0]
    if converted:  # 成交量 / vol in 手: stored in shares, and the report says so
        assert warnings["units_converted"] == {"volume": "手 -> shares (x100)"}
        assert got[symbol].column("volume")[0].as_py() == 115836600
    else:
        assert "units_converted" not in warnings


def test_baostock_suspended_day_is_not_a_bar(settings):
    got, report = stored(settings, FIXTURES / "baostock_600000.csv", calendar="XSHG")
    days = [t.date().isoformat() for t in got["600000.SH"].column("timestamp").to_pylist()]
    assert days == ["2024-01-02", "2024-01-04"]
    rep = report["symbols"]["600000.SH"]
    assert rep["warnings"]["not_bars"] == 1 and rep["rows_read"] == 2


def test_binance_ms_and_us_files_give_one_series(settings):
    got, _ = stored(settings, FIXTURES / "binance")
    days = [t.isoformat() for t in got["BTC-USDT"].column("timestamp").to_pylist()]
    assert days == [
        "2024-01-01T00:00:00+00:00",
        "2024-01-02T00:00:00+00:00",
        "2025-01-01T00:00:00+00:00",
        "2025-01-02T00:00:00+00:00",
    ]


def test_forced_format_reads_a_header_the_layout_names(settings, tmp_path):
    path = tmp_path / "600519.csv"
    rows = (FIXTURES / "tushare_000001.csv").read_text().replace("000001.SZ", "600519.SH")
    path.write_text(rows)
    got, _ = stored(settings, path, format="tushare")
    assert got["600519.SH"].num_rows == 3


def test_header_unit_annotation_converts_lots(settings, tmp_path):
    path = tmp_path / "600519.csv"
    path.write_text("date,open,high,low,close,volume(手)\n2024-01-02,10,11,9,10.5,12\n")
    got, report = stored(settings, path)
    assert got["600519.SH"].column("volume").to_pylist() == [1200.0]
    assert report["symbols"]["600519.SH"]["warnings"]["units_converted"] == {
        "volume": "x100 -> shares"
    }


# ----- bad input: named file, line and field; the lake byte-identical -----------------------
BAD = [
    (
        "akshare",
        "日期,股票代码,开盘,收盘,最高,最低,成交量\n2024-01-02,000001,9.39,9.21,9.42,9.21,11\n"
        "2024-01-03,000001,9.19,abc,9.22,9.15,7\n",
        {},
        "line 3, field '收盘': not a number (value 'abc')",
    ),
    (
        "akshare-order",
        "日期,股票代码,开盘,收盘,最高,最低,成交量\n2024-01-03,000001,9.39,9.21,9.42,9.21,11\n"
        "2024-01-02,000001,9.19,9.2,9.22,9.15,7\n",
        {},
        "line 3, field '日期': timestamp out of order",
    ),
    (
        "tushare-disorder",  # newest-first is sorted; real disorder is still refused
        "ts_code,trade_date,open,high,low,close,vol\n000001.SZ,20240104,9,9.5,8.9,9.1,1\n"
        "000001.SZ,20240102,9,9.5,8.9,9.1,1\n000001.SZ,20240103,9,9.5,8.9,9.1,1\n",
        {},
        "line 3, field 'trade_date': timestamp out of order",
    ),
    (
        "tushare-date",
        "ts_code,trade_date,open,high,low,close,vol\n000001.SZ,20240104,9,9.5,8.9,9.1,1\n"
        "000001.SZ,2024013x,9,9.5,8.9,9.1,1\n",
        {},
        "line 3, field 'trade_date': unparseable timestamp",
    ),
    (
        "baostock",
        "date,code,open,high,low,close,volume,tradestatus\n"
        "2024-01-02,sh.600000,6.6,6.5,6.57,6.59,100,1\n",
        {},
        "line 2, field 'high': high < low",
    ),
    (
        "yahoo",
        "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,0.5,1.5,1.4,-5\n",
        {"symbol": "AAPL"},
        "line 2, field 'Volume': volume must be >= 0",
    ),
    (
        "binance",
        "1704067200000,1,2,0.5,1.5,10,1704153599999,1,1,1,1,0\n"
        "17040x3600000,1,2,0.5,1.5,10,1704239999999,1,1,1,1,0\n",
        {"symbol": "BTCUSDT"},
        "line 2, field 'open_time': unparseable timestamp",
    ),
    (
        "binance-short",
        "1704067200000,1,2,0.5,1.5,10,1704153599999,1,1,1,1,0\n1704153600000,1,2,0.5\n",
        {"symbol": "BTCUSDT"},
        "line 2: expected 12 fields, got 4",
    ),
    (
        "no-layout",
        "Datum,Eröffnung,Hoch,Tief,Schluss,Umsatz\n2024-01-02,1,2,0.5,1.5,10\n",
        {"symbol": "AAA"},
        "line 1, field 'timestamp': missing column",
    ),
    (
        "unknown-unit",
        "date,open,high,low,close,volume(箱)\n2024-01-02,1,2,0.5,1.5,10\n",
        {"symbol": "AAA"},
        "line 1, field 'volume(箱)': unknown unit '箱'",
    ),
    (
        "forced-missing",
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n",
        {"symbol": "AAA", "format": "akshare"},
        "line 1, field 'timestamp': the akshare layout needs a column 日期 or 时间",
    ),
]


@pytest.mark.parametrize(("case", "body", "kw", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_vendor_input_is_refused_lake_untouched(settings, tmp_path, snap, case, body, kw, says):
    ingest(
        make_source("csv", path=FIXTURES / "akshare_000001.csv"), settings=settings, record=False
    )
    before = snap(settings.lake_dir)
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as info:
        ingest(make_source("csv", path=path, **kw), settings=settings, record=False, full=True)
    assert f"{path}: {says}" in str(info.value), str(info.value)
    assert snap(settings.lake_dir) == before
    if case == "no-layout":
        assert "matches no known layout (akshare, tushare, baostock, yahoo, binance)" in str(
            info.value
        )


def test_yahoo_adj_close_becomes_a_dividend_raw_close_stored(settings, tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-05-08,182.85,183.07,181.45,182.74,181.51,45057100\n"
        "2024-05-09,182.56,184.66,182.11,184.57,183.33,48983000\n"
        "2024-05-10,184.90,185.09,182.13,183.05,183.05,50759500\n"
    )
    result = ingest(make_source("csv", path=path), settings=settings, record=False)
    acts = result.actions
    assert list(acts["symbol"]) == ["AAPL"] and acts["ex_date"][0] == pd.Timestamp("2024-05-10")
    assert acts["split_ratio"][0] == 1.0
    assert acts["dividend"][0] == pytest.approx(184.57 * (1 - 183.33 / 184.57), abs=1e-6)
    stored = Lake(settings.lake_dir).read("1d", "AAPL").column("close").to_pylist()
    assert stored == [182.74, 184.57, 183.05]  # raw closes; adjusted prices derive on read


def test_fixed_offset_zones_read_as_the_zone_database_does():
    import numpy as np
    import pyarrow.compute as pc

    from easyquant.data._csv import _localise

    naive = pa.array(
        np.arange(0, 5_000_000, 997, dtype="int64") * 60_000_000_000 + 700_000_000_000_000_000,
        pa.timestamp("ns"),
    )
    for tz in ("UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Tokyo"):
        want = pc.assume_timezone(naive, tz).cast(pa.timestamp("ns", tz="UTC"))
        assert _localise(naive, tz).equals(want), tz
    old = pa.array([600_000_000_000_000_000], pa.timestamp("ns"))  # 1989: Shanghai had DST
    assert _localise(old, "Asia/Shanghai").equals(
        pc.assume_timezone(old, "Asia/Shanghai").cast(pa.timestamp("ns", tz="UTC"))
    )


def test_a_plain_file_with_a_code_column_stays_plain(settings, tmp_path):
    # date,code,open,... is also the start of baostock's layout; without its adjustflag
    # column the file is read as plain: naive times in UTC, not Shanghai time
    path = tmp_path / "bars.csv"
    path.write_text(
        "date,code,open,high,low,close,volume\n2024-01-02 14:30:00,AAA,1,2,0.5,1.5,10\n"
    )
    result = ingest(make_source("csv", path=path), freq="1m", settings=settings, record=False)
    assert result.symbols["AAA"].warnings["layout"] == "plain"
    ts = Lake(settings.lake_dir).read("1m", "AAA").column("timestamp")[0].as_py()
    assert ts.isoformat() == "2024-01-02T14:30:00+00:00"


def test_parquet_source_stores_the_csv_bars(settings, tmp_path):
    import pyarrow.parquet as pq

    frame = pd.read_csv(FIXTURES / "plain_000001.csv", dtype={"symbol": str})
    path = tmp_path / "bars.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    ingest(make_source("parquet", path=path), settings=settings, record=False)
    a = Lake(settings.lake_dir).read("1d", "000001.SZ")
    assert a.equals(plain(tmp_path, "plain_000001.csv")["000001.SZ"])
    with pytest.raises(Exception, match="tz: unknown time zone 'Mars/Base'"):
        make_source("parquet", path=path, tz="Mars/Base")


def test_a_units_column_converts_each_row(settings, tmp_path):
    path = tmp_path / "600519.csv"
    path.write_text(
        "date,open,high,low,close,volume,unit\n"
        "2024-01-02,10,11,9,10.5,12,手\n"
        "2024-01-03,10,11,9,10.5,1500,股\n"
    )
    got, report = stored(settings, path)
    assert got["600519.SH"].column("volume").to_pylist() == [1200.0, 1500.0]
    assert report["symbols"]["600519.SH"]["warnings"]["units_converted"] == {
        "volume": "per row, column 'unit' -> shares"
    }


def test_a_units_column_with_an_unknown_unit_is_refused(settings, tmp_path, snap):
    ingest(
        make_source("csv", path=FIXTURES / "akshare_000001.csv"), settings=settings, record=False
    )
    before = snap(settings.lake_dir)
    path = tmp_path / "600519.csv"
    path.write_text(
        "date,open,high,low,close,volume,unit\n"
        "2024-01-02,10,11,9,10.5,12,手\n"
        "2024-01-03,10,11,9,10.5,15,箱\n"
    )
    with pytest.raises(DataError) as info:
        ingest(make_source("csv", path=path), settings=settings, record=False)
    assert f"{path}: line 3, field 'unit': unknown unit '箱'" in str(info.value)
    assert snap(settings.lake_dir) == before
