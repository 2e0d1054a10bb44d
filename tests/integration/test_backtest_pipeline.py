"""The backtest DAG's task functions without Airflow: the lake check names the field, and a
planned sweep goes queued -> running -> success, ranked, on real PostgreSQL."""

from __future__ import annotations

import pytest

from easyquant.backtest import pipeline, queries
from easyquant.config import Settings
from easyquant.errors import ConfigError, DataError
from tests.conftest import synthetic_lake

PERIOD = ("2022-01-01", "2022-12-31")
BASE = {"strategy": "sma_cross", "symbols": ["PLA"], "start": PERIOD[0], "end": PERIOD[1]}


@pytest.fixture(scope="module")
def lake(pg_settings: Settings) -> Settings:
    return synthetic_lake(pg_settings, ["PLA", "PLB"], PERIOD, seed=4)


def test_validate_counts_points_and_bars_and_stores_nothing(lake: Settings, db) -> None:
    checked = pipeline.validate({**BASE, "symbols": "PLA,PLB", "grid": {"fast": [5, 10]}}, lake)
    assert checked["points"] == 2
    assert set(checked["bars"]) == {"PLA", "PLB"} and min(checked["bars"].values()) > 200
    assert pipeline.request_of(checked).symbols == ["PLA", "PLB"]
    assert queries.count_runs(db) == 0


@pytest.mark.parametrize(
    ("change", "error", "needle"),
    [
        ({"symbols": ["PLA", "NOPE"]}, DataError, "symbols: symbol 'NOPE': no 1d bars stored"),
        ({"benchmark": "NOPE"}, DataError, "benchmark: symbol 'NOPE'"),
        (
            {"start": "2030-01-01", "end": "2030-02-01"},
            DataError,
            "start/end: symbol 'PLA' has no 1d bars between 2030-01-01 and 2030-02-01",
        ),
        ({"freq": "5m"}, DataError, "symbols: symbol 'PLA'"),
        (
            {"grid": {"fast": [5]}, "walkforward": {"in_sample": 50, "out_of_sample": 10}},
            ConfigError,
            "walkforward: the DAG runs single backtests and sweeps",
        ),
    ],
)
def test_validate_names_the_field_the_lake_cannot_serve(
    lake: Settings, db, change: dict, error: type[Exception], needle: str
) -> None:
    with pytest.raises(error) as info:
        pipeline.validate({**BASE, **change}, lake)
    assert str(info.value).startswith(needle), str(info.value)
    assert queries.count_runs(db) == 0


def test_plan_run_and_finalize_move_points_through_the_states(lake: Settings, db) -> None:
    checked = pipeline.validate({**BASE, "grid": {"fast": [5, 10], "slow": [20, 40]}}, lake)
    parent = pipeline.parent_run_id("easyquant_backtest", "manual__2026-01-01T00:00:00")
    batches = pipeline.plan(checked, parent, lake)
    assert [len(b["points"]) for b in batches] == [1, 1, 1, 1]
    assert queries.run_state(db, parent) == "running"
    assert {k["state"] for k in queries.child_runs(db, parent)} == {"queued"}

    done = pipeline.run_batch(checked, batches[0], lake)
    assert [d["run_id"] for d in done] == [batches[0]["points"][0]["run_id"]]
    states = {k["id"]: k["state"] for k in queries.child_runs(db, parent)}
    assert sorted(states.values()) == ["queued", "queued", "queued", "success"]

    # a point whose task never ran fails the run, naming it, and is stored failed
    with pytest.raises(Exception, match="3 of 4 points failed"):
        pipeline.finalize(checked, parent, lake)
    assert queries.run_state(db, parent) == "failed"
    assert sorted(k["state"] for k in queries.child_runs(db, parent)) == [
        "failed",
        "failed",
        "failed",
        "success",
    ]

    # planning again (a retried DAG run) resets the points; all batches, then a ranked run
    batches = pipeline.plan(checked, parent, lake)
    for batch in batches:
        pipeline.run_batch(checked, batch, lake)
    summary = pipeline.finalize(checked, parent, lake)
    assert summary["points"] == 4 and summary["rank_by"] == "sharpe"
    stored = queries.load_run(db, parent)
    assert stored["run"]["state"] == "success"
    assert [c["rank"] for c in stored["children"]] == [1, 2, 3, 4]
    assert stored["metrics"]["sharpe"] == pytest.approx(summary["best"]["metrics"]["sharpe"])
    # every point keeps its metrics; the best one (backtested again) its trades and curve too,
    # which the run carries
    points = {c["id"]: queries.load_run(db, c["id"]) for c in stored["children"]}
    best = points.pop(summary["best"]["run_id"])
    assert len(best["equity"]) == max(checked["bars"].values()) and len(best["trades"]) > 0
    assert best["metrics"] == pytest.approx(summary["best"]["metrics"])
    assert best["equity"].equals(stored["equity"]) and len(stored["trades"]) == len(best["trades"])
    assert all(p["metrics"] and p["equity"].empty and p["trades"].empty for p in points.values())


def test_plan_batches_points_by_a_measured_point_unless_params_set_it(lake: Settings, db) -> None:
    grid = {"fast": "2:11:1", "slow": "20:60:10"}  # 10 x 5 = 50 points
    two = lake.model_copy(update={"task_slots": 2})
    checked = pipeline.validate({**BASE, "grid": grid}, two)
    chosen = pipeline.batch_size(checked, two)
    assert (chosen["points"], chosen["workers"]) == (50, 2)
    # a point takes milliseconds: far too little to pay a task's overhead alone, so the
    # batches are as large as still gives each of the 2 slots a task
    assert 0 < chosen["point_seconds"] < 1
    assert chosen["size"] == 25
    parent = pipeline.parent_run_id("easyquant_backtest", "manual__2026-01-02T00:00:00")
    batches = pipeline.plan(checked, parent, two)
    assert [len(b["points"]) for b in batches] == [25, 25]
    assert len(queries.child_runs(db, parent)) == 50
    # the Params' points_per_task wins, and nothing is measured
    fixed = pipeline.batch_size(
        pipeline.validate({**BASE, "grid": grid, "points_per_task": 20}, two), two
    )
    assert (fixed["size"], fixed["point_seconds"]) == (20, None)
