"""The backtest DAG applies the instrument master's rows to a ``cn`` request as the command
line (and a live session) does: the ST period's 5% limit and the STAR listing's free first
days decide when the buys fill, each point stores the rows it applied, and a point's metrics
are the command line's single run's."""

from __future__ import annotations

from typing import Any

from easyquant.backtest.pipeline import parent_run_id
from easyquant.backtest.queries import load_run
from tests.conftest import run_dag
from tests.integration.test_backtest_master import (
    ARGS,
    JUMP,
    NEXT,
    REQUEST,
    ST,
    STAR,
    cli,
    cn_lake,  # noqa: F401  (the fixture)
    first_buys,
    store_master,
)

DAG_ID = "easyquant_backtest"


def dag_points(db: Any, conf: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the DAG on ``conf``; return its stored points, best first (the best one stored
    whole, with its trades)."""
    dr = run_dag(DAG_ID, conf=conf)
    assert "success" in str(dr.state).lower(), dr.state
    kids = load_run(db, parent_run_id(DAG_ID, dr.run_id))["children"]
    return [load_run(db, k["id"]) for k in kids]


def test_dag_applies_the_masters_rows_as_the_cli(cn_lake, airflow_db, db, capsys):  # noqa: F811
    conf = {**REQUEST, "params": {"level": 10.2}, "grid": {"weight": [0.3, 0.45]}}
    plain = dag_points(db, conf)
    assert first_buys(plain[0]["trades"].to_dict("records")) == {ST: JUMP, STAR: NEXT}
    assert plain[0]["run"]["config"]["instruments"]["symbols"] == []

    applied = store_master(cn_lake)
    points = dag_points(db, conf)
    assert first_buys(points[0]["trades"].to_dict("records")) == {ST: NEXT, STAR: JUMP}
    assert all(p["run"]["config"]["instruments"] == applied for p in points)
    for p in points:  # each point's numbers are the command line's single run's
        weight = p["params"]["weight"]
        single = cli(["backtest", *ARGS, "--param", f"weight={weight}"], capsys)
        assert p["metrics"] == single["metrics"]
        assert p["run"]["final_equity"] == single["final_equity"]
