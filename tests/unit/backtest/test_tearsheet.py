"""The tearsheet model and its new statistics on hand-made curves."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from easyquant.backtest import tearsheet
from easyquant.backtest import tearsheet_stats as st
from tests.unit.backtest.tearsheet_fixtures import stored_run


def _curve(values: list[float], start: str = "2024-01-01", freq: str = "D") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq, tz="UTC"))


def test_drawdown_periods_by_hand() -> None:
    eq = _curve([100, 110, 99, 88, 110, 120, 114, 120, 130, 117])
    periods = st.drawdown_periods(eq)
    assert [p["depth"] for p in periods] == pytest.approx([-0.2, -0.1, -0.05])
    deepest = periods[0]
    assert deepest["start"] == eq.index[2] and deepest["trough"] == eq.index[3]
    assert deepest["recovery"] == eq.index[4]
    assert (deepest["days"], deepest["bars"]) == (2.0, 2)
    open_one = periods[1]  # 130 -> 117, never regained
    assert open_one["recovery"] is None and open_one["start"] == eq.index[9]
    assert (open_one["days"], open_one["bars"]) == (0.0, 0)
    assert len(st.drawdown_periods(eq, top=2)) == 2
    assert st.drawdown_periods(_curve([1, 2, 3])) == []


def test_period_returns_compound_from_the_first_equity() -> None:
    eq = _curve([100, 105, 110, 99], start="2024-01-30", freq="D")  # Jan 30, 31, Feb 1, 2
    m = st.period_returns(eq, "M")
    assert list(m.to_numpy()) == pytest.approx([0.05, 99 / 105 - 1])
    table = st.monthly_table(eq)
    assert table["years"] == [2024]
    assert table["returns"][0][0] == pytest.approx(0.05)
    assert table["returns"][0][2] is None
    assert st.period_returns(eq, "Y").iloc[0] == pytest.approx(-0.01)


def test_rolling_stats_by_hand() -> None:
    r = pd.Series([0.01, -0.02, 0.03, 0.0])
    b = pd.Series([0.02, -0.01, 0.01, 0.01])
    out = st.rolling_stats(r, b, 3, 4.0)
    w = np.array([0.01, -0.02, 0.03])
    assert out["sharpe"][0] is None and out["sharpe"][1] is None
    assert out["sharpe"][2] == pytest.approx(w.mean() / w.std(ddof=1) * 2)
    assert out["volatility"][2] == pytest.approx(w.std(ddof=1) * 2)
    wb = np.array([0.02, -0.01, 0.01])
    assert out["beta"][2] == pytest.approx(np.cov(w, wb, ddof=1)[0, 1] / wb.var(ddof=1))
    assert "beta" not in st.rolling_stats(r, None, 3, 4.0)


def test_histogram_counts_every_finite_value() -> None:
    h = st.histogram(np.array([0.0, 0.1, 0.1, np.nan, 1.0]), bins=2)
    assert h["counts"] == [3, 1] and h["n"] == 4 and h["edges"] == pytest.approx([0, 0.5, 1])
    assert st.histogram(np.array([np.nan]))["counts"] == []
    assert sum(st.histogram(np.array([2.0, 2.0]))["counts"]) == 2


def test_buy_and_hold_pays_slippage_and_commission() -> None:
    close = _curve([10.0, 11.0, 12.0])
    eq = st.buy_and_hold(close, 1000.0, {"commission": 0.01, "slippage_bps": 100})
    qty = 1000.0 / (10.1 * 1.01)
    assert eq.iloc[0] == pytest.approx(qty * 10.0)
    assert eq.iloc[2] == pytest.approx(qty * 12.0)
    # the minimum commission applies when the rate's fee is below it
    eq = st.buy_and_hold(close, 1000.0, {"commission": 0.0001, "min_commission": 5.0})
    assert eq.iloc[0] == pytest.approx(995.0)
    assert st.buy_and_hold(close, 1000.0, {}).iloc[-1] == pytest.approx(1200.0)
    with pytest.raises(ValueError, match="benchmark"):
        st.buy_and_hold(_curve([0.0, 1.0]), 1000.0, {})


def test_model_sections_and_json() -> None:
    stored, bench = stored_run()
    m = tearsheet.build(stored, benchmark_close=bench, closes={"AAA": bench})
    json.dumps(m, allow_nan=False)  # JSON-ready: no NaN, no timestamps
    kinds = {x["key"]: x["kind"] for x in m["metrics"]}
    assert kinds["trades"] == "count" and kinds["cagr"] == "percent"
    assert kinds["sharpe"] == "ratio" and kinds["final_equity"] == "money"
    assert kinds["max_drawdown_duration"] == "duration"
    by_key = {x["key"]: x for x in m["metrics"]}
    assert by_key["trades"]["value"] == 2 and by_key["trades"]["benchmark"] is None
    assert by_key["beta"]["benchmark"] == pytest.approx(1.0)
    n = len(stored["equity"])
    assert len(m["series"]["benchmark"]) == n == len(m["series"]["exposure"])
    # the benchmark starts at the cash less its buy costs
    qty = 100_000 / (40 * 1.0005 * 1.001)  # 5 bps slippage, 0.1% commission
    assert m["series"]["benchmark"][0] == pytest.approx(qty * 40)
    # exposure: 1000 shares held from bar 5 up to bar 100 (exit), at the benchmark's closes
    expo = m["series"]["exposure"]
    assert expo[4] == 0 and expo[100] == 0
    assert expo[5] == pytest.approx(1000 * bench.iloc[5] / stored["equity"].iloc[5])
    assert expo[-1] == pytest.approx(500 * bench.iloc[-1] / stored["equity"].iloc[-1])
    assert by_key["exposure"]["value"] == pytest.approx(np.mean(np.array(expo) > 0))
    # trades: dates for daily bars, an open trade has no exit
    t0, t2 = m["trades"][0], m["trades"][2]
    assert t0["entry"] == str(stored["equity"].index[5].date()) and t0["return"] == pytest.approx(
        0.1
    )
    assert t2["open"] and t2["exit"] is None and t2["return"] is None
    assert m["distribution"]["trades"]["n"] == 2
    assert m["distribution"]["daily"]["n"] == n - 1
    assert [y["year"] for y in m["yearly"]] == m["monthly"]["years"]
    assert m["sweep"] is None


def test_intraday_times_and_no_benchmark() -> None:
    stored, _ = stored_run(n=50, freq="1h")
    m = tearsheet.build(stored)
    assert m["run"]["time_unit"] == "datetime"
    assert m["trades"][0]["entry"].endswith("+00:00")
    assert m["series"]["benchmark"] is None and m["rolling"]["beta"] is None
    assert all(x["benchmark"] is None for x in m["metrics"])


def test_a_run_without_a_curve_has_empty_sections() -> None:
    stored, bench = stored_run()
    stored["equity"] = stored["equity"].iloc[:1]
    m = tearsheet.build(stored, benchmark_close=bench)
    assert m["series"]["time"] == [] and m["drawdowns"] == [] and m["trades"] == []
    assert any("fewer than two" in w for w in m["warnings"])


def test_benchmark_outside_the_run_is_a_warning() -> None:
    stored, bench = stored_run(n=60)
    later = bench.copy()
    later.index = later.index + pd.Timedelta(days=3650)
    m = tearsheet.build(stored, benchmark_close=later)
    assert m["series"]["benchmark"] is None
    assert any("benchmark AAA" in w for w in m["warnings"])


def test_sweep_heatmap_and_walkforward_windows() -> None:
    stored, bench = stored_run(n=60, kind="sweep")
    kids = [
        {
            "run_id": f"p{i}",
            "rank": i + 1,
            "state": "success",
            "params": {"fast": f, "slow": s},
            "metrics": {"sharpe": float(i)},
        }
        for i, (f, s) in enumerate([(5, 20), (10, 20), (5, 40), (10, 40)])
    ]
    stored["params"] = {"grid": {"fast": [5, 10], "slow": [20, 40]}, "rank_by": "sharpe"}
    m = tearsheet.build(stored, benchmark_close=bench, children=kids)
    hm = m["sweep"]["heatmap"]
    assert (hm["x"], hm["y"]) == ([5, 10], [20, 40])
    assert hm["values"] == [[0.0, 1.0], [2.0, 3.0]]
    assert m["sweep"]["chosen"]["run_id"] == "p0"
    stored["run"]["kind"] = "walkforward"
    kids[0]["config"] = {
        "walkforward_window": {
            "index": 0,
            "in_sample": ["2019-01-01", "2019-06-01"],
            "out_of_sample": ["2019-06-02", "2019-09-01"],
            "in_sample_metrics": {"sharpe": 1.5},
        }
    }
    m = tearsheet.build(stored, children=kids[:1])
    w = m["sweep"]["windows"][0]
    assert w["window"] == 1 and w["in_sample_metrics"] == {"sharpe": 1.5}
    assert w["out_of_sample_metrics"] == {"sharpe": 0.0} and m["sweep"]["heatmap"] is None
