"""The instrument master in PostgreSQL: load from CSV, list, rules on a date, bad rows refused."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from easyquant.cli import main
from easyquant.data import instruments
from easyquant.data.ingest import ingest
from easyquant.data.sources import make_source
from easyquant.errors import DataError

GOOD = """symbol,name,exchange,board,currency,lot,min_order,tick,listed,delisted,st,suspended
sh.600519,贵州茅台,,,,,,,2001-08-27,,,2024-03-04..2024-03-05
000001,平安银行,,,,,,,1991-04-03,,,
688981,中芯国际,,,,,,,2020-07-16,,,
430047,诺思兰德,,,,,,,2014-01-24,,,
600001,ST 邯钢,,,,,,,1998-01-22,2009-12-29,2005-04-01..2006-05-31;2008-01-02..,
AAPL,Apple,XNAS,main,USD,1,1,0.01,1980-12-12,,,
"""


@pytest.fixture(autouse=True)
def empty_lake(pg_settings):
    shutil.rmtree(pg_settings.lake_dir, ignore_errors=True)


def table_rows(db) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute("SELECT * FROM instrument ORDER BY symbol")
        a = cur.fetchall()
        cur.execute("SELECT * FROM instrument_period ORDER BY symbol, kind, start_date")
        return a + cur.fetchall()


def test_load_and_list_from_the_command_line(db, pg_settings, tmp_path, capsys):
    path = tmp_path / "instruments.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["data", "instruments", "load", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"stored": 6}
    assert main(["data", "instruments", "ls", "--json"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)["instruments"]}
    assert sorted(rows) == ["000001.SZ", "430047.BJ", "600001.SH", "600519.SH", "688981.SH", "AAPL"]
    moutai = rows["600519.SH"]
    assert (moutai["name"], moutai["exchange"], moutai["board"], moutai["currency"]) == (
        "贵州茅台",
        "XSHG",
        "main",
        "CNY",
    )
    assert (moutai["lot"], moutai["min_order"], moutai["tick"]) == (100, 100, 0.01)
    assert moutai["suspended"] == [{"start": "2024-03-04", "end": "2024-03-05"}]
    assert (rows["688981.SH"]["board"], rows["688981.SH"]["min_order"]) == ("star", 200)
    assert (rows["430047.BJ"]["board"], rows["430047.BJ"]["exchange"]) == ("bse", "BJSE")
    assert rows["000001.SZ"]["exchange"] == "XSHE"
    assert rows["600001.SH"]["st"] == [
        {"start": "2005-04-01", "end": "2006-05-31"},
        {"start": "2008-01-02", "end": None},
    ]
    assert main(["data", "instruments", "ls"]) == 0
    text = capsys.readouterr().out
    assert "600519.SH" in text and "6 instruments" in text
    # loading the same file again changes nothing but the update time
    before = [r[:-1] if len(r) > 5 else r for r in table_rows(db)]
    assert main(["data", "instruments", "load", str(path)]) == 0
    assert [r[:-1] if len(r) > 5 else r for r in table_rows(db)] == before


def test_rules_on_a_date(db, pg_settings, tmp_path):
    path = tmp_path / "instruments.csv"
    path.write_text(GOOD, encoding="utf-8")
    instruments.store(pg_settings, instruments.read_csv(path))
    r = instruments.rules_on("600519", "2024-03-04", settings=pg_settings)
    assert (r.symbol, r.board, r.st, r.suspended, r.from_master) == (
        "600519.SH",
        "main",
        False,
        True,
        True,
    )
    assert r.listed == dt.date(2001, 8, 27)
    assert not instruments.rules_on("600519.SH", "2024-03-06", settings=pg_settings).suspended
    st = instruments.rules_on("600001.SH", dt.date(2006, 5, 31), settings=pg_settings)
    assert st.st and not instruments.rules_on("600001.SH", "2006-06-01", settings=pg_settings).st
    assert instruments.rules_on("600001.SH", "2009-01-05", settings=pg_settings).st  # open-ended
    # no row: the board follows from the code
    derived = instruments.rules_on("sz300750", "2024-01-02", settings=pg_settings)
    assert (derived.symbol, derived.board, derived.exchange, derived.from_master) == (
        "300750.SZ",
        "chinext",
        "XSHE",
        False,
    )
    star = instruments.rules_on("688111", "2024-01-02", master={})
    assert (star.board, star.lot, star.min_order, star.tick) == ("star", 1, 200, 0.01)


BAD = [
    ("board", "symbol,board\n600519,main\n000002,gem\n", "line 3, field 'board': unknown board"),
    (
        "st",
        "symbol,st\n600001,2005-04-01..2006-05-31;2006-01-01..2006-12-31\n",
        "line 2, field 'st': periods overlap",
    ),
    (
        "suspended",
        "symbol,suspended\n600001,2024-01-01..\n600002,2024-01-01..;2025-01-01..\n",
        "line 3, field 'suspended': periods overlap",
    ),
    ("listed", "symbol,listed\n600519,2001-13-01\n", "line 2, field 'listed': expected a date"),
    ("lot", "symbol,lot\n600519,0\n", "line 2, field 'lot': must be above 0"),
    ("symbol", "symbol\n600519\n700001\n", "line 3, field 'symbol': symbol: symbol '700001'"),
    ("dup", "symbol\n600519\nsh.600519\n", "line 3, field 'symbol': 600519.SH is also on line 2"),
    ("column", "symbol,sector\n600519,x\n", "line 1, field 'sector': unknown column"),
]


@pytest.mark.parametrize(("case", "text", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_rows_are_refused_naming_row_and_field_nothing_stored(
    db, pg_settings, tmp_path, capsys, case, text, says
):
    seed = tmp_path / "seed.csv"
    seed.write_text(GOOD, encoding="utf-8")
    instruments.store(pg_settings, instruments.read_csv(seed))
    before = table_rows(db)
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    assert main(["data", "instruments", "load", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {says}" in err, err
    assert table_rows(db) == before


def test_listing_after_a_stored_bar_is_refused(db, pg_settings, tmp_path, capsys):
    bars = tmp_path / "600519.SH.csv"
    bars.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    ingest(make_source("csv", path=bars, symbol="600519.SH"), settings=pg_settings)
    path = tmp_path / "inst.csv"
    path.write_text("symbol,listed\n000001,1991-04-03\n600519,2024-06-01\n")
    with pytest.raises(
        DataError, match=r"line 3, field 'listed': 600519.SH is listed on 2024-06-01"
    ):
        instruments.store(pg_settings, instruments.read_csv(path), origin=str(path))
    assert table_rows(db) == []
