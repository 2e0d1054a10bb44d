"""Every backtest path of a ``cn`` request applies the instrument master's rows, as a live
session does: an ST period's 5% limit blocks a buy at a +6% open that the code's 10% allows,
and a STAR listing's first five trading days are free of the 20% limit; the stored run says
which rows it applied. Non-dated markets store no such thing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from easyquant.backtest.queries import load_run
from easyquant.cli import main
from easyquant.config import Settings
from easyquant.data import instruments
from easyquant.data.instruments import Instrument, Period
from tests.unit.live.support import THRESHOLD

ST, STAR = "600601.SH", "688601.SH"
# XSHG sessions from 2020-01-02; a decision on the third (close 10.40 above the level 10.2)
# buys at the fourth's open, 2020-01-07: +6% for the ST stock, +30% for the new STAR listing
DAYS = [
    "2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09",
    "2020-01-10", "2020-01-13", "2020-01-14", "2020-01-15", "2020-01-16", "2020-01-17",
]  # fmt: skip
CLOSES = {
    ST: [10.0, 10.0, 10.4, 10.9, 10.9, 10.9, 10.9, 10.9, 10.5, 10.0, 10.0, 10.0],
    STAR: [10.0, 10.0, 10.4, 12.4, 12.4, 12.4, 12.4, 12.4, 12.0, 10.0, 10.0, 10.0],
}
JUMP, NEXT = "2020-01-07", "2020-01-08"
JUMP_OPEN = {ST: 11.02, STAR: 13.52}
MASTER = [
    Instrument(ST, "XSHG", "main", "CNY", 100.0, 100.0, 0.01,
               st=[Period(dt.date(2019, 6, 1), dt.date(2020, 3, 31))], line=2),
    Instrument(STAR, "XSHG", "star", "CNY", 1.0, 200.0, 0.01,
               listed=dt.date(2020, 1, 2), line=3),
]  # fmt: skip
REQUEST = {
    "strategy": THRESHOLD,
    "symbols": [ST, STAR],
    "start": DAYS[0],
    "end": DAYS[-1],
    "market": "cn",
    "cash": 1_000_000,
    "commission": 0.0003,
    "params": {"level": 10.2, "weight": 0.45},
}
ARGS = [
    "--strategy", THRESHOLD, "--symbols", f"{ST},{STAR}", "--start", DAYS[0], "--end", DAYS[-1],
    "--market", "cn", "--cash", "1000000", "--commission", "0.0003", "--param", "level=10.2",
]  # fmt: skip


def write_bars(path: Path) -> Path:
    """The two symbols' daily bars as one CSV: each opens at the previous close, except on
    the jump day."""
    lines = ["symbol,date,open,high,low,close,volume"]
    for sym, closes in CLOSES.items():
        for i, (day, c) in enumerate(zip(DAYS, closes, strict=True)):
            o = JUMP_OPEN[sym] if day == JUMP else closes[max(i - 1, 0)]
            lines.append(f"{sym},{day},{o},{max(o, c)},{min(o, c)},{c},1000000")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cn_lake(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from easyquant.data import make_source
    from easyquant.data.ingest import ingest

    path = write_bars(tmp_path_factory.mktemp("cn") / "bars.csv")
    ingest(make_source("csv", path=path), settings=pg_settings, full=True)
    return pg_settings


def store_master(settings: Settings) -> dict[str, Any]:
    """Store the master's rows (the ``db`` fixture empties the table); return their stored
    fingerprint."""
    instruments.store(settings, MASTER, source="csv", origin="master.csv")
    return instruments.fingerprint(instruments.load(settings, [ST, STAR]))


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Run ``easyquant ARGS --json``; return what it printed."""
    capsys.readouterr()  # what came before
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result: dict[str, Any] = json.loads(out.out)
    return result


def first_buys(trades: list[dict[str, Any]]) -> dict[str, str]:
    """Each symbol's first entry day."""
    out: dict[str, str] = {}
    for t in sorted(trades, key=lambda t: str(t["entry_time"])):
        out.setdefault(t["symbol"], str(t["entry_time"])[:10])
    return out


def test_cli_backtest_applies_the_masters_st_and_listing_rules(cn_lake, db, capsys):
    plain = cli(["backtest", *ARGS, "--param", "weight=0.45"], capsys)
    # no row: the codes' boards: main board 10% (the +6% open fills), STAR 20% (+30% waits)
    assert first_buys(plain["trades"]) == {ST: JUMP, STAR: NEXT}
    run = load_run(db, plain["run_id"])["run"]
    assert run["config"]["instruments"]["symbols"] == []  # the master was read: no rows

    applied = store_master(cn_lake)
    assert applied["symbols"] == [ST, STAR]
    ruled = cli(["backtest", *ARGS, "--param", "weight=0.45"], capsys)
    # the master: ST 5% blocks the +6% open (the buy fills the next day), the listing's
    # first five trading days have no limit (the +30% open fills)
    assert first_buys(ruled["trades"]) == {ST: NEXT, STAR: JUMP}
    assert ruled["final_equity"] != plain["final_equity"]
    stored = load_run(db, ruled["run_id"])["run"]
    assert stored["config"]["instruments"] == applied  # the run says which rows it applied

    # a sweep's point and a walk-forward's windows: the single run's numbers, the same rows
    sweep = cli(["sweep", *ARGS, "--grid", "weight=0.3,0.45", "--top", "2"], capsys)
    point = next(r for r in sweep["results"] if r["params"]["weight"] == 0.45)
    assert point["metrics"] == ruled["metrics"]
    kids = load_run(db, sweep["run_id"])["children"]
    assert len(kids) == 2
    for kid in kids:
        assert load_run(db, kid["id"])["run"]["config"]["instruments"] == applied
    wf = cli(
        ["walkforward", *ARGS, "--grid", "weight=0.3,0.45", "--in-sample", "6",
         "--out-of-sample", "3"],
        capsys,
    )  # fmt: skip
    assert load_run(db, wf["run_id"])["run"]["config"]["instruments"] == applied


def test_a_sweeps_tearsheet_reruns_its_point_with_the_rows_it_applied(cn_lake, db, capsys):
    from easyquant.backtest import tearsheet

    store_master(cn_lake)
    ruled = cli(["backtest", *ARGS, "--param", "weight=0.45"], capsys)
    sweep = cli(["sweep", *ARGS, "--grid", "weight=0.45"], capsys)
    sheet = tearsheet.load(db, sweep["run_id"], cn_lake)
    assert sheet["warnings"] == []
    assert sheet["series"]["equity"][-1] == pytest.approx(ruled["final_equity"], rel=1e-12)
    # the master changed since the sweep: the point runs with today's rows, and says so
    with db.cursor() as cur:
        cur.execute("DELETE FROM instrument_period WHERE symbol = %s", (STAR,))
        cur.execute("DELETE FROM instrument WHERE symbol = %s", (STAR,))
    db.commit()
    sheet = tearsheet.load(db, sweep["run_id"], cn_lake)
    assert any("instrument master" in w for w in sheet["warnings"]), sheet["warnings"]
    assert sheet["series"]["equity"][-1] != pytest.approx(ruled["final_equity"], rel=1e-9)


def test_non_dated_markets_store_no_master(cn_lake, db, capsys):
    store_master(cn_lake)
    res = cli(["backtest", *ARGS[:-8], "--market", "us", "--param", "level=10.2"], capsys)
    assert "instruments" not in load_run(db, res["run_id"])["run"]["config"]
