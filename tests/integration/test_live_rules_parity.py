"""Live paper trading applies the per-instrument A-share rules as the backtest does: a ChiNext
and a STAR symbol on cn (STAR orders of 200 and steps of 1, ChiNext lots of 100, dated stamp
duty and Shanghai/Shenzhen transfer fees), fill for fill, fee for fee."""

from __future__ import annotations

import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.config import Settings
from easyquant.live.bars import History
from easyquant.live.journal import Store
from easyquant.live.service import LiveService
from tests.integration.test_live_service import live_fills, replay_config
from tests.unit.live.support import check_ledger, one, synthetic_lake

SYMBOLS = ["300750.SZ", "688981.SH"]


@pytest.fixture(scope="module")
def lake(pg_settings: Settings) -> Settings:
    synthetic_lake(pg_settings, SYMBOLS, end="2022-12-31")
    return pg_settings


def test_cn_live_equals_the_backtest_with_chinext_and_star(lake, db):  # type: ignore[no-untyped-def]
    name = "cn_boards"
    cfg = replay_config(
        name, market="cn", symbols=SYMBOLS, strategy="sma_trend", cash=250_000.0,
        start="2020-01-01", end="2022-12-31",
    )  # fmt: skip
    assert LiveService(cfg, lake).run() == "success"
    check_ledger(db, name)
    store = Store(lake, name)
    store.connect()
    hist = History(SYMBOLS)
    hist.extend(store.load_events())
    store.close()
    data = hist.bars()
    bt = run_backtest(
        cfg.strategy, data, BacktestConfig(cash=cfg.cash, market=cfg.profile()), params=cfg.params
    )
    f = bt.sim.fills
    expected = sorted(
        (int(data.index.asi8[b]), SYMBOLS[s], float(q), float(p), float(fe))
        for b, s, q, p, fe in zip(
            f["bar"], f["symbol"], f["quantity"], f["price"], f["fees"], strict=True
        )
    )
    got = live_fills(db, name)
    assert len(expected) > 10
    assert got == expected
    star = [q for _, s, q, _, _ in got if s == "688981.SH" and q > 0]
    chinext = [q for _, s, q, _, _ in got if s == "300750.SZ" and q > 0]
    assert star and all(q >= 200 for q in star) and any(q % 100 for q in star)  # steps of 1
    assert chinext and all(q % 100 == 0 for q in chinext)  # lots of 100
    assert one(db, "SELECT equity FROM live_session WHERE id = %s", name) == pytest.approx(
        bt.final_equity, rel=1e-12
    )
