"""monitor_api's Data routes against real PostgreSQL, on a lake written by the real ingest."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest

from easyquant.config import Settings
from easyquant.data import catalog, instruments, load_bars
from easyquant.data.ingest import ingest
from easyquant.data.lake import Lake
from easyquant.data.sources import make_source
from easyquant.db import connect
from monitor_api.routes.backtests import MAX_PRICE_BARS
from tests.conftest import REPO, LiveServer, synthetic_lake
from tests.e2e.browser.seed import MASTER

DAILY = ["DATA1", "DATA2", "OTHER"]
MINUTE = "DATAM"


@pytest.fixture(scope="module")
def lake(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake with daily and minute bars, a quarantined row, a split, and the master."""
    conn = connect(pg_settings)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE bar_catalog, quality_report, corporate_action, instrument CASCADE")
    conn.commit()
    conn.close()
    shutil.rmtree(pg_settings.lake_dir, ignore_errors=True)
    synthetic_lake(pg_settings, DAILY, ("2023-01-01", "2023-06-30"), seed=5)
    synthetic_lake(pg_settings, [MINUTE], ("2023-03-01", "2023-03-10"), seed=5, freq="1m")
    tmp = tmp_path_factory.mktemp("csv")
    bad = tmp / "BAD.csv"
    bad.write_text(
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n"
        "2024-01-03,1,0.2,0.5,1.5,10\n2024-01-04,1,2,0.5,1.5,10\n"
    )
    ingest(make_source("csv", path=bad), settings=pg_settings, policy="quarantine")
    bars = load_bars("DATA1", settings=pg_settings)["DATA1"]
    ex = bars.index[60].tz_localize(None).normalize()
    actions = pd.DataFrame(
        [{"symbol": "DATA1", "ex_date": ex, "split_ratio": 2.0, "dividend": 0.0}]
    )
    catalog.store_actions(pg_settings, actions)
    master = tmp / "master.csv"
    master.write_text(MASTER, encoding="utf-8")
    instruments.store(pg_settings, instruments.read_csv(master))
    return pg_settings


@pytest.fixture(scope="module")
def api(lake: Settings) -> Iterator[httpx.Client]:
    with LiveServer(lake) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def detail_of(r: httpx.Response) -> str:
    body = r.json()["detail"]
    return body if isinstance(body, str) else str(body)


def test_catalog_lists_every_partition_with_its_span(api, lake) -> None:
    body = api.get("/api/data/catalog").json()
    stored = catalog.list_entries(lake)
    assert body["total"] == len(stored) == 5
    got = {(e["freq"], e["symbol"]): e for e in body["entries"]}
    assert set(got) == {(e["freq"], e["symbol"]) for e in stored}
    for e in stored:
        g = got[(e["freq"], e["symbol"])]
        assert g["rows"] == e["rows"] and g["calendar"] == e["calendar"]
        assert pd.Timestamp(g["first_ts"]) == pd.Timestamp(e["first_ts"])
        assert pd.Timestamp(g["last_ts"]) == pd.Timestamp(e["last_ts"])
        assert pd.Timestamp(g["updated_at"]) == pd.Timestamp(e["updated_at"])
    assert "path" not in body["entries"][0]  # the server's file layout stays private


def test_catalog_pages_and_filters(api) -> None:
    everything = api.get("/api/data/catalog").json()["entries"]
    pages = [
        api.get("/api/data/catalog", params={"limit": 2, "offset": o}).json() for o in (0, 2, 4)
    ]
    assert [len(p["entries"]) for p in pages] == [2, 2, 1]
    assert all(p["total"] == 5 and p["limit"] == 2 for p in pages)
    assert [e for p in pages for e in p["entries"]] == everything
    data = api.get("/api/data/catalog", params={"search": "data"}).json()
    assert sorted(e["symbol"] for e in data["entries"]) == ["DATA1", "DATA2", "DATAM"]
    minute = api.get("/api/data/catalog", params={"freq": "1m"}).json()
    assert [e["symbol"] for e in minute["entries"]] == [MINUTE] and minute["total"] == 1
    # LIKE's own wildcards are taken literally
    assert api.get("/api/data/catalog", params={"search": "_"}).json()["total"] == 0


def test_reports_newest_first_with_rejects_gaps_and_quarantine(api, lake) -> None:
    body = api.get("/api/data/reports").json()
    stored = catalog.reports(lake)
    assert body["total"] == len(stored) == 5
    assert [r["id"] for r in body["reports"]] == sorted((r["id"] for r in stored), reverse=True)
    bad = next(r for r in body["reports"] if r["symbol"] == "BAD")
    assert (bad["rows_read"], bad["rows_stored"], bad["rows_rejected"]) == (3, 2, 1)
    assert sum(bad["rejects"].values()) == 1
    assert bad["samples"] and bad["quarantine_path"]
    daily = next(r for r in body["reports"] if r["symbol"] == "DATA1")
    assert (
        daily["gaps"]["missing_bars"] == 0
        and daily["gaps"]["expected_bars"] == daily["rows_stored"]
    )
    assert daily["status"] == "stored" and daily["units"] == {}
    only = api.get("/api/data/reports", params={"symbol": "DATA1", "freq": "1d"}).json()
    assert only["total"] == 1 and only["reports"][0]["id"] == daily["id"]
    ingest_id = daily["ingest_id"]
    same = api.get("/api/data/reports", params={"ingest_id": ingest_id}).json()
    assert sorted(r["symbol"] for r in same["reports"]) == sorted(DAILY)
    page = api.get("/api/data/reports", params={"limit": 2, "offset": 4}).json()
    assert page["total"] == 5 and len(page["reports"]) == 1


def test_report_units_come_from_the_ingests_conversions(api, lake) -> None:
    """An akshare file (成交量 in 手, lots of 100) is stored in shares and says so."""
    fixture = REPO / "tests" / "fixtures" / "layouts" / "akshare_000001.csv"
    result = ingest(make_source("csv", path=fixture), settings=lake, full=True)
    try:
        body = api.get("/api/data/reports", params={"ingest_id": result.ingest_id}).json()
        (r,) = body["reports"]
        assert (r["symbol"], r["status"], r["rows_stored"]) == ("000001.SZ", "stored", 3)
        assert r["units"] == {"volume": "手 -> shares (x100)"}
        bars = api.get("/api/data/bars", params={"symbol": "000001.SZ"}).json()["bars"]
        assert [b["volume"] for b in bars] == [115836600, 73361000, 86419400]
    finally:
        conn = connect(lake)
        with conn.cursor() as cur:
            cur.execute("DELETE FROM quality_report WHERE ingest_id = %s", (result.ingest_id,))
            cur.execute("DELETE FROM bar_catalog WHERE symbol = '000001.SZ'")
        conn.commit()
        conn.close()
        shutil.rmtree(Lake(lake.lake_dir).path("1d", "000001.SZ").parent)


def test_bars_raw_match_the_lake(api, lake) -> None:
    body = api.get("/api/data/bars", params={"symbol": "DATA2"}).json()
    ref = load_bars("DATA2", settings=lake)["DATA2"]
    assert (body["symbol"], body["freq"], body["adjust"], body["bars_freq"]) == (
        "DATA2",
        "1d",
        "raw",
        "1d",
    )
    assert body["rows"] == len(ref) == len(body["bars"]) and body["actions"] == 0
    got = pd.DataFrame(body["bars"])
    assert list(pd.to_datetime(got["time"], utc=True)) == list(ref.index)
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[col].to_numpy(), ref[col].to_numpy())


def test_bars_forward_and_backward_adjusted_on_read(api, lake) -> None:
    raw = pd.DataFrame(api.get("/api/data/bars", params={"symbol": "DATA1"}).json()["bars"])
    fwd_body = api.get("/api/data/bars", params={"symbol": "DATA1", "adjust": "forward"}).json()
    back = pd.DataFrame(
        api.get("/api/data/bars", params={"symbol": "DATA1", "adjust": "backward"}).json()["bars"]
    )
    fwd = pd.DataFrame(fwd_body["bars"])
    assert fwd_body["actions"] == 1 and fwd_body["adjust"] == "forward"
    ref = load_bars("DATA1", settings=lake, adjust="forward")["DATA1"]
    np.testing.assert_allclose(fwd["close"].to_numpy(), ref["close"].to_numpy())
    # a 2:1 split at bar 60: forward halves the earlier prices, backward doubles the later ones
    np.testing.assert_allclose(fwd["close"][:60], raw["close"][:60] / 2)
    np.testing.assert_allclose(fwd["close"][60:], raw["close"][60:])
    np.testing.assert_allclose(back["close"][:60], raw["close"][:60])
    np.testing.assert_allclose(back["close"][60:], raw["close"][60:] * 2)
    np.testing.assert_allclose(fwd["volume"][:60], raw["volume"][:60] * 2)


def test_long_series_are_merged_and_a_period_can_be_chosen(api, lake) -> None:
    body = api.get("/api/data/bars", params={"symbol": MINUTE, "freq": "1m"}).json()
    ref = load_bars(MINUTE, freq="1m", settings=lake)[MINUTE]
    assert body["rows"] == len(ref) > MAX_PRICE_BARS
    factor = int(body["bars_freq"].split("x")[0])
    assert body["bars_freq"] == f"{factor}x1m" and len(body["bars"]) <= MAX_PRICE_BARS
    assert body["bars"][0]["high"] == pytest.approx(ref["high"][:factor].max())
    assert sum(b["volume"] for b in body["bars"]) == pytest.approx(ref["volume"].sum())
    part = api.get(
        "/api/data/bars", params={"symbol": "DATA2", "start": "2023-02-01", "end": "2023-02-28"}
    ).json()
    assert part["rows"] == len(part["bars"]) == 19  # XNYS sessions in February 2023
    empty = api.get("/api/data/bars", params={"symbol": "DATA2", "start": "2030-01-01"}).json()
    assert empty["rows"] == 0 and empty["bars"] == []


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"symbol": "NOSUCH"}, 404, "symbol"),
        ({"symbol": "DATA1", "freq": "1m"}, 404, "freq"),
        ({"symbol": "../../etc/passwd"}, 404, "symbol"),
        ({"symbol": "DATA1", "freq": "../x"}, 422, "freq"),
        ({"symbol": "DATA1", "adjust": "qfq"}, 422, "adjust"),
        ({"symbol": "DATA1", "start": "2023-13-01"}, 422, "start"),
        ({"symbol": "DATA1", "start": "2023-03-01", "end": "2023-02-01"}, 422, "end"),
        ({}, 422, "symbol"),
        ({"symbol": "x" * 65}, 422, "symbol"),
    ],
)
def test_bad_bar_requests_name_the_field(api, params, status, field) -> None:
    r = api.get("/api/data/bars", params=params)
    assert r.status_code == status, r.text
    if status == 422:
        locs = [e["loc"] for e in r.json()["detail"]]
        assert ["query", field] in locs, locs
    else:
        assert detail_of(r).startswith(f"{field}:"), detail_of(r)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/data/catalog", {"limit": 0}, "limit"),
        ("/api/data/catalog", {"limit": 1001}, "limit"),
        ("/api/data/catalog", {"offset": -1}, "offset"),
        ("/api/data/reports", {"status": "lost"}, "status"),
        ("/api/data/reports", {"limit": "ten"}, "limit"),
        ("/api/data/instruments", {"board": "gem"}, "board"),
    ],
)
def test_bad_list_requests_name_the_field(api, path, params, field) -> None:
    r = api.get(path, params=params)
    assert r.status_code == 422
    assert ["query", field] in [e["loc"] for e in r.json()["detail"]]


def test_instrument_master_with_boards_and_dated_periods(api, lake) -> None:
    body = api.get("/api/data/instruments").json()
    listed = {r["symbol"]: r for r in instruments.list_instruments(lake)}
    assert body["total"] == len(listed) == 6
    got = {r["symbol"]: r for r in body["instruments"]}
    assert list(got) == sorted(listed)
    for sym, ref in listed.items():
        for key in instruments.COLUMNS:
            assert got[sym][key] == ref[key], (sym, key)
    assert got["300750.SZ"]["board"] == "chinext" and got["688981.SH"]["board"] == "star"
    assert got["600001.SH"]["st"][1] == {"start": "2008-01-02", "end": None}
    star = api.get("/api/data/instruments", params={"board": "star"}).json()
    assert [r["symbol"] for r in star["instruments"]] == ["688981.SH"]
    named = api.get("/api/data/instruments", params={"search": "茅台"}).json()
    assert [r["symbol"] for r in named["instruments"]] == ["600519.SH"]
    xshg = api.get("/api/data/instruments", params={"exchange": "xshg"}).json()
    assert sorted(r["symbol"] for r in xshg["instruments"]) == [
        "600001.SH",
        "600519.SH",
        "688981.SH",
    ]
    page = api.get("/api/data/instruments", params={"limit": 2, "offset": 2}).json()
    assert [r["symbol"] for r in page["instruments"]] == sorted(listed)[2:4]


def test_routes_write_nothing(api, lake) -> None:
    def snapshot() -> list[tuple]:
        conn = connect(lake)
        out = []
        with conn.cursor() as cur:
            for table in (
                "bar_catalog",
                "quality_report",
                "corporate_action",
                "instrument",
                "instrument_period",
            ):
                cur.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t")
                out.append(cur.fetchone())
        conn.close()
        return out

    files = {p: p.stat().st_mtime_ns for p in lake.lake_dir.rglob("*") if p.is_file()}
    before = snapshot()
    for path in ("catalog", "reports", "instruments"):
        api.get(f"/api/data/{path}")
    api.get("/api/data/bars", params={"symbol": "DATA1", "adjust": "backward"})
    api.get("/api/data/bars", params={"symbol": "NOSUCH"})
    assert snapshot() == before
    assert {p: p.stat().st_mtime_ns for p in lake.lake_dir.rglob("*") if p.is_file()} == files


def test_data_routes_are_in_the_openapi_schema(api) -> None:
    spec = api.get("/openapi.json").json()
    for path, model in (
        ("/api/data/catalog", "CatalogPage"),
        ("/api/data/reports", "ReportPage"),
        ("/api/data/bars", "StoredBars"),
        ("/api/data/instruments", "InstrumentPage"),
    ):
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].endswith(f"/{model}")
