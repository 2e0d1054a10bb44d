"""docker-compose.yaml: the production shape scales out with Airflow's Celery workers."""

from __future__ import annotations

import re

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


SECRETS = (
    "POSTGRES_PASSWORD",
    "EASYQUANT_API_TOKEN",
    "EASYQUANT_AIRFLOW_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_SECRET_KEY",
)


def interpolate(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``: the text with every
    variable replaced, and the messages of the required variables that are unset or empty."""
    errors: list[str] = []

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name, "")
        if op == ":?" and not value:
            errors.append(f"{name}: {arg}")
        if op == ":-" and not value:
            return arg
        return value

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[?-])([^}]*))?\}", one, text), errors


def test_compose_requires_every_secret_and_ships_none():
    text = (REPO / "docker-compose.yaml").read_text()
    _, errors = interpolate(text, {})
    refused = {e.split(":")[0] for e in errors}
    assert refused == set(SECRETS)
    for name in SECRETS:
        assert re.search(r"\$\{" + name + r":-", text) is None, f"{name} has a default"
    given = {name: f"value-of-{name.lower()}" for name in SECRETS}
    rendered, errors = interpolate(text, given)
    assert errors == []
    env = yaml.safe_load(rendered)["x-easyquant"]["environment"]
    assert env["EASYQUANT_API_TOKEN"] == given["EASYQUANT_API_TOKEN"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == given["AIRFLOW_JWT_SECRET"]
    assert given["POSTGRES_PASSWORD"] in env["EASYQUANT_DATABASE_URL"]
    # the API listens on every interface there, so the token it now requires must be set
    assert env["EASYQUANT_API_HOST"] == "0.0.0.0"
