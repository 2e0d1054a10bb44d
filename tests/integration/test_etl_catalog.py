"""ETL against a real PostgreSQL: catalog, quality reports, status, CLI, adjustment."""

from __future__ import annotations

import json
import shutil

import pytest

from easyquant.cli import main
from easyquant.data import catalog, load_bars
from easyquant.data.ingest import ingest
from easyquant.data.sources import SyntheticSource, make_source
from easyquant.errors import DataError

ARGS = dict(freq="1d", symbols=["AAA", "BBB"], start="2023-01-01", end="2023-03-31")


@pytest.fixture(autouse=True)
def empty_lake(pg_settings):
    """Each test starts from an empty lake (the database is emptied by the ``db`` fixture)."""
    shutil.rmtree(pg_settings.lake_dir, ignore_errors=True)


def rows(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_ingest_twice_gives_identical_catalog(db, pg_settings):
    src = SyntheticSource("XNYS", seed=11)
    ingest(src, settings=pg_settings, full=True, **ARGS)
    first = catalog.list_entries(pg_settings)
    assert [(e["symbol"], e["rows"], e["calendar"]) for e in first] == [
        ("AAA", 62, "XNYS"),
        ("BBB", 62, "XNYS"),
    ]
    ingest(src, settings=pg_settings, full=True, **ARGS)
    assert catalog.list_entries(pg_settings) == first
    reps = rows(
        db,
        "SELECT symbol, status, rows_read, rows_stored, gaps->>'missing_bars' "
        "FROM quality_report ORDER BY id",
    )
    assert reps == [
        ("AAA", "stored", 62, 62, "0"),
        ("BBB", "stored", 62, 62, "0"),
        ("AAA", "unchanged", 62, 62, "0"),
        ("BBB", "unchanged", 62, 62, "0"),
    ]


def test_bad_csv_leaves_catalog_untouched_and_reports(db, pg_settings, tmp_path):
    good = tmp_path / "AAA.csv"
    good.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    ingest(make_source("csv", path=good), settings=pg_settings)
    before = catalog.list_entries(pg_settings)
    bad = tmp_path / "BBB.csv"
    bad.write_text(
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,0.2,0.5,1.5,10\n"
    )
    with pytest.raises(DataError, match=r"BBB\.csv: line 3, field 'high': high < low"):
        ingest(make_source("csv", path=bad), settings=pg_settings)
    assert catalog.list_entries(pg_settings) == before
    ((status, error),) = rows(db, "SELECT status, error FROM quality_report WHERE symbol='BBB'")
    assert status == "rejected" and "line 3" in error


def test_cli_ingest_reports_status_and_prints_json(db, pg_settings, capsys):
    code = main(
        [
            "ingest",
            "--source",
            "synthetic",
            "--symbols",
            "AAA,BBB",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-31",
            "--freq",
            "1d",
            "--calendar",
            "XNYS",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["totals"]["rows_stored"] == 2 * 21
    ((state, metrics),) = rows(db, "SELECT state, metrics FROM component WHERE kind = 'etl'")
    assert state == "success"
    assert metrics["rows_stored"] == 42 and metrics["quality"]["AAA"]["rows_read"] == 21
    assert main(["data", "ls", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["entries"]
    assert [e["symbol"] for e in listed] == ["AAA", "BBB"]
    assert main(["data", "show", "AAA", "--freq", "1d", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["bars"]) == 21 and shown["bars"][0]["timestamp"].startswith("2024-01-02")


def test_cli_bad_calendar_is_one_line_error(db, pg_settings, capsys):
    code = main(
        [
            "ingest",
            "--source",
            "synthetic",
            "--symbols",
            "AAA",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-31",
            "--calendar",
            "NOPE",
        ]
    )
    assert code == 2
    assert "calendar: unknown exchange calendar 'NOPE'" in capsys.readouterr().err


def test_load_bars_adjusts_with_stored_actions(db, pg_settings, tmp_path):
    path = tmp_path / "AAA.csv"
    path.write_text(
        "date,open,high,low,close,volume\n2024-01-02,100,100,100,100,10\n"
        "2024-01-03,50,50,50,50,20\n"
    )
    ingest(make_source("csv", path=path), settings=pg_settings)
    actions = tmp_path / "actions.csv"
    actions.write_text("symbol,ex_date,split_ratio,dividend\nAAA,2024-01-03,2,0\n")
    assert main(["data", "actions", str(actions)]) == 0
    fwd = load_bars("AAA", settings=pg_settings, adjust="forward")["AAA"]
    assert fwd.close.tolist() == [50, 50]
    raw = load_bars("AAA", settings=pg_settings)["AAA"]
    assert raw.close.tolist() == [100, 50]


def test_cli_backfills_before_the_stored_range_and_says_when_all_is_stored(db, pg_settings, capsys):
    base = ["ingest", "--source", "synthetic", "--symbols", "sh.600519", "--seed", "3"]
    assert main([*base, "--start", "2024-01-01", "--end", "2024-03-31"]) == 0
    capsys.readouterr()
    # 2023 on a symbol stored from 2024: fetched and stored (it used to read 0 rows, silently)
    assert main([*base, "--start", "2023-01-01", "--end", "2023-12-31"]) == 0
    out = capsys.readouterr().out
    assert "1 symbols, read 242, skipped 0 already stored, stored 242" in out, out
    # a range inside what is stored: nothing to fetch, and the summary says so per symbol
    assert main([*base, "--start", "2023-06-01", "--end", "2024-02-29"]) == 0
    out = capsys.readouterr().out
    assert (
        "600519.SH: nothing to fetch, already stored (requested 2023-06-01 to 2024-02-29; "
        "stored 2023-01-03 to 2024-03-29)" in out
    ), out
    (entry,) = catalog.list_entries(pg_settings)
    assert (entry["symbol"], entry["calendar"]) == ("600519.SH", "XSHG")  # from the exchange


def test_cli_ingests_a_vendor_file_recognised_from_its_header(db, pg_settings, capsys, tmp_path):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "layouts"
    path = tmp_path / "kline.csv"
    path.write_text((fixture / "tushare_000001.csv").read_text())
    assert main(["ingest", "--source", "csv", "--path", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rep = summary["symbols"]["000001.SZ"]
    assert rep["rows_stored"] == 3 and rep["warnings"]["layout"] == "tushare"
    assert rep["warnings"]["units_converted"] == {"volume": "手 -> shares (x100)"}
    assert summary["calendar"] == "XSHG"
    bad = tmp_path / "bad.csv"
    bad.write_text("Datum,Schluss\n2024-01-02,1\n")
    assert main(["ingest", "--source", "csv", "--path", str(bad), "--symbol", "AAA"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: line 1, field 'timestamp': missing column" in err
    assert "matches no known layout" in err
    with pytest.raises(SystemExit):
        main(["ingest", "--source", "csv", "--path", str(path), "--format", "excel"])
    assert "invalid choice: 'excel'" in capsys.readouterr().err
