"""The tearsheet's statistics against QuantStats on the same bar returns.

Tolerances: 1e-9 relative for the closed-form statistics (Sharpe, Sortino, volatility, max
drawdown, monthly, yearly and rolling figures, beta); drawdown periods must agree on dates.
Where the conventions differ (CAGR's year length; a drawdown's end) both are named and each
is checked on its own value.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

qs = pytest.importorskip("quantstats")

from easyquant.backtest import tearsheet  # noqa: E402
from tests.unit.backtest.tearsheet_fixtures import stored_run  # noqa: E402

PPY = 252
REL = 1e-9


@pytest.fixture(scope="module")
def sheet() -> dict:
    stored, bench = stored_run()
    return {"model": tearsheet.build(stored, benchmark_close=bench, closes={"AAA": bench})}


def _returns(model: dict, key: str) -> pd.Series:
    idx = pd.DatetimeIndex(model["series"]["time"]).tz_localize(None)
    eq = pd.Series(model["series"][key], index=idx, dtype=float)
    return eq.pct_change().iloc[1:]


def _metric(model: dict, key: str, side: str = "value") -> float:
    return next(m[side] for m in model["metrics"] if m["key"] == key)


def test_periods_per_year_is_the_markets(sheet: dict) -> None:
    assert sheet["model"]["run"]["periods_per_year"] == PPY


@pytest.mark.parametrize("side,series", [("value", "equity"), ("benchmark", "benchmark")])
def test_sharpe_sortino_volatility_match(sheet: dict, side: str, series: str) -> None:
    m = sheet["model"]
    r = _returns(m, series)
    assert _metric(m, "sharpe", side) == pytest.approx(qs.stats.sharpe(r, periods=PPY), rel=REL)
    assert _metric(m, "sortino", side) == pytest.approx(qs.stats.sortino(r, periods=PPY), rel=REL)
    assert _metric(m, "volatility", side) == pytest.approx(
        qs.stats.volatility(r, periods=PPY), rel=REL
    )


@pytest.mark.parametrize("side,series", [("value", "equity"), ("benchmark", "benchmark")])
def test_max_drawdown_matches(sheet: dict, side: str, series: str) -> None:
    m = sheet["model"]
    r = _returns(m, series)
    assert _metric(m, "max_drawdown", side) == pytest.approx(qs.stats.max_drawdown(r), rel=REL)
    dd = qs.stats.to_drawdown_series(r)
    ours = np.array(m["series"]["drawdown" if series == "equity" else "benchmark_drawdown"][1:])
    np.testing.assert_allclose(ours, dd.to_numpy(), rtol=REL, atol=1e-12)


def test_cagr_both_year_conventions(sheet: dict) -> None:
    """Ours: calendar days over 365.25; QuantStats: bar count over periods per year."""
    m = sheet["model"]
    r = _returns(m, "equity")
    total = _metric(m, "total_return")
    idx = pd.DatetimeIndex(m["series"]["time"])
    days = (idx[-1] - idx[0]) / pd.Timedelta(days=1)
    calendar = (1 + total) ** (365.25 / days) - 1
    bars = (1 + total) ** (PPY / len(r)) - 1
    assert _metric(m, "cagr") == pytest.approx(calendar, rel=REL)
    assert qs.stats.cagr(r, periods=PPY) == pytest.approx(bars, rel=REL)
    assert not math.isclose(calendar, bars, rel_tol=1e-4)  # the conventions do differ here
    assert total == pytest.approx(qs.stats.comp(r), rel=REL)


def test_beta_alpha_match(sheet: dict) -> None:
    m = sheet["model"]
    r, rb = _returns(m, "equity"), _returns(m, "benchmark")
    greeks = qs.stats.greeks(r, rb, periods=PPY)
    assert _metric(m, "beta") == pytest.approx(greeks["beta"], rel=1e-9)
    # QuantStats' alpha is the intercept times periods per year, as ours
    assert _metric(m, "alpha") == pytest.approx(greeks["alpha"], rel=1e-7)


def test_drawdown_table_matches(sheet: dict) -> None:
    """Same start (first bar under water), trough and depth; QuantStats' ``end`` is the last
    bar under water, ours is the recovery (the next bar); its ``days`` count start to end + 1."""
    m = sheet["model"]
    r = _returns(m, "equity")
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
    details = details.sort_values("max drawdown", kind="stable").head(5).reset_index(drop=True)
    ours = m["drawdowns"]
    assert len(ours) == 5 == len(details)
    times = [t[:10] for t in m["series"]["time"]]
    for p, (_, q) in zip(ours, details.iterrows(), strict=True):
        assert p["start"] == q["start"]
        assert p["trough"] == q["valley"]
        assert p["depth"] * 100 == pytest.approx(q["max drawdown"], rel=REL)
        if p["recovery"] is not None:
            assert times[times.index(p["recovery"]) - 1] == q["end"]
        else:
            assert q["end"] == times[-1]
        end = pd.Timestamp(q["end"])
        assert q["days"] == (end - pd.Timestamp(p["start"])).days + 1


def test_monthly_and_yearly_returns_match(sheet: dict) -> None:
    m = sheet["model"]
    r = _returns(m, "equity")
    table = qs.stats.monthly_returns(r, eoy=True, compounded=True)
    months = table.columns[:12]
    for year, row in zip(m["monthly"]["years"], m["monthly"]["returns"], strict=True):
        for month, v in zip(months, row, strict=True):
            theirs = float(table.loc[str(year), month])
            if v is None:
                assert theirs == 0.0
            else:
                assert v == pytest.approx(theirs, rel=REL, abs=1e-12)
    for y in m["yearly"]:
        assert y["return"] == pytest.approx(float(table.loc[str(y["year"]), "EOY"]), rel=REL)
    rb = _returns(m, "benchmark")
    bt = qs.stats.monthly_returns(rb, eoy=True, compounded=True)
    for y in m["yearly"]:
        assert y["benchmark"] == pytest.approx(float(bt.loc[str(y["year"]), "EOY"]), rel=REL)


def test_rolling_statistics_match(sheet: dict) -> None:
    m = sheet["model"]
    roll = m["rolling"]
    w = roll["window"]
    assert w == 126 and roll["months"] == 6
    r, rb = _returns(m, "equity"), _returns(m, "benchmark")
    theirs = {
        "sharpe": qs.stats.rolling_sharpe(r, rolling_period=w, periods_per_year=PPY),
        "volatility": qs.stats.rolling_volatility(r, rolling_period=w, periods_per_year=PPY),
        "beta": qs.stats.rolling_greeks(r, rb, periods=w)["beta"],
    }
    for key, t in theirs.items():
        ours = np.array([np.nan if v is None else v for v in roll[key]], dtype=float)
        assert len(ours) == len(t)
        assert np.isnan(ours[: w - 1]).all()
        np.testing.assert_allclose(ours[w - 1 :], t.to_numpy()[w - 1 :], rtol=1e-8)
