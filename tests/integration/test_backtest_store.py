"""Stored backtest runs against real PostgreSQL: the state vocabulary they share with status
components, and the read-side queries monitor_api and the DAG go through."""

from __future__ import annotations

import numpy as np
import psycopg2
import pytest

from easyquant.backtest import queries
from easyquant.backtest.request import BacktestRequest
from easyquant.backtest.service import execute, execute_sweep
from easyquant.backtest.store import fail_run, mark_running, start_sweep
from easyquant.config import Settings
from easyquant.errors import ConfigError, NotFoundError
from easyquant.status import STATES
from easyquant.strategy import Strategy, SymbolBars
from tests.unit.backtest.synth import make_bars

BARS = {"AAA": make_bars(300, seed=2)}


def request(**changes: object) -> BacktestRequest:
    return BacktestRequest.parse({"strategy": "sma_cross", "symbols": ["AAA"], **changes})


def states(db, *ids: str) -> list[str]:
    return [queries.run_state(db, i) or "" for i in ids]


def test_planned_points_are_queued_then_running_and_states_are_the_status_words(db) -> None:
    req = request(grid={"fast": [5, 10]})
    kids = [(f"p-{i}", req.spec({"fast": f}, kind="point", parent_id="p")) for i, f in ((1, 5),)]
    kids.append(("p-2", req.spec({"fast": 10}, kind="point", parent_id="p")))
    start_sweep(db, "p", req.spec(req.search(), kind="sweep"), kids)
    assert states(db, "p", "p-1", "p-2") == ["running", "queued", "queued"]
    mark_running(db, ["p-1"])
    fail_run(db, "p-2", "interrupted", state="stopped")
    assert states(db, "p-1", "p-2") == ["running", "stopped"]
    assert {r["state"] for r in queries.child_runs(db, "p")} <= set(STATES)
    with pytest.raises(ValueError, match="expected failed or stopped"):
        fail_run(db, "p-1", "x", state="finished")
    # the table itself refuses a word outside the vocabulary, and keeps the row as it was
    with pytest.raises(psycopg2.errors.CheckViolation), db.cursor() as cur:
        cur.execute("UPDATE backtest_run SET state = 'finished' WHERE id = 'p-1'")
    db.rollback()
    assert states(db, "p-1") == ["running"]


class Interrupted(Strategy):
    """Stands for a user pressing Ctrl-C while the strategy computes."""

    name = "interrupted"

    def signal(self, bars: SymbolBars) -> np.ndarray:
        raise KeyboardInterrupt


def test_an_interrupted_run_is_stored_stopped_with_its_status(db, pg_settings: Settings) -> None:
    req = request(strategy="tests.integration.test_backtest_store:Interrupted")
    with pytest.raises(KeyboardInterrupt):
        execute(req, data=BARS, settings=pg_settings, run_id="stopped-run")
    stored = queries.load_run(db, "stopped-run")
    assert stored["run"]["state"] == "stopped" and "KeyboardInterrupt" in stored["run"]["error"]
    assert not stored["metrics"] and stored["trades"].empty
    with db.cursor() as cur:
        cur.execute("SELECT state FROM component WHERE id = 'backtest:stopped-run'")
        assert cur.fetchone()[0] == "stopped"
    db.rollback()


def test_queries_read_what_the_service_stored(db, pg_settings: Settings) -> None:
    one = execute(request(params={"fast": 5, "slow": 20}), data=BARS, settings=pg_settings)
    sweep_id, ranked = execute_sweep(
        request(grid={"fast": [5, 10], "slow": [20, 40]}),
        data=BARS,
        settings=pg_settings,
        show_progress=False,
    )
    assert queries.count_runs(db) == 1 + 1 + 4
    run = queries.get_run(db, one.run_id or "")
    assert (run["kind"], run["state"], run["params"]) == (
        "backtest",
        "success",
        {"fast": 5, "slow": 20},
    )
    assert run["metrics"]["sharpe"] == pytest.approx(one.metrics["sharpe"])
    trades, total = queries.trades(db, one.run_id or "", limit=2)
    assert total == len(one.trades) > 2 and len(trades) == 2
    assert trades[0]["entry_price"] == pytest.approx(one.trades["entry_price"].iloc[0])
    curve = queries.equity_points(db, one.run_id or "")
    assert curve[-1][1] == pytest.approx(one.final_equity)

    points = queries.sweep_runs(db, sweep_id)
    assert [p["rank"] for p in points] == [1, 2, 3, 4]
    assert [p["params"] for p in points] == [r.params for r in ranked]
    by_sharpe = queries.list_runs(db, sort="-sharpe", kind="point")
    sharpes = [r["metrics"]["sharpe"] for r in by_sharpe]
    assert sharpes == sorted(sharpes, reverse=True) and len(sharpes) == 4
    assert {r["run_id"] for r in queries.list_runs(db, sweep_id=sweep_id)} == {
        sweep_id,
        *(p["run_id"] for p in points),
    }
    assert len(queries.list_runs(db, limit=2)) == 2

    with pytest.raises(ConfigError, match="sort: unknown sort key 'luck'"):
        queries.list_runs(db, sort="-luck")
    with pytest.raises(NotFoundError, match="no backtest run with id 'nope'"):
        queries.get_run(db, "nope")
    with pytest.raises(NotFoundError, match="'nope': not found"):
        queries.load_run(db, "nope")
    assert queries.run_state(db, "nope") is None
