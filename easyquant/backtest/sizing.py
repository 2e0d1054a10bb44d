"""How many grid points one mapped task of the backtest DAG runs.

Every mapped task pays Airflow's fixed cost (a worker picks the task up, starts a process,
imports EasyQuant, reads the bars) before its first point, so one point per task wastes most of
a sweep on overhead when a point takes milliseconds. Too few, large tasks leave workers idle and
lose a lot of work when a worker dies. :func:`points_per_task` balances the two:

1. **Overhead bound**: the smallest batch whose work is at least ``1 / overhead_share`` times
   the per-task overhead (5 %: a batch works at least 20 x as long as its overhead):
   ``ceil(overhead / (overhead_share * point_seconds))``.
2. **Spread bound**: the largest batch that still gives every task slot (``workers``: the
   tasks Airflow runs at once) ``waves`` tasks: ``ceil(points / (workers * waves))``. One wave
   by default: measured on the Celery stack (``bench/celery_overhead.py``), a task's fixed
   cost is about 3 s against milliseconds a point, so every further wave of a cheap grid adds
   that cost again; expensive points meet the overhead bound first and spread further anyway.
3. The batch is the smaller of the two, raised to ``ceil(points / max_tasks)`` so Airflow can
   map it, and kept within 1 .. ``MAX_BATCH``.

Params' ``points_per_task`` wins over all of this when set. The cost of one point is measured
by the DAG's plan step (:func:`measure_point`), on the request's own data and strategy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from easyquant.errors import ConfigError

#: Airflow refuses to map a task over more items than ``[core] max_map_length`` (1024).
MAX_TASKS = 1024
#: The largest batch a request may ask for.
MAX_BATCH = 5000
#: Fixed cost of one mapped task in seconds (queueing, process start, imports, reading bars);
#: measured on this project's stack as a few seconds, taken at its upper end.
TASK_OVERHEAD = 3.0
#: The share of a task's time the overhead may take.
OVERHEAD_SHARE = 0.05
#: Tasks per task slot the spread bound aims for.
WAVES = 1


def points_per_task(
    points: int,
    point_seconds: float,
    workers: int,
    *,
    requested: int | None = None,
    overhead: float = TASK_OVERHEAD,
    overhead_share: float = OVERHEAD_SHARE,
    waves: int = WAVES,
    max_tasks: int = MAX_TASKS,
) -> int:
    """Return the grid points per mapped task for ``points`` points that take
    ``point_seconds`` each on ``workers`` workers (``requested``: the Params' choice, kept).

    Raise ConfigError naming the argument when one is out of range."""
    _check("points", points, 0)
    _check("workers", workers, 1)
    _check("waves", waves, 1)
    _check("max_tasks", max_tasks, 1)
    if not math.isfinite(point_seconds) or point_seconds < 0:
        raise ConfigError(f"point_seconds: expected a finite number >= 0, got {point_seconds!r}")
    if not math.isfinite(overhead) or overhead < 0:
        raise ConfigError(f"overhead: expected a finite number >= 0, got {overhead!r}")
    if not 0 < overhead_share <= 1:
        raise ConfigError(f"overhead_share: expected a share in (0, 1], got {overhead_share!r}")
    if requested is not None:
        _check("requested", requested, 1)
        return int(requested)
    if points <= 1:
        return 1
    if point_seconds > 0:
        by_overhead = math.ceil(overhead / (overhead_share * point_seconds))
    else:
        by_overhead = points  # free points: overhead is all there is
    by_spread = math.ceil(points / (workers * waves))
    size = max(min(by_overhead, by_spread), math.ceil(points / max_tasks), 1)
    return min(size, MAX_BATCH, points)


def _check(name: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name}: expected a whole number >= {least}, got {value!r}")


def measure_point(run: Callable[[], object], repeat: int = 2) -> float:
    """Return the seconds one call of ``run`` takes: the fastest of ``repeat`` calls after a
    first one that warms caches (numba's compiled kernel, the strategy's imports)."""
    if repeat < 1:
        raise ConfigError(f"repeat: expected a whole number >= 1, got {repeat!r}")
    run()
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best
