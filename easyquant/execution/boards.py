"""A-share board rules: daily price limits and order quantities by board, date and status.

Written once, used by the backtest and the paper broker alike. The instrument's board, ST
periods and listing day come from the instrument master (``easyquant.data.instruments``), or
from its code where the master has no row.

Facts (check them against the exchanges' trading rules before changing a figure):

- Daily price limit, a fraction of the previous close: main board 10%; main-board ST 5%;
  ChiNext 20% from 2020-08-24 (its registration-system reform, existing stocks included), 10%
  (ST 5%) before; STAR 20% (from its opening on 2019-07-22); Beijing Stock Exchange 30%.
- No limit in the first five trading days after listing for registration-system listings:
  every STAR listing; ChiNext listings from 2020-08-24; main-board listings from 2023-04-10.
  Beijing: no limit on the listing day only.
- Limit prices: previous close x (1 +/- limit), rounded half up to the price tick (SSE and
  SZSE trading rules: "四舍五入原则取至价格最小变动单位"). Published limit prices win where a
  source provides them.
- Quantities: main board and ChiNext buy in lots of 100; STAR orders at least 200 shares, then
  steps of 1; Beijing orders at least 100, then steps of 1. A sell of a remainder below the
  minimum is allowed (the whole remainder at once).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from numba import njit

CHINEXT_REFORM = dt.date(2020, 8, 24)
MAIN_REGISTRATION = dt.date(2023, 4, 10)
FREE_DAYS = 5  # trading days without a limit after a registration-system listing

# board -> (limit, ST limit)
_LIMITS = {
    "main": (0.10, 0.05),
    "star": (0.20, 0.20),
    "bse": (0.30, 0.30),
    "etf": (0.10, 0.10),
}
# board -> (lot for buys, minimum order); 0 lot: steps of 1 above the minimum
_ORDERS = {
    "main": (100.0, 100.0),
    "chinext": (100.0, 100.0),
    "etf": (100.0, 100.0),
    "star": (1.0, 200.0),
    "bse": (1.0, 100.0),
}


def price_limit(
    board: str,
    day: dt.date,
    *,
    st: bool = False,
    listed: dt.date | None = None,
    session: int | None = None,
) -> float:
    """Return the daily price limit (a fraction of the previous close; 0 = none) of an
    instrument of ``board`` on ``day``.

    ``session`` is the trading day's number since listing (1 = the listing day), when known:
    registration-system listings trade without a limit in their first five.
    """
    if session is not None and _free_listing(board, listed, session):
        return 0.0
    if board == "chinext":
        if day >= CHINEXT_REFORM:
            return 0.20
        return 0.05 if st else 0.10
    if board not in _LIMITS:
        return 0.0  # no daily limit known for this board (crypto, foreign listings)
    normal, with_st = _LIMITS[board]
    return with_st if st else normal


def _free_listing(board: str, listed: dt.date | None, session: int) -> bool:
    if listed is None or session < 1:
        return False
    if board == "bse":
        return session == 1
    if session > FREE_DAYS:
        return False
    if board == "star":
        return True
    if board == "chinext":
        return listed >= CHINEXT_REFORM
    if board == "main":
        return listed >= MAIN_REGISTRATION
    return False


@njit(cache=True, nogil=True)
def limit_prices(prev_close: float, limit: float, tick: float) -> tuple[float, float]:
    """Return the (down, up) limit prices: ``prev_close * (1 -/+ limit)`` rounded half up to
    ``tick`` (nan, nan when there is no limit or no previous close)."""
    if limit <= 0 or prev_close != prev_close or prev_close <= 0:
        return np.nan, np.nan
    up = prev_close * (1.0 + limit)
    down = prev_close * (1.0 - limit)
    if tick > 0:
        # half up on the decimal value: a product such as 10.05 * 1.1 = 11.055 is stored as
        # 11.05499..., so nudge by far less than a tick before flooring
        up = math.floor(up / tick + 0.5 + 1e-7) * tick
        down = math.floor(down / tick + 0.5 + 1e-7) * tick
        up = round(up, 8)
        down = round(down, 8)
    return down, up


def order_rules(board: str) -> tuple[float, float]:
    """Return (lot, minimum order) for buys on ``board``: lot 1 means steps of 1 share."""
    return _ORDERS.get(board, (1.0, 1.0))


@njit(cache=True, nogil=True)
def buy_quantity(qty: float, lot: float, minimum: float) -> float:
    """Return the largest valid buy quantity not above ``qty`` (0 when below the minimum)."""
    if lot > 0:
        qty = math.floor(qty / lot + 1e-9) * lot
    return qty if qty >= minimum - 1e-9 else 0.0


@njit(cache=True, nogil=True)
def sell_quantity(qty: float, position: float, lot: float, minimum: float) -> float:
    """Return the valid sell quantity not above ``qty`` out of a long ``position``: whole lots
    (or steps of 1) of at least the minimum, or the whole position when what would remain is
    below one valid order (a remainder below the minimum may be sold)."""
    qty = min(qty, position)
    if qty >= position - 1e-9:
        return position
    q = math.floor(qty / lot + 1e-9) * lot if lot > 0 else qty
    if q < minimum - 1e-9:
        return 0.0
    return q
