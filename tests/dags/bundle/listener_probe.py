"""A small DAG for the listener test: a plain task, a mapped task, a failing one, and a victim."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["test"]
)
def listener_probe():
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def square(x: int) -> int:
        return x * x

    @task(retries=0)
    def boom(values: list[int]) -> None:
        raise ValueError(f"refusing {sum(values)}")

    @task
    def never(_: None) -> None:
        pass

    squares = square.expand(x=numbers())
    never(boom(squares))


listener_probe()
