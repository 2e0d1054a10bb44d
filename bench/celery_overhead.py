"""Benchmark: a parameter sweep through Airflow with two Celery workers against the in-process
`easyquant sweep` with two threads, in the same run, on the same lake and database.

It starts the stack `make up EXECUTOR=celery WORKERS=2` starts (a scratch home: embedded
PostgreSQL, Redis, api-server, scheduler, dag-processor, triggerer, two workers, monitor_api)
and stops all of it at the end. For each size (400 = 20 x 20 points, 10,000 = 100 x 100
points of `sma_cross` on two years of daily bars of one symbol):

- in-process: ``easyquant sweep ... --json`` (a new process: imports, two threads, the points
  stored with their metrics), wall time from start to exit;
- Airflow: the ``easyquant_backtest`` DAG triggered through monitor_api, wall time from the
  trigger to the run's end (polled every 0.5 s), and where it went from the task instances
  Airflow records (queued, started, ended) and a probe of one point's compute and storage.

    .venv/bin/python bench/celery_overhead.py [--sizes 400,400,400,10000]
        [--points-per-task N] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from results import write_section  # noqa: E402

from tests.conftest import synthetic_lake  # noqa: E402
from tests.e2e.test_celery_workers import (  # noqa: E402
    COSTS,
    PERIOD,
    SYMBOL,
    Stack,
    task_instances,
    trigger,
    wait_run,
)

GRIDS = {
    400: {"fast": "2:21:1", "slow": "22:60:2"},
    10_000: {"fast": "2:101:1", "slow": "110:308:2"},
}
STEPS = ("validate", "plan", "run_points", "rank_and_store")


def when(value: str | None) -> float:
    return datetime.fromisoformat(str(value)).timestamp() if value else float("nan")


def in_process(stack: Stack, grid: dict[str, str]) -> dict[str, Any]:
    grid_args = [a for k, v in grid.items() for a in ("--grid", f"{k}={v}")]
    cost_args = [a for k, v in COSTS.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    t0 = time.perf_counter()
    out = stack.run(
        "-m", "easyquant.cli", "sweep", "--strategy", "sma_cross", "--symbols", SYMBOL,
        "--market", "us", *grid_args, *cost_args, "--json", timeout=3600,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    return {"wall": wall, "points": json.loads(out.strip().splitlines()[-1])["points"]}


def through_airflow(stack: Stack, grid: dict[str, str], per_task: int | None) -> dict[str, Any]:
    conf = {"strategy": "sma_cross", "symbols": [SYMBOL], "market": "us", "grid": grid} | COSTS
    if per_task:
        conf["points_per_task"] = per_task
    t0 = time.time()
    run_id = trigger(stack, conf)
    state = wait_run(stack, run_id, timeout=3600, poll=0.5)
    wall = time.time() - t0
    if state != "success":
        raise SystemExit(f"the Airflow sweep {run_id} ended {state}; see {stack.home}/logs")
    tis = task_instances(stack, run_id)
    steps: dict[str, list[dict]] = {s: [] for s in STEPS}
    for t in tis:
        steps[t["task_id"]].append(t)
    mapped = steps["run_points"]
    queued = [when(t["start_date"]) - when(t["queued_when"]) for t in mapped]
    ran = [when(t["end_date"]) - when(t["start_date"]) for t in mapped]
    first = min(when(t["queued_when"]) for t in tis)
    last = max(when(t["end_date"]) for t in tis)

    def span(step: str) -> float:
        (t,) = steps[step]
        return when(t["end_date"]) - when(t["start_date"])

    def gap(before: str, after: str) -> float:
        """From the end of ``before`` to the start of ``after`` (the scheduler's turn, the
        broker and a worker's pickup)."""
        ends = max(when(t["end_date"]) for t in steps[before])
        starts = min(when(t["start_date"]) for t in steps[after])
        return starts - ends

    return {
        "wall": wall,
        "tasks": len(mapped),
        "hosts": sorted({str(t["hostname"]).split("@")[0] for t in mapped}),
        "to_first_queue": first - t0,
        "validate": span("validate"),
        "plan": span("plan"),
        "mapped_span": max(when(t["end_date"]) for t in mapped)
        - min(when(t["start_date"]) for t in mapped),
        "task_mean": statistics.mean(ran),
        "queued_mean": statistics.mean(queued),
        "rank": span("rank_and_store"),
        "gaps": gap("validate", "plan")
        + gap("plan", "run_points")
        + gap("run_points", "rank_and_store"),
        "after_last": t0 + wall - last,
    }


def probe(stack: Stack, grid: dict[str, str], n: int = 40) -> dict[str, float]:
    """Seconds per point, in this process on the lake's data: the backtest alone, and storing
    it whole (metrics, trades, equity: a sweep's best point) and with its metrics alone (every
    point, on both paths)."""
    from easyquant.backtest.request import BacktestRequest
    from easyquant.backtest.runner import run_backtest
    from easyquant.backtest.service import load_benchmark, load_data
    from easyquant.backtest.store import finish_run, start_sweep
    from easyquant.db import connect

    settings = stack.settings()
    req = BacktestRequest.parse(
        {"strategy": "sma_cross", "symbols": [SYMBOL], "market": "us", "grid": grid} | COSTS
    )
    points = req.points()[:n]
    bars, bench = load_data(req, settings), load_benchmark(req, settings)
    cls, config = req.strategy_class(), req.config()
    run_backtest(cls(**points[0]), bars, config, benchmark=bench)  # warm up
    t0 = time.perf_counter()
    results = [run_backtest(cls(**p), bars, config, benchmark=bench) for p in points]
    compute = (time.perf_counter() - t0) / n
    parent = "bench-celery-probe"
    ids = [f"{parent}-{i}" for i in range(n)]
    conn = connect(settings)
    try:
        children = [
            (i, req.spec(p, kind="point", parent_id=parent))
            for i, p in zip(ids, points, strict=True)
        ]
        start_sweep(conn, parent, req.spec(req.search(), kind="sweep"), children)
        t0 = time.perf_counter()
        for rid, res in zip(ids, results, strict=True):
            finish_run(conn, rid, metrics=res.metrics, trades=res.trades, equity=res.equity,
                       final_equity=res.final_equity)  # fmt: skip
        full = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for rid, res in zip(ids, results, strict=True):
            finish_run(conn, rid, metrics=res.metrics)
        metrics_only = (time.perf_counter() - t0) / n
        with conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM backtest_run WHERE id = %s OR parent_id = %s", (parent, parent)
            )
    finally:
        conn.close()
    return {
        "compute": compute,
        "store_full": full,
        "store_metrics": metrics_only,
        "bars": len(bars),
    }


def fmt_range(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def report(rows: list[dict[str, Any]], probes: dict[int, dict[str, float]], args: Any) -> str:
    lines = [
        "## Scale-out: a sweep through Airflow with 2 Celery workers (`bench/celery_overhead.py`)",
        "",
        f"`.venv/bin/python bench/celery_overhead.py --sizes {args.sizes}"
        + (f" --points-per-task {args.points_per_task}" if args.points_per_task else "")
        + "` (the stack of `make up EXECUTOR=celery WORKERS=2` in a scratch home, stopped at the"
        " end). The same `sma_cross` grid on two years of daily bars of one symbol, in the same"
        " run: in-process `easyquant sweep --json` (2 threads; wall time includes the process's"
        " start and imports) against the `easyquant_backtest` DAG triggered through monitor_api"
        " (wall time from the trigger to the run's end, polled every 0.5 s). Worker concurrency"
        " 2 each (4 task slots on 2 cores). Python"
        f" {platform.python_version()}, measured {time.strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "| points | in-process s | Airflow s | Airflow / in-process | tasks x points | workers |",
        "|---|---|---|---|---|---|",
    ]
    for size in sorted({r["points"] for r in rows}):
        mine = [r for r in rows if r["points"] == size]
        ip = [r["in_process"]["wall"] for r in mine]
        af = [r["airflow"]["wall"] for r in mine]
        ratio = [a / i for a, i in zip(af, ip, strict=True)]
        tasks = mine[0]["airflow"]["tasks"]
        lines.append(
            f"| {size:,} | {fmt_range(ip)} | {fmt_range(af)} | "
            + (
                f"{statistics.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f})"
                if len(ratio) > 1
                else f"{ratio[0]:.2f}x"
            )
            + f" | {tasks} x {-(-size // tasks)} | {', '.join(mine[0]['airflow']['hosts'])} |"
        )
    lines += [
        "",
        "Where the Airflow run's time goes (the last run of each size; seconds, from the task"
        " instances' queued/start/end times):",
        "",
        "| points | trigger -> first task queued | validate | plan | scheduling gaps between"
        " steps | mapped tasks (first start -> last end) | one mapped task: queued -> started"
        " | one mapped task: run | of which fixed (run - points x probe) | rank_and_store"
        " | last task end -> run seen ended |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sorted({r["points"] for r in rows}):
        a = [r for r in rows if r["points"] == size][-1]["airflow"]
        p = probes[size]
        fixed = a["task_mean"] - size / a["tasks"] * (p["compute"] + p["store_metrics"])
        lines.append(
            f"| {size:,} | {a['to_first_queue']:.1f} | {a['validate']:.1f} | {a['plan']:.1f} | "
            f"{a['gaps']:.1f} | {a['mapped_span']:.1f} | {a['queued_mean']:.2f} | "
            f"{a['task_mean']:.1f} | {fixed:.1f} | {a['rank']:.1f} | {a['after_last']:.1f} |"
        )
    lines += [
        "",
        "One point, probed in the benchmark's process on the same data, alone on a core (ms;"
        " the mapped tasks run four at a time on two cores, so theirs take longer):",
        "",
    ]
    lines += [
        "| points | backtest | store a point's metrics (every point, both paths) "
        "| store metrics, trades and equity (the best point only) |",
        "|---|---|---|---|",
    ]
    for size, p in sorted(probes.items()):
        lines.append(
            f"| {size:,} | {p['compute'] * 1e3:.2f} | {p['store_metrics'] * 1e3:.2f} "
            f"| {p['store_full'] * 1e3:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="400,400,400,10000")
    ap.add_argument("--points-per-task", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s not in GRIDS for s in sizes):
        raise SystemExit(f"--sizes: each of {sorted(GRIDS)}")
    rows: list[dict[str, Any]] = []
    probes: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="eqbench-celery-") as tmp:
        stack = Stack(Path(tmp) / "home")
        for name in [k for k in stack.env if k.startswith("AIRFLOW__SCHEDULER__")]:
            del stack.env[name]  # the test's short timeouts: this runs with make up's settings
        try:
            print(stack.run("-m", "easyquant.stack", "up"), flush=True)
            synthetic_lake(stack.settings(), [SYMBOL], PERIOD, seed=21)
            for size in sizes:
                if size not in probes:
                    probes[size] = probe(stack, GRIDS[size])
                ip = in_process(stack, GRIDS[size])
                af = through_airflow(stack, GRIDS[size], args.points_per_task)
                rows.append({"points": size, "in_process": ip, "airflow": af})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            print(stack.run("-m", "easyquant.stack", "down"), flush=True)
    section = report(rows, probes, args)
    print(section)
    if args.out:
        write_section(args.out, section)


if __name__ == "__main__":
    main()
