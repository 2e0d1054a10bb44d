"""One nightly ETL DAG per universe: generated from the universes file, each after its own
exchange's close in its own time zone; a bad file is one clear import error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest

from tests.conftest import REPO, run_dag
from tests.dags.test_etl_dag import HEAVY, components, count, lake_files

DAG_FILE = REPO / "dags" / "easyquant_etl.py"
UNIVERSES = """
[universe.cn_test]
source = "synthetic"
symbols = ["600519", "sz000001"]
calendar = "XSHG"

[universe.us_test]
source = "synthetic"
symbols = ["AAA", "BBB"]
calendar = "XNYS"
batch_size = 1
"""


@pytest.fixture()
def universes(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "universes.toml"
    path.write_text(UNIVERSES)
    monkeypatch.setenv("EASYQUANT_UNIVERSES", str(path))
    return path


def parse(folder: Path = DAG_FILE):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_the_repo_universes_file_generates_its_dags_thin(airflow_db):
    from tests.conftest import load_thin_dag

    dag = load_thin_dag(DAG_FILE, "easyquant_etl_cn_daily", HEAVY)
    assert dag.params["rule"] == "exchange:XSHG,XSHE,BJSE" and dag.is_paused_upon_creation
    bag = parse()
    assert sorted(bag.dags) == [
        "easyquant_etl",
        "easyquant_etl_cn_daily",
        "easyquant_etl_crypto_daily",
        "easyquant_etl_demo_us_daily",
        "easyquant_etl_us_daily",
    ]
    assert not bag.dags["easyquant_etl_demo_us_daily"].is_paused_upon_creation


def test_each_universe_dag_updates_its_own_asset(universes, airflow_db):
    from easyquant.data.universes import asset_uri

    bag = parse()
    for name in ("cn_test", "us_test"):
        outlets = [a.uri for a in bag.dags[f"easyquant_etl_{name}"].task_dict["summarise"].outlets]
        assert outlets == ["easyquant://lake/bars", asset_uri(name)]
        assert asset_uri(name) == f"easyquant://lake/bars/{name}"


@pytest.mark.parametrize(
    ("universe", "calendar", "tz"),
    [
        ("cn_test", "XSHG", "Asia/Shanghai"),
        ("us_test", "XNYS", "America/New_York"),
        ("crypto_daily", "24/7", "UTC"),
    ],
)
def test_next_run_falls_after_the_exchange_close_in_its_own_zone(
    universes, airflow_db, universe, calendar, tz
):
    from airflow.serialization.serialized_objects import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    from easyquant.data import calendars

    if universe == "crypto_daily":
        universes.write_text(
            UNIVERSES + '\n[universe.crypto_daily]\nsource = "ccxt"\n'
            'symbols = ["BTC/USDT"]\ncalendar = "24/7"\n'
        )
    dag = parse().dags[f"easyquant_etl_{universe}"]
    assert str(getattr(dag.timetable.timezone, "name", dag.timetable.timezone)) == tz
    cal = calendars.get_calendar(calendar)
    # the timetable the scheduler computes runs with
    core_timetable = coerce_to_core_timetable(dag.timetable)
    # from a few moments across a week (and a DST change in New York), the next run
    for earliest in ("2024-03-07T12:00:00Z", "2024-03-08T23:00:00Z", "2024-03-11T03:00:00Z"):
        start = pendulum.parse(earliest)
        info = core_timetable.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=start, latest=None, catchup=True),
        )
        run = info.run_after
        local = run.in_timezone(tz)
        if calendar == "24/7":
            assert (local.hour, local.minute) == (1, 30)  # after the 00:00 UTC daily close
            continue
        session = local.date().isoformat()
        assert cal.is_session(session), (earliest, local)  # a weekday the exchange trades
        close = pendulum.instance(cal.session_close(session).to_pydatetime())
        assert close < run and run - close == dt.timedelta(minutes=90), (earliest, local, close)


@pytest.mark.parametrize(
    ("dag_id", "conf", "stored", "sessions"),
    [
        (
            "easyquant_etl_cn_test",
            {"start": "2024-02-01", "end": "2024-02-29"},
            ["000001.SZ", "600519.SH"],
            15,
        ),  # XSHG: Spring Festival 2024-02-09..17 closed
        ("easyquant_etl_us_test", {"start": "2024-02-01", "end": "2024-02-29"}, ["AAA", "BBB"], 20),
    ],
)
def test_universe_dag_runs_green(
    universes, airflow_db, db, pg_settings, dag_id, conf, stored, sessions
):
    dr = run_dag(dag_id, conf=conf)
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), dr.state
    from easyquant.data import catalog, load_bars

    entries = catalog.list_entries(pg_settings)
    assert sorted(e["symbol"] for e in entries) == stored
    assert {e["calendar"] for e in entries} == {"XSHG" if "cn" in dag_id else "XNYS"}
    bars = load_bars(stored, "1d", conf["start"], conf["end"], settings=pg_settings)
    assert all(len(df) == sessions for df in bars.values())
    comps = components(db)
    summary = comps[f"etl:{dag_id}:{dr.run_id}:summarise:-1"]
    assert summary[1] == "success" and summary[3]["rows_stored"] == sessions * 2
    # run again: everything is stored, nothing is asked or written
    before = lake_files(pg_settings.lake_dir)
    dr = run_dag(dag_id, conf=conf)
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), dr.state
    assert lake_files(pg_settings.lake_dir) == before
    assert count(db, "bar_catalog") == 2


BAD = [
    (
        '[universe.cn]\nsource = "akshare"\nsymbols = ["600519"]\ncalendar = "XSHX"\n',
        "field 'universe.cn.calendar': expected one of",
    ),
    (
        '[universe.cn]\nsource = "wind"\nsymbols = ["600519"]\ncalendar = "XSHG"\n',
        "field 'universe.cn.source': expected one of",
    ),
    (
        '[universe.cn]\nsource = "akshare"\ncalendar = "XSHG"\n',
        "field 'universe.cn.symbols': give either symbols",
    ),
    (
        '[universe.cn]\nsource = "akshare"\nrule = "board:STAR"\ncalendar = "XSHG"\n',
        "field 'universe.cn.rule': expected 'exchange:'",
    ),
    (
        '[universe.cn]\nsource = "akshare"\nsymbols = ["60 0519"]\ncalendar = "XSHG"\n',
        "field 'universe.cn.symbols[0]': invalid symbol",
    ),
    ('[universe.cn\nsource = "akshare"\n', "not valid TOML"),
]


@pytest.mark.parametrize(("text", "says"), BAD)
def test_a_bad_universes_file_is_one_import_error_other_dags_stay(
    tmp_path, monkeypatch, airflow_db, text, says
):
    path = tmp_path / "universes.toml"
    path.write_text(text)
    monkeypatch.setenv("EASYQUANT_UNIVERSES", str(path))
    bag = parse(REPO / "dags")
    assert list(bag.import_errors) == [str(DAG_FILE)], bag.import_errors
    error = bag.import_errors[str(DAG_FILE)]
    assert f"{path}: {says}" in error, error
    assert {"easyquant_backtest", "easyquant_parity"} <= set(bag.dags)
