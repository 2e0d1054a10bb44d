"""Fault injection: kill -9 the live service at random points and at chosen crash points
(between writing an order and the venue's answer, between the answer and recording it, around
storing bars), restart it each time, and require the final ledger to equal an uninterrupted run
on the same bars, with no client order id ever sent twice."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from easyquant.live.service import LiveService
from tests.unit.live.support import (
    check_ledger,
    cli_args,
    lake_fixture,
    one,
    sma_replay,
    spawn_live,
)

SYMBOLS = ["AAA", "BBB"]
ARGS = cli_args(SYMBOLS, end="2022-12-31", heartbeat="1")
# 1.5 million x real time: a daily bar every ~0.06 s, so random kills land mid-session
PACED = ["--speed", "1500000"]
RANDOM_KILLS = 20
HOOKS = [
    ("after_write_ahead", 1),
    ("after_submit", 1),
    ("after_write_ahead", 3),
    ("after_submit", 4),
    ("after_record", 2),
    ("before_flush", 1),
    ("after_flush", 2),
    ("after_submit", 2),
]
# crash points around storing a group of bars are reached as fast as possible (bars are then
# stored in groups); the others at the replay's pace
FAST_HOOKS = ("before_flush", "after_flush")


lake = lake_fixture(SYMBOLS, end="2022-12-31")


def _running(db, session: str, pid: int) -> bool:
    return (
        one(
            db,
            "SELECT pid = %s AND state = 'running' FROM live_session WHERE id = %s",
            pid,
            session,
        )
        is True
    )


@pytest.mark.slow
def test_kill_9_at_random_points_and_crash_points_loses_and_duplicates_nothing(lake, db):
    rng = random.Random(20261124)
    session = "faults"
    random_kills = hook_kills = 0
    hooks_fired: list[str] = []
    progress: list[int] = []  # bars stored at each random kill
    finished = False
    plan = [("random", None)] * RANDOM_KILLS
    for i, hook in enumerate(HOOKS):  # spread the crash points over the session
        plan.insert(2 + i * 3, ("hook", hook))
    for kind, hook in plan:
        crash = f"{hook[0]}:{hook[1]}" if hook else None
        fast = kind == "hook" and hook is not None and hook[0] in FAST_HOOKS
        proc = spawn_live(lake, session, [*ARGS, *(["--speed", "max"] if fast else PACED)], crash)
        try:
            if kind == "hook":
                code = proc.wait(timeout=120)
                if code == -signal.SIGKILL:
                    hook_kills += 1
                    hooks_fired.append(hook[0])  # type: ignore[index]
                else:
                    assert code == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    finished = True
                    break
                continue
            deadline = time.monotonic() + 60
            while not _running(db, session, proc.pid):
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.05, 1.0))
            if proc.poll() is not None:
                assert proc.returncode == 0
                finished = True
                break
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
            random_kills += 1
            progress.append(one(db, "SELECT bars FROM live_session WHERE id = %s", session))
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    assert not finished, "the session ended before every kill: slow the replay down"
    assert random_kills >= RANDOM_KILLS
    # the kills landed while bars were being processed, at many different points
    assert len(set(progress)) >= RANDOM_KILLS // 2, progress
    assert progress[-1] < 700, progress  # and before the end (753 timestamps)
    assert hook_kills == len(HOOKS)
    assert {"after_write_ahead", "after_submit", "after_record"} <= set(hooks_fired)

    # restart once more and let it finish, uninterrupted
    proc = spawn_live(lake, session, [*ARGS, "--speed", "max"])
    assert proc.wait(timeout=180) == 0, proc.stderr.read().decode()[-3000:]  # type: ignore
    assert one(db, "SELECT state FROM live_session WHERE id = %s", session) == "success"
    assert (
        one(
            db,
            "SELECT count(*) FROM live_order WHERE session = %s AND state IN ('new', 'open')",
            session,
        )
        == 0
    )
    # a crash after the venue answered was reconciled from the venue's ledger, not re-sent
    assert one(
        db, "SELECT count(*) FROM live_event WHERE session = %s AND kind = 'reconcile'", session
    ) >= hooks_fired.count("after_submit")
    assert (
        one(
            db,
            "SELECT count(*) FROM live_event WHERE session = %s AND kind = 'reconcile_mismatch'",
            session,
        )
        == 0
    )

    cfg = sma_replay("reference", symbols=SYMBOLS, end="2022-12-31")
    assert LiveService(cfg, lake).run() == "success"
    interrupted = check_ledger(db, session)  # also: no client order id sent twice
    reference = check_ledger(db, "reference")
    assert len(reference["fills"]) > 50
    assert interrupted == reference
    assert one(db, "SELECT count(*) FROM live_bar WHERE session = %s", session) == one(
        db, "SELECT count(*) FROM live_bar WHERE session = 'reference'"
    )
    eq = one(db, "SELECT equity FROM live_session WHERE id = %s", session)
    assert eq == pytest.approx(
        one(db, "SELECT equity FROM live_session WHERE id = 'reference'"), rel=1e-12
    )


BREACH = ["--end", "2020-12-31", "--max-daily-loss", "1500", "--flatten-on-breach"]


def _session_state(db, session: str) -> tuple:
    return one(
        db,
        "SELECT halted, halt_reason, flatten_requested, engine_state, bars, equity "
        "FROM live_session WHERE id = %s",
        session,
    )


@pytest.mark.slow
@pytest.mark.parametrize("crash", ["after_halt:1", "after_flatten:1"])
def test_a_crash_around_a_breach_changes_nothing(lake, db, crash):
    # the reference: the same session, uninterrupted
    cfg = sma_replay(
        "breach_ref",
        symbols=SYMBOLS,
        end="2020-12-31",
        risk={"max_daily_loss": 1500.0, "flatten_on_breach": True},
    )
    assert LiveService(cfg, lake).run() == "success"
    ref = _session_state(db, "breach_ref")
    assert ref[0] is True and "max_daily_loss" in ref[1] and ref[2] is False
    flat = one(
        db, "SELECT min(bar_ts) FROM live_order WHERE session = 'breach_ref' AND phase = 'x'"
    )
    assert flat is not None  # the breach came with positions: they were flattened
    assert ref[3]["flattened"] is True

    # killed right after the breach halted it (before its bar was stored), or right after
    # the flatten orders (before the bar that sent them was stored); then restarted
    session = "breach_" + crash.split(":")[0]
    proc = spawn_live(lake, session, [*ARGS, "--speed", "max", *BREACH], crash)
    assert proc.wait(timeout=120) == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    proc = spawn_live(lake, session, [*ARGS, "--speed", "max", *BREACH])
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    got = _session_state(db, session)
    assert got[:3] == ref[:3] and got[3] == ref[3] and got[4] == ref[4]
    assert got[5] == pytest.approx(ref[5], rel=1e-12)
    assert check_ledger(db, session) == check_ledger(db, "breach_ref")
    assert (
        one(db, "SELECT min(bar_ts) FROM live_order WHERE session = %s AND phase = 'x'", session)
        == flat
    )
