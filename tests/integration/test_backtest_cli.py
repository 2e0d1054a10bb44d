"""The backtest CLI end to end: lake -> backtest -> PostgreSQL -> report; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from easyquant.backtest.queries import TRADE_COLUMNS, load_run
from easyquant.cli import main
from easyquant.config import Settings
from tests.conftest import synthetic_lake


@pytest.fixture(scope="module")
def lake(pg_settings: Settings) -> Settings:
    return synthetic_lake(pg_settings, ["AAA", "BBB"], ("2020-01-01", "2022-12-31"), seed=3)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


BASE = [
    "--symbols",
    "AAA",
    "--start",
    "2020-01-01",
    "--end",
    "2022-12-31",
    "--cash",
    "100000",
    "--commission",
    "0.001",
    "--market",
    "us",
]


def test_backtest_json_store_and_report(lake: Settings, db, capsys, tmp_path: Path) -> None:
    code, out, err = run_cli(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            *BASE,
            "--param",
            "fast=10",
            "--param",
            "slow=30",
            "--json",
            "--check-lookahead",
        ],
        capsys,
    )
    assert code == 0, err
    res = json.loads(out)
    assert set(res) >= {"run_id", "final_equity", "metrics", "trades"}
    assert res["metrics"]["sharpe"] is not None
    t = res["trades"][0]
    assert set(t) >= set(TRADE_COLUMNS) - {"fees"}
    stored = load_run(db, res["run_id"])
    assert stored["run"]["state"] == "success"
    assert stored["params"] == {"fast": 10, "slow": 30}
    assert stored["metrics"]["final_equity"] == pytest.approx(res["final_equity"])
    assert len(stored["trades"]) == len(res["trades"])
    assert len(stored["equity"]) > 700
    with db.cursor() as cur:
        cur.execute("SELECT state FROM component WHERE id = %s", (f"backtest:{res['run_id']}",))
        assert cur.fetchone()[0] == "success"
    db.rollback()
    html_path = tmp_path / "report.html"
    code, out, err = run_cli(["report", res["run_id"], "--out", str(html_path)], capsys)
    assert code == 0, err
    html = html_path.read_text()
    assert "<svg" in html and "Equity" in html and "Drawdown" in html and "Trade P&amp;L" in html
    assert "<script" not in html and "http" not in html.split("</title>")[1]


def test_sweep_and_walkforward(lake: Settings, db, capsys) -> None:
    grid = ["--grid", "fast=5,10", "--grid", "slow=20:40:10"]
    code, out, err = run_cli(["sweep", "--strategy", "sma_cross", *BASE, *grid, "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["points"] == 6 and res["results"][0]["rank"] == 1
    stored = load_run(db, res["run_id"])
    assert stored["run"]["kind"] == "sweep" and len(stored["children"]) == 6
    assert [c["rank"] for c in stored["children"]] == [1, 2, 3, 4, 5, 6]
    code, out, err = run_cli(
        [
            "walkforward",
            "--strategy",
            "sma_cross",
            *BASE,
            "--grid",
            "fast=5,10",
            "--grid",
            "slow=20,40",
            "--in-sample",
            "250",
            "--out-of-sample",
            "100",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    wf = json.loads(out)
    assert len(wf["windows"]) == 5
    assert "sharpe" in wf["out_of_sample"]
    assert load_run(db, wf["run_id"])["run"]["state"] == "success"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--strategy", "nope", *BASE], "unknown strategy 'nope'"),
        (["--strategy", "sma_cross", *BASE, "--param", "fsat=3"], "unknown parameter 'fsat'"),
        (["--strategy", "sma_cross", *BASE, "--param", "fast"], "params: 'fast': expected NAME="),
        (["--strategy", "sma_cross", *BASE, "--param", "slow=0"], "parameter slow: must be >="),
        (["--strategy", "sma_cross", "--symbols", "ZZZ"], "'ZZZ'"),
        (["--strategy", "sma_cross", "--symbols", "AAA", "--start", "2030-01-01"], "'AAA'"),
        (["--strategy", "sma_cross", *BASE, "--market", "mars"], "unknown market 'mars'"),
        (["--strategy", "sma_cross", *BASE, "--cash", "lots"], "cash: Input should be a valid"),
        (["--strategy", "sma_cross", *BASE, "--fill", "open"], "fill: Input should be 'next_open'"),
    ],
)
def test_bad_input_is_one_clear_line(
    lake: Settings, db, capsys, args: list[str], needle: str
) -> None:
    code, _out, err = run_cli(["backtest", *args], capsys)
    assert code == 2
    assert needle in err and err.startswith("error: ")
    with db.cursor() as cur:  # nothing half-stored: only failed runs, no results
        cur.execute("SELECT count(*) FROM backtest_run WHERE state <> 'failed'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM backtest_trade")
        assert cur.fetchone()[0] == 0
    db.rollback()


def test_strategy_that_raises_is_stored_as_failed(lake: Settings, db, capsys) -> None:
    strategy = "tests.integration.test_backtest_cli:Exploding"
    code, _out, err = run_cli(["backtest", "--strategy", strategy, *BASE, "--json"], capsys)
    assert code == 2
    assert "strategy exploding" in err and "symbol AAA" in err
    with db.cursor() as cur:
        cur.execute("SELECT state, error FROM backtest_run")
        rows = cur.fetchall()
        cur.execute("SELECT count(*) FROM backtest_metric")
        assert cur.fetchone()[0] == 0
    db.rollback()
    assert len(rows) == 1 and rows[0][0] == "failed" and "RuntimeError" in rows[0][1]


from easyquant.strategy import Strategy  # noqa: E402


class Exploding(Strategy):
    name = "exploding"

    def signal(self, bars):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")
