"""monitor_api's backtest routes against real PostgreSQL, on runs stored by the backtest code."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from easyquant.backtest.queries import load_run
from easyquant.config import Settings
from easyquant.db import connect
from monitor_api.routes.backtests import MAX_PRICE_BARS, downsample
from tests.conftest import LiveServer
from tests.e2e.browser.seed import DAILY, MINUTE, Seeded, seed_backtests


@pytest.fixture(scope="module")
def seeded(pg_settings: Settings) -> Seeded:
    return seed_backtests(pg_settings)


@pytest.fixture(scope="module")
def api(pg_settings: Settings, seeded: Seeded) -> Iterator[httpx.Client]:
    with LiveServer(pg_settings) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def counts(settings: Settings) -> tuple[int, ...]:
    conn = connect(settings)
    with conn.cursor() as cur:
        out = []
        for table in (
            "backtest_run",
            "backtest_param",
            "backtest_metric",
            "backtest_trade",
            "backtest_equity",
        ):
            cur.execute(f"SELECT count(*) FROM {table}")
            out.append(cur.fetchone()[0])
    conn.close()
    return tuple(out)


def test_list_has_every_stored_run_with_params_and_metrics(api, seeded, pg_settings) -> None:
    runs = api.get("/api/backtests", params={"limit": 1000}).json()["runs"]
    conn = connect(pg_settings)
    with conn.cursor() as cur:
        cur.execute("SELECT id, kind, state FROM backtest_run")
        stored = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    conn.close()
    assert {r["run_id"]: (r["kind"], r["state"]) for r in runs} == stored
    by_id = {r["run_id"]: r for r in runs}
    one = by_id[seeded.backtest]
    ref = load_run(connect(pg_settings), seeded.backtest)
    assert one["params"] == {"fast": 10, "slow": 40}
    assert one["symbols"] == DAILY and one["strategy"] == "sma_cross"
    assert one["metrics"]["sharpe"] == pytest.approx(ref["metrics"]["sharpe"])
    assert one["sweep_id"] is None
    points = [r for r in runs if r["sweep_id"] == seeded.sweep and r["kind"] == "point"]
    assert len(points) == 9
    assert by_id[seeded.sweep]["sweep_id"] == seeded.sweep
    failed = by_id[seeded.failed]
    assert failed["state"] == "failed" and "NOSUCH" in failed["error"]
    assert failed["metrics"] == {}


@pytest.mark.parametrize("key", ["sharpe", "max_drawdown", "total_return", "trades"])
def test_sort_by_metric_both_ways_missing_last(api, key) -> None:
    for sign, reverse in (("", False), ("-", True)):
        runs = api.get("/api/backtests", params={"sort": f"{sign}{key}"}).json()["runs"]
        values = [r["metrics"].get(key) for r in runs]
        present = [v for v in values if v is not None]
        assert len(present) >= 10
        assert present == sorted(present, reverse=reverse)
        assert values[: len(present)] == present  # runs without the metric come last


def test_sort_by_field_and_limit(api) -> None:
    runs = api.get("/api/backtests", params={"sort": "run_id", "limit": 5}).json()["runs"]
    assert len(runs) == 5
    ids = [r["run_id"] for r in runs]
    assert ids == sorted(ids)
    times = [r["created_at"] for r in api.get("/api/backtests").json()["runs"]]
    assert times == sorted(times, reverse=True)


def test_filter_by_kind_and_sweep(api, seeded) -> None:
    sweeps = api.get("/api/backtests", params={"kind": "sweep"}).json()["runs"]
    assert [r["run_id"] for r in sweeps] == [seeded.sweep]
    runs = api.get("/api/backtests", params={"sweep_id": seeded.walkforward}).json()["runs"]
    assert {r["kind"] for r in runs} == {"walkforward", "point"}


@pytest.mark.parametrize(
    ("params", "field", "needle"),
    [
        ({"sort": "-no_such_metric"}, "sort", "unknown sort key 'no_such_metric'"),
        ({"sort": "sharpe; DROP TABLE backtest_run"}, "sort", "field or metric name"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": "many"}, "limit", "integer"),
        ({"limit": 100000}, "limit", "less than or equal to 5000"),
        ({"kind": "weird"}, "kind", "backtest"),
    ],
)
def test_bad_query_is_422_naming_the_field(api, pg_settings, params, field, needle) -> None:
    before = counts(pg_settings)
    r = api.get("/api/backtests", params=params)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["query", field]
    assert needle in detail[0]["msg"]
    assert counts(pg_settings) == before


def test_run_detail_equity_drawdown_trades_prices(api, seeded, pg_settings) -> None:
    d = api.get(f"/api/backtests/{seeded.backtest}").json()
    ref = load_run(connect(pg_settings), seeded.backtest)
    assert d["run_id"] == seeded.backtest and d["state"] == "success"
    assert len(d["equity"]) == len(ref["equity"]) > 400
    eq = pd.Series([p["equity"] for p in d["equity"]])
    assert eq.tolist() == pytest.approx(ref["equity"].tolist())
    dd = pd.Series([p["drawdown"] for p in d["equity"]])
    assert dd.tolist() == pytest.approx((eq / eq.cummax() - 1).tolist())
    assert dd.min() == pytest.approx(ref["metrics"]["max_drawdown"], rel=1e-6)
    assert len(d["trades"]) == d["trades_total"] == len(ref["trades"]) > 0
    t = d["trades"][0]
    assert t["symbol"] in DAILY and t["entry_price"] > 0
    assert sum(x["pnl"] for x in d["trades"]) == pytest.approx(ref["trades"]["pnl"].sum())
    assert set(d["prices"]) == set(DAILY)
    bars = d["prices"]["DASHA"]
    assert d["prices_freq"]["DASHA"] == "1d"
    assert len(bars) == len(d["equity"])  # one bar per session of the period
    assert bars[0]["time"].startswith("2021-01-04")
    assert all(b["low"] <= min(b["open"], b["close"]) for b in bars)
    assert d["warnings"] == []


def test_minute_run_prices_are_merged_into_coarser_bars(api, seeded, pg_settings) -> None:
    from easyquant.data import load_bars

    d = api.get(f"/api/backtests/{seeded.minute}").json()
    raw = load_bars(
        [MINUTE], freq="1m", start="2022-03-01", end="2022-03-31", settings=pg_settings
    )[MINUTE]
    bars = d["prices"][MINUTE]
    assert len(raw) > MAX_PRICE_BARS
    assert len(bars) <= MAX_PRICE_BARS
    factor = int(d["prices_freq"][MINUTE].split("x")[0])
    assert factor == -(-len(raw) // MAX_PRICE_BARS)
    assert bars[0]["open"] == pytest.approx(raw["open"].iloc[0])
    assert bars[0]["high"] == pytest.approx(raw["high"].iloc[:factor].max())
    assert bars[-1]["close"] == pytest.approx(raw["close"].iloc[-1])
    assert sum(b["volume"] for b in bars) == pytest.approx(raw["volume"].sum())


def test_downsample_keeps_short_series_and_merges_long_ones() -> None:
    idx = pd.date_range("2024-01-01", periods=10, freq="min", tz="UTC")
    frame = pd.DataFrame(
        {
            "open": range(10),
            "high": range(1, 11),
            "low": range(10),
            "close": range(10),
            "volume": [1.0] * 10,
        },
        index=idx,
        dtype=float,
    )
    same, f = downsample(frame, 10)
    assert f == 1 and same is frame
    out, f = downsample(frame, 4)
    assert f == 3 and len(out) == 4
    assert out["open"].tolist() == [0, 3, 6, 9]
    assert out["high"].tolist() == [3, 6, 9, 10]
    assert out["close"].tolist() == [2, 5, 8, 9]
    assert out["volume"].tolist() == [3, 3, 3, 1]
    assert list(out.index) == list(idx[::3])


def test_failed_run_detail_and_missing_prices_are_explained(api, seeded) -> None:
    d = api.get(f"/api/backtests/{seeded.failed}").json()
    assert d["state"] == "failed" and d["equity"] == [] and d["trades"] == []
    assert d["prices"] == {}
    assert any("NOSUCH" in w for w in d["warnings"])


def test_sweep_points_grid_and_run_ids(api, seeded, pg_settings) -> None:
    s = api.get(f"/api/sweeps/{seeded.sweep}").json()
    assert s["kind"] == "sweep" and s["params"] == ["fast", "slow"]
    assert s["grid"] == seeded.grid and s["rank_by"] == "sharpe"
    assert s["walkforward"] is None
    combos = {(p["params"]["fast"], p["params"]["slow"]) for p in s["points"]}
    assert combos == {(f, sl) for f in seeded.grid["fast"] for sl in seeded.grid["slow"]}
    assert [p["rank"] for p in s["points"]] == list(range(1, 10))
    sharpes = [p["metrics"]["sharpe"] for p in s["points"]]
    assert sharpes == sorted(sharpes, reverse=True)
    ref = load_run(connect(pg_settings), seeded.sweep)
    assert {p["run_id"] for p in s["points"]} == {c["id"] for c in ref["children"]}
    one = api.get(f"/api/backtests/{s['points'][0]['run_id']}").json()
    assert one["sweep_id"] == seeded.sweep


def test_walkforward_windows_in_and_out_of_sample(api, seeded) -> None:
    s = api.get(f"/api/sweeps/{seeded.walkforward}").json()
    assert s["kind"] == "walkforward" and s["params"] == ["fast", "slow"]
    wf = s["walkforward"]
    assert [w["window"] for w in wf] == list(range(1, len(wf) + 1))
    assert len(wf) >= 4
    for a, b in itertools.pairwise(wf):
        assert a["out_of_sample_period"][1] < b["out_of_sample_period"][0]
    for w in wf:
        assert w["in_sample_period"][1] < w["out_of_sample_period"][0]
        assert w["in_sample"]["sharpe"] is not None
        assert w["out_of_sample"]["sharpe"] is not None
        assert w["params"]["fast"] in (5, 10) and w["params"]["slow"] in (30, 60)
    assert "sharpe" in s["metrics"]


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/api/backtests/nope", "no backtest run with id 'nope'"),
        ("/api/sweeps/nope", "no backtest run with id 'nope'"),
    ],
)
def test_unknown_ids_are_404_with_detail(api, path, needle) -> None:
    r = api.get(path)
    assert r.status_code == 404
    assert r.json()["detail"] == needle


def test_sweep_of_a_plain_run_is_404(api, seeded) -> None:
    r = api.get(f"/api/sweeps/{seeded.backtest}")
    assert r.status_code == 404
    assert "is a backtest run, not a sweep" in r.json()["detail"]


def test_openapi_documents_the_routes(api) -> None:
    spec = api.get("/openapi.json").json()
    for path in ("/api/backtests", "/api/backtests/{run_id}", "/api/sweeps/{sweep_id}"):
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].startswith("#/components/schemas/")
    schemas = spec["components"]["schemas"]
    assert {"BacktestRun", "BacktestDetail", "Sweep", "WalkForwardWindow"} <= set(schemas)
    assert "drawdown" in schemas["EquityDrawdownPoint"]["properties"]


def test_token_guards_the_routes(pg_settings, seeded) -> None:
    from easyquant.config import load_settings

    guarded = load_settings(
        home=pg_settings.home, database_url=pg_settings.database_url, api_token="s3cret-token-value"
    )
    with LiveServer(guarded) as server:
        url = f"{server.url}/api/backtests/{seeded.backtest}"
        assert httpx.get(url).status_code == 401
        bad = httpx.get(url, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
        ok = httpx.get(url, headers={"Authorization": "Bearer s3cret-token-value"}, timeout=30)
        assert ok.status_code == 200


# --- pipeline trigger: what monitor_api refuses itself, and an unreachable Airflow -----------
# (a trigger that reaches a real Airflow is tested in tests/e2e/test_make_up_down.py)


@pytest.fixture(scope="module")
def no_airflow(pg_settings: Settings) -> Iterator[str]:
    """monitor_api configured with an Airflow URL where nothing listens."""
    from easyquant.config import load_settings
    from tests.conftest import free_port

    settings = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        airflow_url=f"http://127.0.0.1:{free_port()}",
        api_token="pipeline-token",
    )
    with LiveServer(settings) as server:
        yield server.url


AUTH = {"Authorization": "Bearer pipeline-token"}


def test_trigger_with_airflow_down_is_502_naming_it(no_airflow) -> None:
    r = httpx.post(
        f"{no_airflow}/api/pipelines/easyquant_etl/trigger",
        json={"conf": {"symbols": ["AAA"]}},
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 502
    assert "Airflow at http://127.0.0.1:" in r.json()["detail"]
    assert "unreachable" in r.json()["detail"]


@pytest.mark.parametrize(
    ("dag_id", "body", "loc"),
    [
        ("example_bash_operator", {"conf": {}}, ["path", "dag_id"]),
        ("easyquant_etl", {"conf": ["AAA"]}, ["body", "conf"]),
        ("easyquant_etl", {"conf": {}, "extra": 1}, ["body", "extra"]),
    ],
)
def test_trigger_refuses_other_dags_and_bad_bodies(no_airflow, dag_id, body, loc) -> None:
    r = httpx.post(
        f"{no_airflow}/api/pipelines/{dag_id}/trigger", json=body, headers=AUTH, timeout=30
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("conf", "loc", "needle"),
    [
        ({"strategy": "nope", "symbols": ["AAA"]}, ["strategy"], "unknown strategy 'nope'"),
        ({"market": "mars"}, ["market"], "unknown market 'mars'"),
        ({"walkforward": {"in_sample": 1}}, ["walkforward", "in_sample"], "greater than"),
        (
            {"strategy": "sma_cross", "symbols": ["AAA"], "grid": {"fsat": [1, 2]}},
            ["grid"],
            "unknown parameter 'fsat'",
        ),
    ],
)
def test_a_bad_backtest_conf_is_refused_before_airflow(no_airflow, conf, loc, needle) -> None:
    """The trigger parses a backtest's conf as the DAG will (BacktestRequest): a bad field is a
    422 naming it, and Airflow (down here) is never asked."""
    r = httpx.post(
        f"{no_airflow}/api/pipelines/easyquant_backtest/trigger",
        json={"conf": conf},
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 422, r.text
    first = r.json()["detail"][0]
    assert first["loc"] == ["body", "conf", *loc]
    assert needle in first["msg"]
    good = {"strategy": "sma_cross", "symbols": ["AAA"], "grid": {"fast": "5,10"}}
    r = httpx.post(
        f"{no_airflow}/api/pipelines/easyquant_backtest/trigger",
        json={"conf": good},
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 502 and "unreachable" in r.json()["detail"]


def test_trigger_requires_the_token(no_airflow) -> None:
    url = f"{no_airflow}/api/pipelines/easyquant_etl/trigger"
    assert httpx.post(url, json={"conf": {}}, timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.post(url, json={"conf": {}}, headers=wrong, timeout=30).status_code == 401


def test_long_equity_is_thinned_keeping_the_deepest_drawdown(api, seeded, pg_settings) -> None:
    from monitor_api.routes.backtests import MAX_EQUITY_POINTS

    d = api.get(f"/api/backtests/{seeded.minute}").json()
    ref = load_run(connect(pg_settings), seeded.minute)["equity"]
    assert len(ref) > MAX_EQUITY_POINTS
    assert MAX_EQUITY_POINTS - 1 <= len(d["equity"]) <= MAX_EQUITY_POINTS + 1
    times = [p["time"] for p in d["equity"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert d["equity"][0]["equity"] == pytest.approx(ref.iloc[0])
    assert d["equity"][-1]["equity"] == pytest.approx(ref.iloc[-1])
    deepest = (ref / ref.cummax() - 1).min()
    assert min(p["drawdown"] for p in d["equity"]) == pytest.approx(deepest)


def test_sweep_points_are_paged(api, seeded) -> None:
    pages = [
        api.get(f"/api/sweeps/{seeded.sweep}", params={"limit": 4, "offset": o}).json()
        for o in (0, 4, 8)
    ]
    assert [[p["rank"] for p in page["points"]] for page in pages] == [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9],
    ]
    assert {page["points_total"] for page in pages} == {9}
    assert pages[1]["limit"] == 4 and pages[1]["offset"] == 4
    for bad in ({"limit": 0}, {"limit": 10_001}, {"offset": -1}):
        r = api.get(f"/api/sweeps/{seeded.sweep}", params=bad)
        assert r.status_code == 422 and next(iter(bad)) in r.text


def test_showing_a_run_again_reads_no_parquet_file(api, seeded, pg_settings, monkeypatch) -> None:
    """Prices are kept per symbol and period until the partition's file changes."""
    import os

    import easyquant.data
    from easyquant.data.lake import Lake
    from monitor_api.routes.backtests import PRICES

    calls: list[str] = []
    real = easyquant.data.load_bars

    def counting(symbols, *args, **kwargs):
        calls.extend([symbols] if isinstance(symbols, str) else symbols)
        return real(symbols, *args, **kwargs)

    monkeypatch.setattr(easyquant.data, "load_bars", counting)
    PRICES._entries.clear()
    first = api.get(f"/api/backtests/{seeded.backtest}").json()
    assert sorted(calls) == sorted(first["symbols"]) and first["prices"]
    second = api.get(f"/api/backtests/{seeded.backtest}").json()
    assert len(calls) == len(first["symbols"])  # nothing read again
    assert second["prices"] == first["prices"]
    sym = first["symbols"][0]
    path = Lake(pg_settings.lake_dir).path(first["freq"], sym)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new ingest
    api.get(f"/api/backtests/{seeded.backtest}")
    assert calls.count(sym) == 2
