"""A strategy whose limit and stop orders rest across bars (for the live-versus-backtest tests).

Decisions follow the bar's date, so a session deciding on any window of history makes the same
ones: buy limits a little below the close (good till cancelled, or for the day), protective
stops for the day, and market exits. Many do not fill at once and keep working; later ones
replace them.
"""

from __future__ import annotations

from collections.abc import Mapping

from easyquant.strategy.base import Bars, Strategy, Target

DAY_NS = 86_400_000_000_000


class Resting(Strategy):
    name = "resting"

    def next(self, t: int, data: Bars) -> Mapping[str, float | Target] | None:
        day = int(data.index[t].value // DAY_NS)
        out: dict[str, float | Target] = {}
        for j, sym in enumerate(data.symbols):
            c = float(data.close[t, j])
            if c != c:
                continue
            k = (day + 3 * j) % 9
            if k == 0:
                out[sym] = Target(0.45, "limit", round(c * 0.985, 2))
            elif k == 3:
                out[sym] = Target(0.45, "limit", round(c * 0.97, 2), "day")
            elif k == 5:
                out[sym] = Target(0.0, "stop", round(c * 0.975, 2), "day")
            elif k == 7:
                out[sym] = Target(0.0, "limit", round(c * 1.02, 2))
            elif k == 8:
                out[sym] = 0.0
        return out or None
