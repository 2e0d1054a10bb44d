"""The parity DAG: parses thin, checks yesterday's sessions with dag.test(), reports through
status, and refuses a bad date without touching anything."""

from __future__ import annotations

import pytest

from easyquant.live.service import LiveService, SessionConfig
from tests.conftest import REPO, load_thin_dag, run_dag
from tests.unit.live.support import ListFeed, bar, event, one

DAG_FILE = REPO / "dags" / "easyquant_parity.py"


def test_parity_dag_is_thin_and_scheduled_nightly(airflow_db):
    dag = load_thin_dag(DAG_FILE, "easyquant_parity", ("pandas", "numpy", "easyquant", "psycopg2"))
    assert {"find_sessions", "check", "summarise"} <= set(dag.task_dict)
    assert dag.timetable.expression == "30 1 * * *"


@pytest.fixture()
def sessions(db, pg_settings):
    # two sessions trading on 2024-01-03 (day 1): one plain, one halted by a risk limit
    events = [event(bar("AAA", d, 110 + d), bar("BBB", d, 120 - d)) for d in range(3)]
    for name, risk in (("par1", {}), ("par2", {"max_order_value": 1000.0})):
        cfg = SessionConfig(
            session=name,
            strategy="tests.unit.live.support:Threshold",
            symbols=["AAA", "BBB"],
            heartbeat=0.3,
            risk=risk,
        )
        assert LiveService(cfg, pg_settings, feed=ListFeed(list(events))).run() == "success"


def test_parity_dag_checks_the_date_and_reports_through_status(airflow_db, sessions, db):
    dr = run_dag("easyquant_parity", conf={"date": "2024-01-03"})
    assert "success" in str(dr.state).lower(), dr.state
    ok = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'parity:par1:2024-01-03'")
    assert ok["kind"] == "parity" and ok["state"] == "success", ok
    assert "identical to the backtest" in ok["message"]
    assert ok["metrics"]["fills_live"] == ok["metrics"]["fills_backtest"] == 2
    bad = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'parity:par2:2024-01-03'")
    assert bad["state"] == "failed" and bad["metrics"]["differences"] >= 2
    assert any("risk_rejected" in d for d in bad["attrs"]["differences"])
    summary = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'parity:2024-01-03'")
    assert summary["metrics"] == {"sessions": 2, "differing": 1, "missing": 0}
    assert "par2" in summary["message"]
    assert summary["parent_id"] == f"dag_run:easyquant_parity:{dr.run_id}"


def test_parity_dag_without_sessions_that_day_reports_none(airflow_db, sessions, db):
    dr = run_dag("easyquant_parity", conf={"date": "2023-06-01"})
    assert "success" in str(dr.state).lower()
    summary = one(db, "SELECT metrics FROM component WHERE id = 'parity:2023-06-01'")
    assert summary == {"sessions": 0, "differing": 0, "missing": 0}


def test_parity_dag_refuses_a_bad_date_naming_the_param(airflow_db, sessions, db):
    before = one(db, "SELECT count(*) FROM component WHERE kind = 'parity'")
    with pytest.raises(Exception, match="date") as info:
        run_dag("easyquant_parity", conf={"date": "2024-02-31"})
    assert "2024-02-31" in str(info.value)
    assert one(db, "SELECT count(*) FROM component WHERE kind = 'parity'") == before


def test_parity_dag_takes_sessions_by_their_exact_day_and_skips_days_without_bars(
    airflow_db, sessions, db, pg_settings
):
    from easyquant.errors import DataError
    from easyquant.live.parity import NoBars, check_parity, sessions_on

    # the sessions' first bars are at 2024-01-02 00:00 UTC: not on 2024-01-01 (nor is the
    # day after their last bar, 2024-01-05), so nothing is checked, nothing differs
    assert sessions_on(pg_settings, "2024-01-01") == []
    assert sessions_on(pg_settings, "2024-01-05") == []
    assert sessions_on(pg_settings, "2024-01-02") == ["par1", "par2"]
    with pytest.raises(NoBars, match="no bars on 2024-01-01"):
        check_parity(pg_settings, "par1", "2024-01-01")
    assert issubclass(NoBars, DataError)  # the CLI still exits 2 naming the date
    dr = run_dag("easyquant_parity", conf={"date": "2024-01-01"})
    assert "success" in str(dr.state).lower()
    summary = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'parity:2024-01-01'")
    assert summary["state"] == "success"
    assert summary["metrics"] == {"sessions": 0, "differing": 0, "missing": 0}
    assert one(db, "SELECT count(*) FROM component WHERE id LIKE 'parity:par%%:2024-01-01'") == 0
    # a session named for a day without its bars is reported missing, not different
    dr = run_dag("easyquant_parity", conf={"date": "2024-01-01", "sessions": ["par1"]})
    summary = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'parity:2024-01-01'")
    assert summary["state"] == "success" and summary["metrics"]["missing"] == 1
    assert "no bars for par1" in summary["message"]
