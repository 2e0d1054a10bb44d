"""Incremental ingests fetch what is missing before the first and after the last stored bar."""

from __future__ import annotations

import pandas as pd

from easyquant.data.batch import missing_ranges
from easyquant.data.frequency import parse_freq
from easyquant.data.ingest import ingest
from easyquant.data.lake import Lake
from easyquant.data.sources import SyntheticSource

D = pd.Timestamp


def test_missing_ranges_around_a_stored_span():
    span = (D("2024-01-02").value, D("2024-03-28").value)
    assert missing_ranges(D("2023-10-02"), D("2024-06-28"), span) == [
        (D("2023-10-02"), D("2024-01-02")),
        (D("2024-03-28"), D("2024-06-28")),
    ]
    assert missing_ranges(D("2024-02-01"), D("2024-02-28"), span) == []
    assert missing_ranges(None, None, span) == [(D("2024-03-28"), None)]
    assert missing_ranges(D("2023-01-01"), D("2023-12-29"), span) == [
        (D("2023-01-01"), D("2023-12-29"))
    ]
    assert missing_ranges(D("2023-01-01"), None, None) == [(D("2023-01-01"), None)]


def test_a_request_before_the_stored_range_is_backfilled(settings):
    src = SyntheticSource("XNYS", seed=3)
    ingest(
        src, symbols=["AAA"], start="2024-01-01", end="2024-03-31", settings=settings, record=False
    )
    r = ingest(
        src, symbols=["AAA"], start="2023-01-01", end="2023-12-31", settings=settings, record=False
    )
    rep = r.to_dict()["symbols"]["AAA"]
    assert rep["rows_stored"] == 250 and rep["status"] == "stored"  # XNYS sessions of 2023
    table = Lake(settings.lake_dir).read("1d", "AAA")
    days = pd.DatetimeIndex(table.column("timestamp").to_pandas())
    assert days[0] == D("2023-01-03", tz="UTC") and days[-1] == D("2024-03-28", tz="UTC")
    assert days.is_monotonic_increasing and days.is_unique
    # the backfilled bars are those a full fetch gives
    whole = src.generate("AAA", parse_freq("1d"), D("2023-01-01"), D("2024-03-31"))
    assert table.column("close").to_pylist() == whole.column("close").to_pylist()


def test_a_request_spanning_both_sides_fetches_only_the_missing_parts(settings):
    asked: list[tuple] = []

    class Recording(SyntheticSource):
        def generate(self, symbol, freq, start, end):
            asked.append((symbol, start.date().isoformat(), end.date().isoformat()))
            return super().generate(symbol, freq, start, end)

    src = Recording("XNYS", seed=3)
    ingest(
        src, symbols=["AAA"], start="2024-02-01", end="2024-02-29", settings=settings, record=False
    )
    asked.clear()
    r = ingest(
        src, symbols=["AAA"], start="2024-01-01", end="2024-03-31", settings=settings, record=False
    )
    assert asked == [("AAA", "2024-01-01", "2024-02-01"), ("AAA", "2024-02-29", "2024-03-31")]
    rep = r.to_dict()["symbols"]["AAA"]
    assert rep["rows_stored"] == 21 + 20 and rep["rows_skipped"] == 0


def test_a_range_already_stored_says_so_per_symbol(settings):
    src = SyntheticSource("XNYS", seed=3)
    ingest(
        src,
        symbols=["AAA", "BBB"],
        start="2024-01-01",
        end="2024-03-31",
        settings=settings,
        record=False,
    )
    r = ingest(
        src,
        symbols=["AAA", "BBB", "CCC"],
        start="2024-02-01",
        end="2024-02-29",
        settings=settings,
        record=False,
    )
    reps = r.to_dict()["symbols"]
    for sym in ("AAA", "BBB"):
        assert reps[sym]["rows_stored"] == 0 and reps[sym]["status"] == "unchanged"
        assert reps[sym]["warnings"]["already_stored"] == (
            "requested 2024-02-01 to 2024-02-29; stored 2024-01-02 to 2024-03-28"
        )
    assert reps["CCC"]["rows_stored"] == 20 and "already_stored" not in reps["CCC"]["warnings"]
