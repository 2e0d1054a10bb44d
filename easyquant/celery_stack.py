"""Airflow's processes for ``make up``: one ``airflow standalone``, or (``EXECUTOR=celery``)
the CeleryExecutor's separate processes.

With ``EASYQUANT_EXECUTOR=celery``, ``make up`` runs an api-server, a scheduler, a dag-processor,
a triggerer and ``EASYQUANT_WORKERS`` Celery workers (``worker1@HOST``, ``worker2@HOST``, ...;
each task instance records its worker's name as its hostname). The broker is
``EASYQUANT_CELERY_BROKER_URL``, else a ``redis-server`` started under the home on a free port
(kept in ``run/redis.port``). Celery's results go to Airflow's database in the same PostgreSQL.
The workers share nothing with the scheduler but the broker, the database and the home's lake
(its write locks are PostgreSQL advisory locks), exactly as a worker on another host would.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from easyquant.config import Settings
from easyquant.errors import ConfigError

REDIS = "redis"
CELERY_EXECUTOR = "CeleryExecutor"  # the provider's alias, as docker-compose.yaml names it
WORKER_NAME = "EASYQUANT_WORKER_NAME"
#: The processes besides the workers, each an ``airflow`` sub-command (the api-server is the
#: one ``make up`` checks and calls ``airflow``).
SERVERS = (
    ("airflow", ["api-server"]),
    ("airflow-scheduler", ["scheduler"]),
    ("airflow-dag-processor", ["dag-processor"]),
    ("airflow-triggerer", ["triggerer"]),
)


def worker_hostname() -> str:
    """Airflow's ``hostname_callable``: the Celery worker's name when one runs the task (two
    workers on one machine stay apart), else the machine's name."""
    return os.environ.get(WORKER_NAME) or socket.getfqdn()


def worker_names(settings: Settings, host: str | None = None) -> list[str]:
    """The Celery hostnames of this machine's workers: ``worker1@HOST`` ..."""
    host = host or socket.gethostname()
    return [f"worker{i}@{host}" for i in range(1, settings.workers + 1)]


def redis_port(settings: Settings) -> int:
    """The home's Redis port: the one recorded in ``run/redis.port``, else a free one."""
    path = settings.run_dir / "redis.port"
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{port}\n")
    return port


def broker_url(settings: Settings) -> str:
    """The Celery broker: ``EASYQUANT_CELERY_BROKER_URL``, else the home's Redis."""
    if settings.celery_broker_url is not None:
        url = settings.celery_broker_url.get_secret_value()
        if urlsplit(url).scheme not in ("redis", "rediss"):
            raise ConfigError(
                f"EASYQUANT_CELERY_BROKER_URL: expected redis://host:port/db, got {url[:40]!r}"
            )
        return url
    return f"redis://127.0.0.1:{redis_port(settings)}/0"


def _secret(settings: Settings, name: str) -> str:
    """A secret every Airflow process must share, made once and kept (mode 0600) in the
    Airflow home; a worker on another host needs the same value."""
    path = settings.airflow_home / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def environ(settings: Settings) -> dict[str, str]:
    """The variables that switch Airflow to the CeleryExecutor (none for the local one)."""
    if settings.executor != "celery":
        return {}
    parts = urlsplit(settings.dsn("airflow"))
    result_backend = urlunsplit(("db+postgresql", parts.netloc, parts.path, parts.query, ""))
    return {
        "AIRFLOW__CORE__EXECUTOR": CELERY_EXECUTOR,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        "AIRFLOW__CELERY__BROKER_URL": broker_url(settings),
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "AIRFLOW__CORE__PARALLELISM": str(settings.parallel_tasks),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(settings.parallel_tasks),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(settings, "jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret(settings, "secret_key"),
        "EASYQUANT_EXECUTOR": "celery",
        "EASYQUANT_WORKERS": str(settings.workers),
        "EASYQUANT_WORKER_CONCURRENCY": str(settings.worker_concurrency),
    }


def redis_argv(settings: Settings) -> list[str]:
    """``redis-server`` on the home's port, loopback only, its files under the home."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError(
            "EASYQUANT_CELERY_BROKER_URL: unset and no redis-server installed; "
            "`make up EXECUTOR=celery` installs Debian's, or set the URL of a Redis server"
        )
    data = settings.home_dir / REDIS
    data.mkdir(parents=True, exist_ok=True)
    return [
        exe,
        "--port", str(redis_port(settings)), "--bind", "127.0.0.1", "--dir", str(data),
        "--save", "", "--appendonly", "no", "--protected-mode", "yes",
    ]  # fmt: skip


def airflow_children(settings: Settings, airflow: Path) -> list[tuple[str, list[str]]]:
    """The supervised processes that run Airflow: ``(name, argv)``, in start order."""
    if settings.executor != "celery":
        return [("airflow", [str(airflow), "standalone"])]
    children: list[tuple[str, list[str]]] = []
    if settings.celery_broker_url is None:
        children.append((REDIS, redis_argv(settings)))
    children += [(name, [str(airflow), *args]) for name, args in SERVERS]
    for i, name in enumerate(worker_names(settings), start=1):
        argv = ["env", f"{WORKER_NAME}={name}", *worker_argv(settings, name, airflow)]
        children.append((f"airflow-worker-{i}", argv))
    return children


def describe(argv: list[str]) -> str:
    """What a supervised process is, for ``make status``: a worker's Celery hostname, the
    broker's address, or the Airflow sub-command."""
    if "--celery-hostname" in argv:
        return f"celery worker {argv[argv.index('--celery-hostname') + 1]}"
    if "--port" in argv and Path(argv[0]).name == "redis-server":
        return f"broker redis://127.0.0.1:{argv[argv.index('--port') + 1]}/0"
    return " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv[:3]))


def worker_argv(settings: Settings, name: str, airflow: Path) -> list[str]:
    """``airflow celery worker`` named ``name``, with the settings' concurrency."""
    return [
        str(airflow), "celery", "worker", "--celery-hostname", name,
        "--concurrency", str(settings.worker_concurrency), "--skip-serve-logs",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m easyquant.celery_stack worker [NAME]``: run one Celery worker in this
    process, configured from the settings as ``make up EXECUTOR=celery`` configures its own
    (for a second host: its broker and database must be reachable, its home shared)."""
    import sys

    from easyquant.airflow_conf import airflow_environ
    from easyquant.config import load_settings

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "worker" or len(args) > 2:
        print("usage: python -m easyquant.celery_stack worker [NAME@HOST]", file=sys.stderr)
        return 2
    try:
        settings = load_settings(executor="celery")
        if settings.celery_broker_url is None and not (settings.run_dir / "redis.port").exists():
            raise ConfigError(
                "EASYQUANT_CELERY_BROKER_URL: unset, and this home runs no broker; "
                "set it to the broker the scheduler uses"
            )
        name = args[1] if len(args) == 2 else f"worker@{socket.gethostname()}"
        airflow = Path(sys.executable).parent / "airflow"
        env = dict(os.environ) | airflow_environ(settings) | environ(settings)
        env[WORKER_NAME] = name
        env["PATH"] = f"{airflow.parent}{os.pathsep}{env.get('PATH', '')}"
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    os.execve(airflow, worker_argv(settings, name, airflow), env)
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    raise SystemExit(main())
