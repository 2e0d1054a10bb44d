"""Order sizing: a pending target (weight of equity, or shares) -> the position to hold.

The one place a decision becomes a quantity, for the backtest kernel and the live order manager
alike: the side from the target and the price, the estimated execution price (the trigger price
of a limit or stop order, slipped), the quantity worth the target (room left for the
commission) rounded down to whole lots. Cash and shorting limits are applied when the order
fills (:func:`easyquant.execution.rules.try_fill`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from easyquant.execution.market import BUY, C_LOT, C_RATE, C_SLIP, MARKET, SELL
from easyquant.execution.rules import (
    awaits_one_lot,
    round_lot,
    slipped,
    target_quantity,
    trigger_price,
)


@njit(cache=True, nogil=True, inline="always")
def size_order(
    target: float,
    kind: int,
    order_price: float,
    equity: float,
    position: float,
    mark: float,
    o: float,
    h: float,
    lo: float,
    c: float,
    at_close: bool,
    shares_mode: bool,
    cfg: np.ndarray,
) -> tuple[int, float, float]:
    """Return ``(side, desired position, estimated price)`` for a pending target at this bar.

    ``shares_mode``: the target is the position itself. Otherwise it is a weight of
    ``equity``, priced at the bar's open (close when ``at_close``), falling back to ``mark``:
    with no price at all the desired position is nan (nothing to size with: the target stays
    pending). ``side`` is 0 when a weight target needs no trade.
    """
    ref_px = c if at_close else o
    if ref_px != ref_px:
        ref_px = mark
    if shares_mode:
        return (BUY if target > position else SELL), target, ref_px
    if ref_px != ref_px:
        return 0, np.nan, np.nan
    side = BUY if target * equity > position * ref_px else SELL
    raw = trigger_price(side, kind, order_price, o, h, lo, c, at_close)
    if raw != raw:
        raw = ref_px
    est = slipped(side, raw, cfg)
    desired = target_quantity(target, equity, est, cfg)
    if desired > 0:
        desired = round_lot(desired, cfg[C_LOT])
    elif desired < 0:
        desired = -round_lot(-desired, cfg[C_LOT])
    side = 0 if desired == position else (BUY if desired > position else SELL)
    return side, desired, est


@njit(cache=True, nogil=True, inline="always")
def flat_buy_waits(w: float, o: float, c: float, cash: float, cfg: np.ndarray) -> bool:
    """True when a market buy for weight ``w`` > 0 made while flat (the equity is the cash),
    tried at the open ``o`` (a price), cannot pay for one lot: it then waits for cash."""
    _side, desired, _est = size_order(
        w, MARKET, np.nan, cash, 0.0, np.nan, o, o, o, c, False, False, cfg
    )
    return desired == 0 and awaits_one_lot(w, desired, 0.0)


@njit(cache=True, nogil=True, inline="always")
def wait_threshold(w: float, cash: float, cfg: np.ndarray) -> float:
    """The price above which an order for weight ``w`` of the equity (the cash: nothing is
    held) still cannot pay for one lot; with a margin: a price near it is sized in full."""
    lot = cfg[C_LOT]
    if not (cash > 0 and lot > 0):
        return np.inf
    side_sign = 1.0 if w > 0 else -1.0
    slip = cfg[C_SLIP] * 1e-4
    return (
        abs(w)
        * cash
        / ((1.0 + side_sign * slip) * (1.0 + cfg[C_RATE]) * lot * (1.0 - 1e-9))
        * (1.0 + 1e-7)
    )
