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


def dag_points(db: Any, conf: dict[str, Any]) -> dict[float, dict[str, Any]]:
    """Run the DAG on ``conf``; return its stored points by weight."""
    dr = run_dag(DAG_ID, conf=conf)
    assert "success" in str(dr.state).lower(), dr.state
    kids = load_run(db, parent_run_id(DAG_ID, dr.run_id))["children"]
    return {k["params"]["weight"]: load_run(db, k["id"]) for k in kids}


def test_dag_applies_the_masters_rows_as_the_cli(cn_lake, airflow_db, db, capsys):  # noqa: F811
    conf = {**REQUEST, "params": {"level": 10.2}, "grid": {"weight": [0.3, 0.45]}}
    plain = dag_points(db, conf)[0.45]
    assert first_buys(plain["trades"].to_dict("records")) == {ST: JUMP, STAR: NEXT}
    assert plain["run"]["config"]["instruments"]["symbols"] == []

    applied = store_master(cn_lake)
    points = dag_points(db, conf)
    ruled = points[0.45]
    assert first_buys(ruled["trades"].to_dict("records")) == {ST: NEXT, STAR: JUMP}
    assert all(p["run"]["config"]["instruments"] == applied for p in points.values())
    single = cli(["backtest", *ARGS, "--param", "weight=0.45"], capsys)
    assert ruled["metrics"] == single["metrics"]
    assert ruled["run"]["final_equity"] == single["final_equity"]
