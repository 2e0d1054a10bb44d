"""Published limit prices in the lake: kept at ingest where a file gives them, checked, stored
as nullable columns, read back by ``load_bars`` (adjusted like prices); partitions without
them read and merge as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from easyquant.data import load_bars, make_source
from easyquant.data.adjust import adjust
from easyquant.data.ingest import ingest
from easyquant.data.lake import LAKE_SCHEMA, LIMITS_SCHEMA, Lake, merge
from easyquant.errors import DataError

SYM = "600000.SH"
ROWS = [  # date, price (open = high = low = close), published limit-up, limit-down
    ("2024-03-04", 10.0, 10.45, 8.55),
    ("2024-03-05", 10.995, 10.99, 9.00),
    ("2024-03-06", 10.995, 12.09, 9.90),
]


def write(path: Path, header: str, rows: list[tuple[str, float, float, float]]) -> Path:
    lines = [header] + [f"{d},{p},{p},{p},{p},1000000,{u},{lo}" for d, p, u, lo in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "header",
    [
        "date,open,high,low,close,volume,limit_up,limit_down",
        "date,open,high,low,close,volume,up_limit,down_limit",
        "date,open,high,low,close,volume,涨停价,跌停价",
    ],
)
def test_ingest_keeps_published_limits(settings, tmp_path: Path, header: str) -> None:
    path = write(tmp_path / f"{SYM}.csv", header, ROWS)
    ingest(make_source("csv", path=path), settings=settings, record=False)
    df = load_bars(SYM, settings=settings)[SYM]
    assert df["limit_up"].tolist() == [10.45, 10.99, 12.09]
    assert df["limit_down"].tolist() == [8.55, 9.00, 9.90]
    assert df["close"].tolist() == [10.0, 10.995, 10.995]


def test_tushare_layout_with_stk_limit_columns(settings, tmp_path: Path) -> None:
    path = tmp_path / "daily.csv"
    path.write_text(
        "ts_code,trade_date,open,high,low,close,vol,up_limit,down_limit\n"
        "600000.SH,20240305,10.995,10.995,10.995,10.995,10000,10.99,9.00\n"
        "600000.SH,20240304,10.0,10.0,10.0,10.0,10000,10.45,8.55\n",
        encoding="utf-8",
    )
    ingest(make_source("csv", path=path), settings=settings, record=False)
    df = load_bars(SYM, settings=settings)[SYM]
    assert df["limit_up"].tolist() == [10.45, 10.99]
    assert df["volume"].tolist() == [1e6, 1e6]


def test_partition_without_limits_keeps_its_schema_and_bytes(settings, tmp_path, snap) -> None:
    path = tmp_path / "AAA.csv"
    path.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    ingest(make_source("csv", path=path), settings=settings, record=False)
    stored = Lake(settings.lake_dir).path("1d", "AAA")
    assert pq.read_schema(stored).names == LAKE_SCHEMA.names
    assert list(load_bars("AAA", settings=settings)["AAA"].columns) == [
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]
    # a file naming the columns but giving no value stores none
    empty = tmp_path / "BBB.csv"
    empty.write_text(
        "date,open,high,low,close,volume,limit_up,limit_down\n2024-01-02,1,2,0.5,1.5,10,,\n"
    )
    ingest(make_source("csv", path=empty), settings=settings, record=False)
    assert pq.read_schema(Lake(settings.lake_dir).path("1d", "BBB")).names == LAKE_SCHEMA.names


def test_old_partition_merges_with_limits_and_reingest_is_idempotent(settings, tmp_path, snap):
    old = tmp_path / "old" / f"{SYM}.csv"
    old.parent.mkdir()
    old.write_text(
        "date,open,high,low,close,volume\n2024-03-01,9.5,9.5,9.5,9.5,1000000\n", encoding="utf-8"
    )
    ingest(make_source("csv", path=old), settings=settings, record=False)
    new = write(tmp_path / f"{SYM}.csv", "date,open,high,low,close,volume,涨停价,跌停价", ROWS)
    ingest(make_source("csv", path=new), settings=settings, record=False)
    df = load_bars(SYM, settings=settings)[SYM]
    assert len(df) == 4
    assert np.isnan(df["limit_up"].iloc[0]) and np.isnan(df["limit_down"].iloc[0])
    assert df["limit_up"].iloc[1:].tolist() == [10.45, 10.99, 12.09]
    files = snap(settings.lake_dir)
    again = ingest(make_source("csv", path=new), settings=settings, record=False, full=True)
    assert {r.status for r in again.symbols.values()} == {"unchanged"}
    assert snap(settings.lake_dir) == files
    # rows without limits replacing the ones with: the partition drops the empty columns
    plain = tmp_path / "plain" / f"{SYM}.csv"
    plain.parent.mkdir()
    plain.write_text(
        "date,open,high,low,close,volume\n"
        + "".join(f"{d},{p},{p},{p},{p},1000000\n" for d, p, _, _ in ROWS),
        encoding="utf-8",
    )
    ingest(make_source("csv", path=plain), settings=settings, record=False, full=True)
    assert "limit_up" not in load_bars(SYM, settings=settings)[SYM].columns


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (("2024-03-05", 10.5, 0.0, 9.0), "涨停价", "limit price must be > 0"),
        (("2024-03-05", 10.5, 11.0, -1.0), "跌停价", "limit price must be > 0"),
        (("2024-03-05", 10.5, 9.5, 9.6), "跌停价", "limit_down above limit_up"),
        (("2024-03-05", 10.5, 10.48, 9.0), "最高", "high above the published limit_up"),
        (("2024-03-05", 9.3, 11.0, 9.32), "最低", "low below the published limit_down"),
    ],
)
def test_bad_limits_are_refused_naming_line_and_field(
    settings, tmp_path: Path, snap, row: tuple[str, float, float, float], field: str, reason: str
) -> None:
    path = tmp_path / f"{SYM}.csv"
    header = "日期,开盘,最高,最低,收盘,成交量,涨停价,跌停价"
    lines = [header, "2024-03-04,10.0,10.0,10.0,10.0,10000,11.0,9.0"]
    d, p, u, lo = row
    lines.append(f"{d},{p},{p},{p},{p},10000,{u},{lo}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = snap(settings.lake_dir)
    with pytest.raises(DataError) as err:
        ingest(make_source("csv", path=path, symbol=SYM), settings=settings, record=False)
    assert f"{SYM}.csv: line 3, field {field!r}: {reason}" in str(err.value)
    assert snap(settings.lake_dir) == before


def test_a_traded_price_within_one_tick_of_the_limit_is_kept(settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / f"{SYM}.csv", "date,open,high,low,close,volume,limit_up,limit_down", ROWS
    )
    res = ingest(make_source("csv", path=path), settings=settings, record=False)
    assert res.totals()["rows_stored"] == 3  # 10.995 traded against a published 10.99


def test_a_limit_column_without_its_pair_is_refused(settings, tmp_path: Path) -> None:
    path = tmp_path / f"{SYM}.csv"
    path.write_text("date,open,high,low,close,volume,up_limit\n2024-03-04,10,10,10,10,1,11\n")
    with pytest.raises(DataError, match=r"line 1, field 'up_limit': .*down_limit"):
        ingest(make_source("csv", path=path), settings=settings, record=False)


def test_a_limit_that_is_not_a_number_names_line_and_field(settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / f"{SYM}.csv", "date,open,high,low,close,volume,limit_up,limit_down", ROWS
    )
    path.write_text(path.read_text().replace("12.09", "abc", 1))
    with pytest.raises(DataError, match=r"line 4, field 'limit_up': not a number"):
        ingest(make_source("csv", path=path), settings=settings, record=False)


def test_adjusted_reads_scale_limits_like_prices() -> None:
    idx = pd.date_range("2024-03-04", periods=3, freq="B", tz="UTC", name="timestamp")
    bars = pd.DataFrame(
        {
            "open": [10.0, 10.0, 5.0],
            "high": [10.0, 10.0, 5.0],
            "low": [10.0, 10.0, 5.0],
            "close": [10.0, 10.0, 5.0],
            "volume": 1e6,
            "limit_up": [11.0, 11.0, 5.5],
            "limit_down": [9.0, 9.0, 4.5],
        },
        index=idx,
    )
    actions = pd.DataFrame(
        {
            "symbol": [SYM],
            "ex_date": [idx[2].tz_localize(None)],
            "split_ratio": [2.0],
            "dividend": [0.0],
        }
    )
    fwd = adjust(bars, actions, "forward")
    assert fwd["limit_up"].tolist() == [5.5, 5.5, 5.5]
    assert fwd["limit_down"].tolist() == [4.5, 4.5, 4.5]
    back = adjust(bars, actions, "backward")
    assert back["limit_up"].tolist() == [11.0, 11.0, 11.0]
    assert (back["limit_up"] / back["close"]).tolist() == (
        bars["limit_up"] / bars["close"]
    ).tolist()


def test_a_partition_written_before_limits_reads_and_merges(settings) -> None:
    lake = Lake(settings.lake_dir)
    path = lake.path("1d", SYM)
    path.parent.mkdir(parents=True)
    day = pd.Timestamp("2024-03-01", tz="UTC")
    old = pa.table(
        {"timestamp": [day], "open": [9.5], "high": [9.5], "low": [9.5], "close": [9.5]}
        | {"volume": [1e6]},
        schema=LAKE_SCHEMA,
    )
    pq.write_table(old, path)
    assert lake.read("1d", SYM).equals(old)
    new = pa.table(
        {"timestamp": [day + pd.Timedelta(days=3)], "open": [10.0], "high": [10.0]}
        | {"low": [10.0], "close": [10.0], "volume": [1e6], "limit_up": [10.45]}
        | {"limit_down": [8.55]},
    ).cast(LIMITS_SCHEMA)
    both = merge(lake.read("1d", SYM), new)
    assert both.schema == LIMITS_SCHEMA
    assert both.column("limit_up").to_pylist() == [None, 10.45]
    assert both.column("close").to_pylist() == [9.5, 10.0]
