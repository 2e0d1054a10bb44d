"""The embedded server's lifecycle: one per home on its own port, announced once by the CLI
that starts it, `easyquant db status|stop`, and gone when its home is deleted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from easyquant._proc import pid_alive
from easyquant.config import load_settings
from easyquant.db import embedded
from easyquant.db.embedded import EmbeddedPostgres
from tests.conftest import REPO, free_port


@pytest.fixture()
def homes() -> Iterator[Path]:
    """A folder for homes outside pytest's temp root, which other pytest runs re-secure (0700)
    while the server's own user still has to reach its data."""
    root = Path(tempfile.mkdtemp(prefix="eqops-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _cli(home, *args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    return _module(home, "easyquant.cli", *args, port=port)


def _module(
    home, module: str, *args: str, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EASYQUANT_")}
    env["EASYQUANT_HOME"] = str(home)
    if port is not None:
        env["EASYQUANT_EMBEDDED_PG_PORT"] = str(port)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_home_whose_default_port_is_taken_by_another_homes_server_gets_its_own(
    homes, monkeypatch
):
    tmp_path = homes
    default = free_port()
    monkeypatch.setattr(embedded, "DEFAULT_PORT", default)
    first = load_settings(home=tmp_path / "a", database_url=None)
    assert first.embedded_pg_port == default
    servers = [EmbeddedPostgres(first)]
    try:
        assert servers[0].start() is True
        (tmp_path / "b").mkdir()
        second = load_settings(home=tmp_path / "b", database_url=None)
        assert second.embedded_pg_port != default
        # recorded in the home: every later command of that home agrees
        assert (tmp_path / "b" / "postgres.port").read_text().split() == [
            str(second.embedded_pg_port)
        ]
        assert (
            load_settings(home=tmp_path / "b", database_url=None).embedded_pg_port
            == second.embedded_pg_port
        )
        servers.append(EmbeddedPostgres(second))
        assert servers[1].start() is True
        assert servers[0].pid() != servers[1].pid() and servers[1].pid() is not None
        # a running server's port is the home's port, whatever else holds the default
        assert load_settings(home=tmp_path / "a", database_url=None).embedded_pg_port == default
    finally:
        for server in servers:
            server.stop(mode="immediate")
    assert [s.pid() for s in servers] == [None, None]


@pytest.mark.skipif(sys.platform != "linux", reason="PostgreSQL's lock-file re-check")
def test_cli_announces_the_server_once_and_db_status_and_stop_manage_it(homes):
    tmp_path = homes
    # a home deleted under its running server: the server stops by itself within a minute
    doomed = EmbeddedPostgres(load_settings(home=tmp_path / "doomed", embedded_pg_port=free_port()))
    doomed.start()
    doomed_pid = doomed.pid()
    assert doomed_pid is not None
    shutil.rmtree(tmp_path / "doomed")

    home, port = tmp_path / "home", free_port()
    try:
        first = _cli(home, "db", "migrate", port=port)
        assert first.returncode == 0, first.stderr
        notice = [line for line in first.stderr.splitlines() if "started the embedded" in line]
        assert len(notice) == 1 and "easyquant db stop" in notice[0], first.stderr
        assert f"127.0.0.1:{port}" in notice[0]
        again = _cli(home, "db", "migrate", port=port)
        assert again.returncode == 0 and "started the embedded" not in again.stderr

        status = _cli(home, "db", "status", port=port)
        pid = EmbeddedPostgres(load_settings(home=home, embedded_pg_port=port)).pid()
        assert status.returncode == 0 and f"running, pid {pid}" in status.stdout
        stop = _cli(home, "db", "stop", port=port)
        assert stop.returncode == 0 and "stopped the embedded PostgreSQL" in stop.stdout
        assert pid is not None and not pid_alive(pid)
        status = _cli(home, "db", "status", port=port)
        assert status.returncode == 3 and "stopped" in status.stdout
        assert "not running" in _cli(home, "db", "stop", port=port).stdout

        # a server a CLI command started is stopped by `make down` too (python -m easyquant.stack)
        assert "started the embedded" in _cli(home, "db", "migrate", port=port).stderr
        pid = EmbeddedPostgres(load_settings(home=home, embedded_pg_port=port)).pid()
        down = _module(home, "easyquant.stack", "down", port=port)
        assert down.returncode == 0 and "stopping embedded PostgreSQL" in down.stdout, down
        assert pid is not None and not pid_alive(pid)
    finally:
        EmbeddedPostgres(load_settings(home=home, embedded_pg_port=port)).stop("immediate")

    deadline = time.monotonic() + 90
    while pid_alive(doomed_pid):
        assert time.monotonic() < deadline, "the deleted home's server is still running"
        time.sleep(1)
