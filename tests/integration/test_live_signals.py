"""SIGTERM: the service finishes the bar, persists and marks the session stopped; started again,
it continues with the next bar. Runs the synthetic live feed through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess

import pandas as pd
import pytest

from tests.conftest import wait_while_running
from tests.unit.live.support import check_ledger, one, rows, spawn_live

ARGS = [
    "--strategy",
    "sma_cross",
    "--symbols",
    "AAA,BBB",
    "--param",
    "fast=2",
    "--param",
    "slow=5",
    "--market",
    "crypto",
    "--feed",
    "synthetic",
    "--freq",
    "1m",
    "--speed",
    "600",
    "--start",
    "2024-03-01T00:00:00",
    "--heartbeat",
    "0.5",
]


def _start(pg_settings, session: str) -> subprocess.Popen[bytes]:
    return spawn_live(pg_settings, session, ARGS, stdout=subprocess.PIPE)


def _run_until(db, proc, session: str, bars: int) -> None:
    def enough() -> bool:
        return (one(db, "SELECT bars FROM live_session WHERE id = %s", session) or 0) >= bars

    wait_while_running(proc, enough, f"{session}: fewer than {bars} bars in 60 s")


def _stop(proc) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out.decode() + err.decode()


@pytest.mark.slow
def test_sigterm_finishes_the_bar_persists_and_marks_stopped(pg_settings, db):
    proc = _start(pg_settings, "sig1")
    _run_until(db, proc, "sig1", 12)
    code, output = _stop(proc)
    assert code == 0, output
    assert "session sig1: stopped" in output and "SIGTERM received" in output
    state, bars, last = one(
        db, "SELECT state, bars, last_bar_ts FROM live_session WHERE id = 'sig1'"
    )
    assert state == "stopped" and bars >= 12
    stored = rows(db, "SELECT ts FROM live_bar WHERE session = 'sig1' GROUP BY ts ORDER BY ts")
    assert len(stored) == bars and stored[-1][0] == last  # every processed bar was stored
    assert one(db, "SELECT max(ts) FROM live_equity WHERE session = 'sig1'") == last
    comp = one(db, "SELECT row_to_json(c) FROM component c WHERE id = 'live:sig1'")
    assert comp["state"] == "stopped" and comp["metrics"]["bars"] == bars
    assert comp["finished_at"] is not None
    assert (
        one(
            db,
            "SELECT count(*) FROM live_order WHERE session = 'sig1' AND state IN ('new', 'open')",
        )
        == 0
    )
    first = check_ledger(db, "sig1")
    assert first["fills"], "the fast SMA pair trades within a dozen bars"

    # started again: it continues with the next bar, none skipped, none twice
    proc = _start(pg_settings, "sig1")
    _run_until(db, proc, "sig1", bars + 6)
    code, output = _stop(proc)
    assert code == 0, output
    ts = pd.DatetimeIndex(
        [
            r[0]
            for r in rows(
                db, "SELECT ts FROM live_bar WHERE session = 'sig1' GROUP BY ts ORDER BY ts"
            )
        ]
    )
    assert ts[0] == pd.Timestamp("2024-03-01T00:00:00Z")
    assert (ts[1:] - ts[:-1] == pd.Timedelta(minutes=1)).all()
    assert one(db, "SELECT count(*) FROM live_bar WHERE session = 'sig1'") == 2 * len(ts)
    check_ledger(db, "sig1")
    assert one(db, "SELECT state FROM live_session WHERE id = 'sig1'") == "stopped"
