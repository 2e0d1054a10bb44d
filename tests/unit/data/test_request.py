"""One ingest request: parsed and checked once, errors naming the field."""

from __future__ import annotations

import datetime as dt

import pytest

from easyquant.data.request import parse_request
from easyquant.errors import ConfigError


def test_a_request_is_normalised_once():
    r = parse_request(
        {
            "source": "synthetic",
            "symbols": "sh.600519, 000001\nSZ000001",
            "start": "2024-01-02",
            "end": "2024-01-31",
            "freq": "1D",
        }
    )
    assert r.symbols == ("600519.SH", "000001.SZ")  # canonical, deduplicated, order kept
    assert r.freq == "1d" and r.start == dt.date(2024, 1, 2)
    assert r.resolved_calendar == "XSHG"  # from the exchange
    assert parse_request(r.model_dump(mode="json")) == r  # what XCom carries parses back


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"source": "wind"}, "source: expected one of"),
        ({"source": "csv"}, "path: the csv source needs"),
        ({"source": "synthetic", "symbols": ["AAA"]}, "calendar: the synthetic source needs"),
        ({"source": "synthetic", "calendar": "XNYS"}, "symbols: the synthetic source needs"),
        ({"symbols": ["AAA"], "calendar": "NOPE"}, "calendar: unknown exchange calendar 'NOPE'"),
        ({"symbols": ["bad symbol!"], "calendar": "XNYS"}, "symbols: invalid symbol"),
        ({"symbols": ["700001"]}, "symbols: symbol '700001': cannot tell the exchange"),
        ({"symbols": ["AAA"], "calendar": "XNYS", "freq": "2d"}, "freq: only 1d"),
        ({"symbols": ["AAA"], "calendar": "XNYS", "start": "2024-13-01"}, "start: expected a date"),
        (
            {"symbols": ["AAA"], "calendar": "XNYS", "start": "2024-02-01", "end": "2024-01-01"},
            "start/end: start 2024-02-01 is after end 2024-01-01",
        ),
        ({"source": "csv", "path": "x.csv", "format": "excel"}, "format: unknown layout 'excel'"),
        ({"symbols": ["AAA"], "calendar": "XNYS", "policy": "keep"}, "policy: Input should be"),
        ({"symbols": ["AAA"], "calendar": "XNYS", "batch_size": 0}, "batch_size: Input should be"),
        ({"symbols": ["AAA"], "calendar": "XNYS", "colour": "red"}, "colour: Extra inputs"),
    ],
)
def test_bad_requests_name_the_field(given, says):
    with pytest.raises(ConfigError) as info:
        parse_request(given)
    assert says in str(info.value), str(info.value)
