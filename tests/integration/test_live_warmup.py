"""A session started in the middle of the lake's history warms up on the bars before its start:
its first live decision is the backtest's decision on that bar (the backtest having seen a
whole year before it), and so is every later one."""

from __future__ import annotations

import numpy as np
import pytest

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.runner import run_backtest
from easyquant.data import load_bars
from easyquant.errors import ConfigError
from easyquant.execution.market import get_profile
from easyquant.live.parity import check_parity
from easyquant.live.service import LiveService, SessionConfig
from easyquant.strategy import Bars, Decisions, make_strategy
from tests.unit.live.support import lake_fixture, one, rows

SYMBOLS = ["AAA", "BBB"]
START = "2021-03-01"


lake = lake_fixture(SYMBOLS, end="2021-06-30")


def config(session: str, strategy: str, params: dict, **kw) -> SessionConfig:
    return SessionConfig(
        session=session,
        strategy=strategy,
        symbols=SYMBOLS,
        params=params,
        commission=0.001,
        start=START,
        end="2021-06-30",
        heartbeat=0.5,
        **kw,
    )


def backtest_from_start(strategy: str, params: dict) -> tuple[Bars, Decisions, list[tuple]]:
    """Decisions over the lake's whole history; fills trading from the session's start."""
    data = Bars.from_frames(load_bars(SYMBOLS, freq="1d", end="2021-06-30"))
    first = int(np.searchsorted(data.index.asi8, data.index.asi8[data.index >= START][0]))
    decisions = make_strategy(strategy, params).decisions(data)

    class FromStart(type(make_strategy(strategy, params))):  # type: ignore[misc]
        def decisions(self, d: Bars) -> Decisions:
            out = super().decisions(d)
            out.target[:first] = np.nan
            return out

    bt = run_backtest(
        FromStart(**params),
        data,
        BacktestConfig(cash=100_000.0, market=get_profile("us", commission=0.001)),
    )
    f = bt.sim.fills
    fills = sorted(
        (int(data.index.asi8[b]), SYMBOLS[s], float(q), float(p))
        for b, s, q, p in zip(f["bar"], f["symbol"], f["quantity"], f["price"], strict=True)
    )
    return data[first:], decisions, fills


def live_fills(db, session: str) -> list[tuple]:
    return [
        (int(np.datetime64(r[0].replace(tzinfo=None), "ns").astype(np.int64)), r[1], r[2], r[3])
        for r in rows(
            db,
            "SELECT bar_ts, symbol, quantity, price FROM live_fill WHERE session = %s "
            "ORDER BY bar_ts, symbol",
            session,
        )
    ]


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("sma_trend", {"fast": 5, "slow": 40}),
        ("momentum_rotation", {"lookback": 30, "top": 1, "rebalance": 1}),
    ],
)
def test_first_live_decision_is_the_backtests(lake, db, strategy, params):
    name = f"warm-{strategy}"
    svc = LiveService(config(name, strategy, params), lake)
    assert svc.run() == "success"
    session_bars, decisions, bt_fills = backtest_from_start(strategy, params)
    window = make_strategy(strategy, params).decision_window()
    assert svc.warmup_bars == window  # both symbols trade every day: one event per day

    # the first live bar has a decision, the backtest's, and its order fills at the next open
    t0 = session_bars.ts[0]
    first = decisions.row(len(decisions.target) - len(session_bars), SYMBOLS)
    assert first, "the window is warm at the first bar: a decision is expected"
    lv = live_fills(db, name)
    assert len(lv) > 5 and lv == bt_fills
    held = {s for s, tg in first.items() if tg.value > 0}
    assert {f[1] for f in lv if f[0] == session_bars.ts[1]} == held
    assert all(f[0] > t0 for f in lv)

    # parity on the session's first days: identical (the check warms up the same way)
    day = str(np.datetime64(int(session_bars.ts[1]), "ns").astype("datetime64[D]"))
    report = check_parity(lake, name, day)
    assert report["identical"], report


def test_without_warmup_the_first_decisions_wait_for_the_window(lake, db):
    params = {"fast": 5, "slow": 40}
    svc = LiveService(config("cold", "sma_cross", params, warmup=0), lake)
    assert svc.run() == "success" and svc.warmup_bars == 0
    session_bars, _, _ = backtest_from_start("sma_cross", params)
    first_fill = live_fills(db, "cold")[0][0]
    # 40 bars of the session's own before the slow average exists, then the next open
    assert first_fill >= session_bars.ts[40]


def test_warmup_must_be_a_bar_count(lake):
    for bad in (-1, 2.5, "ten", True):
        with pytest.raises(ConfigError, match="warmup: must be 0 to 1000000 bars"):
            config("badwarm", "sma_cross", {}, warmup=bad).validate()


def test_a_strategy_without_a_window_says_what_a_decision_costs(lake, db):
    cfg = config("nowin", "tests.unit.live.support:Threshold", {"level": 100.0})
    svc = LiveService(cfg, lake)
    assert svc.run() == "success" and svc.warmup_bars == 0  # nothing to size a warm-up by
    first = rows(
        db,
        "SELECT message FROM component_event WHERE component_id = 'live:nowin' "
        "AND state = 'running' ORDER BY id LIMIT 1",
    )[0][0]
    assert "declares no decision window" in first and "grows with every bar" in first, first
    assert "no warm-up" not in first
    svc = LiveService(config("win", "sma_trend", {"fast": 5, "slow": 40}), lake)
    assert svc.run() == "success"
    start, first_bar = (
        r[0]
        for r in rows(
            db,
            "SELECT message FROM component_event WHERE component_id = 'live:win' "
            "AND state = 'running' ORDER BY id LIMIT 2",
        )
    )
    assert "over the last 40 bars; warm-up: up to 40 bars" in start, start
    assert first_bar.endswith("over the last 40 bars; warm-up: 40 bars from the lake"), first_bar


def test_a_replay_from_the_lakes_first_bar_has_nothing_to_warm_up_on(lake, db):
    cfg = config("fromstart", "sma_cross", {"fast": 5, "slow": 40})
    cfg.start = None  # the whole lake: the warm-up is what lies before its first bar, nothing
    svc = LiveService(cfg, lake)
    assert svc.run() == "success" and svc.warmup_bars == 0
    assert one(db, "SELECT bars FROM live_session WHERE id = 'fromstart'") == len(
        Bars.from_frames(load_bars(SYMBOLS, freq="1d", end="2021-06-30"))
    )
