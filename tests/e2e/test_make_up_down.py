"""`make up` then `make down` in a scratch EASYQUANT_HOME, on the embedded default database."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

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
        groups = [int((run / f"{n}.pid").read_text()) for n in ("airflow", "monitor_api")]

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

        again = make("up", env)
        assert "already running" in again
        assert [int((run / f"{n}.pid").read_text()) for n in ("airflow", "monitor_api")] == groups
    finally:
        make("down", env)
    assert not any(_group_alive(g) for g in groups)
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert not (tmp_path / "home" / "run" / "airflow.pid").exists()
    assert (tmp_path / "home" / "pgdata" / "PG_VERSION").exists()  # data stays
