"""Bad CSV input: one test per case; each names file, line and field and leaves the lake as is."""

from __future__ import annotations

from pathlib import Path

import pytest

from easyquant.data.ingest import ingest
from easyquant.data.sources import make_source
from easyquant.errors import ConfigError, DataError


def _snapshot(root: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


HEADER = "symbol,timestamp,open,high,low,close,volume\n"
GOOD = [
    "AAA,2024-01-02,10,11,9,10.5,1000",
    "AAA,2024-01-03,10.5,11.5,10,11,1200",
    "AAA,2024-01-04,11,12,10.5,11.5,900",
]


@pytest.fixture()
def lake_with_data(settings, tmp_path: Path, snap):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n".join(GOOD) + "\n")
    ingest(make_source("csv", path=good), freq="1d", settings=settings, record=False)
    before = snap(settings.lake_dir)
    assert before
    return before


def run_bad(
    settings, tmp_path: Path, body: bytes | str, before: dict, *, name: str = "bad.csv", **kw
) -> str:
    path = tmp_path / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    with pytest.raises(DataError) as info:
        ingest(
            make_source("csv", path=path, **kw),
            freq="1d",
            settings=settings,
            record=False,
            full=True,
        )
    assert _snapshot(settings.lake_dir) == before
    msg = str(info.value)
    assert str(path) in msg
    return msg


def rows(*lines: str) -> str:
    return HEADER + "\n".join(lines) + "\n"


def test_missing_column(settings, tmp_path, lake_with_data):
    body = "symbol,timestamp,open,high,low,volume\nAAA,2024-01-05,1,2,0.5,10\n"
    msg = run_bad(settings, tmp_path, body, lake_with_data)
    assert "line 1" in msg and "'close'" in msg and "missing column" in msg


def test_unparseable_number(settings, tmp_path, lake_with_data):
    msg = run_bad(
        settings, tmp_path, rows(*GOOD, "AAA,2024-01-05,11,12,abc,11.5,900"), lake_with_data
    )
    assert "line 5" in msg and "'low'" in msg and "not a number" in msg and "abc" in msg


def test_unparseable_timestamp(settings, tmp_path, lake_with_data):
    msg = run_bad(
        settings, tmp_path, rows(GOOD[0], "AAA,2024-13-45,11,12,10,11.5,900"), lake_with_data
    )
    assert "line 3" in msg and "'timestamp'" in msg and "unparseable timestamp" in msg


def test_duplicate_timestamp(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(*GOOD, GOOD[2]), lake_with_data)
    assert "line 5" in msg and "'timestamp'" in msg and "duplicate timestamp" in msg


def test_unsorted_rows(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(GOOD[0], GOOD[2], GOOD[1]), lake_with_data)
    assert "line 4" in msg and "'timestamp'" in msg and "out of order" in msg


def test_high_below_low(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(GOOD[0], "AAA,2024-01-03,10,9,11,10,5"), lake_with_data)
    assert "line 3" in msg and "'high'" in msg and "high < low" in msg


def test_negative_price(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(GOOD[0], "AAA,2024-01-03,-1,11,-2,10,5"), lake_with_data)
    assert "line 3" in msg and "'open'" in msg and "price must be > 0" in msg


def test_zero_price(settings, tmp_path, lake_with_data):
    msg = run_bad(
        settings, tmp_path, rows(GOOD[0], GOOD[1], "AAA,2024-01-04,11,12,10.5,0,9"), lake_with_data
    )
    assert "line 4" in msg and "'close'" in msg and "price must be > 0" in msg


def test_nan_value(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(GOOD[0], "AAA,2024-01-03,10,NaN,9,10,5"), lake_with_data)
    assert "line 3" in msg and "'high'" in msg and "NaN" in msg


def test_empty_file(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, "", lake_with_data)
    assert "line 1" in msg and "empty" in msg


def test_header_only(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, HEADER, lake_with_data)
    assert "line 2" in msg and "no data rows" in msg


def test_wrong_encoding_utf16(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(*GOOD).encode("utf-16"), lake_with_data)
    assert "line 1" in msg and "encoding" in msg


def test_wrong_encoding_latin1_in_symbol(settings, tmp_path, lake_with_data):
    body = rows(*GOOD, "BÉB,2024-01-05,11,12,10.5,11.5,900").encode("latin-1")
    msg = run_bad(settings, tmp_path, body, lake_with_data)
    assert "line 5" in msg and "encoding" in msg


def test_mixed_timezones(settings, tmp_path, lake_with_data):
    body = rows(
        "AAA,2024-01-02T09:30:00-05:00,10,11,9,10.5,1000",
        "AAA,2024-01-03T09:30:00,10.5,11.5,10,11,1200",
    )
    msg = run_bad(settings, tmp_path, body, lake_with_data)
    assert "line 3" in msg and "'timestamp'" in msg and "mixed timezones" in msg


def test_short_row(settings, tmp_path, lake_with_data):
    msg = run_bad(settings, tmp_path, rows(GOOD[0], "AAA,2024-01-03,10"), lake_with_data)
    assert "line 3" in msg and "expected 7 fields" in msg


def test_mapped_column_names_error_uses_header_name(settings, tmp_path, lake_with_data):
    body = "Date,Open,High,Low,Close,Volume\n2024-01-05,11,12,13,11.5,900\n"
    msg = run_bad(settings, tmp_path, body, lake_with_data, name="AAA.csv")
    assert "line 2" in msg and "'High'" in msg


def test_unknown_symbol(settings, tmp_path, lake_with_data):
    path = tmp_path / "some.csv"
    path.write_text(rows(*GOOD))
    with pytest.raises(DataError, match=r"some\.csv.*symbol 'ZZZ' not found"):
        ingest(
            make_source("csv", path=path),
            freq="1d",
            symbols=["ZZZ"],
            settings=settings,
            record=False,
        )
    assert _snapshot(settings.lake_dir) == lake_with_data


def test_unknown_calendar(settings, lake_with_data):
    with pytest.raises(ConfigError, match="calendar: unknown exchange calendar 'XXXX'"):
        make_source("synthetic", calendar="XXXX")
    assert _snapshot(settings.lake_dir) == lake_with_data


def test_invalid_symbol_option(settings):
    with pytest.raises(ConfigError, match="symbols: invalid symbol"):
        ingest(
            make_source("synthetic", calendar="XNYS"),
            symbols=["../etc"],
            start="2024-01-02",
            end="2024-01-05",
            settings=settings,
            record=False,
        )


def test_quarantine_keeps_good_rows_and_records_reasons(settings, tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "q.csv"
    path.write_text(rows(GOOD[0], "AAA,2024-01-03,10,9,11,10,5", GOOD[2]))
    res = ingest(
        make_source("csv", path=path),
        freq="1d",
        settings=settings,
        record=False,
        policy="quarantine",
    )
    rep = res.symbols["AAA"]
    assert (rep.rows_read, rep.rows_stored, rep.rows_rejected) == (3, 2, 1)
    assert rep.rejects == {"high < low": 1}
    assert rep.samples[0]["line"] == 3 and rep.samples[0]["field"] == "high"
    q = pq.read_table(res.quarantine_path).to_pylist()
    assert q[0]["line"] == 3 and q[0]["reason"] == "high < low"
    assert pq.read_table(settings.lake_dir / "bars/freq=1d/symbol=AAA/data.parquet").num_rows == 2
