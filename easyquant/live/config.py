"""A live session's configuration: what ``easyquant live`` takes, checked field by field, and
what must match when a stored session is started again."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from easyquant.errors import ConfigError
from easyquant.execution.market import FILLS, MarketProfile, get_profile
from easyquant.live.broker import BROKERS
from easyquant.live.feeds import FEEDS, parse_speed
from easyquant.live.records import SessionRow
from easyquant.live.risk import RiskLimits
from easyquant.strategy.base import Strategy

SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
# What must match when a stored session is started again.
IDENTITY = (
    "strategy",
    "params",
    "symbols",
    "market",
    "freq",
    "feed",
    "broker",
    "fill",
    "cash",
    "commission",
    "min_commission",
    "stamp_duty",
    "slippage_bps",
    "max_volume_fraction",
    "seed",
    "warmup",
)


@dataclass
class SessionConfig:
    """Everything a session is started with (what ``easyquant live`` takes)."""

    session: str
    strategy: str
    symbols: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    market: str = "us"
    broker: str = "paper"
    feed: str = "replay"
    freq: str = "1d"
    speed: str | float | None = None
    start: str | None = None
    end: str | None = None
    seed: int = 42
    cash: float = 100_000.0
    fill: str = "next_open"
    commission: float | None = None
    min_commission: float | None = None
    stamp_duty: float | None = None
    slippage_bps: float | None = None
    #: a fill takes at most this fraction of the bar's volume (None: no cap)
    max_volume_fraction: float | None = None
    risk: dict[str, Any] = field(default_factory=dict)
    heartbeat: float = 5.0
    #: bars of lake history before the first live bar; None: the strategy's decision window
    warmup: int | None = None

    def validate(self) -> Strategy:
        """Check every field; return the strategy instance. ConfigError names the field."""
        from easyquant.data.frequency import parse_freq
        from easyquant.data.sources import check_symbol
        from easyquant.strategy.registry import make_strategy

        if not isinstance(self.session, str) or not SESSION_RE.match(self.session):
            raise ConfigError(
                f"session: expected 1-64 letters, digits, '.', '_' or '-', got {self.session!r}"
            )
        if not self.symbols:
            raise ConfigError("symbols: expected at least one symbol")
        for s in self.symbols:
            check_symbol(s)
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError(f"symbols: duplicated symbol in {','.join(self.symbols)}")
        if self.feed not in FEEDS:
            raise ConfigError(f"feed: expected one of {', '.join(FEEDS)}, got {self.feed!r}")
        if self.broker not in BROKERS:
            raise ConfigError(f"broker: expected one of {', '.join(BROKERS)}, got {self.broker!r}")
        if self.fill not in FILLS:
            raise ConfigError(f"fill: expected one of {', '.join(FILLS)}, got {self.fill!r}")
        if not (isinstance(self.cash, int | float) and 0 < self.cash < float("inf")):
            raise ConfigError(f"cash: must be > 0, got {self.cash!r}")
        if not (isinstance(self.heartbeat, int | float) and 0.1 <= self.heartbeat <= 300):
            raise ConfigError(f"heartbeat: must be 0.1 to 300 seconds, got {self.heartbeat!r}")
        if self.warmup is not None and not (
            isinstance(self.warmup, int)
            and not isinstance(self.warmup, bool)
            and 0 <= self.warmup <= 1_000_000
        ):
            raise ConfigError(f"warmup: must be 0 to 1000000 bars, got {self.warmup!r}")
        f = self.max_volume_fraction
        if f is not None and not (
            isinstance(f, int | float) and not isinstance(f, bool) and 0 < f <= 1
        ):
            raise ConfigError(f"max_volume_fraction: must be > 0 and <= 1, got {f!r}")
        self.freq = parse_freq(self.freq).name  # "1D" and "1d" are one frequency
        parse_speed(self.speed)
        self.profile()
        RiskLimits.from_dict(self.risk)
        strategy = make_strategy(self.strategy, dict(self.params))
        self.params = strategy.param_values
        return strategy

    def profile(self) -> MarketProfile:
        return get_profile(
            self.market,
            commission=self.commission,
            min_commission=self.min_commission,
            stamp_duty=self.stamp_duty,
            slippage_bps=self.slippage_bps,
            max_volume_fraction=self.max_volume_fraction,
        )

    def instruments(self, settings: Any) -> dict[str, Any] | None:
        """The instrument master's rows of the symbols (board, ST and suspension periods,
        listing day) where the market's rules depend on them, as the backtest takes them
        (``BacktestConfig.instruments``); None for other markets."""
        from easyquant.data.instruments import master_rows

        return master_rows(settings, self.market, self.symbols)

    def limits(self) -> RiskLimits:
        return RiskLimits.from_dict(self.risk)

    def stored(self) -> dict[str, Any]:
        out = asdict(self)
        out["risk"] = self.limits().as_dict()
        return out

    @classmethod
    def from_row(cls, row: SessionRow) -> SessionConfig:
        cfg = dict(row.config)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in cfg.items() if k in known})


def demo_config(
    session: str = "demo", symbols: Sequence[str] = ("AAA", "BBB"), **overrides: Any
) -> SessionConfig:
    """The demo session ``make up`` starts: SMA crossover on a synthetic 24/7 feed, one bar a
    second (1-minute bars at 60x), paper broker."""
    base: dict[str, Any] = {
        "session": session,
        "strategy": "sma_cross",
        "symbols": list(symbols),
        "params": {"fast": 5, "slow": 20},
        "market": "crypto",
        "feed": "synthetic",
        "freq": "1m",
        "speed": 60.0,
        "broker": "paper",
    }
    base.update(overrides)
    return SessionConfig(**base)
