"""Decisions bar by bar, at a cost that does not grow with the history: what a live session uses.

- A per-bar strategy (``next``) runs ``init`` once, on the history the session starts with
  (its warm-up), then ``next`` over that history's bars (their decisions are not traded), then
  ``next`` once per new bar, keeping its state. The backtest runs ``init`` then ``next`` over
  every bar: the same calls in the same order, hence the same decisions.
- A vectorised strategy (``signal``, ``weights``) is evaluated over its declared window
  (``Strategy.decision_window``): the shortest tail of the history holding that many bars of
  every symbol. One that declares no window is evaluated over the whole history, at a cost that
  grows with it (:meth:`Decider.cost_note` says so).
"""

from __future__ import annotations

import time

from easyquant.strategy.base import Bars, Strategy, Target


class Decider:
    """The live decision path of one strategy instance."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.per_bar = strategy._style() == "next"
        self.window = None if self.per_bar else strategy.decision_window()
        self._seen: int | None = None  # bars next() has been run on
        self._col: dict[str, int] = {}

    def start(self, history: Bars) -> None:
        """Initialise on the history a session starts with (a per-bar strategy runs ``init``
        and ``next`` over it; the decisions are not used)."""
        self._seen = None
        if self.per_bar:
            self._catch_up(history, len(history))

    def decide(self, history: Bars) -> dict[str, Target]:
        """Return the decision for the last bar of ``history`` (the bars before it are the
        ones this decider has seen, or the history it was started with)."""
        n = len(history)
        if n == 0:
            return {}
        if not self.per_bar:  # stateless: over its window (or the whole history)
            return self.strategy.decide(history)
        self._catch_up(history, n - 1)
        row = self.strategy._step(n - 1, history, self._col)
        self._seen = n
        out: dict[str, Target] = {}
        for j, tg in sorted(row.items()):
            if tg.value != tg.value:  # nan: no decision
                continue
            price = None if tg.kind == "market" else tg.price
            out[history.symbols[j]] = Target(float(tg.value), tg.kind, price, tg.tif)
        return out

    def _catch_up(self, history: Bars, upto: int) -> None:
        """Run ``init`` (first time) and ``next`` on bars ``[seen, upto)``."""
        if self._seen is None:
            self._col = {s: j for j, s in enumerate(history.symbols)}
            self.strategy._init(history[:upto])
            self._seen = 0
        for t in range(self._seen, upto):
            self.strategy._step(t, history, self._col)
        self._seen = max(self._seen, upto)

    def cost_note(self, history: Bars) -> str | None:
        """Say what each decision costs when it is computed over the whole history (a
        vectorised strategy that declares no window); None otherwise."""
        if self.per_bar or self.window is not None:
            return None
        now = "no bars yet"
        if len(history):
            t0 = time.perf_counter()
            self.decide(history)
            ms = (time.perf_counter() - t0) * 1e3
            now = f"{len(history):,} bars now, {ms:.2f} ms per decision"
        return (
            f"strategy {self.strategy.name} declares no decision window: every decision is "
            f"computed over the whole history ({now}), a cost that grows with every bar; "
            "declare decision_window() to bound it"
        )
