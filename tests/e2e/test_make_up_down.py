"""`make up` then `make down` in a scratch EASYQUANT_HOME, on the embedded default database."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg2
import pytest

from easyquant._proc import pid_alive
from easyquant.backtest.pipeline import parent_run_id
from easyquant.config import load_settings
from easyquant.db.embedded import EmbeddedPostgres
from easyquant.stack import DEMO_LIVE_ARGS, _group_alive
from tests.conftest import REPO, free_port
from tests.unit.live.support import check_ledger, one

pytestmark = pytest.mark.e2e


NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack"}


def path_without_node(folder: Path) -> str:
    """This PATH less Node.js, as on a machine with only Python and make: each folder that
    holds a Node.js program is replaced by ``folder``, with links to its other programs."""
    folder.mkdir(parents=True, exist_ok=True)
    dirs: list[str] = []
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        names = os.listdir(directory)
        if not NODE_TOOLS & set(names):
            dirs.append(directory)
            continue
        if str(folder) not in dirs:
            dirs.append(str(folder))
        for name in names:
            link, target = folder / name, Path(directory) / name
            if name not in NODE_TOOLS and not link.exists() and os.access(target, os.X_OK):
                link.symlink_to(target)
    path = os.pathsep.join(dirs)
    assert not any(shutil.which(tool, path=path) for tool in NODE_TOOLS)
    return path


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
        PATH=path_without_node(tmp_path / "bin"),  # `make up` needs neither Node.js nor npm
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
        health = httpx.get(f"{airflow}/api/v2/monitor/health", timeout=60).json()
        assert health["metadatabase"]["status"] == "healthy"
        token = httpx.post(
            f"{airflow}/auth/token", json={"username": "admin", "password": "admin"}, timeout=60
        ).json()["access_token"]
        dags = httpx.get(
            f"{airflow}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert dags.status_code == 200
        api = httpx.get(f"http://127.0.0.1:{ports['api']}/api/health", timeout=60).json()
        assert api["database"] is True and api["listener"] == "listening"

        # a fresh install has demo data for the dashboard: stored backtests over a seeded lake
        assert "seeding demo bars" in out and "seeding demo backtests" in out
        runs = httpx.get(f"http://127.0.0.1:{ports['api']}/api/backtests", timeout=60).json()
        assert runs["runs"] and {r["strategy"] for r in runs["runs"]} == {"sma_cross"}
        # and a demo live session trading on the paper broker, heartbeating through status
        demo = httpx.get(f"http://127.0.0.1:{ports['api']}/api/components/live:demo", timeout=60)
        assert demo.json()["state"] == "running"
        sessions = httpx.get(f"http://127.0.0.1:{ports['api']}/api/live/sessions", timeout=60)
        assert "demo" in {s["session"] for s in sessions.json()["sessions"]}

        dsn = f"postgresql://postgres@127.0.0.1:{ports['pg']}/easyquant"
        killed = groups[2]
        groups[2] = live_session_survives_kill_9(run, dsn, env)
        groups.append(killed)

        trigger_through_monitor_api(f"http://127.0.0.1:{ports['api']}", airflow, token)
        backtest_runs_in_airflow(f"http://127.0.0.1:{ports['api']}", airflow, token)

        again = make("up", env)
        assert "already running" in again and "seeding" not in again
        assert [int((run / f"{n}.pid").read_text()) for n in names] == groups[:3]
        # the textbook sma_cross trades only on a cross: let the demo session make one, so the
        # ledger comparison after `make down` has fills to compare
        demo_has_traded(dsn, timeout=300)
    finally:
        make("down", env)
    assert not any(_group_alive(g) for g in groups)
    assert _processes_in(tmp_path / "home") == []  # nothing escaped its group either
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert not (tmp_path / "home" / "run" / "airflow.pid").exists()
    assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()  # data stays
    ledger_equals_an_uninterrupted_run(tmp_path / "home", ports["pg"], env)


def _processes_in(home: Path) -> list[str]:
    """The command lines of live processes whose working directory is under ``home``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not pid_alive(int(entry)):
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(home)):
            found.append(f"{entry}: {cmd}")
    return found


def demo_has_traded(dsn: str, timeout: float) -> None:
    db = psycopg2.connect(dsn)
    try:
        fills = "SELECT count(*) FROM live_fill WHERE session = 'demo'"
        deadline = time.monotonic() + timeout
        while one(db, fills) == 0:
            assert time.monotonic() < deadline, "the demo session made no fill"
            time.sleep(1)
    finally:
        db.close()


def live_session_survives_kill_9(run: Path, dsn: str, env: dict[str, str]) -> int:
    """kill -9 of the demo live session: the supervisor starts it again by itself, it
    reconciles and trades on, the restart is a status event and `make status` counts it.
    Return the new pid."""
    db = psycopg2.connect(dsn)
    try:
        old = int((run / "live-demo.pid").read_text())
        bars = "SELECT bars FROM live_session WHERE id = 'demo'"
        deadline = time.monotonic() + 60
        while one(db, bars) < 3:
            assert time.monotonic() < deadline, "the demo session processes no bars"
            time.sleep(0.5)
        os.kill(old, signal.SIGKILL)
        at_kill = one(db, bars)
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline, "the demo live session was not restarted"
            try:
                new = int((run / "live-demo.pid").read_text())
            except (OSError, ValueError):
                new = old
            row = one(db, "SELECT pid, state, bars FROM live_session WHERE id = 'demo'")
            restarted = new != old and pid_alive(new) and row[:2] == (new, "running")
            if restarted and row[2] >= at_kill + 3:  # and trading on
                break
            time.sleep(0.5)
        assert not pid_alive(old)
        events = [
            r[0]
            for r in _rows(
                db,
                "SELECT message FROM component_event WHERE component_id = 'stack:live-demo' "
                "ORDER BY id",
            )
        ]
        assert "exited with code -9; restarting in 1s" in events
        assert f"restarted (restart 1), pid {new}" in events
        assert one(db, "SELECT state FROM component WHERE id = 'live:demo'") == "running"
    finally:
        db.close()
    status = make("status", env)
    line = next(x for x in status.splitlines() if x.startswith("live-demo"))
    assert f"running pid {new}" in line and "restarts 1" in line, status
    return new


def _rows(db, sql: str) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute(sql)
        out = cur.fetchall()
    db.rollback()
    return out


def ledger_equals_an_uninterrupted_run(home: Path, pg_port: int, env: dict[str, str]) -> None:
    """The demo session, killed and restarted by the supervisor, then stopped by `make down`,
    holds the ledger of one uninterrupted run over the same bars."""
    settings = load_settings(home=home, database_url=None, embedded_pg_port=pg_port)
    server = EmbeddedPostgres(settings)
    server.start()
    try:
        db = psycopg2.connect(settings.dsn())
        first, last = one(db, "SELECT min(ts), max(ts) FROM live_bar WHERE session = 'demo'")
        assert one(db, "SELECT state FROM live_session WHERE id = 'demo'") == "stopped"
        args = list(DEMO_LIVE_ARGS)
        args[args.index("--session") + 1] = "reference"
        args[args.index("--speed") + 1] = "max"
        ref = subprocess.run(
            [sys.executable, "-m", "easyquant.cli", *args,
             "--start", first.isoformat(), "--end", last.isoformat()],
            env={**env, "EASYQUANT_EMBEDDED_PG_PORT": str(pg_port)},
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert ref.returncode == 0, ref.stderr[-3000:]
        count = "SELECT count(*) FROM live_bar WHERE session = %s"
        assert one(db, count, "demo") == one(db, count, "reference") > 0
        ledger = check_ledger(db, "demo")
        assert ledger["fills"], "the demo session never traded: nothing was compared"
        assert ledger == check_ledger(db, "reference")
        db.close()
    finally:
        server.stop()


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
        f"{airflow}/api/v2/dags/easyquant_etl/dagRuns/{run_id}", headers=headers, timeout=60
    ).json()
    assert run["dag_run_id"] == run_id and run["run_type"] == "manual"
    assert run["conf"]["symbols"] == ["TRIG"] and run["note"] == "from monitor_api"

    def count() -> int:
        return httpx.get(
            f"{airflow}/api/v2/dags/easyquant_etl/dagRuns", headers=headers, timeout=60
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
        state = httpx.get(url, headers=headers, timeout=60).json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(3)
    assert state == "success", f"easyquant_backtest run {run_id} ended {state!r}"
    parent = httpx.get(
        f"{api}/api/backtests/{parent_run_id('easyquant_backtest', run_id)}", timeout=60
    ).json()
    assert parent["state"] == "success" and parent["kind"] == "sweep"
    assert parent["trades"], "the best point's trades are copied onto the sweep's run"


def test_the_dashboard_builds_on_a_machine_without_node(tmp_path):
    """`make up` builds the dashboard from its sources with no Node.js on PATH: the build
    installs Node.js from PyPI into the venv's own folder."""
    src = tmp_path / "dashboard"
    shutil.copytree(
        REPO / "monitor_api" / "dashboard", src, ignore=shutil.ignore_patterns("node_modules")
    )
    venv = Path(os.environ.get("VENV", REPO / ".venv"))
    env = {
        **os.environ,
        "PATH": path_without_node(tmp_path / "bin"),
        "DASHBOARD_SRC": str(src),
        "DASHBOARD_OUT": str(tmp_path / "static"),
        "VENV_DIR": str(venv),
    }
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-dashboard.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    index = (tmp_path / "static" / "index.html").read_text()
    assert "<script" in index and list((tmp_path / "static" / "assets").glob("*.js"))
