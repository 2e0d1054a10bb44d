"""The backtest request: one model parsed once, errors naming the field, what it describes."""

from __future__ import annotations

import pytest

from easyquant.backtest.request import (
    MAX_TASKS,
    BacktestRequest,
    check_given,
    lake_event_fields,
    parse_values,
)
from easyquant.errors import ConfigError

BASE = {"strategy": "sma_cross", "symbols": ["AAA"]}


def test_defaults_and_the_shapes_every_entry_point_gives() -> None:
    req = BacktestRequest.parse(BASE)
    assert (req.kind, req.freq, req.market, req.cash, req.fill) == (
        "backtest",
        "1d",
        "us",
        100_000.0,
        "next_open",
    )
    assert req.points() == [{"fast": 10, "slow": 30}]
    # the command line's text, the DAG's JSON and Airflow's nulls parse to one request
    cli = BacktestRequest.parse(
        {
            "strategy": " sma_cross ",
            "symbols": "AAA, BBB,AAA",
            "cash": "5000",
            "commission": None,
            "start": "",
            "params": {"fast": "5"},
            "grid": {"slow": "20:40:10"},
            "random": None,
        }
    )
    dag = BacktestRequest.parse(
        {
            "strategy": "sma_cross",
            "symbols": ["AAA", "BBB"],
            "cash": 5000,
            "params": {"fast": "5"},
            "grid": {"slow": ["20", "30", "40"]},
        }
    )
    assert cli == dag
    assert BacktestRequest.parse({**BASE, "freq": "60min"}).freq == "1h"  # one spelling
    # the command line's repeated NAME=VALUE options are the same objects
    argv = BacktestRequest.parse(
        {
            **BASE,
            "symbols": "AAA,BBB",
            "cash": 5000,
            "params": ["fast=5"],
            "grid": ["slow=20:40:10"],
        }
    )
    assert argv == dag
    assert cli.kind == "sweep" and cli.symbols == ["AAA", "BBB"] and cli.start is None
    assert cli.points() == [{"fast": 5, "slow": s} for s in (20, 30, 40)]
    # vendor spellings become the canonical symbol
    assert BacktestRequest.parse({**BASE, "symbols": "sh600519\nbtcusdt"}).symbols == [
        "600519.SH",
        "BTC-USDT",
    ]
    # its JSON form (what XCom carries between the DAG's tasks) parses back to itself
    assert BacktestRequest.parse(cli.model_dump(mode="json")) == cli
    assert BacktestRequest.parse(cli) is cli


def test_config_search_and_spec_follow_from_the_request() -> None:
    req = BacktestRequest.parse(
        {
            **BASE,
            "market": "cn",
            "commission": 0.0003,
            "fill": "close",
            "cash": 1e6,
            "grid": {"fast": [5, 10], "slow": [20]},
            "walkforward": {"in_sample": 100, "out_of_sample": 20},
        }
    )
    assert req.kind == "walkforward" and req.label == "walkforward sma_cross AAA"
    cfg = req.config()
    assert (cfg.cash, cfg.fill, cfg.market.name, cfg.market.commission) == (
        1e6,
        "close",
        "cn",
        0.0003,
    )
    assert cfg.market.lot == 100  # the rest of the cn profile is kept
    assert req.search() == {
        "grid": {"fast": [5, 10], "slow": [20]},
        "in_sample": 100,
        "out_of_sample": 20,
        "step": None,
        "rank_by": "sharpe",
    }
    spec = req.spec({"fast": 5, "slow": 20}, kind="point", parent_id="p1")
    assert (spec.kind, spec.parent_id, spec.market, spec.params) == (
        "point",
        "p1",
        "cn",
        {"fast": 5, "slow": 20},
    )
    assert spec.config["market"]["commission"] == 0.0003


def test_random_points_are_seeded_and_drawn_from_the_grid() -> None:
    raw = {**BASE, "grid": {"fast": "2:20:2", "slow": "30:60:10"}, "random": 5, "seed": 3}
    a = BacktestRequest.parse(raw).points()
    assert a == BacktestRequest.parse(raw).points() and len(a) == 5
    full = BacktestRequest.parse({**raw, "random": 0}).points()
    assert all(p in full for p in a) and len(full) == 40


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "nope"}, "strategy: unknown strategy 'nope'"),
        ({"strategy": ""}, "strategy: "),
        ({"strategy": "tests.no_such:X"}, "strategy: strategy 'tests.no_such:X': cannot import"),
        ({"strategy": "os:X"}, "strategy: strategy 'os:X': module 'os' is not under an allowed"),
        ({"symbols": []}, "symbols: "),
        ({"symbols": "999999"}, "symbols: symbol '999999': cannot tell the exchange"),
        ({"start": "yesterday-ish"}, "start: expected a date or time"),
        ({"end": 20240101}, "end: expected a date or time"),
        ({"start": "2022-01-01", "end": "2021-01-01"}, "start/end: start 2022-01-01 is after"),
        ({"freq": "1w"}, "freq: expected a bar frequency like 1m, 5m"),
        ({"freq": "2d"}, "freq: only 1d is supported for daily bars"),
        ({"market": "mars"}, "market: unknown market 'mars'"),
        ({"cash": 0}, "cash: Input should be greater than 0"),
        ({"cash": "lots"}, "cash: Input should be a valid number"),
        ({"cash": float("inf")}, "cash: Input should be a finite number"),
        ({"cash": True}, "cash: expected a number, got True"),
        ({"commission": -0.1}, "commission: Input should be greater than or equal to 0"),
        ({"commission": 0.9}, "commission: Input should be less than or equal to 0.5"),
        ({"slippage_bps": "x"}, "slippage_bps: Input should be a valid number"),
        ({"fill": "open"}, "fill: Input should be 'next_open' or 'close'"),
        ({"params": [1, 2]}, "params: expected an object of name -> value"),
        ({"params": ["fast=5", "slow"]}, "params: 'slow': expected NAME=VALUE"),
        ({"grid": ["=5,10"]}, "grid: '=5,10': expected NAME=VALUE"),
        ({"params": {"slow": 0}}, "params: strategy sma_cross: parameter slow: must be >= 2"),
        ({"params": {"fsat": 3}}, "params: strategy sma_cross: unknown parameter 'fsat'"),
        ({"grid": {"fsat": [1, 2]}}, "grid: strategy sma_cross: unknown parameter 'fsat'"),
        ({"grid": {"fast": []}}, "grid: fast: expected a non-empty list"),
        ({"grid": {"fast": "9:1"}}, "grid: grid range '9:1': need stop >= start"),
        ({"grid": {"fast": [50], "slow": [20]}}, "grid: strategy sma_cross: no valid parameter"),
        ({"grid": "fast=1"}, "grid: expected an object of parameter -> values"),
        ({"random": -1}, "random: Input should be greater than or equal to 0"),
        ({"random": 3}, "random: needs a grid to draw from"),
        ({"rank_by": "luck"}, "rank_by: rank by 'luck': expected one of"),
        ({"points_per_task": 0}, "points_per_task: Input should be greater than or equal to 1"),
        ({"walkforward": {"in_sample": 1, "out_of_sample": 5}}, "walkforward.in_sample: "),
        ({"walkforward": {"in_sample": 50}}, "walkforward.out_of_sample: required"),
        ({"walkforward": {"in_sample": 50, "out_of_sample": 5}}, "walkforward: needs a grid"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(change: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        BacktestRequest.parse({**BASE, **change})
    assert str(info.value).startswith(message), str(info.value)


def test_a_grid_too_big_for_airflow_names_points_per_task() -> None:
    grid = {"fast": "2:40:1", "slow": "41:140:1"}  # 39 x 100 points
    with pytest.raises(ConfigError, match=f"grid: 3900 points .* more than {MAX_TASKS}"):
        BacktestRequest.parse({**BASE, "grid": grid, "points_per_task": 1})
    assert BacktestRequest.parse({**BASE, "grid": grid, "points_per_task": 4}).kind == "sweep"
    # unset, the batch is chosen when planning (easyquant.backtest.sizing), within the limit
    assert BacktestRequest.parse({**BASE, "grid": grid}).points_per_task is None


def test_not_an_object_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected an object of fields"):
        BacktestRequest.parse(["sma_cross"])  # type: ignore[arg-type]


def test_parse_values_lists_and_ranges() -> None:
    assert parse_values("5, 10,15") == ["5", "10", "15"]
    assert parse_values("0.5:1.5:0.5") == ["0.5", "1", "1.5"]
    assert parse_values("20:40:10") == ["20", "30", "40"]
    for bad, needle in (("", "empty"), ("1:2:3:4", "start:stop"), ("a:b", "must be numbers")):
        with pytest.raises(ConfigError, match=needle):
            parse_values(bad)


def test_lake_events_give_the_symbols_and_frequency_last_one_wins() -> None:
    extras = [{"symbols": ["AAA"], "freq": "1m"}, {"symbols": ["BBB", "CCC"]}, {}]
    assert lake_event_fields(extras) == {"symbols": ["BBB", "CCC"], "freq": "1m"}
    assert lake_event_fields([]) == {}
    params = {**BASE, "params": {"fast": 3, "slow": 9}}
    nightly = BacktestRequest.parse(params | lake_event_fields(extras))
    assert (nightly.symbols, nightly.freq, nightly.params) == (
        ["BBB", "CCC"],
        "1m",
        {"fast": 3, "slow": 9},
    )


def test_a_partial_conf_is_checked_field_by_field() -> None:
    """monitor_api's trigger: fields left out keep the DAG's Param defaults."""
    assert check_given({}) == []
    assert check_given({"market": "cn", "grid": {"fast": [5]}}) == []
    assert check_given({"market": "mars", "cash": -1}) == [
        ("market", "unknown market 'mars': expected one of us, cn, crypto"),
        ("cash", "Input should be greater than 0, got -1"),
    ]
    bad = check_given({**BASE, "params": {"slow": 1}})
    assert bad == [("params", "strategy sma_cross: parameter slow: must be >= 2, got 1")]
