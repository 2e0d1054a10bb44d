"""Process helpers shared by the lake's temp-file ownership and the stack's pid files."""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Yield ``(pid, fields)`` for every process: the fields of ``/proc/PID/stat`` after the
    command name (state, ppid, pgrp, ...)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                yield int(entry), fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


def pid_alive(pid: int) -> bool:
    """Return True when process ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _start_ticks(pid: int) -> int | None:
    """Return when ``pid`` started (clock ticks after boot), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@functools.cache
def node_id() -> str:
    """Name this process's view of processes: host, boot and PID namespace.

    Two processes with equal node ids see the same pids; a worker on another host, after a
    reboot or in another container (PID namespace) gets another id, so its pids mean nothing
    here.
    """
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:  # no /proc: the host name alone (pids are then judged by age only elsewhere)
        parts.append("?")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def owner_token() -> str:
    """Name the running process across hosts: ``<node id>.<pid>.<start ticks>``."""
    pid = os.getpid()
    return f"{node_id()}.{pid}.{_start_ticks(pid) or 0}"


def owner_gone(token: str, age: float, max_age: float) -> bool:
    """Return True when the owner named by ``token`` (see :func:`owner_token`) has ended.

    An owner on this node is judged by its pid and start time (a reused pid is another
    process). An owner elsewhere, or a token that is not one, cannot be looked up from here:
    it counts as gone only once its file is older than ``max_age`` seconds.
    """
    node, _, rest = token.partition(".")
    pid, _, ticks = rest.partition(".")
    if node == node_id() and pid.isdigit() and ticks.isdigit():
        return not pid_alive(int(pid)) or _start_ticks(int(pid)) != int(ticks)
    return age > max_age
