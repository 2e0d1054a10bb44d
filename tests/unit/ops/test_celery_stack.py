"""make up's Airflow processes: one standalone by default; with EXECUTOR=celery the separate
servers, N named workers and a home Redis (or the given broker), sharing one JWT secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from easyquant import celery_stack
from easyquant.config import load_settings
from easyquant.errors import ConfigError

AIRFLOW = Path("/venv/bin/airflow")


def settings(tmp_path: Path, **kw: object):
    return load_settings(home=tmp_path / "home", database_url="postgresql://u@db:5432/eq", **kw)


def test_local_executor_runs_airflow_standalone(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert celery_stack.airflow_children(s, AIRFLOW) == [("airflow", [str(AIRFLOW), "standalone"])]
    assert celery_stack.environ(s) == {}
    assert s.parallel_tasks == s.airflow_parallelism


def test_celery_runs_each_server_redis_and_named_workers(tmp_path: Path) -> None:
    s = settings(tmp_path, executor="celery", workers=3, worker_concurrency=2)
    children = dict(celery_stack.airflow_children(s, AIRFLOW))
    assert list(children) == [
        "redis",
        "airflow",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker-1",
        "airflow-worker-2",
        "airflow-worker-3",
    ]
    assert children["airflow"] == [str(AIRFLOW), "api-server"]
    names = [celery_stack.describe(children[f"airflow-worker-{i}"]) for i in (1, 2, 3)]
    host = celery_stack.worker_names(s)[0].split("@")[1]
    assert names == [f"celery worker worker{i}@{host}" for i in (1, 2, 3)]
    worker = children["airflow-worker-2"]
    # the task processes learn their worker's name: Airflow records it as the hostname
    assert worker[:2] == ["env", f"EASYQUANT_WORKER_NAME=worker2@{host}"]
    assert worker[worker.index("--concurrency") + 1] == "2"
    port = celery_stack.redis_port(s)
    assert children["redis"][children["redis"].index("--port") + 1] == str(port)
    assert celery_stack.redis_port(s) == port  # kept for the next make up
    env = celery_stack.environ(s)
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:{port}/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://u@db:5432/airflow"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "6" and s.parallel_tasks == 6
    # one secret for every process, made once, readable by its owner only
    again = celery_stack.environ(s)
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == again["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 32
    mode = (s.airflow_home / "jwt_secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_given_broker_starts_no_redis(tmp_path: Path) -> None:
    s = settings(tmp_path, executor="celery", celery_broker_url="redis://broker:6379/2")
    assert "redis" not in dict(celery_stack.airflow_children(s, AIRFLOW))
    assert celery_stack.environ(s)["AIRFLOW__CELERY__BROKER_URL"] == "redis://broker:6379/2"


def test_a_broker_that_is_not_redis_is_refused_naming_the_variable(tmp_path: Path) -> None:
    s = settings(tmp_path, executor="celery", celery_broker_url="amqp://guest@rabbit//")
    with pytest.raises(ConfigError, match="EASYQUANT_CELERY_BROKER_URL: expected redis://"):
        celery_stack.environ(s)


def test_bad_executor_and_worker_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="EASYQUANT_EXECUTOR"):
        settings(tmp_path, executor="kubernetes")
    with pytest.raises(ConfigError, match="EASYQUANT_WORKERS"):
        settings(tmp_path, workers=0)


def test_task_hostname_is_the_worker_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EASYQUANT_WORKER_NAME", "worker7@box")
    assert celery_stack.worker_hostname() == "worker7@box"
    monkeypatch.delenv("EASYQUANT_WORKER_NAME")
    assert celery_stack.worker_hostname()  # the machine's name


def test_a_lone_worker_needs_a_broker_and_says_how(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("EASYQUANT_HOME", str(tmp_path / "far"))
    monkeypatch.delenv("EASYQUANT_CELERY_BROKER_URL", raising=False)
    assert celery_stack.main(["worker"]) == 1
    assert "EASYQUANT_CELERY_BROKER_URL: unset" in capsys.readouterr().err
    assert celery_stack.main(["sideways"]) == 2
    assert not (tmp_path / "far" / "run" / "redis.port").exists()
