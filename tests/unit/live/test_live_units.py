"""Unit tests of the live parts that need no database: bars and the guard, history, positions,
risk checks, speeds, the engine state, session configuration and the synthetic feed."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest

from easyquant.errors import ConfigError
from easyquant.execution.working import Book
from easyquant.live.bars import BarGuard, History, LiveBar, events_from_frames
from easyquant.live.config import SessionConfig
from easyquant.live.crash import crash_hook
from easyquant.live.feeds import SyntheticFeed, make_feed, parse_speed
from easyquant.live.records import Position
from easyquant.live.risk import RiskLimits, check_loss, check_order
from easyquant.strategy.base import Bars
from tests.unit.live.support import bar, event


def test_guard_refuses_each_kind_of_bad_bar_and_keeps_the_good_ones():
    g = BarGuard(["AAA", "BBB"])
    ok, refused = g.check(event(bar("AAA", 1, 10), bar("BBB", 1, 20)))
    assert ok is not None and set(ok.bars) == {"AAA", "BBB"} and refused == []
    cases = [
        (bar("AAA", 1, 11), "duplicate"),
        (bar("AAA", 0, 11), "out of order"),
        (bar("AAA", 2, math.nan), "not a finite number"),
        (bar("AAA", 2, 10, 12, 9, math.inf), "not a finite number"),
        (bar("AAA", 2, -1.0, 12, -1.0, 10), "must be > 0"),
        (bar("AAA", 2, 10, 9, 11, 10), "high 9.0 < low 11.0"),
        (bar("AAA", 2, 13, 12, 9, 10), "between low and high"),
        (LiveBar("AAA", bar("AAA", 2, 1).ts, 10, 11, 9, 10, -5), "volume must be >= 0"),
        (bar("ZZZ", 2, 10), "not traded by this session"),
    ]
    for b, why in cases:
        ok, refused = g.check(event(b))
        assert ok is None and len(refused) == 1 and why in refused[0].reason, (why, refused)
    # a bad bar for one symbol does not refuse the other's
    ok, refused = g.check(event(bar("AAA", 2, math.nan), bar("BBB", 2, 21)))
    assert ok is not None and list(ok.bars) == ["BBB"] and len(refused) == 1
    assert refused[0].message().startswith("refused bar AAA 2024-01-04T00:00:00+00:00: invalid")
    # day 2 was processed (with BBB only): a valid AAA bar for day 2 comes too late
    ok, refused = g.check(event(bar("AAA", 2, 10)))
    assert ok is None and "late" in refused[0].reason
    ok, _ = g.check(event(bar("AAA", 3, 10)))
    assert ok is not None


def test_guard_refuses_any_bar_not_after_the_last_event_whatever_its_symbol():
    g = BarGuard(["AAA", "BBB"])
    assert g.check(event(bar("AAA", 1, 10), bar("BBB", 1, 20)))[0] is not None
    assert g.check(event(bar("AAA", 3, 11)))[0] is not None  # BBB has no bar on day 3
    # BBB's last bar is day 1, but the session is at day 3: day 2 for BBB is out of order
    ok, refused = g.check(event(bar("BBB", 2, 21)))
    assert ok is None and len(refused) == 1
    assert "out of order: earlier than the last bar (2024-01-05" in refused[0].reason
    # one time's bars split over two events: the second part is refused (late), not merged
    ok, refused = g.check(event(bar("BBB", 3, 22)))
    assert ok is None and "late" in refused[0].reason
    assert g.check(event(bar("AAA", 4, 12), bar("BBB", 4, 23)))[0] is not None


def test_replayed_frames_keep_duplicated_and_out_of_order_rows_for_the_guard():
    idx = pd.DatetimeIndex(
        ["2024-01-02", "2024-01-03", "2024-01-03", "2024-01-05", "2024-01-04"], tz="UTC"
    )
    close = np.array([10.0, 11.0, 12.0, 14.0, 13.0])
    df = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx
    )
    other = df.iloc[[0, 1, 4, 3]].sort_index()
    events = events_from_frames({"AAA": df, "BBB": other})
    days = [(e.time.day, sorted(e.bars)) for e in events]
    assert days == [
        (2, ["AAA", "BBB"]),
        (3, ["AAA", "BBB"]),
        (3, ["AAA"]),  # the duplicate, where it stands
        (4, ["BBB"]),
        (5, ["AAA", "BBB"]),
        (4, ["AAA"]),  # out of order in AAA's rows
    ]
    g = BarGuard(["AAA", "BBB"])
    results = [g.check(e) for e in events]
    refused = [r for _, rs in results for r in rs]
    assert [(r.bar.symbol, r.bar.time.day) for r in refused] == [("AAA", 3), ("AAA", 4)]
    assert "duplicate" in refused[0].reason and "out of order" in refused[1].reason
    # the first of the duplicated rows is the one taken
    assert results[1][0] is not None and results[1][0].bars["AAA"].close == 11.0


@pytest.mark.parametrize("given", ["1D", "1d", " 1d"])
def test_session_freq_is_stored_normalised(given):
    cfg = SessionConfig(session="f", strategy="sma_cross", symbols=["AAA"], freq=given)
    cfg.validate()
    assert cfg.freq == "1d" and cfg.stored()["freq"] == "1d"
    cfg = SessionConfig(session="f", strategy="sma_cross", symbols=["AAA"], freq="60m")
    cfg.validate()
    assert cfg.freq == "1h"


def test_history_views_equal_the_backtests_alignment():
    idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="timestamp")
    rng = np.random.default_rng(0)
    frames = {}
    for sym, keep in (("AAA", slice(None)), ("BBB", slice(1, None, 2))):
        close = 100 + rng.normal(0, 1, 6).cumsum()
        df = pd.DataFrame(
            {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1000.0},
            index=idx,
        )
        frames[sym] = df.iloc[keep]
    h = History(["AAA", "BBB"], capacity=2)  # grows while appending
    h.extend(events_from_frames(frames))
    got, want = h.bars(), Bars.from_frames(frames)
    assert got.index.equals(want.index) and got.symbols == want.symbols
    for c in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(got, c), getattr(want, c))
    with pytest.raises(ValueError, match="increase"):
        h.append(int(idx[2].value), {})


def test_position_average_price_and_realised_pnl():
    p = Position()
    p.apply(10, 100.0)
    p.apply(10, 110.0)
    assert (p.quantity, p.avg_price, p.realized) == (20, 105.0, 0.0)
    p.apply(-5, 120.0)
    assert (p.quantity, p.avg_price, p.realized) == (15, 105.0, 75.0)
    p.apply(-25, 100.0)  # through zero: short 10 at 100
    assert (p.quantity, p.avg_price, p.realized) == (-10, 100.0, 75.0 - 75.0)
    p.apply(10, 90.0)
    assert (p.quantity, p.avg_price, p.realized) == (0, 0.0, 100.0)


def test_risk_checks():
    lim = RiskLimits(max_position_value=1000, max_gross_exposure=1500, max_order_value=800)
    pos = {"A": 5.0, "B": 0.0}
    marks = {"A": 100.0, "B": 50.0}
    assert (
        check_order(lim, symbol="B", side="buy", quantity=10, price=50, positions=pos, marks=marks)
        is None
    )
    assert "max_order_value" in check_order(
        lim, symbol="B", side="buy", quantity=20, price=50, positions=pos, marks=marks
    )
    assert "max_position_value" in check_order(
        lim, symbol="A", side="buy", quantity=6, price=100, positions=pos, marks=marks
    )
    # reducing a position beyond the limit is allowed
    assert (
        check_order(
            lim, symbol="A", side="sell", quantity=3, price=100, positions={"A": 15.0}, marks=marks
        )
        is None
    )
    lim2 = RiskLimits(max_gross_exposure=1000)
    assert "max_gross_exposure" in check_order(
        lim2, symbol="B", side="buy", quantity=11, price=50, positions=pos, marks=marks
    )
    assert check_loss(RiskLimits(max_daily_loss=100), equity=950, day_start_equity=1000) is None
    assert "max_daily_loss" in check_loss(
        RiskLimits(max_daily_loss=100), equity=899, day_start_equity=1000
    )
    assert check_loss(RiskLimits(), equity=1, day_start_equity=1000) is None
    with pytest.raises(ConfigError, match="max_daily_loss"):
        RiskLimits(max_daily_loss=0)


def test_speed_parsing():
    assert parse_speed(None) == 0 and parse_speed("max") == 0 and parse_speed("60") == 60.0
    for bad in ("-1", "nan", "soon", "inf"):
        with pytest.raises(ConfigError, match="speed"):
            parse_speed(bad)


def test_pending_book_round_trips_through_json():
    import json

    st = Book.fresh(2)
    st.last_t[0], st.pend[0], st.pend_t[0], st.mark[1] = 0.5, True, 0.5, 101.25
    again = Book.from_json(
        json.loads(
            json.dumps(
                {
                    k: [None if isinstance(x, float) and math.isnan(x) else x for x in v]
                    if isinstance(v, list)
                    else v
                    for k, v in st.to_json().items()
                }
            )
        ),
        2,
    )
    assert (
        again.last_t[0] == 0.5 and math.isnan(again.last_t[1]) and list(again.pend) == [True, False]
    )
    assert again.mark[1] == 101.25 and math.isnan(again.pend_p[0]) is False
    st.flattened = True
    st.rearm()
    assert list(st.pend) == [True, False] and st.pend_t[0] == 0.5 and not st.flattened


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"session": ""}, "session:"),
        ({"symbols": []}, "symbols:"),
        ({"symbols": ["AAA", "AAA"]}, "duplicated symbol"),
        ({"feed": "tv"}, "feed:"),
        ({"broker": "x"}, "broker:"),
        ({"fill": "soon"}, "fill:"),
        ({"cash": -5}, "cash:"),
        ({"heartbeat": 0}, "heartbeat:"),
        ({"freq": "2d"}, "freq:"),
        ({"market": "moon"}, "unknown market"),
        ({"strategy": "strategies.missing:Nope"}, "cannot import module"),
        ({"params": {"nope": 1}}, "unknown parameter 'nope'"),
    ],
)
def test_session_config_names_the_bad_field(change, needle):
    base = {"session": "s", "strategy": "sma_cross", "symbols": ["AAA"]}
    with pytest.raises(ConfigError, match=needle):
        SessionConfig(**{**base, **change}).validate()


def test_crash_hook_refuses_an_unknown_point(monkeypatch):
    monkeypatch.setenv("EASYQUANT_LIVE_CRASH", "somewhere:1")
    with pytest.raises(ConfigError, match="EASYQUANT_LIVE_CRASH"):
        crash_hook()


def test_synthetic_feed_follows_the_calendar_and_is_reproducible():
    from easyquant.data.frequency import parse_freq
    from easyquant.data.sources import SyntheticSource

    stop = threading.Event()
    feed = SyntheticFeed(
        ["AAA", "BBB"],
        market="us",
        freq="1m",
        speed=0,
        start="2024-03-08",
        end="2024-03-11T23:59:00",
    )  # Fri, weekend, Mon
    events = list(feed.events(after=None, stop=stop))
    ts = pd.DatetimeIndex([e.ts for e in events], tz="UTC")
    assert len(events) == 2 * 390 and all(set(e.bars) == {"AAA", "BBB"} for e in events)
    assert sorted(set(ts.date.astype(str))) == ["2024-03-08", "2024-03-11"]
    # New York hours: 14:30-21:00 UTC before the clocks change, 13:30-20:00 after
    assert ts[0].strftime("%H:%M") == "14:30" and ts[389].strftime("%H:%M") == "20:59"
    assert ts[390].strftime("%H:%M") == "13:30"
    src = SyntheticSource("XNYS", seed=42).generate(
        "AAA", parse_freq("1m"), pd.Timestamp("2024-03-08"), pd.Timestamp("2024-03-08")
    )
    assert [e.bars["AAA"].close for e in events[:390]] == src.column("close").to_pylist()
    # restarted after a bar, it continues with exactly the bars that follow
    again = list(
        SyntheticFeed(
            ["AAA", "BBB"], market="us", freq="1m", speed=0, end="2024-03-11T23:59:00"
        ).events(after=events[99].ts, stop=stop)
    )
    assert [e.ts for e in again] == [e.ts for e in events[100:]]
    assert again[0].bars["BBB"] == events[100].bars["BBB"]
    for e in events:
        for b in e.bars.values():
            assert b.problem() is None


def test_make_feed_refuses_unknown_names():
    with pytest.raises(ConfigError, match="feed: expected one of replay, synthetic"):
        make_feed("tape", ["AAA"])
    with pytest.raises(ConfigError, match="market"):
        make_feed("synthetic", ["AAA"], market="mars")
