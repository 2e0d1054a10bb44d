"""The stack's supervisor: a killed process comes back with back-off, a crash loop is given up
on and said so, every restart is a status event, and stopping leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from easyquant._proc import pid_alive
from easyquant.config import load_settings
from easyquant.supervise import Supervisor, read_state, write_spec


def _wait(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _events(db, name: str) -> list[tuple[str, str]]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT state, message FROM component_event WHERE component_id = %s ORDER BY id",
            [f"stack:{name}"],
        )
        return cur.fetchall()


def test_supervisor_restarts_a_killed_process_and_gives_up_on_a_crash_loop(
    db, pg_settings, tmp_path
):
    settings = load_settings(home=tmp_path / "home", database_url=pg_settings.dsn())
    settings.run_dir.mkdir(parents=True)
    write_spec(
        settings,
        [
            ("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"]),
            ("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"]),
        ],
    )
    # in a thread of this test process: not a subreaper, which would adopt pytest's orphans
    sup = Supervisor(settings, limit=3, window=60, backoff=(0.2, 0.8), subreaper=False)
    thread = threading.Thread(target=sup.run, kwargs={"poll": 0.05})
    thread.start()
    pids: list[int] = []
    try:
        first = _wait(lambda: read_state(settings).get("sleeper", {}).get("pid"))
        pids.append(first)
        os.kill(first, signal.SIGKILL)
        state = _wait(
            lambda: (
                (s := read_state(settings)["sleeper"])["pid"] != first
                and s["state"] == "running"
                and s
            )
        )
        pids.append(state["pid"])
        assert state["restarts"] == 1 and pid_alive(state["pid"])
        assert (settings.run_dir / "sleeper.pid").read_text().split()[0] == str(state["pid"])

        gave_up = _wait(lambda: (s := read_state(settings)["crasher"])["state"] == "failed" and s)
        assert gave_up["restarts"] == 3
        assert "gave up after 4 crashes" in gave_up["message"]
        sup.heartbeat()  # no event: the component's heartbeat only
    finally:
        sup.stop_requested.set()
        thread.join(60)
    assert not thread.is_alive()
    assert not any(pid_alive(p) for p in pids)
    assert not (settings.run_dir / "sleeper.pid").exists()

    sleeper = _events(db, "sleeper")
    assert sleeper[0] == ("running", f"started, pid {pids[0]}")
    assert sleeper[1] == ("running", "exited with code -9; restarting in 0.2s")
    assert sleeper[2] == ("running", f"restarted (restart 1), pid {pids[1]}")
    assert sleeper[-1] == ("stopped", "stopped by make down")
    crasher = [m for _, m in _events(db, "crasher")]
    # back-off doubles between crashes: 0.2 s, 0.4 s, 0.8 s, then the fourth crash gives up
    waits = [m.split("restarting in ")[1] for m in crasher if "restarting in" in m]
    assert waits == ["0.2s", "0.4s", "0.8s"]
    with db.cursor() as cur:  # given up on: it stays failed, saying so
        cur.execute("SELECT state, message, metrics FROM component WHERE id = 'stack:crasher'")
        state, message, metrics = cur.fetchone()
    assert (state, metrics) == ("failed", {"restarts": 3}) and "gave up" in message


def _descendants_named(marker: str) -> list[int]:
    """The live processes whose command line is exactly ``marker``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            if cmd == marker and pid_alive(int(entry)):
                out.append(int(entry))
    return out


def test_supervisor_process_stops_what_escaped_its_process_groups(pg_settings, tmp_path):
    """A process that leaves its group (as Airflow's task processes do) and outlives its
    parent is adopted by the supervisor and stopped with the rest on SIGTERM."""
    settings = load_settings(home=tmp_path / "home", database_url=pg_settings.dsn())
    settings.run_dir.mkdir(parents=True)
    marker = f"sleep {600 + os.getpid() % 997}"  # names this test's sleeps
    write_spec(settings, [("escaper", ["sh", "-c", f"setsid {marker} & {marker}"])])
    env = {
        **os.environ,
        "EASYQUANT_HOME": str(settings.home),
        "EASYQUANT_DATABASE_URL": settings.dsn(),
    }
    sup = subprocess.Popen(
        [sys.executable, "-m", "easyquant.supervise"], env=env, start_new_session=True
    )
    try:
        _wait(lambda: len(_descendants_named(marker)) == 2)
        leader = read_state(settings)["escaper"]["pid"]
        os.kill(leader, signal.SIGKILL)  # its setsid'd sleep is orphaned, handed to the supervisor
        _wait(
            lambda: (s := read_state(settings)["escaper"])["restarts"] == 1 and s["pid"] != leader
        )
        _wait(lambda: len(_descendants_named(marker)) == 4)
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(60) == 0
        assert _descendants_named(marker) == []
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait(10)
        for pid in _descendants_named(marker):
            os.kill(pid, signal.SIGKILL)


def test_a_new_spec_retries_a_process_given_up_on(pg_settings, tmp_path):
    """`make up` again after a give-up: the supervisor re-reads the spec on request, tries the
    process afresh, and its state says which spec it acted on."""
    settings = load_settings(home=tmp_path / "home", database_url=pg_settings.dsn())
    settings.run_dir.mkdir(parents=True)
    first = write_spec(settings, [("flaky", [sys.executable, "-c", "import sys; sys.exit(1)"])])
    sup = Supervisor(settings, limit=1, window=60, backoff=(0.1, 0.1), subreaper=False)
    thread = threading.Thread(target=sup.run, kwargs={"poll": 0.05})
    thread.start()
    try:
        _wait(lambda: read_state(settings, first).get("flaky", {}).get("state") == "failed")
        fixed = write_spec(
            settings, [("flaky", [sys.executable, "-c", "import time; time.sleep(600)"])]
        )
        assert read_state(settings, fixed) == {}  # not acted on yet
        sup.reload_requested.set()
        state = _wait(lambda: read_state(settings, fixed).get("flaky"))
        assert state["state"] == "running" and pid_alive(state["pid"])
    finally:
        sup.stop_requested.set()
        thread.join(60)
    assert not pid_alive(state["pid"])
