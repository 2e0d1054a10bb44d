"""Concurrent ingests of the same partitions: nothing lost, nothing duplicated, and the
catalog always says what the files hold."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from easyquant.config import load_settings
from easyquant.data import catalog
from easyquant.data import ingest as ingest_mod
from easyquant.data.ingest import ingest
from easyquant.data.lake import Lake, sha256_file
from easyquant.data.sources import SyntheticSource
from tests.conftest import synthetic_lake

ROUNDS = 8
RANGES = (("2023-01-01", "2023-04-30"), ("2023-03-01", "2023-06-30"))


@pytest.fixture(autouse=True)
def empty_lake(pg_settings):
    shutil.rmtree(pg_settings.lake_dir, ignore_errors=True)


def _symbols(r: int) -> list[str]:
    return [f"R{r}A", f"R{r}B"]


def _rounds(url: str, home: str, k: int, barrier, record: bool) -> None:
    settings = load_settings(home=home, database_url=url)
    # keep each ingest between its read of the stored file and its rename for a while, so the
    # two processes overlap there in every round
    ingest_mod._after_prepare = lambda pending: time.sleep(0.15)
    start, end = RANGES[k]
    for r in range(ROUNDS):
        barrier.wait(timeout=120)
        symbols = _symbols(r) if k == 0 else _symbols(r)[::-1]  # opposite orders: no deadlock
        synthetic_lake(settings, symbols, (start, end), seed=3, record=record)


@pytest.mark.parametrize("record", [True, False], ids=["postgres-lock", "file-lock"])
def test_two_processes_ingesting_overlapping_ranges_store_the_union(
    db, pg_settings, tmp_path, record
):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(
            target=_rounds, args=(pg_settings.dsn(), str(pg_settings.home), k, barrier, record)
        )
        for k in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]

    # the reference: both ranges' union ingested at once, by one process, into another lake
    ref = load_settings(home=tmp_path / "ref", database_url=pg_settings.dsn())
    symbols = [s for r in range(ROUNDS) for s in _symbols(r)]
    synthetic_lake(ref, symbols, (RANGES[0][0], RANGES[1][1]), seed=3, record=False)
    lake, ref_lake = Lake(pg_settings.lake_dir), Lake(ref.lake_dir)
    lost = {}
    for s in symbols:
        got = pq.read_table(lake.path("1d", s)).column("timestamp").to_pylist()
        want = pq.read_table(ref_lake.path("1d", s)).column("timestamp").to_pylist()
        assert len(got) == len(set(got)), f"{s}: duplicated bars"
        if got != want:
            lost[s] = len(set(want) - set(got))
        assert sha256_file(lake.path("1d", s)) == sha256_file(ref_lake.path("1d", s)) or lost
    assert lost == {}, f"bars lost per symbol: {lost}"
    assert len(want) == 124  # 2023 H1 on NYSE
    if record:
        entries = {e["symbol"]: e for e in catalog.list_entries(pg_settings, "1d")}
        assert sorted(entries) == sorted(symbols)
        for s in symbols:
            path = Path(entries[s]["path"])
            assert (entries[s]["checksum"], entries[s]["rows"]) == (sha256_file(path), 124), s


def test_a_failed_rename_leaves_the_catalog_saying_what_the_files_hold(
    db, pg_settings, monkeypatch
):
    """Publishing a batch renames one file after another: when a rename fails midway, the
    catalog holds the new entry of each file renamed and the old entry of each file kept."""
    args = dict(freq="1d", symbols=["AAA", "BBB", "CCC"], start="2023-01-01", settings=pg_settings)
    src = SyntheticSource("XNYS", seed=5)
    ingest(src, end="2023-03-31", **args)
    real = Lake.commit

    def fail_on_bbb(pending):
        if pending.symbol == "BBB":
            raise OSError("No space left on device")
        real(pending)

    monkeypatch.setattr(Lake, "commit", staticmethod(fail_on_bbb))
    with pytest.raises(OSError, match="No space"):
        ingest(src, end="2023-06-30", **args)
    entries = {e["symbol"]: e for e in catalog.list_entries(pg_settings, "1d")}
    lake = Lake(pg_settings.lake_dir)
    for s in ("AAA", "BBB", "CCC"):
        rows = pq.ParquetFile(lake.path("1d", s)).metadata.num_rows
        assert (entries[s]["checksum"], entries[s]["rows"]) == (
            sha256_file(lake.path("1d", s)),
            rows,
        ), s
    assert pq.ParquetFile(lake.path("1d", "AAA")).metadata.num_rows == 124
    assert pq.ParquetFile(lake.path("1d", "BBB")).metadata.num_rows == 62
