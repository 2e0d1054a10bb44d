"""How a backtest runs: starting cash, market profile (with costs), fill timing, benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from easyquant.errors import ConfigError
from easyquant.execution.market import FILLS, MarketProfile, get_profile


@dataclass
class BacktestConfig:
    """How to run: starting cash, market profile (with costs), execution timing, benchmark."""

    cash: float = 100_000.0
    market: MarketProfile = field(default_factory=lambda: get_profile("us"))
    fill: str = "next_open"
    benchmark: str | None = None
    #: instrument-master rows by symbol (``easyquant.data.instruments.load``): board, ST and
    #: suspension periods, listing day; a symbol without one is known from its code
    instruments: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (self.cash > 0 and np.isfinite(self.cash)):
            raise ConfigError(f"cash: must be > 0, got {self.cash!r}")
        if self.fill not in FILLS:
            raise ConfigError(f"fill: expected one of {', '.join(FILLS)}, got {self.fill!r}")

    def as_dict(self) -> dict[str, Any]:
        """The stored form; with master rows given (a dated market), which ones
        (``easyquant.data.instruments.fingerprint``), even none."""
        out = {
            "cash": self.cash,
            "fill": self.fill,
            "benchmark": self.benchmark,
            "market": self.market.as_dict(),
        }
        if self.instruments is not None:
            from easyquant.data.instruments import fingerprint

            out["instruments"] = fingerprint(self.instruments)
        return out
