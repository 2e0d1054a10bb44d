"""The ETL DAG: parses fast and thin, ingests synthetic bars green, refuses bad Params untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, load_thin_dag, run_dag

DAG_FILE = REPO / "dags" / "easyquant_etl.py"
CONF = {
    "source": "synthetic",
    "symbols": ["AAA", "BBB", "CCC"],
    "start": "2024-03-01",
    "end": "2024-03-28",
    "freq": "1d",
    "calendar": "XNYS",
    "batch_size": 2,
}


def lake_files(root: Path) -> dict[str, int]:
    """Every file under the lake (staging and temp files included) with its mtime."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def components(db) -> dict[str, tuple]:
    with db.cursor() as cur:
        cur.execute("SELECT id, kind, state, message, metrics, parent_id FROM component")
        return {r[0]: r[1:] for r in cur.fetchall()}


def count(db, table: str) -> int:
    with db.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return int(cur.fetchone()[0])


HEAVY = (
    "pandas",
    "pyarrow",
    "numpy",
    "psycopg2",
    "exchange_calendars",
    "pydantic",
    "easyquant.config",
    "easyquant.data.ingest",
    "easyquant.data.sources",
)


def test_dag_file_is_thin_and_parses_fast(airflow_db):
    dag = load_thin_dag(DAG_FILE, "easyquant_etl", HEAVY)
    assert {"validate", "plan", "ingest", "summarise"} <= set(dag.task_dict)
    assert dag.task_dict["ingest"].retries == 2
    assert [a.uri for a in dag.task_dict["summarise"].outlets] == ["easyquant://lake/bars"]
    params = dict(dag.params.items())
    for key in ("source", "symbols", "start", "end", "freq", "calendar", "full_refresh"):
        assert params[key].description and params[key].schema.get("title"), key
    assert params["symbols"].schema["items"]["pattern"]
    assert dag.schedule is None  # manual runs; the nightly runs are the universes' DAGs


def test_etl_dag_ingests_synthetic_bars(airflow_db, db, pg_settings):
    from easyquant.config import get_settings

    assert get_settings().lake_dir == pg_settings.lake_dir  # the tasks write the test's lake
    dr = run_dag("easyquant_etl", conf=CONF)
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), dr.state
    run_id = dr.run_id

    lake = pg_settings.lake_dir
    files = [p for p in lake_files(lake) if p.endswith(".parquet")]
    for sym in CONF["symbols"]:
        assert any(sym in p for p in files), (sym, files)
    from easyquant.data import load_bars

    bars = load_bars(CONF["symbols"], "1d", CONF["start"], CONF["end"], settings=pg_settings)
    assert all(len(df) == 20 for df in bars.values())  # XNYS sessions, 2024-03-01..28

    assert count(db, "bar_catalog") == 3
    assert count(db, "quality_report") == 3

    comps = components(db)
    parent = f"dag_run:easyquant_etl:{run_id}"
    assert comps[parent][:2] == ("dag_run", "success")
    for task_id, map_index in [
        ("validate", -1),
        ("plan", -1),
        ("ingest", 0),
        ("ingest", 1),
        ("summarise", -1),
    ]:
        kind, state, *_ = comps[f"task:easyquant_etl:{run_id}:{task_id}:{map_index}:1"]
        assert (kind, state) == ("task", "success"), (task_id, map_index)
        kind, state, _msg, _metrics, par = comps[
            f"etl:easyquant_etl:{run_id}:{task_id}:{map_index}"
        ]
        assert (kind, state, par) == ("etl", "success", parent), (task_id, map_index)
    assert f"task:easyquant_etl:{run_id}:ingest:2:1" not in comps  # 3 symbols, batches of 2

    _kind, _state, msg, metrics, _ = comps[f"etl:easyquant_etl:{run_id}:summarise:-1"]
    assert metrics["rows_stored"] == 60 and metrics["rows_rejected"] == 0
    assert metrics["symbols"] == 3 and metrics["batches"] == 2
    assert set(metrics["quality"]) == set(CONF["symbols"])
    assert metrics["quality"]["AAA"]["status"] == "stored"
    assert "60 rows stored" in msg
    ingest0 = comps[f"etl:easyquant_etl:{run_id}:ingest:0"]
    assert ingest0[3]["rows_stored"] == 40 and set(ingest0[3]["quality"]) == {"AAA", "BBB"}


def test_unknown_calendar_fails_the_run_naming_the_field_lake_untouched(
    airflow_db, db, pg_settings
):
    before = lake_files(pg_settings.lake_dir)
    dr = run_dag("easyquant_etl", conf=CONF | {"calendar": "NOPE"})
    assert "failed" in str(dr.state), dr.state
    comps = components(db)
    failed = {cid: c for cid, c in comps.items() if c[0] == "task" and c[1] == "failed"}
    assert list(failed) == [f"task:easyquant_etl:{dr.run_id}:validate:-1:1"], failed
    msg = next(iter(failed.values()))[2]
    assert "calendar: unknown exchange calendar 'NOPE'" in msg, msg
    assert "will retry" not in msg  # bad input fails at once, no retries
    etl = comps[f"etl:easyquant_etl:{dr.run_id}:validate:-1"]
    assert etl[1] == "failed" and "calendar:" in etl[2]
    ingests = {c[1] for cid, c in comps.items() if ":ingest:" in cid}
    assert ingests <= {"stopped"}, ingests  # never ran: upstream failed
    assert lake_files(pg_settings.lake_dir) == before
    assert count(db, "quality_report") == 0 and count(db, "bar_catalog") == 0


def test_malformed_symbol_is_refused_naming_the_field_lake_untouched(airflow_db, db, pg_settings):
    before = lake_files(pg_settings.lake_dir)
    # the Params' JSON schema refuses it when the run is triggered, before any task runs
    with pytest.raises(Exception, match="param symbols") as info:
        run_dag("easyquant_etl", conf=CONF | {"symbols": ["AAA", "bad symbol!"]})
    assert type(info.value).__name__ == "ParamValidationError"
    assert "bad symbol!" in str(info.value)
    assert lake_files(pg_settings.lake_dir) == before
    assert count(db, "quality_report") == 0 and not components(db)


def test_manual_run_with_a_start_alone_runs_to_today(airflow_db, db, pg_settings):
    import pandas as pd

    conf = {"symbols": ["AAA"], "start": "2026-01-02", "calendar": "XNYS"}
    dr = run_dag("easyquant_etl", conf=conf)
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), dr.state
    comps = components(db)
    config = comps[f"etl:easyquant_etl:{dr.run_id}:validate:-1"][3]
    today = pd.Timestamp.now("America/New_York").date().isoformat()
    assert (config["start"], config["end"]) == ("2026-01-02", today)
