"""Calendars and gaps, resampling by hand, adjustments, synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easyquant.data import calendars
from easyquant.data.adjust import adjust
from easyquant.data.frequency import parse_freq
from easyquant.data.ingest import gap_report, ingest
from easyquant.data.resample import resample
from easyquant.data.sources import SyntheticSource, make_source


def ns(*days: str) -> np.ndarray:
    return np.array([pd.Timestamp(d).value for d in days], dtype=np.int64)


def test_holiday_is_not_a_gap_but_missing_session_is():
    f = parse_freq("1d")
    # 2024-07-04 (Independence Day) is an NYSE holiday
    ts = ns("2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08")
    rep = gap_report("XNYS", f, ts, int(ts[0]), int(ts[-1]))
    assert rep["missing_sessions"] == 0 and rep["missing_bars"] == 0
    ts = ns("2024-07-02", "2024-07-03", "2024-07-08")  # Friday 5th missing
    rep = gap_report("XNYS", f, ts, int(ts[0]), int(ts[-1]))
    assert rep["missing_sessions"] == 1 and rep["first_missing_sessions"] == ["2024-07-05"]


def test_gaps_reported_by_csv_ingest(settings, tmp_path):
    path = tmp_path / "AAA.csv"
    path.write_text(
        "date,open,high,low,close,volume\n2024-07-02,1,2,0.5,1.5,10\n"
        "2024-07-03,1,2,0.5,1.5,10\n2024-07-08,1,2,0.5,1.5,10\n"
    )
    res = ingest(make_source("csv", path=path), calendar="XNYS", settings=settings, record=False)
    assert res.symbols["AAA"].gaps["first_missing_sessions"] == ["2024-07-05"]


def test_intraday_grid_respects_lunch_break():
    bars, _ = calendars.bar_grid(
        "XSHG", parse_freq("1h"), pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-02")
    )
    got = [
        pd.Timestamp(int(b), tz="UTC").tz_convert("Asia/Shanghai").strftime("%H:%M") for b in bars
    ]
    assert got == ["09:30", "10:30", "13:00", "14:00"]
    m, _ = calendars.bar_grid(
        "XNYS", parse_freq("1m"), pd.Timestamp("2024-11-29"), pd.Timestamp("2024-11-29")
    )
    assert len(m) == 210  # day after Thanksgiving closes at 13:00


def test_resample_matches_hand_computed_bars():
    idx = pd.DatetimeIndex(
        [pd.Timestamp("2024-01-02 14:30", tz="UTC") + pd.Timedelta(minutes=k) for k in range(7)],
        name="timestamp",
    )
    df = pd.DataFrame(
        {
            "open": [10, 11, 12, 13, 14, 15, 16.0],
            "high": [11, 13, 12.5, 14, 15, 17, 16.5],
            "low": [9.5, 10.5, 11, 12, 13.5, 14, 15.5],
            "close": [11, 12, 12.2, 14, 15, 16, 16.2],
            "volume": [100, 200, 300, 400, 500, 600, 700.0],
        },
        index=idx,
    )
    out = resample(df, "5m", "XNYS")
    assert list(out.index) == [
        pd.Timestamp("2024-01-02 14:30", tz="UTC"),
        pd.Timestamp("2024-01-02 14:35", tz="UTC"),
    ]
    assert out.iloc[0].tolist() == [10, 15, 9.5, 15, 1500]
    assert out.iloc[1].tolist() == [15, 17, 14, 16.2, 1300]
    daily = resample(df, "1d", "XNYS")
    assert daily.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert daily.iloc[0].tolist() == [10, 17, 9.5, 16.2, 2800]


def test_resample_never_crosses_the_lunch_break():
    src = SyntheticSource("XSHG")
    t = (
        src.generate(
            "AAA", parse_freq("1m"), pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-02")
        )
        .to_pandas()
        .set_index("timestamp")
    )
    hourly = resample(t[["open", "high", "low", "close", "volume"]], "1h", "XSHG")
    local = [i.tz_convert("Asia/Shanghai").strftime("%H:%M") for i in hourly.index]
    assert local == ["09:30", "10:30", "13:00", "14:00"]
    assert hourly.volume.sum() == t.volume.sum()
    # 10:30 bin holds 10:30..11:29 only: 60 minutes
    assert hourly.iloc[1].open == t.loc[t.index[60], "open"]


def test_synthetic_is_reproducible_and_consistent():
    a = SyntheticSource("XNYS", seed=3).generate(
        "X", parse_freq("5m"), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-29")
    )
    b = SyntheticSource("XNYS", seed=3).generate(
        "X", parse_freq("5m"), pd.Timestamp("2024-03-15"), pd.Timestamp("2024-03-29")
    )
    tail = a.slice(a.num_rows - b.num_rows)
    assert tail.drop_columns(["line"]).equals(b.drop_columns(["line"]))
    df = a.to_pandas()
    assert (df.low <= df[["open", "close"]].min(axis=1)).all()
    assert (df.high >= df[["open", "close"]].max(axis=1)).all()
    assert (df.low > 0).all() and (df.volume >= 0).all()
    c = SyntheticSource("24/7").generate(
        "BTC", parse_freq("1h"), pd.Timestamp("2024-03-02"), pd.Timestamp("2024-03-03")
    )
    assert c.num_rows == 48  # weekends trade


def test_synthetic_daily_volatility_is_realistic():
    t = (
        SyntheticSource("XNYS", seed=5)
        .generate("V", parse_freq("1d"), pd.Timestamp("2010-01-01"), pd.Timestamp("2019-12-31"))
        .to_pandas()
    )
    r = np.log(t.close).diff().dropna()
    annual = r.std() * np.sqrt(252)
    assert 0.08 < annual < 0.9
    # volatility clustering: |returns| are autocorrelated
    a = np.abs(r.to_numpy())
    assert np.corrcoef(a[1:], a[:-1])[0, 1] > 0.02


def test_split_and_dividend_adjustment():
    idx = pd.DatetimeIndex(
        pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]).tz_localize("UTC"),
        name="timestamp",
    )
    bars = pd.DataFrame(
        {
            "open": [100, 100, 50, 49.0],
            "high": [100, 100, 50, 49.0],
            "low": [100, 100, 50, 49.0],
            "close": [100, 100, 50, 49.0],
            "volume": [10, 10, 20, 20.0],
        },
        index=idx,
    )
    actions = pd.DataFrame(
        {
            "symbol": ["A", "A"],
            "ex_date": pd.to_datetime(["2024-01-04", "2024-01-05"]),
            "split_ratio": [2.0, 1.0],
            "dividend": [0.0, 1.0],
        }
    )
    fwd = adjust(bars, actions, "forward")
    assert fwd.close.iloc[-1] == 49 and fwd.close.iloc[2] == pytest.approx(49)
    assert fwd.close.iloc[0] == pytest.approx(49)
    assert fwd.volume.iloc[0] == 20
    back = adjust(bars, actions, "backward")
    assert back.close.iloc[0] == 100 and back.close.iloc[2] == pytest.approx(100)
    assert back.close.iloc[3] == pytest.approx(100)
    assert bars.close.iloc[0] == 100  # raw untouched
