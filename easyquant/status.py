"""The one way anything reports status: Airflow tasks, the live service, backtests and the CLI.

A *component* is one row (an Airflow task try, a DAG run, a live session, a backtest, a CLI job)
with kind, name, state, progress 0..1, message, metrics, attributes and times. Every change is one
statement, hence one transaction: upsert the row, append an event, ``NOTIFY easyquant_status``
with the component id. The websocket bridge re-reads the row and pushes it to the dashboard.

A slow or unreachable database never breaks the caller's work: writes retry briefly, then log a
warning and return False; after a failure, writes are skipped for a short back-off window so a
trading loop is not slowed by repeated connection attempts.

    from easyquant import status

    with status.track("cli", "ingest AAA", heartbeat_interval=10) as job:
        job.progress(0.5, "half way", rows=1000)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, get_args

import psycopg2
import psycopg2.extensions

from easyquant.config import Settings, get_settings

log = logging.getLogger(__name__)

CHANNEL = "easyquant_status"
#: The one state vocabulary: components, backtest runs and live sessions.
State = Literal["queued", "running", "success", "failed", "stopped"]
STATES: tuple[str, ...] = get_args(State)
TERMINAL = ("success", "failed", "stopped")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_HOST = re.compile(r"[^\x00-\x20\x7f]{1,255}")

_UPSERT = (
    """
WITH up AS (
    INSERT INTO component AS c (id, kind, name, state, progress, message, metrics, attrs, url,
                                parent_id, host, heartbeat_interval, started_at, finished_at)
    VALUES (%(id)s, %(kind)s, %(name)s, COALESCE(%(state)s, 'running'), %(progress)s,
            COALESCE(%(message)s, ''), COALESCE(%(metrics)s::jsonb, '{}'::jsonb),
            COALESCE(%(attrs)s::jsonb, '{}'::jsonb), %(url)s, %(parent_id)s, %(host)s,
            COALESCE(%(interval)s, 60),
            CASE WHEN COALESCE(%(state)s, 'running') <> 'queued' THEN clock_timestamp() END,
            CASE WHEN %(state)s IN ('success', 'failed', 'stopped') THEN clock_timestamp() END)
    ON CONFLICT (id) DO UPDATE SET
        kind = EXCLUDED.kind,
        name = EXCLUDED.name,
        state = COALESCE(%(state)s, c.state),
        progress = COALESCE(%(progress)s, c.progress),
        message = COALESCE(%(message)s, c.message),
        metrics = c.metrics || COALESCE(%(metrics)s::jsonb, '{}'::jsonb),
        attrs = c.attrs || COALESCE(%(attrs)s::jsonb, '{}'::jsonb),
        url = COALESCE(%(url)s, c.url),
        parent_id = COALESCE(%(parent_id)s, c.parent_id),
        host = COALESCE(%(host)s, c.host),
        heartbeat_interval = COALESCE(%(interval)s, c.heartbeat_interval),
        started_at = CASE
            WHEN %(state)s = 'running' AND c.state <> 'running' THEN clock_timestamp()
            WHEN c.started_at IS NULL AND COALESCE(%(state)s, c.state) <> 'queued'
                THEN clock_timestamp()
            ELSE c.started_at END,
        finished_at = CASE
            WHEN %(state)s IN ('success', 'failed', 'stopped') THEN clock_timestamp()
            WHEN %(state)s IN ('queued', 'running') THEN NULL
            ELSE c.finished_at END,
        heartbeat_at = clock_timestamp(),
        updated_at = clock_timestamp(),
        seq = nextval('component_seq')
    RETURNING id, state, progress, message
), ev AS (
    INSERT INTO component_event (component_id, state, progress, message, metrics)
    SELECT id, state, progress, message, COALESCE(%(metrics)s::jsonb, '{}'::jsonb)
    FROM up WHERE %(event)s
)
SELECT pg_notify('"""
    + CHANNEL
    + """', id) FROM up
"""
)


def _json(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(dict(value), default=str, allow_nan=False)


def _clean_metrics(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Replace non-finite floats (not valid JSON) by None."""
    if value is None:
        return None
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif isinstance(v, Mapping):
            v = _clean_metrics(v)
        elif hasattr(v, "item") and callable(v.item):  # numpy scalars
            v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
        out[str(k)] = v
    return out


class StatusWriter:
    """Write component status to PostgreSQL over one lazily opened connection per process."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        retries: int = 3,
        backoff: float = 0.1,
        pause_after_failure: float = 5.0,
        statement_timeout_ms: int = 2000,
    ) -> None:
        self._settings = settings
        self.retries = retries
        self.backoff = backoff
        self.pause_after_failure = pause_after_failure
        self.statement_timeout_ms = statement_timeout_ms
        self._conn: psycopg2.extensions.connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._skip_until = 0.0

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    def _connection(self) -> psycopg2.extensions.connection:
        if self._pid != os.getpid():  # forked: never share the parent's socket
            self._conn = None
            self._pid = os.getpid()
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(
                self.settings.dsn(),
                connect_timeout=2,
                application_name="easyquant-status",
                options=f"-c statement_timeout={self.statement_timeout_ms}",
            )
            self._conn.autocommit = True  # each write is one statement, hence one transaction
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._conn.close()
        self._conn = None

    def write(
        self,
        component_id: str,
        *,
        kind: str,
        name: str,
        state: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
        url: str | None = None,
        parent_id: str | None = None,
        host: str | None = None,
        heartbeat_interval: float | None = None,
        event: bool = True,
    ) -> bool:
        """Upsert one component, append an event (unless ``event=False``) and notify.

        ``host`` is the machine or worker the component runs on (an Airflow task try: the
        hostname Airflow records for its task instance); None keeps the stored one.

        Return True when stored, False when the database could not be reached in time.
        Raise ValueError for arguments no database could accept (unknown state, bad kind).
        """
        if state is not None and state not in STATES:
            raise ValueError(f"status state: expected one of {STATES}, got {state!r}")
        if not _KIND.match(kind):
            raise ValueError(f"status kind: expected lower_snake_case, got {kind!r}")
        if not component_id or len(component_id) > 1000:
            raise ValueError("status component_id: expected 1 to 1000 characters")
        if progress is not None:
            progress = None if not math.isfinite(progress) else min(1.0, max(0.0, progress))
        if host is not None and not _HOST.fullmatch(host):
            raise ValueError(
                f"status host: expected 1 to 255 printable characters, got {host[:60]!r}"
            )
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise ValueError(f"status heartbeat_interval: must be > 0, got {heartbeat_interval}")
        params = {
            "id": component_id,
            "kind": kind,
            "name": name[:500] or component_id[:500],
            "state": state,
            "progress": progress,
            "message": None if message is None else message[:4000],
            "metrics": _json(_clean_metrics(metrics)),
            "attrs": _json(_clean_metrics(attrs)),
            "url": url,
            "parent_id": parent_id,
            "host": host,
            "interval": heartbeat_interval,
            "event": event,
        }
        return self._execute(params)

    def _execute(self, params: dict[str, Any]) -> bool:
        with self._lock:
            if time.monotonic() < self._skip_until:
                return False
            delay = self.backoff
            for attempt in range(1, self.retries + 1):
                try:
                    with self._connection().cursor() as cur:
                        cur.execute(_UPSERT, params)
                    return True
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                    self._drop()
                    if attempt == self.retries:
                        log.warning(
                            "status of %s not stored (database unreachable: %s); carrying on",
                            params["id"],
                            str(exc).strip().splitlines()[0] if str(exc) else exc,
                        )
                        self._skip_until = time.monotonic() + self.pause_after_failure
                        return False
                    time.sleep(delay)
                    delay *= 3
                except psycopg2.Error as exc:
                    # a rejected row (constraint) is a bug in the caller's values, not an outage
                    log.warning("status of %s rejected by the database: %s", params["id"], exc)
                    self._drop()
                    return False
        return False

    def close(self) -> None:
        with self._lock:
            self._drop()


_default: StatusWriter | None = None
_default_lock = threading.Lock()


def default_writer() -> StatusWriter:
    """Return the process-wide writer, built from the environment's settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = StatusWriter()
        return _default


def set_default_writer(writer: StatusWriter | None) -> None:
    """Replace the process-wide writer (tests and services that own their settings)."""
    global _default
    with _default_lock:
        if _default is not None and _default is not writer:
            _default.close()
        _default = writer


def report(component_id: str, *, kind: str, name: str, **fields: Any) -> bool:
    """Write one status change of a component (see StatusWriter.write for the fields)."""
    return default_writer().write(component_id, kind=kind, name=name, **fields)


class Tracker:
    """A running component: report progress, metrics and heartbeats; finish it."""

    def __init__(
        self,
        component_id: str,
        kind: str,
        name: str,
        *,
        heartbeat_interval: float = 60.0,
        writer: StatusWriter | None = None,
    ) -> None:
        self.id = component_id
        self.kind = kind
        self.name = name
        self.heartbeat_interval = heartbeat_interval
        self.writer = writer or default_writer()
        self.state = "queued"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, **fields: Any) -> bool:
        if "state" in fields and fields["state"] is not None:
            self.state = fields["state"]
        return self.writer.write(self.id, kind=self.kind, name=self.name, **fields)

    def progress(self, fraction: float, message: str | None = None, **metrics: Any) -> bool:
        """Report progress 0..1, optionally with a message and metrics."""
        return self.update(progress=fraction, message=message, metrics=metrics or None)

    def message(self, text: str) -> bool:
        return self.update(message=text)

    def metrics(self, **metrics: Any) -> bool:
        """Merge metrics into the component's metrics."""
        return self.update(metrics=metrics)

    def heartbeat(self, **metrics: Any) -> bool:
        """Say "still alive" (optionally with fresh metrics) without adding an event."""
        return self.update(metrics=metrics or None, event=False)

    def finish(self, state: str = "success", message: str | None = None, **metrics: Any) -> bool:
        if state not in TERMINAL:
            raise ValueError(f"finish state: expected one of {TERMINAL}, got {state!r}")
        self.stop_heartbeats()
        progress = 1.0 if state == "success" else None
        return self.update(state=state, message=message, progress=progress, metrics=metrics or None)

    def start_heartbeats(self) -> None:
        """Send a heartbeat every interval from a background thread until finished."""
        if self._thread is not None:
            return
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(self.heartbeat_interval):
                self.heartbeat()

        self._thread = threading.Thread(target=beat, name=f"heartbeat-{self.id}", daemon=True)
        self._thread.start()

    def stop_heartbeats(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        self._thread = None


@contextmanager
def track(
    kind: str,
    name: str,
    *,
    component_id: str | None = None,
    heartbeat_interval: float = 60.0,
    message: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    url: str | None = None,
    parent_id: str | None = None,
    auto_heartbeat: bool = True,
    writer: StatusWriter | None = None,
) -> Iterator[Tracker]:
    """Report a block of work as a running component: success when it ends, failed if it raises.

    The failure message is the exception's type and message; the exception propagates.
    """
    cid = component_id or f"{kind}:{name}:{os.getpid()}:{time.time_ns()}"
    tracker = Tracker(cid, kind, name, heartbeat_interval=heartbeat_interval, writer=writer)
    tracker.update(
        state="running",
        progress=0.0,
        message=message or "",
        attrs=attrs,
        url=url,
        parent_id=parent_id,
        heartbeat_interval=heartbeat_interval,
    )
    if auto_heartbeat:
        tracker.start_heartbeats()
    try:
        yield tracker
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            tracker.finish("stopped", f"{type(exc).__name__}")
        else:
            tracker.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    else:
        if tracker.state not in TERMINAL:
            tracker.finish("success")
    finally:
        tracker.stop_heartbeats()
