"""The stack with the CeleryExecutor and two workers (what `make up EXECUTOR=celery` starts,
run through ``python -m easyquant.stack`` with this venv), every DAG run triggered through
monitor_api and every task's worker read from Airflow's REST API:

- a 400-point sweep succeeds, its mapped tasks ran on both workers, and every point is stored
  once with the metrics the in-process `easyquant sweep` gives on the same grid;
- the ETL DAG over 20 symbols succeeds on both workers and stores the bars an in-process ingest
  stores (and the backtest scheduled on the lake's asset then succeeds too);
- a worker killed with SIGKILL (it and every task process it started, as when its host is lost)
  in the middle of a sweep: the sweep still succeeds, each task the worker was running failed
  there and was retried on the other worker, and no point is lost or stored twice.

The stack always runs on its own embedded PostgreSQL, whatever EASYQUANT_* the test process
has. Whatever it starts, it stops."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpx
import pandas as pd
import psycopg2
import pytest

from easyquant._proc import process_stats
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
            # a task a dead worker had taken from the broker but not started stays queued: it
            # is handed out again after 90 s (Airflow's default waits 10 minutes)
            AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="90",
            AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL="10",
            # no nightly ETL DAGs: nothing but the test's own runs uses the workers
            EASYQUANT_UNIVERSES=str(home.parent / "universes.toml"),
            PYTHONPATH=str(REPO),
        )
        (home.parent / "universes.toml").write_text("# no universes\n")
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

    def settings(self, **overrides: object) -> Settings:
        """The settings the stack's processes read (from the stack's environment alone: the
        test process's own EASYQUANT_DATABASE_URL must not point elsewhere)."""
        with mock.patch.dict(os.environ, self.env, clear=True):
            return load_settings(**overrides)

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


def trigger(stack: Stack, conf: dict, dag: str = DAG) -> str:
    deadline = time.monotonic() + 180
    while True:  # the DAG processor may not have parsed the DAG yet
        r = httpx.post(f"{stack.api}/api/pipelines/{dag}/trigger", json={"conf": conf}, timeout=30)
        if r.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert r.status_code == 200, r.text
    return str(r.json()["dag_run_id"])


def wait_run(
    stack: Stack, run_id: str, timeout: float = 900, dag: str = DAG, poll: float = 3
) -> str:
    url = f"{stack.airflow}/api/v2/dags/{dag}/dagRuns/{run_id}"
    deadline = time.monotonic() + timeout
    state, headers = "", stack.token()
    while time.monotonic() < deadline:
        state = httpx.get(url, headers=headers, timeout=60).json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(poll)
    return state


def task_instances(stack: Stack, run_id: str, dag: str = DAG) -> list[dict]:
    url = f"{stack.airflow}/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances"
    r = httpx.get(url, headers=stack.token(), params={"limit": 1000}, timeout=60)
    return list(r.json()["task_instances"])


def tries(stack: Stack, run_id: str, task_id: str, map_index: int) -> list[dict]:
    """Every try of one mapped task instance, first first (each with its worker's hostname)."""
    url = (
        f"{stack.airflow}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/"
        f"{task_id}/{map_index}/tries"
    )
    r = httpx.get(url, headers=stack.token(), timeout=60)
    assert r.status_code == 200, r.text
    return sorted(r.json()["task_instances"], key=lambda t: t["try_number"])


def ran_on_both_workers(stack: Stack, mapped: list[dict]) -> None:
    """The mapped task instances all succeeded, and on both workers (as `make status` names
    them)."""
    assert len(mapped) > 2 and all(t["state"] == "success" for t in mapped), mapped
    hosts = {t["hostname"] for t in mapped}
    assert {h.split("@")[0] for h in hosts} == {"worker1", "worker2"}, hosts
    status = stack.run("-m", "easyquant.stack", "status")
    for host in hosts:
        assert f"celery worker {host}" in status


def workers_shown_as_airflow_records(stack: Stack, run_id: str, tis: list[dict]) -> None:
    """The worker the dashboard's Pipelines view shows for each task (its component's host,
    from monitor_api) is the hostname Airflow's REST API records for the task instance."""
    shown: dict[tuple[str, int], tuple[int, str | None]] = {}
    offset = 0
    while True:
        r = httpx.get(
            f"{stack.api}/api/components", params={"kind": "task", "offset": offset}, timeout=30
        )
        page = r.json()
        for comp in page["components"]:
            attrs = comp["attrs"]
            if (attrs.get("dag_id"), attrs.get("run_id")) != (DAG, run_id):
                continue
            key = (attrs["task_id"], int(attrs["map_index"]))
            if key not in shown or attrs["try_number"] >= shown[key][0]:
                shown[key] = (attrs["try_number"], comp["host"])
        offset += len(page["components"])
        if not page["components"] or offset >= page["total"]:
            break
    want = {(t["task_id"], int(t["map_index"])): t["hostname"] or None for t in tis}
    assert {k: host for k, (_, host) in shown.items()} == want


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
        # a point's rows once each, whatever tries stored it
        cur.execute(
            "SELECT count(*) FROM (SELECT t.run_id, t.name FROM backtest_metric t "
            "JOIN backtest_run r ON r.id = t.run_id WHERE r.parent_id = %s "
            "GROUP BY t.run_id, t.name HAVING count(*) > 1) d",
            (parent,),
        )
        repeated = cur.fetchone()[0]
    assert repeated == 0, "a metric stored twice"
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
    ran_on_both_workers(stack, [t for t in tis if t["task_id"] == "run_points"])
    workers_shown_as_airflow_records(stack, run_id, tis)
    same_points(stored_points(stack, parent_run_id(DAG, run_id)), in_process)


def same_points(got: dict[tuple, dict], want: dict[tuple, dict]) -> None:
    assert len(got) == len(want) == 400
    assert got.keys() == want.keys()
    for key, metrics in want.items():
        assert got[key] == pytest.approx(metrics, nan_ok=True), key


ETL = "easyquant_etl"
ETL_SYMBOLS = [f"S{i:02d}" for i in range(1, 21)]
ETL_PERIOD = ("2023-01-02", "2023-12-29")


def test_the_etl_over_20_symbols_runs_on_both_workers(stack: Stack) -> None:
    conf = {
        "source": "synthetic", "symbols": ETL_SYMBOLS, "calendar": "XNYS", "freq": "1d",
        "start": ETL_PERIOD[0], "end": ETL_PERIOD[1], "batch_size": 2,
    }  # fmt: skip
    run_id = trigger(stack, conf, dag=ETL)
    assert wait_run(stack, run_id, dag=ETL) == "success"
    mapped = [t for t in task_instances(stack, run_id, dag=ETL) if t["task_id"] == "ingest"]
    assert len(mapped) == 10
    ran_on_both_workers(stack, mapped)

    # the bars the workers stored are the bars an in-process ingest of the same source stores
    from easyquant.data import load_bars, make_source
    from easyquant.data.ingest import ingest

    reference = stack.settings(home=stack.home.parent / "reference")
    source = make_source("synthetic", calendar="XNYS", seed=42)
    ingest(source, symbols=ETL_SYMBOLS, start=ETL_PERIOD[0], end=ETL_PERIOD[1],
           settings=reference, full=True, record=False)  # fmt: skip
    got = load_bars(ETL_SYMBOLS, settings=stack.settings())
    want = load_bars(ETL_SYMBOLS, settings=reference)
    assert sorted(got) == sorted(ETL_SYMBOLS)
    for sym in ETL_SYMBOLS:
        assert len(got[sym]) == 250 and got[sym].index.is_unique, sym
        pd.testing.assert_frame_equal(got[sym], want[sym])

    # the ETL updated the lake's asset: the backtest scheduled on it runs on the workers too
    assert wait_asset_backtest(stack) == "success"


def wait_asset_backtest(stack: Stack, timeout: float = 600) -> str:
    """The state of the backtest run the lake's asset triggered, once it has ended."""
    url = f"{stack.airflow}/api/v2/dags/{DAG}/dagRuns"
    deadline = time.monotonic() + timeout
    state = "never triggered"
    while time.monotonic() < deadline:
        runs = httpx.get(url, headers=stack.token(), params={"limit": 100}, timeout=60).json()
        assets = [r for r in runs["dag_runs"] if r["run_type"] == "asset_triggered"]
        if assets:
            assert len(assets) == 1, assets
            state = assets[0]["state"]
            if state in ("success", "failed"):
                break
        time.sleep(3)
    return state


def descendants(pid: int) -> list[int]:
    """``pid`` and every process it started, however deep (whatever their session)."""
    children: dict[int, list[int]] = {}
    for child, fields in process_stats():
        children.setdefault(int(fields[1]), []).append(child)
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def lose_worker(stack: Stack, number: int) -> None:
    """Kill worker ``number`` with SIGKILL, with every task process it started (Airflow runs
    each in a session of its own): a host lost at once. Stopped first so none escapes."""
    pid = int((stack.home / "run" / f"airflow-worker-{number}.pid").read_text().split()[0])
    tree = descendants(pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)


def test_a_worker_killed_mid_sweep_loses_no_point(
    stack: Stack, in_process: dict[tuple, dict]
) -> None:
    # 8 tasks of 50 points: long enough to be caught running
    run_id = trigger(stack, CONF | {"points_per_task": 50})
    supervisor = int((stack.home / "run" / "supervisor.pid").read_text().split()[0])
    victims: list[dict] = []
    # the supervisor would restart the lost worker under its old name within a second; held
    # while the sweep runs, it leaves worker1 the only worker, as on a lost host
    os.kill(supervisor, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 300
        while not victims and time.monotonic() < deadline:
            victims = [
                t
                for t in task_instances(stack, run_id)
                if t["task_id"] == "run_points"
                and t["state"] == "running"
                and str(t["hostname"]).startswith("worker2@")
            ]
            if victims:
                lose_worker(stack, 2)
            else:
                time.sleep(0.3)
        assert victims, "no task of worker2 was seen running"
        assert wait_run(stack, run_id, timeout=900) == "success"
    finally:
        os.kill(supervisor, signal.SIGCONT)

    # every try worker2 did not finish (running, or taken from the broker and not yet
    # started: no hostname) was retried, and succeeded, on worker1
    lost = 0
    for t in task_instances(stack, run_id):
        if t["task_id"] != "run_points":
            continue
        history = tries(stack, run_id, "run_points", t["map_index"])
        assert history[-1]["state"] == "success", history
        for before, after in itertools.pairwise(history):
            assert before["state"] != "success", history
            assert str(before["hostname"] or "worker2@").startswith("worker2@"), history
            assert after["hostname"].startswith("worker1@"), history
            lost += 1
    assert lost >= 1 and all(
        len(tries(stack, run_id, "run_points", v["map_index"])) > 1 for v in victims
    )
    same_points(stored_points(stack, parent_run_id(DAG, run_id)), in_process)

    # the supervisor, resumed, restarts the lost worker under its name
    deadline = time.monotonic() + 120
    while "restarts 1" not in (line := worker_line(stack, 2)) and time.monotonic() < deadline:
        time.sleep(1)
    assert "running pid" in line and "restarts 1" in line, line


def worker_line(stack: Stack, number: int) -> str:
    status = stack.run("-m", "easyquant.stack", "status")
    return next(ln for ln in status.splitlines() if ln.startswith(f"airflow-worker-{number}"))
