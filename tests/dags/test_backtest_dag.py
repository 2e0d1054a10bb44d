"""The backtest DAG: thin, scheduled on the lake asset, a small grid runs green through
dag.test() (mapped points, ranked and stored), bad Params fail naming the field with nothing
stored, and a point that raises leaves the run stored as failed."""

from __future__ import annotations

import numpy as np
import pytest

from easyquant.config import Settings
from easyquant.strategy import Param, Strategy, SymbolBars
from tests.conftest import REPO, load_thin_dag, run_dag, synthetic_lake

DAG_ID = "easyquant_backtest"
DAG_FILE = REPO / "dags" / "easyquant_backtest.py"
SYMBOLS = ["BTA", "BTB"]
CONF = {
    "strategy": "sma_cross",
    "symbols": ["BTA"],
    "start": "2021-01-01",
    "end": "2022-12-31",
    "market": "us",
    "cash": 100_000,
    "commission": 0.001,
    "grid": {"fast": [5, 10], "slow": "20:30:10"},
    "rank_by": "sharpe",
}


@pytest.fixture(scope="module")
def lake(pg_settings: Settings) -> Settings:
    return synthetic_lake(pg_settings, SYMBOLS, ("2021-01-01", "2022-12-31"), seed=11)


def rows(db, sql: str, *args) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute(sql, args)
        out = cur.fetchall()
    db.rollback()
    return out


def components(db) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in rows(
            db, "SELECT id, kind, state, message, metrics, parent_id, attrs FROM component"
        )
    }


def stored_counts(db) -> dict[str, int]:
    return {
        t: rows(db, f"SELECT count(*) FROM {t}")[0][0]
        for t in (
            "backtest_run",
            "backtest_metric",
            "backtest_trade",
            "backtest_equity",
            "backtest_param",
        )
    }


def test_dag_is_thin_scheduled_on_the_lake_and_maps_points(airflow_db):
    dag = load_thin_dag(DAG_FILE, DAG_ID, ("pandas", "numpy", "numba", "easyquant", "psycopg2"))
    tasks = dag.task_dict
    assert set(tasks) == {"validate", "plan", "run_points", "rank_and_store"}
    assert tasks["run_points"].retries == 2
    assert type(tasks["run_points"]).__name__.endswith("MappedOperator")  # .expand()
    assert tasks["plan"].is_setup and tasks["rank_and_store"].is_teardown
    assert tasks["rank_and_store"].upstream_task_ids >= {"run_points", "plan", "validate"}
    # nightly: scheduled on the asset the ETL DAG's last task updates
    from airflow.dag_processing.dagbag import DagBag

    etl = DagBag(dag_folder=str(REPO / "dags" / "easyquant_etl.py")).get_dag("easyquant_etl")
    outlet = etl.task_dict["summarise"].outlets[0].uri
    assert [a.uri for a in dag.timetable.asset_condition.objects] == [outlet]
    params = dict(dag.params.items())
    for key in (
        "strategy",
        "symbols",
        "start",
        "end",
        "market",
        "params",
        "grid",
        "cash",
        "commission",
    ):
        assert params[key].schema.get("title"), key
    assert params["market"].schema["enum"] == ["us", "cn", "crypto"]


def test_grid_runs_green_ranked_and_stored(lake, airflow_db, db):
    dr = run_dag(DAG_ID, conf=CONF)
    assert "success" in str(dr.state).lower(), dr.state
    from easyquant.backtest.pipeline import parent_run_id
    from easyquant.backtest.queries import load_run

    parent = parent_run_id(DAG_ID, dr.run_id)
    stored = load_run(db, parent)
    run = stored["run"]
    assert (run["kind"], run["state"], run["error"]) == ("sweep", "success", None)
    assert stored["params"]["rank_by"] == "sharpe"
    kids = stored["children"]
    assert sorted((c["params"]["fast"], c["params"]["slow"]) for c in kids) == [
        (5, 20),
        (5, 30),
        (10, 20),
        (10, 30),
    ]
    assert [c["rank"] for c in kids] == [1, 2, 3, 4]
    assert all(c["state"] == "success" for c in kids)
    sharpes = [c["metrics"]["sharpe"] for c in kids]
    assert sharpes == sorted(sharpes, reverse=True)
    best = kids[0]
    # the run carries the best point's results; they are what an in-process run gives
    assert stored["metrics"] == pytest.approx(best["metrics"])
    assert run["final_equity"] == pytest.approx(best["final_equity"])
    best_stored = load_run(db, best["id"])
    assert len(stored["trades"]) == len(best_stored["trades"]) > 0
    assert len(stored["equity"]) == len(best_stored["equity"]) > 400

    from easyquant.backtest.config import BacktestConfig
    from easyquant.backtest.runner import run_backtest
    from easyquant.data import load_bars
    from easyquant.execution.market import get_profile

    bars = load_bars(["BTA"], "1d", CONF["start"], CONF["end"], settings=lake)
    res = run_backtest(
        "sma_cross",
        bars,
        BacktestConfig(cash=100_000, market=get_profile("us", commission=0.001)),
        params=best["params"],
    )
    assert res.final_equity == pytest.approx(best["final_equity"], rel=1e-12)
    assert len(res.trades) == len(best_stored["trades"])

    comps = components(db)
    run_id = dr.run_id
    dag_run = f"dag_run:{DAG_ID}:{run_id}"
    assert comps[dag_run][:2] == ("dag_run", "success")
    steps = ["validate:-1", "plan:-1", "run_points:0", "run_points:3", "rank_and_store:-1"]
    tries = {s: comps[f"task:{DAG_ID}:{run_id}:{s}:1"][:2] for s in steps}
    assert tries == dict.fromkeys(steps, ("task", "success"))
    ours = {s: comps[f"backtest:{DAG_ID}:{run_id}:{s}"] for s in steps}
    assert {s: (c[0], c[1], c[4]) for s, c in ours.items()} == dict.fromkeys(
        steps, ("backtest", "success", dag_run)
    )
    assert f"task:{DAG_ID}:{run_id}:run_points:4:1" not in comps  # 4 points, 1 per task
    _k, _s, msg, metrics, _p, _a = comps[f"backtest:{DAG_ID}:{run_id}:rank_and_store:-1"]
    assert metrics["points"] == 4 and metrics["run_id"] == parent
    assert f"best of 4 by sharpe: {best['params']}" in msg
    assert metrics["sharpe"] == pytest.approx(best["metrics"]["sharpe"])
    assert metrics["best_params"] == best["params"]
    _k, _s, _msg, metrics, _p, attrs = comps[f"backtest:{DAG_ID}:{run_id}:run_points:0"]
    assert "final_equity" in metrics and len(attrs["run_ids"]) == 1


def test_single_run_in_batches_without_grid(lake, airflow_db, db):
    conf = {**CONF, "grid": {}, "params": {"fast": 8, "slow": 21}, "symbols": SYMBOLS}
    dr = run_dag(DAG_ID, conf=conf)
    assert "success" in str(dr.state).lower(), dr.state
    from easyquant.backtest.pipeline import parent_run_id
    from easyquant.backtest.queries import load_run

    stored = load_run(db, parent_run_id(DAG_ID, dr.run_id))
    assert stored["run"]["kind"] == "backtest" and stored["run"]["state"] == "success"
    assert stored["params"] == {"fast": 8, "slow": 21}
    assert stored["run"]["symbols"] == SYMBOLS
    assert len(stored["children"]) == 1 and stored["children"][0]["rank"] == 1
    assert stored["metrics"]["trades"] > 0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"strategy": "nope"}, "strategy: unknown strategy 'nope'"),
        ({"params": {"slow": 0}}, "params: strategy sma_cross: parameter slow: must be >= 2"),
        ({"grid": {"fsat": [1, 2]}}, "grid: strategy sma_cross: unknown parameter 'fsat'"),
        (
            {"start": "2030-01-01", "end": "2030-12-31"},
            "start/end: symbol 'BTA' has no 1d bars between 2030-01-01 and 2030-12-31; the lake "
            "holds 2021-01-04 to 2022-12-30",
        ),
        ({"symbols": ["BTA", "NOPE"]}, "symbols: symbol 'NOPE': no 1d bars stored"),
    ],
)
def test_bad_params_fail_naming_the_field_nothing_stored(lake, airflow_db, db, change, needle):
    dr = run_dag(DAG_ID, conf=CONF | change)
    assert "failed" in str(dr.state).lower(), dr.state
    comps = components(db)
    failed = {cid: c for cid, c in comps.items() if c[0] == "task" and c[1] == "failed"}
    assert list(failed) == [f"task:{DAG_ID}:{dr.run_id}:validate:-1:1"], failed
    msg = next(iter(failed.values()))[2]
    assert needle in msg, msg
    assert "will retry" not in msg
    bt = comps[f"backtest:{DAG_ID}:{dr.run_id}:validate:-1"]
    assert bt[1] == "failed" and needle in bt[2]
    later = {
        c[1]
        for cid, c in comps.items()
        if c[0] == "task"
        and (":plan:" in cid or ":run_points:" in cid or ":rank_and_store:" in cid)
    }
    assert later <= {"stopped"}, later  # never ran
    assert stored_counts(db) == dict.fromkeys(stored_counts(db), 0)


class Fragile(Strategy):
    """Long always; raises on every bar when ``explode`` is set (a failing grid point)."""

    name = "fragile"
    explode = Param(False)
    level = Param(1.0, gt=0, le=1)

    def signal(self, bars: SymbolBars) -> np.ndarray:
        if self.explode:
            raise RuntimeError("kaboom")
        return np.full(len(bars), self.level)


def test_a_point_that_raises_leaves_the_run_failed_with_its_error(lake, airflow_db, db):
    conf = {
        **CONF,
        "strategy": "tests.dags.test_backtest_dag:Fragile",
        "grid": {"explode": [False, True]},
    }
    dr = run_dag(DAG_ID, conf=conf)
    assert "failed" in str(dr.state).lower(), dr.state
    from easyquant.backtest.pipeline import parent_run_id
    from easyquant.backtest.queries import load_run

    stored = load_run(db, parent_run_id(DAG_ID, dr.run_id))
    run = stored["run"]
    assert run["state"] == "failed"
    assert "1 of 2 points failed" in run["error"] and "explode=True" in run["error"]
    assert "strategy fragile (symbol BTA" in run["error"] and "kaboom" in run["error"]
    assert not stored["metrics"] and stored["trades"].empty and stored["equity"].empty
    states = {c["params"]["explode"]: (c["state"], c["rank"]) for c in stored["children"]}
    assert states == {False: ("success", None), True: ("failed", None)}
    bad = next(c for c in stored["children"] if c["params"]["explode"])
    assert "StrategyError" in bad["error"] and bad["metrics"] is None
    comps = components(db)
    prefix = f"task:{DAG_ID}:{dr.run_id}:"
    tasks = {cid[len(prefix) :]: c[1] for cid, c in comps.items() if cid.startswith(prefix)}
    assert tasks["run_points:0:1"] == "success"
    assert tasks["run_points:1:1"] == "failed"  # no retry: a strategy error is not transient
    assert "run_points:1:2" not in tasks
    assert tasks["rank_and_store:-1:1"] == "failed"
    bt = comps[f"backtest:{DAG_ID}:{dr.run_id}:rank_and_store:-1"]
    assert bt[1] == "failed" and "1 of 2 points failed" in bt[2]


def _dag_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bt_dag_module", DAG_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_params_are_the_request_fields_and_their_defaults_parse():
    """The trigger form and the request are one: every Param is a BacktestRequest field, the
    Params' defaults make a valid request with the request's own defaults (the market's costs
    unless given, as on the command line), and every rank-by choice is a metric."""
    from easyquant.backtest.metrics import METRIC_NAMES
    from easyquant.backtest.request import BacktestRequest

    mod = _dag_module()
    assert set(mod.PARAMS) <= set(BacktestRequest.model_fields)
    defaults = {k: p.value for k, p in mod.PARAMS.items()}
    req = BacktestRequest.parse(defaults)
    assert (req.kind, req.symbols, req.commission) == ("backtest", ["AAA"], None)
    # and a field the form leaves as it is means what the CLI means when its option is left out
    for name, field in BacktestRequest.model_fields.items():
        if name in mod.PARAMS and not field.is_required():
            assert mod.PARAMS[name].value == field.get_default(call_default_factory=True), name
    assert set(mod.RANK_BY) <= set(METRIC_NAMES)


def test_an_asset_triggered_run_backtests_what_the_ingest_stored():
    """The nightly run (triggered by the ETL's asset event) takes the event's symbols and
    frequency; a manual run keeps its Params."""
    from types import SimpleNamespace

    mod = _dag_module()
    event = SimpleNamespace(extra={"symbols": ["BTA", "BTB"], "freq": "1d", "rows_stored": 5})

    class Events(dict):
        def __getitem__(self, asset):
            return super().__getitem__(asset.uri)

    params = {"strategy": "sma_cross", "symbols": ["AAA"], "freq": "1m"}
    ctx = {
        "params": params,
        "dag_run": SimpleNamespace(run_type="asset_triggered"),
        "triggering_asset_events": Events({"easyquant://lake/bars": [event]}),
    }
    assert mod._request(ctx) == {"strategy": "sma_cross", "symbols": ["BTA", "BTB"], "freq": "1d"}
    ctx["dag_run"] = SimpleNamespace(run_type="manual")
    assert mod._request(ctx) == params


@pytest.mark.parametrize("bad", ["AAA/../../x", "../x", "a b"])
def test_the_benchmark_param_refuses_a_path(bad):
    """The trigger form refuses a benchmark that is not a symbol before any task runs."""
    from airflow.sdk.definitions.param import ParamValidationError

    param = _dag_module().PARAMS["benchmark"]
    with pytest.raises(ParamValidationError):
        param.resolve(bad)
    assert param.resolve("SPY") == "SPY" and param.resolve(None) is None
