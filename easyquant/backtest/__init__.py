"""Backtesting: the compiled kernel, metrics, sweeps, results, reports."""

from easyquant import _jit  # noqa: F401  (keys numba's cache by source: import it first)
from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.lookahead import check_lookahead
from easyquant.backtest.runner import BacktestResult, run_backtest
from easyquant.execution.market import PROFILES, MarketProfile, get_profile
from easyquant.execution.rules import fill_order

__all__ = [
    "PROFILES",
    "BacktestConfig",
    "BacktestResult",
    "MarketProfile",
    "check_lookahead",
    "fill_order",
    "get_profile",
    "run_backtest",
]
