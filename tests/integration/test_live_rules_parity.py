"""Live paper trading applies the per-instrument A-share rules as the backtest does: a ChiNext
and a STAR symbol on cn (STAR orders of 200 and steps of 1, ChiNext lots of 100, dated stamp
duty and Shanghai/Shenzhen transfer fees), fill for fill, fee for fee."""

from __future__ import annotations

from tests.integration.test_live_service import replay_config
from tests.unit.live.support import lake_fixture, replay_equals_backtest

SYMBOLS = ["300750.SZ", "688981.SH"]

lake = lake_fixture(SYMBOLS, end="2022-12-31")


def test_cn_live_equals_the_backtest_with_chinext_and_star(lake, db):  # type: ignore[no-untyped-def]
    cfg = replay_config(
        "cn_boards", market="cn", symbols=SYMBOLS, strategy="sma_trend", cash=250_000.0,
        start="2020-01-01", end="2022-12-31",
    )  # fmt: skip
    _bt, got = replay_equals_backtest(lake, db, cfg)
    star = [q for _, s, q, _, _ in got if s == "688981.SH" and q > 0]
    chinext = [q for _, s, q, _, _ in got if s == "300750.SZ" and q > 0]
    assert star and all(q >= 200 for q in star) and any(q % 100 for q in star)  # steps of 1
    assert chinext and all(q % 100 == 0 for q in chinext)  # lots of 100
