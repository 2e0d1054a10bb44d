"""Keep what ``make up`` started running: ``python -m easyquant.supervise``.

The stack runs one supervisor per EASYQUANT_HOME. It starts the processes listed in
``run/supervisor.spec.json`` (Airflow, monitor_api, the demo live session), each in its own
process group with its pid in ``run/<name>.pid``, and restarts one that exits without being
asked to, after a back-off that doubles from one second up to half a minute. A process that
crashes more than ``limit`` times within ``window`` seconds is given up on, and said so. Every
start, crash, restart and give-up is a status event of component ``stack:<name>``; the
restart counts are kept in ``run/supervisor.json`` for ``make status``.

The supervisor is a child subreaper (Linux): a process that leaves its process group and
outlives its parent (Airflow runs each task in a session of its own) is handed to the
supervisor, which reaps it and stops it with the rest.

SIGHUP re-reads the spec (``make up`` adds a process, or retries one given up on); SIGTERM stops
every process, last started first, then the supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from easyquant._proc import pid_alive, process_stats
from easyquant.config import Settings, load_settings

log = logging.getLogger("easyquant.supervise")

SPEC = "supervisor.spec.json"
STATE = "supervisor.json"
LIMIT = 5  # crashes within WINDOW before giving up
WINDOW = 600.0
BACKOFF = (1.0, 30.0)  # first and longest wait before a restart
STOP_GRACE = {"live-demo": 30.0}  # seconds between SIGTERM and SIGKILL (default 20)
HEARTBEAT = 30.0  # seconds between heartbeats of the running processes' components


@dataclass
class Child:
    """One supervised process and its restart record."""

    name: str
    argv: list[str]
    pid: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    state: str = "starting"  # running, restarting, failed (given up), stopped
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    restart_at: float = 0.0
    message: str = ""

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def exit_code(self) -> int | None:
        """The exit code of an ended process (None when unknown: an adopted process)."""
        return None if self.proc is None else self.proc.returncode


def read_spec(settings: Settings) -> tuple[int, list[tuple[str, list[str]]]]:
    """Return the spec's serial and the (name, argv) pairs to run, in start order."""
    try:
        data = json.loads((settings.run_dir / SPEC).read_text())
    except (OSError, ValueError):
        return 0, []
    children = [(c["name"], [str(a) for a in c["argv"]]) for c in data.get("children", [])]
    return int(data.get("serial", 0)), children


def write_spec(settings: Settings, children: list[tuple[str, list[str]]]) -> int:
    """Write the list of processes to supervise (atomically); return its serial, which the
    supervisor's state echoes once it has acted on it."""
    serial = time.time_ns()
    _write_json(
        settings.run_dir / SPEC,
        {"serial": serial, "children": [{"name": n, "argv": a} for n, a in children]},
    )
    return serial


def read_state(settings: Settings, serial: int | None = None) -> dict[str, dict[str, Any]]:
    """Return the supervisor's record per process: pid, state, restarts, message (empty until
    it has acted on spec ``serial``, when given)."""
    try:
        data = json.loads((settings.run_dir / STATE).read_text())
    except (OSError, ValueError):
        return {}
    if serial is not None and data.get("spec") != serial:
        return {}
    return dict(data.get("children", {}))


def _become_subreaper() -> bool:
    """Have orphaned descendants reparented to this process (Linux ``PR_SET_CHILD_SUBREAPER``)."""
    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _children_of(ppid: int) -> dict[int, str]:
    """Return {pid: state letter} of the processes whose parent is ``ppid``."""
    return {pid: f[0] for pid, f in process_stats() if int(f[1]) == ppid}


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)


class Supervisor:
    """Run, watch and restart the processes of one EASYQUANT_HOME (see the module doc)."""

    def __init__(
        self,
        settings: Settings,
        env: dict[str, str] | None = None,
        *,
        limit: int = LIMIT,
        window: float = WINDOW,
        backoff: tuple[float, float] = BACKOFF,
        subreaper: bool = True,
    ) -> None:
        self.settings = settings
        self.subreaper = subreaper
        self.env = dict(os.environ if env is None else env)
        self.limit, self.window, self.backoff = limit, window, backoff
        self.children: dict[str, Child] = {}
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self._writer: Any = None
        self.spec = 0  # serial of the spec last acted on

    # ----- status ------------------------------------------------------------------------
    def _event(self, child: Child, state: str, message: str) -> None:
        child.message = message
        log.info("%s: %s", child.name, message)
        self._save()
        self._report(child, state=state, message=message)

    def _report(self, child: Child, **fields: Any) -> None:
        try:
            from easyquant import status

            if self._writer is None:
                self._writer = status.StatusWriter(self.settings)
            self._writer.write(
                f"stack:{child.name}",
                kind="service",
                name=child.name,
                metrics={"restarts": child.restarts},
                attrs={"pid": child.pid},
                heartbeat_interval=HEARTBEAT,
                **fields,
            )
        except Exception as exc:  # the processes are kept up even without a database
            log.warning("status of %s not written: %s", child.name, exc)

    def heartbeat(self) -> None:
        """Tell status that each running process is still up (no event)."""
        for child in self.children.values():
            if child.state == "running":
                self._report(child, event=False)

    def _save(self) -> None:
        _write_json(
            self.settings.run_dir / STATE,
            {
                "pid": os.getpid(),
                "spec": self.spec,
                "children": {
                    c.name: {
                        "pid": c.pid,
                        "state": c.state,
                        "restarts": c.restarts,
                        "message": c.message,
                    }
                    for c in self.children.values()
                },
            },
        )

    # ----- processes ---------------------------------------------------------------------
    def _start(self, child: Child) -> None:
        from easyquant.stack import _spawn

        child.proc = _spawn(self.settings, child.name, child.argv, self.env)
        child.pid = child.proc.pid
        child.state = "running"
        what = f"restarted (restart {child.restarts})" if child.restarts else "started"
        self._event(child, "running", f"{what}, pid {child.pid}")

    def load(self) -> None:
        """Start (or adopt, when its pid file names a live process) each process in the spec;
        a process given up on is tried afresh."""
        from easyquant.stack import running_pid

        serial, children = read_spec(self.settings)
        for name, argv in children:
            child = self.children.get(name)
            if child is not None and child.state != "failed":
                child.argv = argv
                continue
            child = self.children[name] = Child(name, argv, restarts=child.restarts if child else 0)
            pid = running_pid(self.settings, name)
            if pid is not None:
                child.pid, child.state = pid, "running"
                self._event(child, "running", f"adopted the running process, pid {pid}")
            else:
                self._start(child)
        self.spec = serial
        self._save()

    def _adopted(self) -> dict[int, str]:
        """Orphans handed to this subreaper: its child processes it did not start itself."""
        if not self.subreaper:
            return {}
        mine = {c.proc.pid for c in self.children.values() if c.proc is not None}
        return {p: st for p, st in _children_of(os.getpid()).items() if p not in mine}

    def _reap_adopted(self) -> None:
        for pid, state in self._adopted().items():
            if state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def _stop_adopted(self, grace: float = 10.0) -> None:
        """Stop the orphans left by the stopped processes (and whatever they started)."""
        own_group = os.getpgid(0)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self._reap_adopted()
                alive = [p for p, st in self._adopted().items() if st != "Z"]
                if not alive:
                    return
                for pid in alive:
                    with contextlib.suppress(ProcessLookupError):
                        group = os.getpgid(pid)
                        if group != own_group:
                            os.killpg(group, sig)
                        else:
                            os.kill(pid, sig)
                time.sleep(0.2)

    def check(self, now: float | None = None) -> None:
        """Notice exits, schedule restarts with back-off, restart those due, give up on loops."""
        now = time.monotonic() if now is None else now
        self._reap_adopted()
        for child in list(self.children.values()):
            if child.state == "running":
                if child.running():
                    continue
                code = child.exit_code()
                child.crashes = [t for t in child.crashes if now - t < self.window] + [now]
                how = f"exited with code {code}" if code is not None else "ended"
                if len(child.crashes) > self.limit:
                    child.state = "failed"
                    self._event(
                        child,
                        "failed",
                        f"{how}; gave up after {len(child.crashes)} crashes within "
                        f"{self.window:.0f}s ({child.restarts} restarts); see "
                        f"{self.settings.log_dir / (child.name + '.log')}",
                    )
                    continue
                first, longest = self.backoff
                delay = min(longest, first * 2 ** (len(child.crashes) - 1))
                child.state, child.restart_at = "restarting", now + delay
                self._event(child, "running", f"{how}; restarting in {delay:g}s")
            elif child.state == "restarting" and now >= child.restart_at:
                child.restarts += 1
                self._start(child)

    def stop(self) -> None:
        """Stop every process, last started first."""
        from easyquant.stack import _stop_group

        for child in reversed(list(self.children.values())):
            if child.state == "failed":  # given up on: nothing runs, the record stays
                continue
            if child.pid is not None and child.running():
                _stop_group(child.pid, grace=STOP_GRACE.get(child.name, 20.0))
            if child.proc is not None:
                child.proc.poll()
            child.state = "stopped"
            (self.settings.run_dir / f"{child.name}.pid").unlink(missing_ok=True)
            self._event(child, "stopped", "stopped by make down")
        self._stop_adopted()

    def run(self, poll: float = 0.5) -> None:
        """Supervise until ``stop_requested`` is set, then stop everything."""
        self.subreaper = self.subreaper and _become_subreaper()
        self.load()
        beat = time.monotonic()
        try:
            while not self.stop_requested.wait(poll):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.load()
                self.check()
                if time.monotonic() - beat >= HEARTBEAT:
                    beat = time.monotonic()
                    self.heartbeat()
        finally:
            self.stop()
            if self._writer is not None:
                self._writer.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    supervisor = Supervisor(load_settings())
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: supervisor.stop_requested.set())
    signal.signal(signal.SIGHUP, lambda *_: supervisor.reload_requested.set())
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
