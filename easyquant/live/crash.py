"""Crash points: fault injection for the tests that kill the service between two steps."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from easyquant.errors import ConfigError

CRASH_ENV = "EASYQUANT_LIVE_CRASH"
CRASH_POINTS = (
    "after_write_ahead",
    "after_submit",
    "after_record",
    "after_cancel_write",
    "after_cancel",
    "after_poll",
    "before_flush",
    "after_flush",
    "after_halt",
    "after_flatten",
)


def crash_hook() -> Callable[[str], None]:
    """``EASYQUANT_LIVE_CRASH=point:n`` kills the process (SIGKILL) the n-th time it reaches
    ``point`` (one of CRASH_POINTS): fault-injection tests use it to crash exactly between
    writing an order and recording the venue's answer."""
    spec = os.environ.get(CRASH_ENV, "")
    if not spec:
        return lambda point: None
    point, _, n = spec.partition(":")
    if point not in CRASH_POINTS:
        raise ConfigError(f"{CRASH_ENV}: expected one of {', '.join(CRASH_POINTS)}, got {point!r}")
    target = int(n or 1)
    seen = {"n": 0}

    def hit(where: str) -> None:
        if where == point:
            seen["n"] += 1
            if seen["n"] >= target:
                os.kill(os.getpid(), signal.SIGKILL)

    return hit
