"""``easyquant ingest`` then ``easyquant backtest`` on a lake holding the day's published limit
prices: the published limit-up (10.99) blocks a buy at 10.995 that the computed one (11.00,
from the previous close 10.00) would allow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from easyquant.cli import main
from easyquant.config import Settings

ROWS = [  # date, price (open = high = low = close), published limit-up, limit-down
    ("2024-03-01", 9.5, 10.45, 8.55),
    ("2024-03-04", 10.0, 10.45, 8.55),
    ("2024-03-05", 10.995, 10.99, 9.00),
    ("2024-03-06", 10.995, 12.09, 9.90),
    ("2024-03-07", 10.995, 12.09, 9.90),
]


def first_buy(symbol: str, capsys: pytest.CaptureFixture[str]) -> str:
    args = ["backtest", "--strategy", "sma_trend", "--param", "fast=1", "--param", "slow=2"]
    args += ["--symbols", symbol, "--market", "cn", "--cash", "100000", "--json"]
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, out.err
    trades = json.loads(out.out)["trades"]
    return str(trades[0]["entry_time"])[:10]


def test_published_limit_blocks_a_buy_the_computed_one_allows(
    db, pg_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = tmp_path / "601888.SH.csv"
    published.write_text(
        "日期,开盘,最高,最低,收盘,成交量,涨停价,跌停价\n"
        + "".join(f"{d},{p},{p},{p},{p},10000,{u},{lo}\n" for d, p, u, lo in ROWS),
        encoding="utf-8",
    )
    computed = tmp_path / "601999.SH.csv"
    computed.write_text(
        "日期,开盘,最高,最低,收盘,成交量\n"
        + "".join(f"{d},{p},{p},{p},{p},10000\n" for d, p, _, _ in ROWS),
        encoding="utf-8",
    )
    for path in (published, computed):
        assert main(["ingest", "--source", "csv", "--path", str(path)]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["data", "show", "601888.SH", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["bars"]
    assert [b["limit_up"] for b in shown] == [10.45, 10.45, 10.99, 12.09, 12.09]
    assert first_buy("601999.SH", capsys) == "2024-03-05"  # computed limit-up 11.00
    assert first_buy("601888.SH", capsys) == "2024-03-06"  # published 10.99 blocks 10.995
