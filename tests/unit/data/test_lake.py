"""The lake: idempotent re-runs, atomic writes under a real kill, incremental fetches."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pandas as pd
import pyarrow.parquet as pq

from easyquant.data import ingest as ingest_mod
from easyquant.data import load_bars
from easyquant.data.ingest import ingest
from easyquant.data.sources import SyntheticSource, make_source

ARGS = dict(freq="1d", symbols=["AAA", "BBB"], start="2023-01-01", end="2023-06-30", record=False)


def test_ingest_twice_gives_identical_files(settings, snap):
    src = SyntheticSource("XNYS", seed=1)
    first = ingest(src, settings=settings, full=True, **ARGS)
    files = snap(settings.lake_dir)
    assert first.totals()["rows_stored"] == 2 * 124
    again = ingest(src, settings=settings, full=True, **ARGS)
    assert snap(settings.lake_dir) == files
    assert {r.status for r in again.symbols.values()} == {"unchanged"}
    incremental = ingest(src, settings=settings, **ARGS)
    assert snap(settings.lake_dir) == files
    assert incremental.totals()["rows_read"] == 0


def test_incremental_fetches_only_new_range_and_equals_full(settings, snap, tmp_path):
    src = SyntheticSource("XNYS", seed=1)
    ingest(src, settings=settings, **{**ARGS, "end": "2023-03-31"})
    second = ingest(src, settings=settings, **ARGS)
    # Q2 2023 has 62 NYSE sessions (Good Friday and Juneteenth closed)
    assert second.totals()["rows_read"] == 2 * 62
    incremental = snap(settings.lake_dir)
    other = settings.model_copy(update={"home": tmp_path / "other"})
    ingest(src, settings=other, full=True, **ARGS)
    assert snap(other.lake_dir) == incremental


def test_csv_rerun_skips_stored_rows(settings, tmp_path, snap):
    path = tmp_path / "AAA.csv"
    path.write_text(
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,1.5,10\n"
    )
    ingest(make_source("csv", path=path), settings=settings, record=False)
    files = snap(settings.lake_dir)
    again = ingest(make_source("csv", path=path), settings=settings, record=False)
    assert (again.totals()["rows_read"], again.totals()["rows_skipped"]) == (2, 2)
    assert snap(settings.lake_dir) == files
    assert len(load_bars("AAA", settings=settings)["AAA"]) == 2


def _killed_ingest(home: str) -> None:
    from easyquant.config import load_settings

    def die(pending):  # a real SIGKILL once the second partition's temp file is written
        if pending.symbol == "BBB":
            os.kill(os.getpid(), signal.SIGKILL)

    ingest_mod._after_prepare = die
    ingest(SyntheticSource("XNYS", seed=2), settings=load_settings(home=home), full=True, **ARGS)


def test_killed_ingest_leaves_lake_readable_and_unchanged(settings, snap):
    ingest(SyntheticSource("XNYS", seed=1), settings=settings, **ARGS)
    before = snap(settings.lake_dir)
    proc = multiprocessing.get_context("fork").Process(
        target=_killed_ingest, args=(str(settings.home),)
    )
    proc.start()
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL
    after = {k: v for k, v in snap(settings.lake_dir).items() if "/." not in "/" + k}
    assert after == before  # temp and staging files aside, nothing changed
    bars = load_bars(["AAA", "BBB"], settings=settings)
    assert len(bars["AAA"]) == 124
    # the next ingest sweeps the dead process's leftovers
    ingest(SyntheticSource("XNYS", seed=1), settings=settings, **ARGS)
    assert snap(settings.lake_dir) == before


def test_load_bars_contract(settings):
    ingest(SyntheticSource("XNYS", seed=1), settings=settings, **ARGS)
    out = load_bars(["AAA"], "1d", "2023-02-01", "2023-02-28", settings=settings)
    df = out["AAA"]
    assert str(df.index.tz) == "UTC" and df.index.name == "timestamp"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(str(t) == "float64" for t in df.dtypes)
    assert df.index[0] == pd.Timestamp("2023-02-01", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2023-02-28", tz="UTC")
    assert ((df.low <= df[["open", "close"]].min(axis=1)) & (df.high >= df.high)).all()


def test_load_bars_names_missing_symbol(settings):
    import pytest

    from easyquant.errors import DataError

    with pytest.raises(DataError, match="symbol 'NOPE'"):
        load_bars(["NOPE"], settings=settings)
    ingest(SyntheticSource("XNYS", seed=1), settings=settings, **ARGS)
    with pytest.raises(DataError, match="symbol 'AAA': no 1d bars between"):
        load_bars(["AAA"], start="2030-01-01", settings=settings)


def test_files_are_deterministic_parquet(settings):
    ingest(SyntheticSource("XNYS", seed=1), settings=settings, **ARGS)
    path = settings.lake_dir / "bars/freq=1d/symbol=AAA/data.parquet"
    meta = pq.read_schema(path).metadata
    assert meta[b"easyquant.calendar"] == b"XNYS"
