"""The rules row live trading reads for one instrument and day comes from the instrument master
as the backtest's does (ST periods, listing day, suspensions), and a listing's free days are
counted in exchange trading days: holidays are no sessions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from easyquant.data.instruments import Instrument, Period
from easyquant.execution import market as mk
from easyquant.execution.dated import rule_table, rules_on_day
from easyquant.execution.market import get_profile

CN = get_profile("cn")
D = dt.date


def inst(symbol: str, board: str, **kw) -> dict[str, Instrument]:  # type: ignore[no-untyped-def]
    lot, minimum = (1.0, 200.0) if board == "star" else (100.0, 100.0)
    return {symbol: Instrument(symbol, "XSHG", board, "CNY", lot, minimum, 0.01, **kw)}


def ts(day: str) -> int:
    """A bar time on ``day`` (Beijing), as the live order manager passes it."""
    return int(pd.Timestamp(day + " 09:30", tz="Asia/Shanghai").value)


def limit_on(symbol: str, day: str, master=None) -> float:  # type: ignore[no-untyped-def]
    return float(rules_on_day(CN, symbol, ts(day), master)[mk.C_LIMIT])


def test_live_rows_take_st_periods_from_the_master() -> None:
    master = inst("600001.SH", "main", st=[Period(D(2024, 3, 1), D(2024, 3, 31))])
    assert limit_on("600001.SH", "2024-03-15", master) == 0.05
    assert limit_on("600001.SH", "2024-04-01", master) == 0.10  # after the ST period
    assert limit_on("600001.SH", "2024-03-15") == 0.10  # the code alone knows no ST


def test_live_rows_take_suspensions_from_the_master() -> None:
    master = inst("600002.SH", "main", suspended=[Period(D(2024, 3, 5), D(2024, 3, 5))])
    assert rules_on_day(CN, "600002.SH", ts("2024-03-05"), master)[mk.C_HALT] == 1.0
    assert rules_on_day(CN, "600002.SH", ts("2024-03-06"), master)[mk.C_HALT] == 0.0


def test_a_live_row_on_one_day_knows_a_new_listing_free_days() -> None:
    master = inst("688999.SH", "star", listed=D(2024, 3, 4))
    # 2024-03-04 is session 1; 03-08 session 5 (free); 03-11 session 6 (limited)
    assert limit_on("688999.SH", "2024-03-08", master) == 0.0
    assert limit_on("688999.SH", "2024-03-11", master) == 0.20


def test_the_live_row_is_the_backtest_row_on_every_day() -> None:
    master = {
        **inst("600001.SH", "main", st=[Period(D(2024, 9, 30), None)]),
        **inst("688999.SH", "star", listed=D(2024, 9, 26)),
    }
    index = pd.DatetimeIndex(
        [pd.Timestamp(d, tz="UTC") for d in ("2024-09-26", "2024-09-27", "2024-09-30",
                                             "2024-10-08", "2024-10-09", "2024-10-10")]
    )  # fmt: skip
    symbols = list(master)
    table, stretch = rule_table(CN, symbols, index, master)
    for t, when in enumerate(index):
        for j, sym in enumerate(symbols):
            live = rules_on_day(CN, sym, int(when.value), master)
            assert np.array_equal(live, table[stretch[t], j]), (sym, when)


# ----- the listing's free days are trading days -----------------------------------------------
# 2024's National Day holiday: the exchanges closed 2024-10-01 to 10-07.
@pytest.mark.parametrize(
    ("day", "limit"),
    [
        ("2024-09-27", 0.0),  # session 1 (listing day, a Friday)
        ("2024-09-30", 0.0),  # 2
        ("2024-10-08", 0.0),  # 3: the holiday's weekdays are no sessions
        ("2024-10-10", 0.0),  # 5: still free (weekdays would make it the 10th)
        ("2024-10-11", 0.10),  # 6: limited
    ],
)
def test_the_free_days_of_a_listing_before_a_holiday_count_trading_days(
    day: str, limit: float
) -> None:
    master = inst("603999.SH", "main", listed=D(2024, 9, 27))  # a registration-system listing
    assert limit_on("603999.SH", day, master) == limit


def test_a_backtest_counts_the_free_days_on_the_calendar_not_on_its_own_bars() -> None:
    # a bar missing on 10-09 (no data that day) does not move the sixth session
    master = inst("603999.SH", "main", listed=D(2024, 9, 27))
    days = ("2024-09-27", "2024-09-30", "2024-10-08", "2024-10-10", "2024-10-11")
    index = pd.DatetimeIndex([pd.Timestamp(d, tz="UTC") for d in days])
    table, stretch = rule_table(CN, ["603999.SH"], index, master)
    limits = [float(table[stretch[t], 0, mk.C_LIMIT]) for t in range(len(days))]
    assert limits == [0.0, 0.0, 0.0, 0.0, 0.10]
