"""Airflow plugin: every DAG run and task-try state change becomes an EasyQuant status component.

Task hooks run in the task's own process (or the API server when a user marks a state); DAG-run
hooks run in the scheduler (or in-process under ``dag.test()``). Both report through
``easyquant.status``, imported lazily so loading the plugin stays cheap.

Component ids (see docs/contracts.md):
    dag_run:{dag_id}:{run_id}
    task:{dag_id}:{run_id}:{task_id}:{map_index}:{try_number}
"""

from __future__ import annotations

import logging
import sys
from typing import Any
from urllib.parse import quote

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

# Task states that never ran a try get one final component each, at DAG-run end.
_NOT_RUN = {"upstream_failed": "stopped", "skipped": "stopped", "removed": "stopped"}


def _base_url() -> str:
    from easyquant.config import get_settings

    return get_settings().airflow_base_url


def dag_run_id(dag_id: str, run_id: str) -> str:
    return f"dag_run:{dag_id}:{run_id}"


def task_id_of(dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
    return f"task:{dag_id}:{run_id}:{task_id}:{map_index}:{try_number}"


def _task_fields(ti: Any) -> dict[str, Any]:
    dag_id, run_id, task_id = ti.dag_id, ti.run_id, ti.task_id
    map_index = int(getattr(ti, "map_index", -1) if ti.map_index is not None else -1)
    try_number = int(getattr(ti, "try_number", 0) or 0)
    url = f"{_base_url()}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}"
    if map_index >= 0:
        url += f"/mapped/{map_index}"
    name = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index >= 0 else "")
    # the hostname Airflow records for the try: set (by its hostname_callable) before the task
    # runs, so a Celery worker's name under the CeleryExecutor; empty for a try that never ran
    host = str(getattr(ti, "hostname", None) or "").strip() or None
    return {
        "component_id": task_id_of(dag_id, run_id, task_id, map_index, try_number),
        "kind": "task",
        "name": name,
        "attrs": {
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": task_id,
            "map_index": map_index,
            "try_number": try_number,
        },
        "url": url,
        "parent_id": dag_run_id(dag_id, run_id),
        "host": host,
    }


def _report(fields: dict[str, Any], **changes: Any) -> None:
    try:
        from easyquant import status

        cid = fields.pop("component_id")
        status.report(cid, **fields, **changes)
    except Exception:  # a listener must never fail the task or the scheduler
        log.exception("easyquant listener could not report status")


def _task_event(
    ti: Any,
    state: str,
    message: str | None = None,
    attrs: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    fields = _task_fields(ti)
    fields["attrs"].update(attrs or {})
    progress = 1.0 if state == "success" else (0.0 if state == "running" else None)
    _report(fields, state=state, message=message, progress=progress, **extra)


@hookimpl
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _task_event(task_instance, "running", "running", heartbeat_interval=300.0)


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _task_event(task_instance, "success", "done")


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    state = str(getattr(task_instance, "state", "") or "")
    retry = state.endswith("up_for_retry")
    text = (
        f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error or "")
    )
    message = ("will retry: " if retry else "") + (text or "failed")
    _task_event(task_instance, "failed", message[:2000], attrs={"will_retry": retry})


@hookimpl
def on_task_instance_skipped(previous_state: Any, task_instance: Any) -> None:
    _task_event(task_instance, "stopped", "skipped")


def _dag_run_event(dag_run: Any, state: str, msg: str) -> None:
    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    fields: dict[str, Any] = {
        "component_id": dag_run_id(dag_id, run_id),
        "kind": "dag_run",
        "name": f"{dag_id} {run_id}",
        "attrs": {
            "dag_id": dag_id,
            "run_id": run_id,
            "run_type": str(getattr(dag_run, "run_type", "") or ""),
            "logical_date": str(getattr(dag_run, "logical_date", "") or ""),
            "conf": dict(getattr(dag_run, "conf", None) or {}),
        },
        "url": f"{_base_url()}/dags/{dag_id}/runs/{quote(run_id, safe='')}",
    }
    metrics: dict[str, Any] = {}
    if state != "running":
        metrics = _summarise_tasks(dag_run)
    _report(
        fields,
        state=state,
        message=msg or state,
        metrics=metrics or None,
        progress=1.0 if state == "success" else None,
        heartbeat_interval=3600.0,
    )


def _summarise_tasks(dag_run: Any) -> dict[str, Any]:
    """Count task states, and give never-run tasks (upstream failed, skipped) a component."""
    from sqlalchemy.orm import Session, object_session

    counts: dict[str, int] = {}
    # Read through the session the DAG run is bound to (in the scheduler: its own session,
    # mid-transaction, so this sees the states it is about to commit). Never through Airflow's
    # scoped session helpers: they would commit the scheduler's session under its locks, which
    # Airflow refuses and which stops the scheduler loop. A detached run (dag.test()) is read
    # through a private session of its own.
    bound = object_session(dag_run)
    try:
        if bound is not None:
            _count_tasks(dag_run.get_task_instances(session=bound), counts)
        else:
            from airflow import settings

            with Session(bind=settings.engine) as private:
                _count_tasks(dag_run.get_task_instances(session=private), counts)
    except Exception:
        log.exception("easyquant listener could not read task instances")
        return {}
    return {"tasks": counts}


def _count_tasks(tis: Any, counts: dict[str, int]) -> None:
    for ti in tis:
        state = str(getattr(ti.state, "value", ti.state) or "none")
        counts[state] = counts.get(state, 0) + 1
        if state in _NOT_RUN and int(ti.try_number or 0) == 0:
            _task_event(ti, _NOT_RUN[state], state.replace("_", " "))


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    _dag_run_event(dag_run, "running", msg)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _dag_run_event(dag_run, "success", msg)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _dag_run_event(dag_run, "failed", msg)


def _dashboard_url() -> str:
    try:
        from easyquant.config import get_settings

        settings = get_settings()
        return f"http://{settings.api_host}:{settings.api_port}/"
    except Exception:
        return "http://127.0.0.1:8000/"


class EasyQuantPlugin(AirflowPlugin):
    """Report DAG runs and task tries to EasyQuant's status store; link to the dashboard."""

    name = "easyquant"
    listeners = [sys.modules[__name__]]
    external_views = [
        {
            "name": "EasyQuant dashboard",
            "href": _dashboard_url(),
            "destination": "nav",
        }
    ]
