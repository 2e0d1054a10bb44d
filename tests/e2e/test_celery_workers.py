"""The stack with the CeleryExecutor and two workers (what `make up EXECUTOR=celery` starts,
run through ``python -m easyquant.stack`` with this venv): a 400-point sweep triggered through
monitor_api succeeds, its mapped tasks ran on both workers (each task instance's hostname from
Airflow's REST API), and every point is stored once with the metrics the in-process
`easyquant sweep` gives on the same grid. Whatever it starts, it stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg2
import pytest

from easyquant.backtest.pipeline import parent_run_id
from easyquant.config import Settings, load_settings
from easyquant.stack import _group_alive
from tests.conftest import REPO, free_port, synthetic_lake

pytestmark = [pytest.mark.celery, pytest.mark.e2e]

DAG = "easyquant_backtest"
GRID = {"fast": "2:21:1", "slow": "22:60:2"}  # 20 x 20 = 400 points
SYMBOL, PERIOD = "CLA", ("2021-01-01", "2022-12-31")
# the same costs on both paths (the DAG's Params and the CLI default differently)
COSTS = {"cash": 100_000.0, "commission": 0.001, "slippage_bps": 5.0, "fill": "next_open"}


class Stack:
    """A scratch home running the Celery stack; ``stop()`` stops all of it."""

    def __init__(self, home: Path) -> None:
        self.ports = {"airflow": free_port(), "api": free_port(), "pg": free_port()}
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("EASYQUANT_", "AIRFLOW"))
        }
        self.env.update(
            EASYQUANT_HOME=str(home),
            EASYQUANT_AIRFLOW_PORT=str(self.ports["airflow"]),
            EASYQUANT_API_PORT=str(self.ports["api"]),
            EASYQUANT_EMBEDDED_PG_PORT=str(self.ports["pg"]),
            EASYQUANT_DEMO="false",
            EASYQUANT_EXECUTOR="celery",
            EASYQUANT_WORKERS="2",
            # a task whose worker died is failed (and retried) after 30 s without heartbeat
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
            PYTHONPATH=str(REPO),
        )
        self.home = home
        self.airflow = f"http://127.0.0.1:{self.ports['airflow']}"
        self.api = f"http://127.0.0.1:{self.ports['api']}"

    def run(self, *argv: str, timeout: float = 600) -> str:
        proc = subprocess.run(
            [sys.executable, *argv], cwd=REPO, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert proc.returncode == 0, f"{argv}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    def settings(self) -> Settings:
        return load_settings(home=self.home, embedded_pg_port=self.ports["pg"])

    def groups(self) -> dict[str, int]:
        run = self.home / "run"
        return {p.stem: int(p.read_text().split()[0]) for p in run.glob("*.pid")}

    def token(self) -> dict[str, str]:
        r = httpx.post(
            f"{self.airflow}/auth/token", json={"username": "admin", "password": "admin"}
        )
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("celery") / "home")
    started: dict[str, int] = {}
    try:
        out = stack.run("-m", "easyquant.stack", "up")
        assert "EasyQuant is up." in out
        started = stack.groups()
        yield stack
    finally:
        started |= stack.groups()
        stack.run("-m", "easyquant.stack", "down")
    assert started and not any(_group_alive(g) for g in started.values())
    with pytest.raises(httpx.ConnectError):
        httpx.get(stack.airflow, timeout=2)


def trigger(stack: Stack, conf: dict) -> str:
    deadline = time.monotonic() + 180
    while True:  # the DAG processor may not have parsed the DAG yet
        r = httpx.post(f"{stack.api}/api/pipelines/{DAG}/trigger", json={"conf": conf}, timeout=30)
        if r.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert r.status_code == 200, r.text
    return str(r.json()["dag_run_id"])


def wait_run(stack: Stack, run_id: str, timeout: float = 900) -> str:
    url = f"{stack.airflow}/api/v2/dags/{DAG}/dagRuns/{run_id}"
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = httpx.get(url, headers=stack.token(), timeout=60).json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(3)
    return state


def task_instances(stack: Stack, run_id: str) -> list[dict]:
    url = f"{stack.airflow}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances"
    r = httpx.get(url, headers=stack.token(), params={"limit": 1000}, timeout=60)
    return list(r.json()["task_instances"])


def by_run(cur, table: str, parent: str) -> dict[str, dict]:
    """``{run_id: {name: value}}`` of ``table`` (backtest_metric, backtest_param) for the points
    of ``parent``."""
    cur.execute(
        f"SELECT t.run_id, t.name, t.value FROM {table} t "
        "JOIN backtest_run r ON r.id = t.run_id WHERE r.parent_id = %s",
        (parent,),
    )
    out: dict[str, dict] = {}
    for rid, name, value in cur.fetchall():
        out.setdefault(rid, {})[name] = value
    return out


def points(db, parent: str) -> dict[tuple, dict]:
    """The points of sweep ``parent``: ``{sorted params: metrics}``, each stored once."""
    with db.cursor() as cur:
        cur.execute("SELECT id, state FROM backtest_run WHERE parent_id = %s", (parent,))
        runs = cur.fetchall()
        metrics = by_run(cur, "backtest_metric", parent)
        params = by_run(cur, "backtest_param", parent)
    assert all(state == "success" for _, state in runs)
    out = {tuple(sorted(params[rid].items())): metrics[rid] for rid, _ in runs}
    assert len(out) == len(runs), "a point stored twice"
    return out


@pytest.fixture(scope="module")
def in_process(stack: Stack) -> dict[tuple, dict]:
    """The in-process `easyquant sweep` on the grid, stored in the stack's database."""
    synthetic_lake(stack.settings(), [SYMBOL], PERIOD, seed=21)
    grid_args = [a for k, v in GRID.items() for a in ("--grid", f"{k}={v}")]
    cost_args = [a for k, v in COSTS.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    out = stack.run(
        "-m", "easyquant.cli", "sweep", "--strategy", "sma_cross", "--symbols", SYMBOL,
        "--market", "us", *grid_args, *cost_args, "--json",
    )  # fmt: skip
    return stored_points(stack, json.loads(out.strip().splitlines()[-1])["run_id"])


def stored_points(stack: Stack, parent: str) -> dict[tuple, dict]:
    db = psycopg2.connect(stack.settings().dsn())
    try:
        return points(db, parent)
    finally:
        db.close()


CONF = {"strategy": "sma_cross", "symbols": [SYMBOL], "market": "us", "grid": GRID} | COSTS


def test_a_sweep_spreads_over_both_workers_and_matches_in_process(
    stack: Stack, in_process: dict[tuple, dict]
) -> None:
    run_id = trigger(stack, CONF)
    assert wait_run(stack, run_id) == "success"

    tis = task_instances(stack, run_id)
    mapped = [t for t in tis if t["task_id"] == "run_points"]
    assert len(mapped) > 2 and all(t["state"] == "success" for t in mapped)
    hosts = {t["hostname"] for t in mapped}
    assert {h.split("@")[0] for h in hosts} == {"worker1", "worker2"}, hosts
    status = stack.run("-m", "easyquant.stack", "status")
    for host in hosts:
        assert f"celery worker {host}" in status
    same_points(stored_points(stack, parent_run_id(DAG, run_id)), in_process)


def same_points(got: dict[tuple, dict], want: dict[tuple, dict]) -> None:
    assert len(got) == len(want) == 400
    assert got.keys() == want.keys()
    for key, metrics in want.items():
        assert got[key] == pytest.approx(metrics, nan_ok=True), key


def test_a_worker_killed_mid_sweep_loses_no_point(
    stack: Stack, in_process: dict[tuple, dict]
) -> None:
    # 8 tasks of 50 points: long enough to be caught running
    run_id = trigger(stack, CONF | {"points_per_task": 50})
    pidfile = stack.home / "run" / "airflow-worker-2.pid"
    victim: dict | None = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:
        running = [
            t
            for t in task_instances(stack, run_id)
            if t["task_id"] == "run_points"
            and t["state"] == "running"
            and str(t["hostname"]).startswith("worker2@")
        ]
        if running:
            victim = running[0]
            os.killpg(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        else:
            time.sleep(0.3)
    assert victim is not None, "no task of worker2 was seen running"
    assert wait_run(stack, run_id, timeout=900) == "success"
    after = {
        t["map_index"]: t for t in task_instances(stack, run_id) if t["task_id"] == "run_points"
    }
    retried = after[victim["map_index"]]
    assert retried["state"] == "success" and retried["try_number"] > victim["try_number"]
    same_points(stored_points(stack, parent_run_id(DAG, run_id)), in_process)
