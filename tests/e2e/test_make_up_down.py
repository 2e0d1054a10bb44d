"""`make up` then `make down` in a scratch EASYQUANT_HOME, on the embedded default database."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest

from easyquant.backtest.pipeline import parent_run_id
from easyquant.stack import _group_alive
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.e2e


def make(target: str, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        ["make", "-s", target], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"make {target}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_make_up_starts_everything_and_make_down_leaves_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EASYQUANT_", "AIRFLOW"))}
    ports = {"airflow": free_port(), "api": free_port(), "pg": free_port()}
    env.update(
        EASYQUANT_HOME=str(tmp_path / "home"),
        EASYQUANT_AIRFLOW_PORT=str(ports["airflow"]),
        EASYQUANT_API_PORT=str(ports["api"]),
        EASYQUANT_EMBEDDED_PG_PORT=str(ports["pg"]),
    )
    groups: list[int] = []
    try:
        out = make("up", env)
        assert f"http://127.0.0.1:{ports['api']}/" in out
        assert f"http://127.0.0.1:{ports['airflow']}/" in out and "login admin" in out
        run = tmp_path / "home" / "run"
        names = ("airflow", "monitor_api", "live-demo")
        groups = [int((run / f"{n}.pid").read_text()) for n in names]

        airflow = f"http://127.0.0.1:{ports['airflow']}"
        health = httpx.get(f"{airflow}/api/v2/monitor/health", timeout=10).json()
        assert health["metadatabase"]["status"] == "healthy"
        token = httpx.post(
            f"{airflow}/auth/token", json={"username": "admin", "password": "admin"}, timeout=10
        ).json()["access_token"]
        dags = httpx.get(
            f"{airflow}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert dags.status_code == 200
        api = httpx.get(f"http://127.0.0.1:{ports['api']}/api/health", timeout=10).json()
        assert api["database"] is True and api["listener"] == "listening"

        # a fresh install has demo data for the dashboard: stored backtests over a seeded lake
        assert "seeding demo bars" in out and "seeding demo backtests" in out
        runs = httpx.get(f"http://127.0.0.1:{ports['api']}/api/backtests", timeout=10).json()
        assert runs["runs"] and {r["strategy"] for r in runs["runs"]} == {"sma_cross"}
        # and a demo live session trading on the paper broker, heartbeating through status
        demo = httpx.get(f"http://127.0.0.1:{ports['api']}/api/components/live:demo", timeout=10)
        assert demo.json()["state"] == "running"
        sessions = httpx.get(f"http://127.0.0.1:{ports['api']}/api/live/sessions", timeout=10)
        assert "demo" in {s["session"] for s in sessions.json()["sessions"]}

        trigger_through_monitor_api(f"http://127.0.0.1:{ports['api']}", airflow, token)
        backtest_runs_in_airflow(f"http://127.0.0.1:{ports['api']}", airflow, token)

        again = make("up", env)
        assert "already running" in again and "seeding" not in again
        assert [int((run / f"{n}.pid").read_text()) for n in names] == groups
    finally:
        make("down", env)
    assert not any(_group_alive(g) for g in groups)
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert not (tmp_path / "home" / "run" / "airflow.pid").exists()
    assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()  # data stays


def trigger_through_monitor_api(api: str, airflow: str, airflow_token: str) -> None:
    """POST /api/pipelines/easyquant_etl/trigger creates a run that Airflow's own API lists;
    params the DAG refuses come back as 422 naming the param, and create no run."""
    conf = {"symbols": ["TRIG"], "start": "2024-01-02", "end": "2024-01-05"}
    deadline = time.monotonic() + 180
    while True:  # the DAG processor may not have parsed the DAG yet
        r = httpx.post(
            f"{api}/api/pipelines/easyquant_etl/trigger",
            json={"conf": conf, "note": "from monitor_api"},
            timeout=30,
        )
        if r.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert r.status_code == 200, r.text
    body = r.json()
    run_id = body["dag_run_id"]
    assert body["url"].startswith(f"{airflow}/dags/easyquant_etl/runs/")
    headers = {"Authorization": f"Bearer {airflow_token}"}
    run = httpx.get(
        f"{airflow}/api/v2/dags/easyquant_etl/dagRuns/{run_id}", headers=headers, timeout=10
    ).json()
    assert run["dag_run_id"] == run_id and run["run_type"] == "manual"
    assert run["conf"]["symbols"] == ["TRIG"] and run["note"] == "from monitor_api"

    def count() -> int:
        return httpx.get(
            f"{airflow}/api/v2/dags/easyquant_etl/dagRuns", headers=headers, timeout=10
        ).json()["total_entries"]

    before = count()
    bad = httpx.post(
        f"{api}/api/pipelines/easyquant_etl/trigger", json={"conf": {"batch_size": 0}}, timeout=30
    )
    assert bad.status_code == 422, bad.text
    assert "batch_size" in bad.json()["detail"]
    other = httpx.post(f"{api}/api/pipelines/some_other_dag/trigger", json={"conf": {}}, timeout=30)
    assert other.status_code == 422 and "dag_id" in str(other.json()["detail"])
    assert count() == before


def backtest_runs_in_airflow(api: str, airflow: str, airflow_token: str) -> None:
    """A sweep triggered from the dashboard's endpoint runs to success in the real scheduler
    (mapped grid points included) on the demo lake, and its ranked result is stored."""
    conf = {
        "strategy": "sma_cross",
        "symbols": ["AAA"],
        "market": "us",
        "grid": {"fast": [5, 10], "slow": [30, 50]},
    }
    r = httpx.post(
        f"{api}/api/pipelines/easyquant_backtest/trigger", json={"conf": conf}, timeout=30
    )
    assert r.status_code == 200, r.text
    run_id = r.json()["dag_run_id"]
    headers = {"Authorization": f"Bearer {airflow_token}"}
    url = f"{airflow}/api/v2/dags/easyquant_backtest/dagRuns/{run_id}"
    deadline = time.monotonic() + 300
    state = ""
    while time.monotonic() < deadline:
        state = httpx.get(url, headers=headers, timeout=10).json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(3)
    assert state == "success", f"easyquant_backtest run {run_id} ended {state!r}"
    parent = httpx.get(
        f"{api}/api/backtests/{parent_run_id('easyquant_backtest', run_id)}", timeout=10
    ).json()
    assert parent["state"] == "success" and parent["kind"] == "sweep"
    assert parent["trades"], "the best point's trades are copied onto the sweep's run"
