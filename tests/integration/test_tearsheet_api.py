"""The tearsheet route and the report command on runs stored by the backtest code."""

from __future__ import annotations

from pathlib import Path

import pytest

from easyquant.backtest import tearsheet
from easyquant.backtest.queries import load_run
from easyquant.cli import main
from easyquant.db import connect
from tests.integration import test_monitor_api_backtests as api_tests

# the seeded runs and the live API, as the backtest routes' tests have them
seeded = api_tests.seeded
api = api_tests.api


def test_run_tearsheet_matches_the_stored_metrics(api, seeded, pg_settings) -> None:
    r = api.get(f"/api/backtests/{seeded.backtest}/tearsheet")
    assert r.status_code == 200, r.text
    m = r.json()
    ref = load_run(connect(pg_settings), seeded.backtest)
    assert m["warnings"] == []
    assert m["run"]["benchmark"] == "DASHA" and m["run"]["time_unit"] == "date"
    by_key = {x["key"]: x for x in m["metrics"]}
    # the stored curve is whole (not thinned): the same figures as the run stored
    for key in ("total_return", "sharpe", "sortino", "max_drawdown", "volatility", "cagr"):
        assert by_key[key]["value"] == pytest.approx(ref["metrics"][key], rel=1e-9), key
    assert by_key["trades"]["value"] == ref["metrics"]["trades"]
    assert by_key["beta"]["benchmark"] == pytest.approx(1.0)
    assert by_key["sharpe"]["benchmark"] is not None
    assert len(m["series"]["benchmark"]) == len(ref["equity"])
    assert 0 < len(m["drawdowns"]) <= 5
    assert m["trades_total"] == len(ref["trades"])
    assert all(len(t["entry"]) == 10 for t in m["trades"])  # dates, not times
    assert m["sweep"] is None


def test_sweep_and_walkforward_tearsheets(api, seeded) -> None:
    s = api.get(f"/api/backtests/{seeded.sweep}/tearsheet").json()
    hm = s["sweep"]["heatmap"]
    assert (hm["x_param"], hm["y_param"]) == ("fast", "slow")
    assert hm["x"] == seeded.grid["fast"] and hm["y"] == seeded.grid["slow"]
    assert all(v is not None for row in hm["values"] for v in row)
    # a sweep stores no point's curve: the chosen point is run again, to the same figures
    chosen = s["sweep"]["chosen"]
    assert chosen["rank"] == 1 and len(s["series"]["equity"]) > 100 and s["warnings"] == []
    by_key = {x["key"]: x["value"] for x in s["metrics"]}
    for key in ("final_equity", "sharpe", "max_drawdown", "trades"):
        assert by_key[key] == pytest.approx(chosen["metrics"][key], rel=1e-9), key
    # a point's own page: run again with its parameters, to its stored figures
    other = next(p for p in s["sweep"]["points"] if p["rank"] == 2)
    pt = api.get(f"/api/backtests/{other['run_id']}/tearsheet").json()
    assert pt["warnings"] == [] and pt["run"]["kind"] == "point"
    pt_metrics = {x["key"]: x["value"] for x in pt["metrics"]}
    for key in ("final_equity", "sharpe", "trades"):
        assert pt_metrics[key] == pytest.approx(other["metrics"][key], rel=1e-9), key
    w = api.get(f"/api/backtests/{seeded.walkforward}/tearsheet").json()
    wins = w["sweep"]["windows"]
    assert [x["window"] for x in wins] == list(range(1, len(wins) + 1)) and len(wins) >= 4
    assert all(x["in_sample_metrics"]["sharpe"] is not None for x in wins)
    assert len(w["series"]["equity"]) > 100


def test_failed_and_unknown_runs(api, seeded) -> None:
    f = api.get(f"/api/backtests/{seeded.failed}/tearsheet").json()
    assert f["run"]["state"] == "failed" and f["series"]["time"] == []
    assert "NOSUCH" in f["run"]["error"]
    assert any("fewer than two equity points" in x for x in f["warnings"])
    r = api.get("/api/backtests/nope/tearsheet")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_minute_run_shows_times(pg_settings, seeded) -> None:
    m = tearsheet.load(connect(pg_settings), seeded.minute, pg_settings)
    assert m["run"]["time_unit"] == "datetime"
    assert m["rolling"]["window"] > 1000  # six months of minute bars
    assert all("T" in t["entry"] for t in m["trades"])


@pytest.mark.parametrize("lang,needle", [("en", "Monthly returns"), ("zh", "月度收益")])
def test_report_command_writes_the_tearsheet(
    pg_settings, seeded, tmp_path: Path, capsys, lang: str, needle: str
) -> None:
    out = tmp_path / f"r-{lang}.html"
    code = main(["report", seeded.backtest, "--out", str(out), "--lang", lang])
    assert code == 0, capsys.readouterr().err
    text = out.read_text(encoding="utf-8")
    assert needle in text and "<script" not in text
    assert "http" not in text.split("</title>")[1]
    assert "NaT" not in text and "00:00:00" not in text
    for section in ("metrics", "equity", "drawdown", "monthly", "yearly", "rolling"):
        assert f'<section id="{section}">' in text


def test_report_refuses_an_unknown_language(pg_settings, seeded, tmp_path: Path, capsys) -> None:
    code = main(["report", seeded.backtest, "--lang", "fr", "--out", str(tmp_path / "x.html")])
    assert code != 0
    assert "--lang: expected one of en, zh, got 'fr'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
