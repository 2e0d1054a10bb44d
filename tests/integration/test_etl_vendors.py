"""Vendor adjustment in PostgreSQL: stored as corporate actions, raw prices in the lake, and
the forward-adjusted prices derived on read match the vendor's own adjusted prices."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from easyquant.data import load_bars
from easyquant.data.ingest import ingest
from easyquant.data.vendors import make_vendor
from tests.unit.data import standins


@pytest.fixture(autouse=True)
def empty_lake(pg_settings):
    shutil.rmtree(pg_settings.lake_dir, ignore_errors=True)


def test_akshare_qfq_becomes_actions_and_forward_adjustment_matches(db, pg_settings):
    src = make_vendor("akshare", api=standins.Akshare(), sleep=lambda s: None)
    ingest(src, symbols=["000001"], start="2024-06-01", end="2024-06-30", settings=pg_settings)
    with db.cursor() as cur:
        cur.execute("SELECT symbol, ex_date::text, split_ratio, dividend FROM corporate_action")
        rows = cur.fetchall()
    assert [r[:3] for r in rows] == [("000001.SZ", "2024-06-14", 1.0)]
    assert rows[0][3] == pytest.approx(0.72, abs=1e-9)
    raw = load_bars("000001.SZ", settings=pg_settings)["000001.SZ"]
    fwd = load_bars("000001.SZ", settings=pg_settings, adjust="forward")["000001.SZ"]
    qfq = pd.read_csv(standins.FIXTURES / "akshare_stock_zh_a_hist_000001_qfq.csv")
    assert raw["close"].tolist()[:2] == [10.27, 10.34]  # raw prices stored
    assert fwd["close"].round(2).tolist() == qfq["收盘"].tolist()


def test_a_failed_vendor_fetch_records_the_error_and_leaves_catalog_alone(db, pg_settings):
    from easyquant.data.vendors import VendorError

    api = standins.CcxtExchange()
    src = make_vendor("ccxt", api=api, sleep=lambda s: None)
    with pytest.raises(VendorError, match="ccxt: symbol 'DOGE-USDT'"):
        ingest(
            src, symbols=["DOGE/USDT"], start="2024-01-01", end="2024-01-10", settings=pg_settings
        )
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bar_catalog")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT status, error FROM quality_report")
        status, error = cur.fetchone()
    assert status == "rejected" and "DOGE-USDT" in error
