"""Dated costs from the shipped table: each change on both sides of its day; bad tables refused
with the file, line and field named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from easyquant.errors import ConfigError
from easyquant.execution.costs import FIELDS, read_table, shipped

D = dt.date


def test_every_row_has_a_source() -> None:
    table = shipped()
    assert {"cn", "us", "crypto"} <= table.markets
    assert all(len(r.source) > 20 for r in table.rows)


@pytest.mark.parametrize(
    ("day", "rate"),
    [(D(2023, 8, 25), 0.001), (D(2023, 8, 28), 0.0005), (D(2015, 1, 5), 0.001)],
)
def test_stamp_duty_on_sells_halved_from_2023_08_28(day: dt.date, rate: float) -> None:
    table = shipped()
    for exchange in ("SH", "SZ", "BJ"):
        assert table.rate("cn", "stamp_duty", "sell", day, exchange) == rate
        assert table.rate("cn", "stamp_duty", "buy", day, exchange) == 0.0


@pytest.mark.parametrize(
    ("exchange", "before", "after"),
    [("SH", 0.00002, 0.00001), ("SZ", 0.00002, 0.00001), ("BJ", 0.000025, 0.00001)],
)
def test_transfer_fee_cut_on_2022_04_29(exchange: str, before: float, after: float) -> None:
    table = shipped()
    for side in ("buy", "sell"):
        assert table.rate("cn", "transfer_fee", side, D(2022, 4, 28), exchange) == before
        assert table.rate("cn", "transfer_fee", side, D(2022, 4, 29), exchange) == after
    # none before the Beijing exchange opened
    assert table.rate("cn", "transfer_fee", "buy", D(2021, 11, 12), "BJ") == 0.0


def test_minimum_commission_default() -> None:
    table = shipped()
    assert table.minimum("cn", "commission", "buy", D(2024, 1, 2), "SH") == 5.0
    assert table.minimum("us", "commission", "sell", D(2024, 1, 2)) == 0.0


def test_vectorised_rates_equal_the_lookup() -> None:
    table = shipped()
    days = np.arange("2022-04-20", "2023-09-05", dtype="datetime64[D]")
    for fee, side, exchange in [
        ("stamp_duty", "sell", "SZ"),
        ("transfer_fee", "buy", "BJ"),
        ("transfer_fee", "sell", "SH"),
    ]:
        got = table.rates("cn", fee, side, days, exchange)
        want = [table.rate("cn", fee, side, d.astype(dt.date), exchange) for d in days]
        assert got.tolist() == want


def test_unknown_lookups_are_refused() -> None:
    table = shipped()
    with pytest.raises(ConfigError, match="no rows for market 'hk'"):
        table.rate("hk", "stamp_duty", "sell", D(2024, 1, 2))
    with pytest.raises(ConfigError, match="fee: expected one of"):
        table.rate("cn", "stamp", "sell", D(2024, 1, 2))
    with pytest.raises(ConfigError, match="side: expected buy or sell"):
        table.rate("cn", "stamp_duty", "both", D(2024, 1, 2))


HEADER = ",".join(FIELDS)
GOOD = 'cn,*,stamp_duty,sell,0.001,0,2008-09-19,"a source for this row"'


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('cn,*,stamp,sell,0.001,0,2008-09-19,"src"', "line 3: fee: expected one of"),
        ('cn,*,stamp_duty,seller,0.001,0,2008-09-19,"src"', "line 3: side: expected one of"),
        ('cn,*,stamp_duty,sell,1.5,0,2008-09-19,"src"', "line 3: rate: expected 0 <= rate < 1"),
        ('cn,*,stamp_duty,sell,abc,0,2008-09-19,"src"', "line 3: rate: expected a number"),
        ('cn,*,stamp_duty,sell,0.001,-5,2008-09-19,"src"', "line 3: minimum: expected 0 <="),
        ('cn,*,stamp_duty,sell,0.001,0,19/09/2008,"src"', "line 3: start: expected a date"),
        ("cn,*,stamp_duty,sell,0.001,0,2009-01-01,", "line 3: source: empty"),
        ('cn,*,stamp_duty,sell,0.002,0,2008-09-19,"again"', "line 3: start 2008-09-19 repeats"),
    ],
)
def test_a_bad_row_is_refused_naming_file_line_and_field(
    tmp_path: Path, row: str, message: str
) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{row}\n")
    with pytest.raises(ConfigError, match=message) as err:
        read_table(path)
    assert str(path) in str(err.value)


def test_a_table_without_a_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text("market,fee,side,rate,start,source\n")
    with pytest.raises(ConfigError, match="header lacks exchange, minimum"):
        read_table(path)
