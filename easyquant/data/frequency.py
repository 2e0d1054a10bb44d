"""Bar frequencies: ``1m`` .. ``1d``, parsed once into a small value object."""

from __future__ import annotations

import re
from dataclasses import dataclass

from easyquant.errors import ConfigError

_FREQ = re.compile(r"^(\d+)(m|min|h|d)$")
NS_PER_MINUTE = 60_000_000_000
NS_PER_DAY = 86_400_000_000_000


@dataclass(frozen=True)
class Freq:
    """A bar frequency: ``minutes`` per bar; ``daily`` for one bar per session."""

    name: str
    minutes: int

    @property
    def daily(self) -> bool:
        return self.name == "1d"

    @property
    def ns(self) -> int:
        return self.minutes * NS_PER_MINUTE

    def __str__(self) -> str:
        return self.name


def parse_freq(text: str | Freq, *, option: str = "freq") -> Freq:
    """Parse ``1m``, ``5m``, ``15m``, ``1h``, ``1d`` (any N minutes or hours up to one day)."""
    if isinstance(text, Freq):
        return text
    match = _FREQ.match(str(text).strip().lower())
    if not match:
        raise ConfigError(
            f"{option}: expected a bar frequency like 1m, 5m, 15m, 1h or 1d, got {text!r}"
        )
    n, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        if n != 1:
            raise ConfigError(f"{option}: only 1d is supported for daily bars, got {text!r}")
        return Freq("1d", 1440)
    minutes = n * 60 if unit == "h" else n
    if not 1 <= minutes < 1440:
        raise ConfigError(f"{option}: intraday bars must be 1 minute to 23 hours, got {text!r}")
    name = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
    return Freq(name, minutes)
