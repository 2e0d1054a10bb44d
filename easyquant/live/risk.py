"""Risk limits: position per symbol, gross exposure, order notional and daily loss.

Order checks run before an order is written or sent; a breach refuses the order and halts the
session (and, when ``flatten_on_breach`` is set, closes every position). The daily loss check
runs at every bar's close marks. Values are in the account's currency; ``None`` means no limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from easyquant.errors import ConfigError

LIMITS = ("max_position_value", "max_gross_exposure", "max_order_value", "max_daily_loss")


@dataclass(frozen=True)
class RiskLimits:
    """``max_position_value``: |quantity x price| of one symbol; ``max_gross_exposure``: sum of
    |position values|; ``max_order_value``: one order's quantity x price; ``max_daily_loss``:
    equity below the trading day's starting equity by more than this."""

    max_position_value: float | None = None
    max_gross_exposure: float | None = None
    max_order_value: float | None = None
    max_daily_loss: float | None = None
    flatten_on_breach: bool = False

    def __post_init__(self) -> None:
        for name in LIMITS:
            v = getattr(self, name)
            if v is None:
                continue
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not math.isfinite(v)
                or v <= 0
            ):
                raise ConfigError(f"risk limit {name}: must be a number > 0, got {v!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RiskLimits:
        data = dict(data or {})
        unknown = sorted(set(data) - set(LIMITS) - {"flatten_on_breach"})
        if unknown:
            raise ConfigError(
                f"risk limits: unknown field(s) {', '.join(unknown)}; expected "
                f"{', '.join((*LIMITS, 'flatten_on_breach'))}"
            )
        vals: dict[str, Any] = {}
        for k, v in data.items():
            if k == "flatten_on_breach":
                vals[k] = bool(v)
            elif v is not None:
                try:
                    vals[k] = float(v)
                except (TypeError, ValueError):
                    raise ConfigError(f"risk limit {k}: must be a number > 0, got {v!r}") from None
        return cls(**vals)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_order(
    limits: RiskLimits,
    *,
    symbol: str,
    side: str,
    quantity: float,
    price: float,
    positions: Mapping[str, float],
    marks: Mapping[str, float],
) -> str | None:
    """Return the breach an order would cause (a message naming the limit), or None."""
    signed = quantity if side == "buy" else -quantity
    value = abs(quantity * price)
    if limits.max_order_value is not None and value > limits.max_order_value:
        return (
            f"max_order_value: {side} {quantity:g} {symbol} at {price:.4f} is "
            f"{value:,.2f} > {limits.max_order_value:,.2f}"
        )
    before = positions.get(symbol, 0.0)
    after = before + signed
    increases = abs(after) > abs(before) + 1e-12
    if not increases:
        return None
    pos_value = abs(after * price)
    if limits.max_position_value is not None and pos_value > limits.max_position_value:
        return (
            f"max_position_value: {symbol} would be {after:g} shares worth "
            f"{pos_value:,.2f} > {limits.max_position_value:,.2f}"
        )
    if limits.max_gross_exposure is not None:
        gross = pos_value
        for sym, q in positions.items():
            if sym != symbol and q:
                m = marks.get(sym, float("nan"))
                gross += abs(q * m) if math.isfinite(m) else 0.0
        if gross > limits.max_gross_exposure:
            return (
                f"max_gross_exposure: gross exposure would be {gross:,.2f} > "
                f"{limits.max_gross_exposure:,.2f}"
            )
    return None


def check_loss(limits: RiskLimits, *, equity: float, day_start_equity: float) -> str | None:
    """Return a daily-loss breach message, or None."""
    if limits.max_daily_loss is None:
        return None
    loss = day_start_equity - equity
    if loss > limits.max_daily_loss:
        return (
            f"max_daily_loss: equity {equity:,.2f} is {loss:,.2f} below the day's start "
            f"{day_start_equity:,.2f} (limit {limits.max_daily_loss:,.2f})"
        )
    return None
