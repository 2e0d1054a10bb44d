"""Board rules on both sides of each boundary: limits by board, date, ST and listing; limit
prices rounded half up to the tick; STAR 200+1 and Beijing 100+1 order quantities."""

from __future__ import annotations

import datetime as dt

import pytest

from easyquant.execution.boards import (
    buy_quantity,
    limit_prices,
    order_rules,
    price_limit,
    sell_quantity,
)

D = dt.date


@pytest.mark.parametrize(
    ("board", "day", "st", "limit"),
    [
        ("main", D(2024, 3, 1), False, 0.10),
        ("main", D(2024, 3, 1), True, 0.05),
        ("chinext", D(2020, 8, 21), False, 0.10),
        ("chinext", D(2020, 8, 24), False, 0.20),
        ("chinext", D(2020, 8, 21), True, 0.05),
        ("chinext", D(2020, 8, 24), True, 0.20),
        ("star", D(2019, 7, 22), False, 0.20),
        ("star", D(2024, 3, 1), True, 0.20),
        ("bse", D(2021, 11, 15), False, 0.30),
        ("crypto", D(2024, 3, 1), False, 0.0),
    ],
)
def test_limit_by_board_date_and_st(board: str, day: dt.date, st: bool, limit: float) -> None:
    assert price_limit(board, day, st=st) == limit


@pytest.mark.parametrize(
    ("board", "listed", "session", "limit"),
    [
        ("star", D(2019, 7, 22), 5, 0.0),
        ("star", D(2019, 7, 22), 6, 0.20),
        ("chinext", D(2020, 8, 24), 1, 0.0),
        ("chinext", D(2020, 8, 21), 1, 0.20),  # listed before the reform: limited
        ("chinext", D(2020, 8, 24), 6, 0.20),
        ("main", D(2023, 4, 10), 5, 0.0),
        ("main", D(2023, 4, 7), 2, 0.10),  # approval-system listing: limited
        ("main", D(2023, 4, 10), 6, 0.10),
        ("bse", D(2022, 1, 5), 1, 0.0),
        ("bse", D(2022, 1, 5), 2, 0.30),
    ],
)
def test_no_limit_in_the_first_days_of_a_registration_listing(
    board: str, listed: dt.date, session: int, limit: float
) -> None:
    day = D(2024, 3, 1)  # after every reform: only the listing decides
    assert price_limit(board, day, listed=listed, session=session) == limit


@pytest.mark.parametrize(
    ("prev", "limit", "down", "up"),
    [
        (10.00, 0.10, 9.00, 11.00),
        (10.05, 0.10, 9.05, 11.06),  # 11.055 and 9.045 round half up
        (10.05, 0.05, 9.55, 10.55),  # 10.5525 -> 10.55, 9.5475 -> 9.55
        (12.34, 0.20, 9.87, 14.81),  # 14.808 -> 14.81, 9.872 -> 9.87
        (3.15, 0.30, 2.21, 4.10),  # 4.095 -> 4.10, 2.205 -> 2.21
    ],
)
def test_limit_prices_round_half_up_to_the_tick(
    prev: float, limit: float, down: float, up: float
) -> None:
    assert limit_prices(prev, limit, 0.01) == (down, up)


def test_no_limit_prices_without_a_limit_or_a_close() -> None:
    for prev, limit in [(10.0, 0.0), (float("nan"), 0.1)]:
        d, u = limit_prices(prev, limit, 0.01)
        assert d != d and u != u


@pytest.mark.parametrize(
    ("board", "wanted", "bought"),
    [
        ("star", 199.9, 0.0),  # STAR: at least 200, then steps of 1
        ("star", 200.0, 200.0),
        ("star", 201.7, 201.0),
        ("bse", 99.0, 0.0),  # Beijing: at least 100, then steps of 1
        ("bse", 100.0, 100.0),
        ("bse", 101.0, 101.0),
        ("main", 199.0, 100.0),  # main board: whole lots of 100
        ("main", 99.0, 0.0),
    ],
)
def test_buy_quantity_by_board(board: str, wanted: float, bought: float) -> None:
    assert buy_quantity(wanted, *order_rules(board)) == bought


@pytest.mark.parametrize(
    ("board", "wanted", "held", "sold"),
    [
        # below the minimum order only as the whole remainder
        ("star", 150, 350, 0.0),
        ("star", 150, 150, 150.0),
        ("star", 201, 350, 201.0),
        ("bse", 99, 250, 0.0),
        ("bse", 99, 99, 99.0),
        # the main board sells whole lots, or an odd remainder whole
        ("main", 150, 250, 100.0),
        ("main", 250, 250, 250.0),
        ("main", 50, 50, 50.0),
    ],
)
def test_sell_quantity_by_board(board: str, wanted: float, held: float, sold: float) -> None:
    assert sell_quantity(wanted, held, *order_rules(board)) == sold
