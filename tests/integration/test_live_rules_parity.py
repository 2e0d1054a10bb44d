"""Live paper trading applies the per-instrument A-share rules as the backtest does: a ChiNext
and a STAR symbol on cn (STAR orders of 200 and steps of 1, ChiNext lots of 100, dated stamp
duty and Shanghai/Shenzhen transfer fees), fill for fill, fee for fee; with a volume cap, the
same partial fills; an ST stock and a new listing with the instrument master's rules."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest.queries import load_run
from easyquant.cli import main
from easyquant.data import instruments
from easyquant.data.instruments import Instrument, Period
from easyquant.execution import market as mk
from easyquant.execution.dated import rule_table
from easyquant.live.service import LiveService
from tests.integration.test_live_service import replay_config
from tests.unit.live.support import (
    check_ledger,
    lake_fixture,
    live_fills,
    one,
    replay_equals_backtest,
    session_backtest,
    stored_bars,
)

SYMBOLS = ["300750.SZ", "688981.SH"]

lake = lake_fixture(SYMBOLS, end="2022-12-31")


def cn_config(session: str, symbols=SYMBOLS, end="2022-12-31", **kw):  # type: ignore[no-untyped-def]
    return replay_config(
        session, market="cn", symbols=symbols, strategy="sma_trend", cash=250_000.0,
        start="2020-01-01", end=end, **kw,
    )  # fmt: skip


def test_cn_live_equals_the_backtest_with_chinext_and_star(lake, db):  # type: ignore[no-untyped-def]
    _bt, got = replay_equals_backtest(lake, db, cn_config("cn_boards"))
    star = [q for _, s, q, _, _ in got if s == "688981.SH" and q > 0]
    chinext = [q for _, s, q, _, _ in got if s == "300750.SZ" and q > 0]
    assert star and all(q >= 200 for q in star) and any(q % 100 for q in star)  # steps of 1
    assert chinext and all(q % 100 == 0 for q in chinext)  # lots of 100


def test_cn_live_equals_the_backtest_under_a_volume_cap(lake, db):  # type: ignore[no-untyped-def]
    bt, _got = replay_equals_backtest(lake, db, cn_config("cn_capped", max_volume_fraction=0.0005))
    assert bt.sim.rejects.get("volume limit", 0) > 5
    # orders cut by the cap: the rest came as later orders (market orders are sized again),
    # each part a fill of its own
    cut = one(
        db,
        "SELECT count(*) FROM live_order WHERE session = %s AND reason = 'volume limit' "
        "AND filled_qty > 0",
        "cn_capped",
    )
    assert cut > 5


# an ST main-board stock (ST through 2020-06-30) and a STAR listing of 2020-01-02
MASTER = [
    Instrument("600601.SH", "XSHG", "main", "CNY", 100.0, 100.0, 0.01,
               st=[Period(dt.date(2020, 1, 1), dt.date(2020, 6, 30))], line=1),
    Instrument("688601.SH", "XSHG", "star", "CNY", 1.0, 200.0, 0.01,
               listed=dt.date(2020, 1, 2), line=2),
]  # fmt: skip
MASTER_SYMBOLS = [i.symbol for i in MASTER]
master_lake = lake_fixture(MASTER_SYMBOLS, end="2020-12-31")


def test_live_applies_the_masters_st_and_listing_rules_as_the_backtest(master_lake, db, capsys):  # type: ignore[no-untyped-def]
    instruments.store(master_lake, MASTER, source="csv", origin="master.csv")  # (db empties it)
    master = instruments.load(master_lake, MASTER_SYMBOLS)
    assert master["600601.SH"].st and master["688601.SH"].listed
    cfg = cn_config("cn_master", MASTER_SYMBOLS, end="2020-12-31")
    svc = LiveService(cfg, master_lake)
    assert svc.run() == "success"
    check_ledger(db, "cn_master")
    bt, expected = session_backtest(master_lake, cfg)  # with the master's rows
    assert len(expected) > 5
    assert live_fills(db, "cn_master") == expected
    # `easyquant backtest` of the session's request reads the same rows: the same numbers
    capsys.readouterr()
    args = [
        "backtest", "--strategy", cfg.strategy, "--symbols", ",".join(cfg.symbols),
        "--start", "2020-01-01", "--end", "2020-12-31", "--market", "cn",
        "--cash", str(cfg.cash), "--commission", str(cfg.commission), "--json",
        *(f"--param={k}={v}" for k, v in cfg.params.items()),
    ]  # fmt: skip
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["final_equity"] == pytest.approx(bt.final_equity, rel=1e-12)
    assert len(res["trades"]) == len(bt.trades)
    stored = load_run(db, res["run_id"])["run"]["config"]["instruments"]
    assert stored == instruments.fingerprint(master)
    # the rules row the order manager and the paper venue used on each bar is the backtest's
    index = stored_bars(master_lake, "cn_master", MASTER_SYMBOLS).index
    table, stretch = rule_table(svc.profile, MASTER_SYMBOLS, index, master)
    for t, ts in enumerate(index.asi8):
        for j, sym in enumerate(MASTER_SYMBOLS):
            assert np.array_equal(svc.om.rules_on(sym, int(ts)), table[stretch[t], j])

    def limit(sym: str, day: str) -> float:
        return float(svc.om.rules_on(sym, int(pd.Timestamp(day, tz="UTC").value))[mk.C_LIMIT])

    assert limit("600601.SH", "2020-03-02") == 0.05  # ST
    assert limit("600601.SH", "2020-07-01") == 0.10
    assert limit("688601.SH", "2020-01-08") == 0.0  # its fifth trading day
    assert limit("688601.SH", "2020-01-09") == 0.20
    assert svc.broker.instruments == master  # type: ignore[attr-defined]  # the venue's rows
