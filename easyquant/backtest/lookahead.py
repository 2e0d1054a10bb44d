"""The look-ahead check: rerun a strategy on truncated histories; no earlier decision may change.

A decision at bar ``t`` must depend on bars ``0..t`` only. For each cut ``k`` the strategy runs
on the first ``k`` bars; its decisions must equal the full run's decisions on those bars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from easyquant.errors import StrategyError
from easyquant.strategy.base import Bars, Decisions, Strategy


def cut_points(n: int, cuts: int, min_bars: int = 2) -> list[int]:
    """Return up to ``cuts`` history lengths spread over ``[min_bars, n)``, plus ``n - 1``."""
    if n <= min_bars:
        return []
    pts = np.unique(np.linspace(min_bars, n - 1, num=max(cuts, 1)).astype(int))
    return sorted({*pts.tolist(), n - 1})


def check_lookahead(
    strategy: Strategy,
    data: Bars,
    *,
    cuts: int = 20,
    full: Decisions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Raise StrategyError naming the first bar whose decision changes when later bars are
    removed; return the number of truncated runs checked."""
    full = full or strategy.decisions(data)
    first: tuple[int, int] | None = None
    points = cut_points(len(data), cuts)
    for i, k in enumerate(points):
        part = strategy.decisions(data[:k])
        diff = full.first_difference(part, k)
        if diff is not None and (first is None or diff[0] < first[0]):
            first = diff
        if progress is not None:
            progress(i + 1, len(points))
    if first is not None:
        t, j = first
        raise StrategyError(
            f"strategy {strategy.name}: look-ahead detected: the decision for symbol "
            f"{data.symbols[j]} at bar {data.index[t].isoformat()} (bar {t}) changes when "
            "later bars are removed"
        )
    return len(points)
