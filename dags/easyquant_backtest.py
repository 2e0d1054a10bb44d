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


def _cost(default: float | None, title: str, what: str, maximum: float | None = None) -> Param:
    """A cost that overrides the market profile's (empty: the market's default)."""
    bounds = {"minimum": 0} | ({"maximum": maximum} if maximum is not None else {})
    return Param(
        default,
        type=["null", "number"],
        title=title,
        description=f"{what} Empty: the market's default.",
        **bounds,
    )


def _count(default: int, title: str, description: str, **bounds: int) -> Param:
    """A whole number from ``default`` up (``maximum=`` caps it)."""
    return Param(
        default, type="integer", minimum=default, title=title, description=description, **bounds
    )


def _choice(choices: list[str], title: str, description: str) -> Param:
    """One of ``choices`` (the first is the default)."""
    return Param(choices[0], type="string", enum=choices, title=title, description=description)


def _day(title: str, what: str, which: str) -> Param:
    """An optional day of the period (empty: the lake's first or last stored bar)."""
    return Param(
        None,
        type=["null", "string"],
        format="date",
        title=title,
        description=f"{what} (YYYY-MM-DD). Empty: the {which} stored bar.",
    )


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
    "start": _day("Start", "First day of the period", "first"),
    "end": _day("End", "Last day of the period, inclusive", "last"),
    "freq": Param(
        "1d",
        type="string",
        pattern=r"^[0-9]+(m|min|h|d)$",
        title="Frequency",
        examples=["1m", "5m", "1h", "1d"],
        description="Bar frequency to read from the lake.",
    ),
    "market": _choice(
        ["us", "cn", "crypto"],
        "Market",
        "us: lot 1, shorting allowed; cn: China A-shares (lot 100, T+1, +-10% daily limits, "
        "stamp duty); crypto: fractional, 24/7.",
    ),
    "cash": Param(100_000.0, type="number", exclusiveMinimum=0, title="Starting cash"),
    "commission": _cost(None, "Commission", "Rate of traded value (0.001 = 0.1%).", 0.5),
    "min_commission": _cost(None, "Minimum commission", "Per order."),
    "slippage_bps": _cost(
        None, "Slippage (bps)", "Every fill's price worsened by this many basis points.", 10_000
    ),
    "max_volume_fraction": _cost(
        None,
        "Volume cap",
        "A fill takes at most this fraction of the bar's volume (0 < F <= 1); the rest keeps "
        "working on later bars (no cap by default).",
        1,
    ),
    "fill": _choice(
        ["next_open", "close"],
        "Fills",
        "When a decision made at bar t executes: bar t+1's open, or bar t's close.",
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
    "random": _count(
        0, "Random points", "Try this many random points of the grid instead of all (0: all)."
    ),
    "rank_by": _choice(RANK_BY, "Rank by", "The metric that ranks a grid's points."),
    "points_per_task": Param(
        None,
        type=["null", "integer"],
        minimum=1,
        maximum=5000,
        title="Points per task",
        description="Grid points backtested by one mapped task (data is read once per task). "
        "Empty: chosen from the points, the measured cost of one point and the workers.",
    ),
    "benchmark": Param(
        None,
        type=["null", "string"],
        pattern=SYMBOL_PATTERN,
        title="Benchmark",
        description="Symbol for alpha and beta. Empty: the first symbol.",
    ),
}


def _run(step: str, fn: Any, *args: Any, always_final: bool = False) -> Any:
    """Run the task's body ``fn`` as a ``backtest`` status component (one per task and map
    index). Bad input and strategy errors are not transient: they fail at once, without retries
    (``always_final``: every error does)."""
    from easyquant.backtest.pipeline import BAD_INPUT
    from easyquant.pipelines import run_task

    fail_fast = (Exception,) if always_final else BAD_INPUT
    return run_task("backtest", DAG_ID, step, fn, *args, fail_fast=fail_fast)


def _dag_run_id() -> str:
    return str(get_current_context()["ti"].run_id)


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
        from easyquant.backtest.pipeline import validate_step

        return _run("validate", validate_step, _request(get_current_context()))

    @task
    def plan(req: dict[str, Any]) -> list[dict[str, Any]]:
        """Create the run and its points (one transaction); batch the points for mapping."""
        from easyquant.backtest.pipeline import plan_step

        return _run("plan", plan_step, req, DAG_ID, _dag_run_id())

    @task
    def run_points(batch: dict[str, Any], req: dict[str, Any]) -> list[dict[str, Any]]:
        """Backtest one batch of points and store each (re-running replaces them)."""
        from easyquant.backtest.pipeline import run_batch_step

        return _run("run_points", run_batch_step, batch, req)

    @task
    def rank_and_store(req: dict[str, Any]) -> dict[str, Any]:
        """Rank the points by ``rank_by``; finish the run with the best point (or as failed)."""
        from easyquant.backtest.pipeline import finalize_step

        args = (req, DAG_ID, _dag_run_id())
        return _run("rank_and_store", finalize_step, *args, always_final=True)

    req = validate()
    batches = plan(req)
    ran = run_points.partial(req=req).expand(batch=batches)
    final = rank_and_store(req)
    ran >> final
    final.as_teardown(setups=batches, on_failure_fail_dagrun=True)


easyquant_backtest()
