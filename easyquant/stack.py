"""Start, stop and inspect the local system: ``python -m easyquant.stack up|down|status``.

``up`` starts the embedded PostgreSQL (unless EASYQUANT_DATABASE_URL), applies migrations,
has the home's supervisor (:mod:`easyquant.supervise`) start Airflow (``airflow standalone``),
monitor_api and, unless EASYQUANT_DEMO=false, a demo live session after seeding demo data;
waits until each answers, and prints every URL and the Airflow login. The supervisor restarts
a process that crashes. Each process runs in its own process group and is recorded in
``EASYQUANT_HOME/run/<name>.pid``; ``down`` stops the supervisor, which stops exactly those
groups (SIGTERM, then SIGKILL), then the home's embedded server. Data stays in place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from easyquant import celery_stack
from easyquant._proc import pid_alive, process_stats
from easyquant.airflow_conf import AIRFLOW_DATABASE, airflow_environ, write_passwords_file
from easyquant.config import Settings, load_settings
from easyquant.errors import EasyQuantError

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    name: str
    port_setting: str
    health_path: str

    def port(self, settings: Settings) -> int:
        return int(getattr(settings, self.port_setting))

    def url(self, settings: Settings) -> str:
        return f"http://127.0.0.1:{self.port(settings)}"


AIRFLOW = Service("airflow", "airflow_port", "/api/v2/monitor/health")
MONITOR = Service("monitor_api", "api_port", "/api/health")
SERVICES = (AIRFLOW, MONITOR)
LIVE_DEMO = "live-demo"
SUPERVISOR = "supervisor"
DEMO_SESSION = "demo"
# paper trading on a synthetic 24/7 feed: one one-minute bar a second, at any hour
DEMO_LIVE_ARGS = [
    "live", "--session", DEMO_SESSION, "--strategy", "sma_cross", "--symbols", "AAA,BBB",
    "--param", "fast=5", "--param", "slow=20", "--market", "crypto", "--broker", "paper",
    "--feed", "synthetic", "--freq", "1m", "--speed", "60",
]  # fmt: skip


def _pidfile(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def running_pid(settings: Settings, name: str) -> int | None:
    """Return the recorded pid of ``name`` if that process still runs."""
    path = _pidfile(settings, name)
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _spawn(
    settings: Settings, name: str, argv: list[str], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    log = settings.log_dir / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(settings.home_dir),
        )
    _pidfile(settings, name).write_text(f"{proc.pid}\n")
    return proc


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(airflow_environ(settings))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["EASYQUANT_HOME"] = str(settings.home_dir)
    if settings.database_url:
        env["EASYQUANT_DATABASE_URL"] = settings.database_url
    else:
        env.pop("EASYQUANT_DATABASE_URL", None)
    return env


def up(settings: Settings, say: Callable[[str], None] = print) -> int:
    """Start every part that is not running yet; print where each is."""
    from easyquant.db import ensure_database, ensure_ready
    from easyquant.db.embedded import EmbeddedPostgres

    settings.home_dir.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    already = [s.name for s in SERVICES if running_pid(settings, s.name)]
    live_running = running_pid(settings, LIVE_DEMO) is not None
    supervised = running_pid(settings, SUPERVISOR) is not None
    if len(already) == len(SERVICES) and (live_running or not settings.demo) and supervised:
        say("EasyQuant is already running; nothing changed.")
        print_urls(settings, say)
        return 0
    for service in SERVICES:
        if service.name not in already and _port_taken(service.port(settings)):
            raise EasyQuantError(
                f"port {service.port(settings)} for {service.name} is taken by another program: "
                f"set EASYQUANT_{service.port_setting.upper()} to a free port"
            )

    if settings.embedded:
        server = EmbeddedPostgres(settings)
        if server.pid() is None:
            say(f"starting embedded PostgreSQL on 127.0.0.1:{settings.embedded_pg_port}")
            server.start()
    ensure_ready(settings, start_embedded=False)
    ensure_database(settings, AIRFLOW_DATABASE)
    write_passwords_file(settings)
    env = _env(settings) | celery_stack.environ(settings)

    if AIRFLOW.name not in already:
        say("migrating Airflow's metadata database")
        migrate = subprocess.run(
            [str(VENV_BIN / "airflow"), "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if migrate.returncode != 0:
            raise EasyQuantError("airflow db migrate failed:\n" + migrate.stderr[-3000:])
    for service in SERVICES:
        if service.name not in already:
            say(f"starting {service.name} on {service.url(settings)}")
    children = [
        *celery_stack.airflow_children(settings, VENV_BIN / "airflow"),
        (MONITOR.name, [sys.executable, "-m", "monitor_api.app"]),
    ]
    _supervise(settings, children, env)

    if settings.demo:
        _seed_demo(settings, say)
        if not live_running:
            say(f"starting the demo live session {DEMO_SESSION!r} (paper broker, synthetic feed)")
        children.append((LIVE_DEMO, [str(VENV_BIN / "easyquant"), *DEMO_LIVE_ARGS]))
        _supervise(settings, children, env)
        if not live_running:
            _wait_live(settings, 90)

    for service, timeout in ((MONITOR, 60), (AIRFLOW, 300)):
        if service.name not in already:
            _wait_http(settings, service, timeout)
    say("EasyQuant is up.")
    print_urls(settings, say)
    return 0


def _supervise(
    settings: Settings, children: list[tuple[str, list[str]]], env: dict[str, str]
) -> None:
    """Have the home's supervisor run ``children`` (starting the supervisor if needed); return
    once each has a process."""
    from easyquant.supervise import read_state, write_spec

    serial = write_spec(settings, children)
    pid = running_pid(settings, SUPERVISOR)
    if pid is None:
        proc = _spawn(settings, SUPERVISOR, [sys.executable, "-m", "easyquant.supervise"], env)
        pid = proc.pid
    else:
        os.kill(pid, signal.SIGHUP)
    log = settings.log_dir / f"{SUPERVISOR}.log"
    deadline = time.monotonic() + 60
    while True:
        state = read_state(settings, serial)  # the supervisor's record of this very spec
        if state and all(state.get(name, {}).get("pid") for name, _ in children):
            return
        if not pid_alive(pid):
            raise EasyQuantError(f"the supervisor (pid {pid}) exited; see {log}")
        if time.monotonic() > deadline:
            raise EasyQuantError(f"the supervisor did not start every process in 60s; see {log}")
        time.sleep(0.2)


def _given_up(settings: Settings, name: str) -> None:
    """Raise when the supervisor gave up on ``name`` (it kept crashing)."""
    from easyquant.supervise import read_state

    entry = read_state(settings).get(name, {})
    if entry.get("state") == "failed":
        raise EasyQuantError(f"{name} keeps crashing: {entry.get('message', '')}")


def _wait_http(settings: Settings, service: Service, timeout: float) -> None:
    url = service.url(settings) + service.health_path
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _given_up(settings, service.name)
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    log = settings.log_dir / f"{service.name}.log"
    raise EasyQuantError(f"{url} did not answer within {timeout:.0f}s; see {log}")


def _wait_live(settings: Settings, timeout: float) -> None:
    """Wait until the live session reports itself running through status."""
    from easyquant.db import connect

    log = settings.log_dir / f"{LIVE_DEMO}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _given_up(settings, LIVE_DEMO)
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT state FROM component WHERE id = %s", [f"live:{DEMO_SESSION}"])
            row = cur.fetchone()
        if row is not None and row[0] == "running":
            return
        time.sleep(0.5)
    raise EasyQuantError(
        f"the demo live session did not report running within {timeout:.0f}s; see {log}"
    )


def _seed_demo(settings: Settings, say: Callable[[str], None]) -> None:
    """Demo data for the dashboard; a failure here is reported and does not stop the system."""
    from easyquant import demo

    try:
        demo.seed(settings, say)
    except Exception as exc:  # the system runs without demo data
        say(f"demo data was not seeded: {exc}")


def print_urls(settings: Settings, say: Callable[[str], None] = print) -> None:
    say(f"  dashboard     {MONITOR.url(settings)}/")
    say(f"  monitor API   {MONITOR.url(settings)}/docs")
    say(
        f"  Airflow UI    {AIRFLOW.url(settings)}/   "
        f"login {settings.airflow_user} / (EASYQUANT_AIRFLOW_PASSWORD, default 'admin')"
    )
    say(f"  PostgreSQL    {settings.shown_dsn()}")
    say(f"  logs          {settings.log_dir}")


def _stop_group(pid: int, grace: float = 20.0) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    return any(int(f[2]) == pgid and f[0] != "Z" for _, f in process_stats())


def _stop_pidfile(
    settings: Settings,
    name: str,
    say: Callable[[str], None],
    label: str | None = None,
    *,
    grace: float = 20.0,
) -> bool:
    """Stop the process group in ``name``'s pid file, if it runs, and remove the file.
    Return whether there was one to stop."""
    pid = running_pid(settings, name)
    if pid is not None:
        say(f"stopping {label or name} (process group {pid})")
        _stop_group(pid, grace=grace)
    _pidfile(settings, name).unlink(missing_ok=True)
    return pid is not None


def down(settings: Settings, say: Callable[[str], None] = print) -> int:
    """Stop exactly what ``up`` started; leave data in place."""
    from easyquant.db.embedded import EmbeddedPostgres
    from easyquant.supervise import read_spec

    # the supervisor stops what it runs; what no supervisor stopped (one that was killed), by
    # pid file: the demo session, the spec's extra processes, then the services
    stopped = _stop_pidfile(settings, SUPERVISOR, say, "the supervised processes", grace=120)
    stopped |= _stop_pidfile(settings, LIVE_DEMO, say, "the demo live session", grace=30)
    services = [s.name for s in reversed(SERVICES)]
    extra = [name for name, _ in reversed(read_spec(settings)[1]) if name not in services]
    for name in extra + services:
        stopped |= _stop_pidfile(settings, name, say)
    server = EmbeddedPostgres(settings)
    if settings.embedded and server.pid() is not None:
        say("stopping embedded PostgreSQL")
        server.stop()
        stopped = True
    say("EasyQuant is stopped." if stopped else "Nothing to stop.")
    return 0


def show_status(settings: Settings, say: Callable[[str], None] = print) -> int:
    """Print what runs and where, with the supervisor's restart counts."""
    from easyquant.db.embedded import EmbeddedPostgres
    from easyquant.supervise import read_spec, read_state

    supervised = read_state(settings) if running_pid(settings, SUPERVISOR) else {}
    rows = [(s.name, s.url(settings)) for s in SERVICES]
    rows.append((LIVE_DEMO, f"live session {DEMO_SESSION!r} (paper)"))
    rows += [  # Celery's processes and the broker
        (name, celery_stack.describe(argv))
        for name, argv in read_spec(settings)[1]
        if name not in dict(rows)
    ]
    for name, where in rows:
        pid = running_pid(settings, name)
        entry = supervised.get(name, {})
        state = f"running pid {pid}" if pid else "stopped"
        if entry.get("state") in ("restarting", "failed"):
            state = "restarting" if entry["state"] == "restarting" else "gave up"
        line = f"{name:<12} {state:<20} {where}"
        if entry:
            line += f"  restarts {entry.get('restarts', 0)}"
        if entry.get("state") == "failed":
            line += f" ({entry.get('message', '')})"
        say(line)
    if settings.embedded:
        pg = EmbeddedPostgres(settings).pid()
        state = f"running pid {pg}" if pg else "stopped"
        say(f"{'postgres':<12} {state:<20} 127.0.0.1:{settings.embedded_pg_port} (embedded)")
    else:
        say(f"{'postgres':<12} {'external':<20} {settings.shown_dsn()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    commands = {"up": up, "down": down, "status": show_status}
    if len(args) != 1 or args[0] not in commands:
        print("usage: python -m easyquant.stack up|down|status", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        return commands[args[0]](settings)
    except EasyQuantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
