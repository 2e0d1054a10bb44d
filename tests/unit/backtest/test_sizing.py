"""Points per mapped task: the Params' choice wins; else the overhead bound for costly points,
one task per slot for cheap ones, Airflow's map limit for huge grids; bad arguments are refused
naming the argument."""

from __future__ import annotations

import math

import pytest

from easyquant.backtest.sizing import (
    MAX_BATCH,
    MAX_TASKS,
    OVERHEAD_SHARE,
    TASK_OVERHEAD,
    WAVES,
    measure_point,
    points_per_task,
)
from easyquant.errors import ConfigError


def test_params_choice_is_kept() -> None:
    assert points_per_task(400, 0.002, 2, requested=7) == 7
    assert points_per_task(3, 10.0, 8, requested=50) == 50


def test_cheap_points_are_batched_until_overhead_is_a_small_share() -> None:
    # 10,000 points of 2 ms on 2 slots: a task needs 3 s / (5% x 2 ms) = 30,000 points to
    # make the overhead 5%, more than spreading allows (5000 gives each slot one task)
    assert points_per_task(10_000, 0.002, 2) == 5000 == MAX_BATCH
    assert points_per_task(5000, 0.002, 2) == math.ceil(5000 / (2 * WAVES)) == 2500
    assert points_per_task(20_000, 0.002, 2) == MAX_BATCH
    # 10,000 points of 0.5 s: 120 points make the overhead 5%
    size = points_per_task(10_000, 0.5, 2)
    assert size == math.ceil(TASK_OVERHEAD / (OVERHEAD_SHARE * 0.5)) == 120
    work, overhead = size * 0.5, TASK_OVERHEAD
    assert overhead / (work + overhead) <= OVERHEAD_SHARE


def test_costly_points_run_one_a_task() -> None:
    # a point takes a minute: its overhead is small already
    assert points_per_task(400, 60.0, 2) == 1


def test_small_grids_spread_over_every_slot() -> None:
    # 16 cheap points on 2 slots: 8 points a task gives each slot a task
    assert points_per_task(16, 0.001, 2) == 8
    assert points_per_task(16, 0.001, 2, waves=4) == 2
    tasks = math.ceil(16 / points_per_task(16, 0.001, 2))
    assert tasks >= 2 * WAVES
    # fewer points than slots x waves: one point a task
    assert points_per_task(3, 0.001, 4) == 1
    assert points_per_task(1, 0.001, 4) == 1
    assert points_per_task(0, 0.001, 4) == 1


def test_more_workers_make_smaller_batches() -> None:
    sizes = [points_per_task(4000, 0.01, w) for w in (1, 2, 8, 32)]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] > sizes[-1]


def test_never_more_tasks_than_airflow_maps() -> None:
    for points in (MAX_TASKS + 1, 100_000, 1_000_000):
        size = points_per_task(points, 100.0, 4096)
        assert math.ceil(points / size) <= MAX_TASKS, points


def test_a_free_point_batches_all_it_may() -> None:
    assert points_per_task(400, 0.0, 2) == math.ceil(400 / (2 * WAVES))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points": -1}, "points: expected a whole number >= 0"),
        ({"workers": 0}, "workers: expected a whole number >= 1"),
        ({"workers": True}, "workers: expected a whole number >= 1"),
        ({"point_seconds": -0.1}, "point_seconds: expected a finite number >= 0"),
        ({"point_seconds": math.nan}, "point_seconds: expected a finite number >= 0"),
        ({"requested": 0}, "requested: expected a whole number >= 1"),
        ({"overhead": math.inf}, "overhead: expected a finite number >= 0"),
        ({"overhead_share": 0}, "overhead_share: expected a share in (0, 1]"),
        ({"waves": 0}, "waves: expected a whole number >= 1"),
        ({"max_tasks": 0}, "max_tasks: expected a whole number >= 1"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict, message: str) -> None:
    args = {"points": 100, "point_seconds": 0.01, "workers": 2} | kwargs
    with pytest.raises(ConfigError) as info:
        points_per_task(**args)
    assert str(info.value).startswith(message), str(info.value)


def test_measure_point_warms_up_then_takes_the_fastest() -> None:
    import time

    calls: list[int] = []

    # the first (warm-up) call is slow, like a cold numba compile; it is not counted
    def run() -> None:
        time.sleep(0.2 if not calls else 0.01)
        calls.append(1)

    seconds = measure_point(run, repeat=2)
    assert len(calls) == 3
    assert 0.01 <= seconds < 0.15
    with pytest.raises(ConfigError, match="repeat: expected a whole number >= 1"):
        measure_point(run, repeat=0)
