"""A symbol names a lake folder: no read path takes one that could lead out of the lake."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from easyquant.config import load_settings
from easyquant.data import load_bars
from easyquant.data.lake import Lake
from easyquant.data.symbols import canonical
from easyquant.errors import ConfigError

TRAVERSALS = ["AAA/../../x", "../x", "AAA/x", "a\\b", "", "x" * 41, "A\x00"]


def _bars() -> pa.Table:
    ts = pd.date_range("2024-01-02", periods=3, freq="D", tz="UTC")
    return pa.table(
        {
            "timestamp": pa.array(ts.as_unit("ns"), pa.timestamp("ns", tz="UTC")),
            **{c: pa.array([1.0, 2.0, 3.0]) for c in ("open", "high", "low", "close", "volume")},
        }
    )


@pytest.fixture()
def lake_with_a_planted_file(tmp_path):
    """A lake with AAA, and a Parquet file outside any partition that a traversal would reach."""
    settings = load_settings(home=tmp_path / "home", database_url=None)
    aaa = Lake(settings.lake_dir).path("1d", "AAA")
    aaa.parent.mkdir(parents=True)
    pq.write_table(_bars(), aaa)
    planted = settings.lake_dir / "bars" / "x" / aaa.name
    planted.parent.mkdir(parents=True)
    shutil.copy(aaa, planted)
    return settings


@pytest.mark.parametrize("symbol", TRAVERSALS)
def test_load_bars_refuses_a_symbol_that_is_a_path(lake_with_a_planted_file, symbol):
    with pytest.raises(ConfigError, match="symbols: invalid symbol"):
        load_bars(symbol, settings=lake_with_a_planted_file)


def test_a_plain_symbol_still_reads(lake_with_a_planted_file):
    frame = load_bars("AAA", settings=lake_with_a_planted_file)["AAA"]
    assert list(frame["close"]) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("symbol", TRAVERSALS)
def test_every_lake_path_refuses_it(tmp_path, symbol):
    with pytest.raises(ConfigError):
        Lake(tmp_path).path("1d", symbol)


def test_canonical_refuses_a_path_naming_the_field():
    with pytest.raises(ConfigError, match=r"^benchmark: invalid symbol 'AAA/\.\./\.\./x'"):
        canonical("AAA/../../x", option="benchmark")
    assert canonical("btc/usdt") == "BTC-USDT" and canonical("AAPL") == "AAPL"
