"""EasyQuant backtest: one strategy, or a parameter grid spread over workers, on the lake.

``validate`` parses the Params into a ``BacktestRequest`` (strategy, parameters, grid, market,
costs, period: ``easyquant.backtest.request``) and checks that the lake holds bars for every
symbol in the period; it stores nothing. ``plan`` (a setup task) creates
the run and one child run per grid point, and splits the points into batches; ``run_points``
is mapped over the batches (dynamic task mapping), so a sweep spreads over the workers;
``rank_and_store`` (its teardown: it runs even when a point failed) ranks the points and gives
the run the best point's metrics, trades and equity, or stores the run as failed with the
error. Nothing is left half-stored.

Scheduled on the ETL DAG's asset ``easyquant://lake/bars``: after each nightly ingest it
backtests the Params' defaults on the symbols and frequency the ingest just stored.

This file holds only the Params and the wiring, so it parses in milliseconds: ``airflow.sdk``,
``pendulum`` and the standard library at the top; EasyQuant (pydantic, pandas, numba) is
imported inside the tasks, in ``easyquant.backtest.pipeline`` where it is unit-tested.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

DAG_ID = "easyquant_backtest"
LAKE_BARS = Asset("easyquant://lake/bars")  # updated by the easyquant_etl DAG
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$"
RANK_BY = [
    "sharpe",
    "sortino",
    "calmar",
    "cagr",
    "total_return",
    "max_drawdown",
    "profit_factor",
    "expectancy",
    "win_rate",
    "final_equity",
    "volatility",
    "max_drawdown_duration",
    "turnover",
    "alpha",
]

PARAMS = {
    "strategy": Param(
        "sma_cross",
        type="string",
        minLength=1,
        title="Strategy",
        examples=[
            "sma_cross",
            "momentum_rotation",
            "bollinger_reversion",
            "opening_range_breakout",
        ],
        description="A built-in strategy name, or an import path package.module:Class that "
        "the workers can import.",
    ),
    "symbols": Param(
        ["AAA"],
        type="array",
        minItems=1,
        items={"type": "string", "pattern": SYMBOL_PATTERN},
        title="Symbols",
        description="One symbol per line; all must be in the lake for the period.",
    ),
    "start": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Start",
        description="First day of the period (YYYY-MM-DD). Empty: the first stored bar.",
    ),
    "end": Param(
        None,
        type=["null", "string"],
        format="date",
        title="End",
        description="Last day of the period, inclusive (YYYY-MM-DD). Empty: the last stored bar.",
    ),
    "freq": Param(
        "1d",
        type="string",
        pattern=r"^[0-9]+(m|min|h|d)$",
        title="Frequency",
        examples=["1m", "5m", "1h", "1d"],
        description="Bar frequency to read from the lake.",
    ),
    "market": Param(
        "us",
        type="string",
        enum=["us", "cn", "crypto"],
        title="Market",
        description="us: lot 1, shorting allowed; cn: China A-shares (lot 100, T+1, +-10% "
        "daily limits, stamp duty); crypto: fractional, 24/7.",
    ),
    "cash": Param(100_000.0, type="number", exclusiveMinimum=0, title="Starting cash"),
    "commission": Param(
        0.001,
        type=["null", "number"],
        minimum=0,
        maximum=0.5,
        title="Commission",
        description="Rate of traded value (0.001 = 0.1%). Empty: the market's default.",
    ),
    "min_commission": Param(
        None,
        type=["null", "number"],
        minimum=0,
        title="Minimum commission",
        description="Per order. Empty: the market's default.",
    ),
    "slippage_bps": Param(
        None,
        type=["null", "number"],
        minimum=0,
        title="Slippage (bps)",
        description="Every fill's price worsened by this many basis points.",
    ),
    "fill": Param(
        "next_open",
        type="string",
        enum=["next_open", "close"],
        title="Fills",
        description="When a decision made at bar t executes: bar t+1's open, or bar t's close.",
    ),
    "params": Param(
        {},
        type="object",
        title="Strategy parameters",
        description='Fixed parameters, e.g. {"fast": 10, "slow": 30}.',
    ),
    "grid": Param(
        {},
        type="object",
        title="Parameter grid",
        description='Values to search, e.g. {"fast": [5, 10], "slow": "20:60:10"} (a list, '
        '"a,b,c" or "start:stop:step"). Empty: one run with the fixed parameters.',
    ),
    "random": Param(
        0,
        type="integer",
        minimum=0,
        title="Random points",
        description="Try this many random points of the grid instead of all (0: all).",
    ),
    "rank_by": Param("sharpe", type="string", enum=RANK_BY, title="Rank by"),
    "points_per_task": Param(
        1,
        type="integer",
        minimum=1,
        maximum=1000,
        title="Points per task",
        description="Grid points backtested by one mapped task (data is read once per task).",
    ),
    "benchmark": Param(
        None,
        type=["null", "string"],
        title="Benchmark",
        description="Symbol for alpha and beta. Empty: the first symbol.",
    ),
}


def _progress(step: str) -> Any:
    """Report the current task as a ``backtest`` status component (one per task and map index)."""
    from easyquant.pipelines import task_status

    return task_status("backtest", DAG_ID, step)


def _fail_on_bad_input(exc: Exception) -> None:
    """Bad input and strategy errors are not transient: fail at once, without retries."""
    from easyquant.errors import ConfigError, DataError, StrategyError
    from easyquant.pipelines import fail_fast_on_bad_input

    fail_fast_on_bad_input(exc, (ConfigError, DataError, StrategyError))


def _parent_id() -> str:
    from easyquant.backtest.pipeline import parent_run_id

    return parent_run_id(DAG_ID, get_current_context()["ti"].run_id)


def _request(ctx: Any) -> dict[str, Any]:
    """The run's Params; an asset-triggered run takes symbols and frequency from the event."""
    from easyquant.backtest.request import lake_event_fields

    params = dict(ctx["params"])
    run_type = ctx["dag_run"].run_type
    if str(getattr(run_type, "value", run_type)) != "asset_triggered":
        return params
    try:
        events = ctx["triggering_asset_events"][LAKE_BARS]
    except (KeyError, TypeError):
        events = []
    return params | lake_event_fields([event.extra or {} for event in events])


@dag(
    dag_id=DAG_ID,
    schedule=[LAKE_BARS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    params=PARAMS,
    default_args={
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": True,
    },
    tags=["easyquant", "backtest"],
    doc_md=__doc__,
)
def easyquant_backtest() -> None:
    @task
    def validate() -> dict[str, Any]:
        """Check every Param and the lake's coverage of the period; store nothing."""
        from easyquant.backtest.pipeline import validate as check

        with _progress("validate") as job:
            try:
                checked = check(_request(get_current_context()))
            except Exception as exc:
                _fail_on_bad_input(exc)
                raise
            req = checked["request"]
            job.finish(
                "success",
                f"{req['strategy']} on {', '.join(req['symbols'])}: "
                f"{checked['points']} point(s), {sum(checked['bars'].values())} bars",
                points=checked["points"],
                bars=checked["bars"],
            )
            return checked

    @task
    def plan(req: dict[str, Any]) -> list[dict[str, Any]]:
        """Create the run and its points (one transaction); batch the points for mapping."""
        from easyquant.backtest.pipeline import plan as make_plan

        with _progress("plan") as job:
            parent = _parent_id()
            batches = make_plan(req, parent)
            job.finish(
                "success",
                f"run {parent}: {sum(len(b['points']) for b in batches)} point(s) in "
                f"{len(batches)} task(s)",
                run_id=parent,
                points=sum(len(b["points"]) for b in batches),
                tasks=len(batches),
            )
            return batches

    @task
    def run_points(batch: dict[str, Any], req: dict[str, Any]) -> list[dict[str, Any]]:
        """Backtest one batch of points and store each (re-running replaces them)."""
        from easyquant.backtest.pipeline import run_batch

        with _progress("run_points") as job:
            points = batch["points"]
            job.update(attrs={"run_ids": [p["run_id"] for p in points]})

            def on_point(done: int, total: int, item: dict[str, Any]) -> None:
                m = item["metrics"]
                job.progress(
                    done / total,
                    f"{done}/{total}: {item['params']}",
                    **{k: v for k, v in m.items() if v is not None},
                )

            try:
                results = run_batch(req, batch, progress=on_point)
            except Exception as exc:
                _fail_on_bad_input(exc)
                raise
            best = results[0] if len(results) == 1 else None
            job.finish(
                "success",
                f"{len(results)} point(s) stored"
                + (f", final equity {best['metrics']['final_equity']:,.2f}" if best else ""),
                points=len(results),
            )
            return [{"run_id": r["run_id"], "params": r["params"]} for r in results]

    @task
    def rank_and_store(req: dict[str, Any]) -> dict[str, Any]:
        """Rank the points by ``rank_by``; finish the run with the best point (or as failed)."""
        from easyquant.backtest.pipeline import finalize

        with _progress("rank_and_store") as job:
            parent = _parent_id()
            try:
                summary = finalize(req, parent)
            except Exception as exc:
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(str(exc)) from exc
            best = summary["best"]
            metrics = {k: v for k, v in best["metrics"].items() if v is not None}
            job.finish(
                "success",
                f"run {parent}: best of {summary['points']} by "
                f"{summary['rank_by']}: {best['params']}",
                run_id=parent,
                points=summary["points"],
                best_params=best["params"],
                **metrics,
            )
            return summary

    req = validate()
    batches = plan(req)
    ran = run_points.partial(req=req).expand(batch=batches)
    final = rank_and_store(req)
    ran >> final
    final.as_teardown(setups=batches, on_failure_fail_dagrun=True)


easyquant_backtest()
