"""The listener plugin turns DAG-run and task-try state changes into status components."""

from __future__ import annotations

from tests.conftest import TEST_DAGS, run_dag


def components(db):
    with db.cursor() as cur:
        cur.execute("SELECT id, kind, state, message, attrs, url, parent_id FROM component")
        return {r[0]: r[1:] for r in cur.fetchall()}


def hosts(db):
    with db.cursor() as cur:
        cur.execute("SELECT id, host FROM component WHERE kind = 'task'")
        return dict(cur.fetchall())


def test_listener_reports_dag_run_tasks_mapped_and_failures(airflow_db, db, monkeypatch):
    # each try runs as a Celery worker of `make up EXECUTOR=celery` names itself
    monkeypatch.setenv("AIRFLOW__CORE__HOSTNAME_CALLABLE", "easyquant.celery_stack.worker_hostname")
    monkeypatch.setenv("EASYQUANT_WORKER_NAME", "worker7@probe-host")
    dr = run_dag("listener_probe", bundle=TEST_DAGS)
    run_id = dr.run_id
    # every try that ran carries the hostname Airflow recorded for its task instance
    recorded = {
        f"task:listener_probe:{run_id}:{ti.task_id}:{ti.map_index}:{ti.try_number}": ti.hostname
        for ti in dr.get_task_instances()
    }
    stored = hosts(db)
    ran = {cid for cid in recorded if not cid.endswith(":0")}
    assert len(ran) == 5
    assert {cid: stored[cid] for cid in ran} == {cid: recorded[cid] for cid in ran}
    assert {stored[cid] for cid in ran} == {"worker7@probe-host"}
    assert stored[f"task:listener_probe:{run_id}:never:-1:0"] is None
    comps = components(db)
    prefix = f"task:listener_probe:{run_id}"
    run = comps.pop(f"dag_run:listener_probe:{run_id}")
    assert run[0:2] == ("dag_run", "failed")
    assert run[3]["dag_id"] == "listener_probe"
    assert "/dags/listener_probe/runs/" in run[4]

    assert comps[f"{prefix}:numbers:-1:1"][1] == "success"
    for i in range(3):
        kind, state, _msg, attrs, url, parent = comps[f"{prefix}:square:{i}:1"]
        assert (kind, state) == ("task", "success")
        assert attrs["map_index"] == i and attrs["try_number"] == 1
        assert url.endswith(f"/tasks/square/mapped/{i}")
        assert parent == f"dag_run:listener_probe:{run_id}"
    kind, state, msg, attrs, _url, _parent = comps[f"{prefix}:boom:-1:1"]
    assert state == "failed" and "refusing 14" in msg
    # a task that never ran still gets a final component
    assert comps[f"{prefix}:never:-1:0"][1:3] == ("stopped", "upstream failed")
    assert len(comps) == 6
