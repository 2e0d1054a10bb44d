"""docker-compose restarts what it runs, as `make up`'s supervisor does locally."""

from __future__ import annotations

import yaml

from tests.conftest import REPO


def test_every_long_running_service_is_restarted_and_init_runs_once():
    services = yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"]
    policies = {name: svc.get("restart") for name, svc in services.items()}
    assert policies.pop("init") == "no"
    assert {"live", "monitor_api", "airflow-scheduler", "postgres"} <= set(policies)
    assert set(policies.values()) == {"unless-stopped"}, policies
