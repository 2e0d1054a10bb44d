"""The fill and cost rules: numba-compiled scalar functions over one rules row.

The backtest kernel calls them per order; the paper broker calls them for one order through
:func:`fill_order`. ``cfg`` is an instrument's rules row (:func:`~easyquant.execution.market.
instrument_rules`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from easyquant.errors import ConfigError
from easyquant.execution.market import (
    BUY,
    C_HALT,
    C_LIMIT,
    C_LOT,
    C_MIN,
    C_MIN_ORDER,
    C_RATE,
    C_SHORT,
    C_SLIP,
    C_STAMP,
    C_T1,
    C_TICK,
    C_TRANSFER,
    C_VOLFRAC,
    FILLED,
    HALTED,
    LIMIT,
    LOT,
    MARKET,
    NO_CASH,
    NO_PRICE,
    NO_SHORT,
    NOT_TRIGGERED,
    PRICE_LIMIT,
    REASONS,
    SELL,
    STOP,
    T_PLUS_ONE,
    VOLUME,
    MarketProfile,
)


@njit(cache=True, nogil=True)
def trigger_price(
    side: int,
    kind: int,
    order_price: float,
    o: float,
    h: float,
    lo: float,
    c: float,
    at_close: bool,
) -> float:
    """Return the raw price an order executes at on this bar, or nan if it does not trigger.

    Market: the open (or the close when ``at_close``). Buy limit: when the low reaches the
    limit, at the better of the open and the limit. Buy stop: when the high reaches the stop,
    at the worse of the open and the stop. Sells mirror buys. At the close, limit and stop
    orders are checked against the close only.
    """
    if at_close:
        if c != c:
            return np.nan
        if kind == MARKET:
            return c
        if kind == LIMIT:
            ok = c <= order_price if side == BUY else c >= order_price
        else:
            ok = c >= order_price if side == BUY else c <= order_price
        return c if ok else np.nan
    if o != o:
        return np.nan
    if kind == MARKET:
        return o
    if kind == LIMIT:
        if side == BUY:
            return min(o, order_price) if lo <= order_price else np.nan
        return max(o, order_price) if h >= order_price else np.nan
    if side == BUY:
        return max(o, order_price) if h >= order_price else np.nan
    return min(o, order_price) if lo <= order_price else np.nan


@njit(cache=True, nogil=True)
def limit_prices(ref_close: float, cfg: np.ndarray) -> tuple[float, float]:
    """Return the (down, up) daily price limits from the previous close (nan when none)."""
    pct = cfg[C_LIMIT]
    if pct <= 0 or ref_close != ref_close:
        return np.nan, np.nan
    tick = cfg[C_TICK]
    up = ref_close * (1 + pct)
    down = ref_close * (1 - pct)
    if tick > 0:  # half up on the decimal value (10.05 * 1.1 is stored as 11.05499...)
        up = round(math.floor(up / tick + 0.5 + 1e-7) * tick, 8)
        down = round(math.floor(down / tick + 0.5 + 1e-7) * tick, 8)
    return down, up


@njit(cache=True, nogil=True)
def blocked_by_limit(
    side: int, price: float, ref_close: float, pub_down: float, pub_up: float, cfg: np.ndarray
) -> bool:
    """Return True for a buy at (or above) limit-up or a sell at (or below) limit-down.

    The day's published limit prices (``pub_down``, ``pub_up``; nan where the source gives
    none) win over the ones computed from the previous close."""
    if side == BUY and pub_up == pub_up:
        return price >= pub_up * (1.0 - 1e-9)
    if side == SELL and pub_down == pub_down:
        return price <= pub_down * (1.0 + 1e-9)
    down, up = limit_prices(ref_close, cfg)
    if up != up:
        return False
    eps = 1e-9 * up
    if side == BUY:
        return price >= up - eps
    return price <= down + eps


@njit(cache=True, nogil=True)
def slipped(side: int, price: float, cfg: np.ndarray) -> float:
    """Return ``price`` worsened by the slippage (up for buys, down for sells)."""
    return price * (1.0 + side * cfg[C_SLIP] * 1e-4)


@njit(cache=True, nogil=True)
def fees(side: int, qty: float, price: float, cfg: np.ndarray) -> float:
    """Return commission (rate, at least the minimum), the transfer fee, and stamp duty on
    sells."""
    value = abs(qty) * price
    if value == 0:
        return 0.0
    fee = max(value * cfg[C_RATE], cfg[C_MIN]) + value * cfg[C_TRANSFER]
    if side == SELL:
        fee += value * cfg[C_STAMP]
    return fee


@njit(cache=True, nogil=True)
def round_lot(qty: float, lot: float) -> float:
    """Round a non-negative quantity down to whole lots (``lot`` 0: fractional, unchanged)."""
    if lot <= 0:
        return qty
    if lot == 1.0:  # whole shares: the same result without a division
        return float(math.floor(qty + 1e-9))
    return math.floor(qty / lot + 1e-9) * lot


@njit(cache=True, nogil=True)
def volume_room(volume: float, cfg: np.ndarray) -> float:
    """Return the most one fill may take on a bar of ``volume`` under the volume cap: the
    cap's fraction of the volume rounded down to whole lots (inf without a cap; 0 on a bar
    without volume, a missing volume included)."""
    frac = cfg[C_VOLFRAC]
    if frac <= 0:
        return np.inf
    if not volume > 0:
        return 0.0
    return round_lot(frac * volume, cfg[C_LOT])


@njit(cache=True, nogil=True)
def awaits_one_lot(target: float, desired: float, position: float) -> bool:
    """Return True when a non-zero target leaves a flat position flat after lot rounding.

    The equity cannot pay for one lot at this price: the order stays pending (a later bar may
    afford it), exactly as an order refused for want of cash does. This is what an engine that
    re-submits "buy all-in while flat" on every bar does.
    """
    return target != 0 and desired == 0 and position == 0


@njit(cache=True, nogil=True)
def target_quantity(weight: float, equity: float, price: float, cfg: np.ndarray) -> float:
    """Return the signed position (before lot rounding) worth ``weight`` of ``equity`` at
    ``price``, leaving room for the commission on a buy."""
    if weight == 0 or not price > 0:
        return 0.0
    return weight * equity / (price * (1.0 + cfg[C_RATE]))


@njit(cache=True, nogil=True)
def try_fill(
    side: int,
    qty: float,
    kind: int,
    order_price: float,
    o: float,
    h: float,
    lo: float,
    c: float,
    at_close: bool,
    ref_close: float,
    cash: float,
    position: float,
    sellable: float,
    volume: float,
    pub_down: float,
    pub_up: float,
    cfg: np.ndarray,
) -> tuple[float, float, float, int]:
    """Apply every rule to one order of ``qty`` > 0 units on one bar.

    Return ``(filled quantity, price, fees, reason)``; quantity 0 means no fill and ``reason``
    says why. ``sellable`` is the long position that may be sold today (T+1). ``volume`` is
    the bar's volume, read only under a volume cap (:func:`volume_room`): a fill cut by it
    (or refused: less than one lot, or than the minimum order, is left) says "volume limit",
    unless what it leaves is no valid order (below the minimum, not the whole position): then
    the cut fill says "below one lot" and its decision ends, as a lot-rounded fill's does.
    ``pub_down``/``pub_up``: the day's published limit prices (nan: computed from
    ``ref_close``).
    """
    if cfg[C_HALT] > 0:
        return 0.0, np.nan, 0.0, HALTED
    raw = trigger_price(side, kind, order_price, o, h, lo, c, at_close)
    if raw != raw:
        return 0.0, np.nan, 0.0, NOT_TRIGGERED if (o == o or c == c) else NO_PRICE
    if blocked_by_limit(side, raw, ref_close, pub_down, pub_up, cfg):
        return 0.0, raw, 0.0, PRICE_LIMIT
    px = slipped(side, raw, cfg)
    lot = cfg[C_LOT]
    reason = FILLED
    if side == SELL:
        long_part = max(position, 0.0)
        if cfg[C_T1] > 0 and qty > sellable and long_part > 0:
            limit_qty = max(sellable, 0.0)
            if cfg[C_SHORT] <= 0 or limit_qty < long_part:
                qty = limit_qty
                reason = T_PLUS_ONE
        if cfg[C_SHORT] <= 0 and qty > long_part:
            qty = long_part
            reason = NO_SHORT
        if cfg[C_VOLFRAC] > 0:
            room = volume_room(volume, cfg)
            if qty > room:
                # the rest works on later bars if it can be sold then: at least the minimum
                # in whole lots, or the whole remainder of the position
                rest = qty - room
                whole = qty >= long_part - 1e-9
                if whole or round_lot(rest, lot) >= cfg[C_MIN_ORDER] - 1e-9:
                    reason = VOLUME
                elif reason == FILLED:
                    reason = LOT
                qty = room
        if not (qty == long_part and qty > 0):  # selling a whole position may be an odd lot
            q = round_lot(qty, lot)
            if q < cfg[C_MIN_ORDER] - 1e-9:  # below the minimum: only the whole remainder
                q = 0.0
            if q < qty and reason == FILLED:
                reason = LOT
            qty = q
        if qty <= 0:
            return 0.0, px, 0.0, reason if reason != FILLED else LOT
        return qty, px, fees(side, qty, px, cfg), reason
    # buy: whole lots, never more than the cash can pay for (commission included)
    q = round_lot(qty, lot)
    if q < cfg[C_MIN_ORDER] - 1e-9:
        q = 0.0
    if q < qty:
        reason = LOT
    if q <= 0:
        return 0.0, px, 0.0, LOT
    if cfg[C_VOLFRAC] > 0:
        room = volume_room(volume, cfg)
        if q > room:
            if room < cfg[C_MIN_ORDER] - 1e-9:
                return 0.0, px, 0.0, VOLUME
            # the rest works on later bars if it is a valid order then (else it ends here, as
            # a rest below one lot does)
            reason = VOLUME if q - room >= cfg[C_MIN_ORDER] - 1e-9 else LOT
            q = room
    if q * px + fees(side, q, px, cfg) > cash:
        reason = NO_CASH
        afford = max(cash - cfg[C_MIN], 0.0) / (px * (1.0 + cfg[C_RATE]))
        q = round_lot(min(q, afford), lot)
        step = lot if lot > 0 else 0.0
        while q > 0 and q * px + fees(side, q, px, cfg) > cash:
            if step > 0:
                q -= step
            else:
                q = (cash - cfg[C_MIN]) / (px * (1.0 + cfg[C_RATE])) * (1 - 1e-12)
                if q * px + fees(side, q, px, cfg) > cash:
                    q = 0.0
        if q < cfg[C_MIN_ORDER] - 1e-9:
            q = 0.0
        if q <= 0:
            return 0.0, px, 0.0, NO_CASH
    return q, px, fees(side, q, px, cfg), reason


# ----- the single-order call a paper broker uses -------------------------------------------
@dataclass(frozen=True)
class Bar:
    """One bar of one symbol; ``ref_close`` is the previous trading day's close (price limits);
    ``volume`` is read under a volume cap only (a missing one then allows no fill);
    ``limit_down``/``limit_up``: the day's published limit prices, where a source gives them
    (they win over the ones computed from ``ref_close``)."""

    open: float
    high: float
    low: float
    close: float
    ref_close: float = float("nan")
    volume: float = float("nan")
    limit_down: float = float("nan")
    limit_up: float = float("nan")


@dataclass(frozen=True)
class FillResult:
    """What happened to one order: ``quantity`` filled (0 if none), price, fees and why."""

    quantity: float
    price: float
    fees: float
    reason: str

    @property
    def filled(self) -> bool:
        return self.quantity > 0


def fill_order(
    profile: MarketProfile,
    *,
    side: str,
    quantity: float,
    bar: Bar,
    kind: str = "market",
    price: float | None = None,
    cash: float,
    position: float = 0.0,
    bought_today: float = 0.0,
    at_close: bool = False,
    rules: np.ndarray | None = None,
) -> FillResult:
    """Try to fill one order against one bar with ``profile``'s rules (the paper broker's call).

    ``side`` is "buy" or "sell"; ``bought_today`` is the part of ``position`` bought on the
    current trading day (not sellable under T+1). ``rules``: the instrument's rules row on
    the bar's day (:func:`easyquant.execution.dated.rules_on_day`); the profile's by default.
    """
    if side not in ("buy", "sell"):
        raise ConfigError(f"order side: expected 'buy' or 'sell', got {side!r}")
    if kind not in ("market", "limit", "stop"):
        raise ConfigError(f"order kind: expected market, limit or stop, got {kind!r}")
    if not quantity > 0:
        raise ConfigError(f"order quantity: must be > 0, got {quantity!r}")
    k = {"market": MARKET, "limit": LIMIT, "stop": STOP}[kind]
    if k != MARKET and (price is None or not price > 0):
        raise ConfigError(f"{kind} order: needs a price > 0, got {price!r}")
    s = BUY if side == "buy" else SELL
    sellable = max(position, 0.0) - (bought_today if profile.t_plus_one else 0.0)
    q, px, fee, why = try_fill(
        s,
        float(quantity),
        k,
        float(price or 0.0),
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        at_close,
        bar.ref_close,
        float(cash),
        float(position),
        sellable,
        bar.volume,
        bar.limit_down,
        bar.limit_up,
        profile.vector() if rules is None else rules,
    )
    return FillResult(float(q), float(px), float(fee), REASONS[why])
