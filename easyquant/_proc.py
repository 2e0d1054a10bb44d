"""Process helpers shared by the lake's write lock and the stack's pid files."""

from __future__ import annotations

import os


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
