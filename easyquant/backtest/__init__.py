"""Backtesting: the simulator (fills, costs, market rules), metrics, sweeps, results, reports."""

from easyquant.backtest.engine import BacktestConfig
from easyquant.backtest.lookahead import check_lookahead
from easyquant.backtest.market import PROFILES, MarketProfile, fill_order, get_profile
from easyquant.backtest.runner import BacktestResult, run_backtest

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
