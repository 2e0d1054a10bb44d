"""Execution: what backtest and live trading share below their clock, feed and broker.

Market profiles and their rule table (:mod:`~easyquant.execution.market`), the compiled fill and
cost rules (:mod:`~easyquant.execution.rules`), order sizing (:mod:`~easyquant.execution.sizing`)
and the pending decisions (:mod:`~easyquant.execution.working`). Written once: the backtest
kernel inlines them, the live order manager and the paper broker call them.
"""

from easyquant import _jit  # noqa: F401  (keys numba's cache by source: import it first)
from easyquant.execution.market import PROFILES, MarketProfile, get_profile
from easyquant.execution.rules import Bar, FillResult, fill_order

__all__ = ["PROFILES", "Bar", "FillResult", "MarketProfile", "fill_order", "get_profile"]
