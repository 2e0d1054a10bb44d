"""The status store: one transaction per change, events appended, NOTIFY sent, failures survived."""

from __future__ import annotations

import select
import time

import pytest

from easyquant import status, status_queries
from easyquant.config import load_settings


def rows(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_report_upserts_row_appends_event_and_notifies(db, pg_settings):
    listener = status_queries.listen(pg_settings)
    assert status.report("job-1", kind="cli", name="ingest", state="running", progress=0.25)
    assert status.report("job-1", kind="cli", name="ingest", progress=0.5, metrics={"rows": 7})
    payloads: list[str] = []
    deadline = time.monotonic() + 5
    while len(payloads) < 2 and time.monotonic() < deadline:
        if select.select([listener], [], [], 0.5)[0]:
            listener.poll()
            payloads += [n.payload for n in listener.notifies]
            listener.notifies.clear()
    assert payloads == ["job-1", "job-1"]
    (row,) = rows(db, "SELECT state, progress, metrics, started_at IS NOT NULL FROM component")
    assert row == ("running", 0.5, {"rows": 7}, True)
    events = rows(db, "SELECT state, progress FROM component_event ORDER BY id")
    assert events == [("running", 0.25), ("running", 0.5)]
    listener.close()
    # the read side monitor_api goes through sees the same
    read = status_queries.component_events(db, "job-1")
    assert [(e["state"], e["progress"]) for e in read] == events[::-1]  # newest first
    assert read[0]["metrics"] == {"rows": 7} and isinstance(read[0]["at"], str)
    assert status_queries.component_events(db, "job-1", limit=1) == read[:1]
    (comp,) = status_queries.fetch_components(db, ids=["job-1"])
    assert (comp["state"], comp["progress"], comp["stale"]) == ("running", 0.5, False)
    assert status_queries.fetch_components(db, kind="cli", state="failed") == []
    assert status_queries.database_answers(db)


def test_track_marks_failure_with_exception_message(db):
    with pytest.raises(RuntimeError), status.track("backtest", "demo", component_id="bt-1"):
        raise RuntimeError("no data for AAA")
    (row,) = rows(db, "SELECT state, message, finished_at IS NOT NULL FROM component")
    assert row == ("failed", "RuntimeError: no data for AAA", True)


def test_track_success_sets_full_progress_and_heartbeats(db):
    with status.track("cli", "sweep", component_id="cli-1", heartbeat_interval=0.05) as job:
        time.sleep(0.3)
        job.progress(0.4, "running", points=10)
    (row,) = rows(db, "SELECT state, progress, metrics FROM component WHERE id = 'cli-1'")
    assert row == ("success", 1.0, {"points": 10})
    # heartbeats move heartbeat_at but add no events: only start, progress and finish are events
    assert rows(db, "SELECT count(*) FROM component_event")[0][0] == 3


def test_bad_arguments_are_refused_before_the_database(db):
    with pytest.raises(ValueError, match="state"):
        status.report("x", kind="cli", name="x", state="exploded")
    with pytest.raises(ValueError, match="kind"):
        status.report("x", kind="Bad Kind", name="x")
    assert rows(db, "SELECT count(*) FROM component")[0][0] == 0


def test_host_is_stored_kept_and_served_and_a_bad_one_refused(db):
    assert status.report("t-1", kind="task", name="t", state="running", host="worker1@box")
    # a later change that does not name the host keeps it
    assert status.report("t-1", kind="task", name="t", state="success")
    (comp,) = status_queries.fetch_components(db, ids=["t-1"])
    assert (comp["state"], comp["host"]) == ("success", "worker1@box")
    for bad in ("", "two words", "tab\there", "line\n", "x" * 256):
        with pytest.raises(ValueError, match="status host"):
            status.report("t-1", kind="task", name="t", state="failed", host=bad)
    assert rows(db, "SELECT state, host FROM component") == [("success", "worker1@box")]
    assert rows(db, "SELECT count(*) FROM component_event")[0][0] == 2
    status.report("t-2", kind="cli", name="no host")
    assert status_queries.fetch_components(db, ids=["t-2"])[0]["host"] is None


def test_unreachable_database_does_not_break_the_caller(pg_settings):
    closed = load_settings(home=pg_settings.home, database_url="postgresql://u@127.0.0.1:1/none")
    writer = status.StatusWriter(closed, retries=2, backoff=0.01, pause_after_failure=30)
    started = time.monotonic()
    assert writer.write("x", kind="cli", name="x", state="running") is False
    # within the pause window, writes are skipped at once
    assert writer.write("x", kind="cli", name="x", state="running") is False
    assert time.monotonic() - started < 5
    with status.track("cli", "offline", writer=writer) as job:
        job.progress(0.5)
    assert job.state == "success"


def test_value_the_database_rejects_is_logged_not_raised(db, pg_settings, caplog):
    writer = status.StatusWriter(pg_settings)
    # jsonb refuses the NUL character: the write fails in PostgreSQL, not in Python
    assert writer.write("y", kind="cli", name="y", metrics={"s": "a\x00b"}) is False
    assert "rejected by the database" in caplog.text
    assert rows(db, "SELECT count(*) FROM component")[0][0] == 0
    # the writer carries on with the next, valid write
    assert writer.write("y", kind="cli", name="y", metrics={"s": "ab"}) is True
    assert rows(db, "SELECT metrics FROM component")[0][0] == {"s": "ab"}
