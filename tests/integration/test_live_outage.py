"""PostgreSQL going away for a few seconds under a running live session: trading pauses, the
outage is reported, and the session recovers without losing or duplicating anything."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest

from easyquant.config import Settings, load_settings
from easyquant.db import connect, ensure_ready
from easyquant.db.embedded import EmbeddedPostgres
from easyquant.live.service import LiveService
from tests.conftest import free_port, spawn_python, synthetic_lake, wait_while_running
from tests.unit.live.support import check_ledger, cli_args, one, sma_replay

SYMBOLS = ["AAA", "BBB"]


@pytest.fixture()
def own_server(tmp_path: Path):
    """A dedicated embedded PostgreSQL the test may stop and start."""
    settings = load_settings(
        home=tmp_path / "home", database_url=None, embedded_pg_port=free_port()
    )
    server = EmbeddedPostgres(settings)
    ensure_ready(settings)
    synthetic_lake(settings, SYMBOLS, ("2020-01-01", "2021-06-30"), seed=3)
    try:
        yield settings, server
    finally:
        server.stop(mode="immediate")


def _q(settings: Settings, sql: str, *args):
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_database_outage_pauses_trading_and_recovers_without_loss(own_server):
    settings, server = own_server
    env = dict(os.environ)
    env.pop("EASYQUANT_DATABASE_URL", None)
    env.pop("EASYQUANT_LIVE_CRASH", None)
    env["EASYQUANT_HOME"] = str(settings.home)
    env["EASYQUANT_EMBEDDED_PG_PORT"] = str(settings.embedded_pg_port)
    args = cli_args(SYMBOLS, end="2021-06-30", heartbeat="0.5")
    proc = spawn_python(
        ["-m", "easyquant.cli", "live", "--session", "outage", *args, "--speed", "1500000"],
        env,
        stdout=subprocess.PIPE,
    )

    def going() -> bool:
        try:
            got = _q(settings, "SELECT bars FROM live_session WHERE id = 'outage'")
        except Exception:
            got = []
        return bool(got) and got[0][0] >= 60

    try:
        wait_while_running(proc, going, "the session did not get going")
        server.stop(mode="immediate")  # the database goes away ...
        down = time.monotonic()
        time.sleep(3.0)
        assert proc.poll() is None, "the service must survive the outage"
        server.start()  # ... and comes back
        back = time.monotonic()
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert back - down >= 3.0
    log = err.decode()
    assert "trading paused" in log and "database unreachable for" in log

    assert _q(settings, "SELECT state FROM live_session WHERE id = 'outage'")[0][0] == "success"
    outages = _q(
        settings,
        "SELECT message, (detail->>'seconds')::float FROM live_event WHERE "
        "session = 'outage' AND kind = 'outage'",
    )
    assert len(outages) == 1 and outages[0][1] >= 2.5, outages
    # reported through status: the outage message and the count in the final metrics
    events = [
        r[0]
        for r in _q(
            settings,
            "SELECT message FROM component_event WHERE component_id = 'live:outage' ORDER BY id",
        )
    ]
    assert any(m.startswith("database unreachable for") for m in events), events
    comp = _q(settings, "SELECT state, metrics FROM component WHERE id = 'live:outage'")[0]
    assert comp[0] == "success" and comp[1]["db_outages"] == 1 and comp[1]["paused"] is False

    # nothing lost, nothing duplicated: the ledger equals an uninterrupted run on the same bars
    cfg = sma_replay("calm", symbols=SYMBOLS, end="2021-06-30")
    from easyquant import status

    writer = status.StatusWriter(settings)
    previous = status.default_writer()
    status.set_default_writer(writer)
    try:
        assert LiveService(cfg, settings).run() == "success"
    finally:
        status._default = previous  # the test run's writer, untouched
        writer.close()
    db = psycopg2.connect(settings.dsn())
    try:
        interrupted, calm = check_ledger(db, "outage"), check_ledger(db, "calm")
        assert len(calm["fills"]) > 30
        assert interrupted == calm
        assert one(db, "SELECT count(*) FROM live_bar WHERE session = 'outage'") == one(
            db, "SELECT count(*) FROM live_bar WHERE session = 'calm'"
        )
    finally:
        db.close()
