"""Airflow's configuration for EasyQuant, as environment variables.

One function builds it, so ``make up``, the tests and docker-compose's documentation agree:
metadata in database ``airflow`` of EasyQuant's server, the repo's ``dags/`` and ``plugins/``,
no examples, parallelism sized for a small machine, the simple auth manager with one admin.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from easyquant.config import Settings

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_DATABASE = "airflow"


def airflow_sqlalchemy_url(settings: Settings, database: str = AIRFLOW_DATABASE) -> str:
    parts = urlsplit(settings.dsn(database))
    return urlunsplit(("postgresql+psycopg2", parts.netloc, parts.path, parts.query, ""))


def airflow_environ(
    settings: Settings,
    *,
    database: str = AIRFLOW_DATABASE,
    extra_bundles: dict[str, Path] | None = None,
) -> dict[str, str]:
    """Return the environment variables that configure Airflow for this EasyQuant installation."""
    home = settings.airflow_home
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(REPO / "dags")},
        }
    ]
    for name, path in (extra_bundles or {}).items():
        bundles.append(
            {
                "name": name,
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(path)},
            }
        )
    base = settings.airflow_base_url
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_sqlalchemy_url(settings, database),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(settings.airflow_parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__BASE_URL": base + "/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": base + "/execution/",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.log_dir / "airflow"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG": "False",
        # EasyQuant's own settings travel to every task process
        "EASYQUANT_HOME": str(settings.home_dir),
        "EASYQUANT_DATABASE_URL": settings.dsn(),
        "EASYQUANT_AIRFLOW_URL": base,
    }
    return env


def write_passwords_file(settings: Settings) -> Path:
    """Write the simple auth manager's password file for the configured admin."""
    path = settings.airflow_home / "passwords.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({settings.airflow_user: settings.airflow_password.get_secret_value()})
    # mkstemp creates the file with mode 0600: the password is never readable by others,
    # not even between creating the file and a later chmod
    fd, tmp = tempfile.mkstemp(prefix=".passwords-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
