"""What the DAGs in ``dags/`` share: status reporting per task, and failing fast on bad input.

:func:`run_task` is a task's whole body: it reports the task as a status component, calls the
area's step function (which finishes the component with its summary and returns the task's
XCom value) and fails at once, without retries, on input no retry can fix.

DAG files stay thin and import this inside their tasks; nothing here imports Airflow at module
level, so the CLI and tests can import easyquant without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from easyquant import status
from easyquant.errors import ConfigError, DataError

T = TypeVar("T")
BAD_INPUT: tuple[type[BaseException], ...] = (ConfigError, DataError)


@contextmanager
def task_status(kind: str, dag_id: str, step: str) -> Iterator[status.Tracker]:
    """Report the running Airflow task as one ``kind`` component per task and map index.

    The component's parent is the DAG run's component (written by the listener plugin), and it
    is marked failed with the exception's message when the block raises.
    """
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    run_id = ti.run_id
    map_index = int(ti.map_index if ti.map_index is not None else -1)
    name = f"{dag_id}.{step}" + (f"[{map_index}]" if map_index >= 0 else "")
    with status.track(
        kind,
        name,
        component_id=f"{kind}:{dag_id}:{run_id}:{ti.task_id}:{map_index}",
        heartbeat_interval=30.0,
        parent_id=f"dag_run:{dag_id}:{run_id}",
        attrs={
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": ti.task_id,
            "map_index": map_index,
            "try_number": int(ti.try_number or 0),
        },
    ) as job:
        yield job


def fail_fast_on_bad_input(
    exc: BaseException, kinds: tuple[type[BaseException], ...] = BAD_INPUT
) -> None:
    """Bad input is not transient: fail the task at once, without retries, with its message."""
    from airflow.sdk.exceptions import AirflowFailException

    if isinstance(exc, kinds):
        raise AirflowFailException(str(exc)) from exc


def run_task(
    kind: str,
    dag_id: str,
    step: str,
    fn: Callable[..., T],
    *args: Any,
    fail_fast: tuple[type[BaseException], ...] = BAD_INPUT,
    **kwargs: Any,
) -> T:
    """Run ``fn(tracker, *args, **kwargs)`` as the current task's ``step``: reported as a
    ``kind`` component (see :func:`task_status`); an exception of a ``fail_fast`` kind fails
    the task at once, without retries; ``fn`` finishes the tracker with its summary."""
    with task_status(kind, dag_id, step) as job:
        try:
            return fn(job, *args, **kwargs)
        except Exception as exc:
            fail_fast_on_bad_input(exc, fail_fast)
            raise
