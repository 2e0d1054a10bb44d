"""docker-compose.yaml: the production shape scales out with Airflow's Celery workers."""

from __future__ import annotations

import yaml

from tests.conftest import REPO


def test_compose_runs_the_same_parts_with_celery_workers():
    spec = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    services = spec["services"]
    for name in (
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "monitor_api",
        "live",
    ):
        assert name in services, name
    for name, svc in services.items():
        if svc.get("image") == "easyquant:latest":
            env = svc["environment"]
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
            assert env["EASYQUANT_DATABASE_URL"].endswith("@postgres:5432/easyquant"), name
            assert "/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
    assert services["airflow-worker"]["command"] == "airflow celery worker"
    assert services["live"]["command"].startswith("easyquant live --session demo")
    assert "--broker paper" in services["live"]["command"]
