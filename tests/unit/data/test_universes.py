"""The universes file: each universe's run time follows its exchange's close and zone."""

from __future__ import annotations

import pytest

from easyquant.data.universes import DEFAULT_FILE, asset_uri, load_universes
from easyquant.errors import ConfigError


def test_the_shipped_file_loads():
    names = {u.name: u for u in load_universes(DEFAULT_FILE)}
    assert set(names) == {"demo_us_daily", "cn_daily", "us_daily", "crypto_daily"}
    assert names["cn_daily"].rule_exchanges() == ["XSHG", "XSHE", "BJSE"]
    assert [n for n, u in names.items() if not u.paused] == ["demo_us_daily"]


@pytest.mark.parametrize(
    ("calendar", "cron", "zone"),
    [
        ("XSHG", "30 16 * * 1-5", "Asia/Shanghai"),  # close 15:00
        ("XNYS", "30 17 * * 1-5", "America/New_York"),  # close 16:00
        ("XHKG", "30 17 * * 1-5", "Asia/Hong_Kong"),
        ("XLON", "0 18 * * 1-5", "Europe/London"),  # close 16:30
        ("24/7", "30 1 * * *", "UTC"),  # daily bars close at 00:00 UTC, every day
    ],
)
def test_run_time_is_90_minutes_after_the_close_in_the_exchange_zone(
    tmp_path, calendar, cron, zone
):
    path = tmp_path / "u.toml"
    path.write_text(
        f'[universe.x]\nsource = "synthetic"\nsymbols = ["AAA"]\ncalendar = "{calendar}"\n'
    )
    (u,) = load_universes(path)
    assert (u.cron, u.timezone, u.dag_id, u.asset_uri) == (
        cron,
        zone,
        "easyquant_etl_x",
        asset_uri("x"),
    )


def test_unknown_section_and_missing_file_name_the_file(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text('[universes.x]\nsource = "synthetic"\n')
    with pytest.raises(ConfigError, match=f"{path}: field 'universes': unknown section"):
        load_universes(path)
    with pytest.raises(ConfigError, match="no such universes file"):
        load_universes(tmp_path / "missing.toml")
