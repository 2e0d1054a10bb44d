"""EasyQuant: market-data ETL, backtests, live trading and monitoring in one system.

The names a script or notebook uses are here::

    import easyquant as eq

    bars = eq.load_bars(["AAA"], "1d", "2021-01-01", "2022-12-31")
    result = eq.run_backtest("sma_cross", bars, eq.BacktestConfig(cash=100_000),
                             params={"fast": 10, "slow": 30})

They are imported on first use, so ``import easyquant`` stays cheap (Airflow parses the DAG
files, which import it inside their tasks, many times a minute).
"""

from __future__ import annotations

import importlib

# ``typing`` is not imported at run time: this module is all ``import easyquant`` costs.
TYPE_CHECKING = False

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Strategy": "easyquant.strategy",
    "Param": "easyquant.strategy",
    "Target": "easyquant.strategy",
    "Bars": "easyquant.strategy",
    "SymbolBars": "easyquant.strategy",
    "BUILTINS": "easyquant.strategy",
    "load_strategy": "easyquant.strategy",
    "run_backtest": "easyquant.backtest",
    "BacktestConfig": "easyquant.backtest",
    "BacktestResult": "easyquant.backtest",
    "get_profile": "easyquant.backtest",
    "check_lookahead": "easyquant.backtest",
    "BacktestRequest": "easyquant.backtest.request",
    "load_bars": "easyquant.data",
    "make_source": "easyquant.data",
    "EasyQuantError": "easyquant.errors",
    "ConfigError": "easyquant.errors",
    "DataError": "easyquant.errors",
    "StrategyError": "easyquant.errors",
    "Settings": "easyquant.config",
    "load_settings": "easyquant.config",
}

__all__ = [
    "BUILTINS",
    "BacktestConfig",
    "BacktestRequest",
    "BacktestResult",
    "Bars",
    "ConfigError",
    "DataError",
    "EasyQuantError",
    "Param",
    "Settings",
    "Strategy",
    "StrategyError",
    "SymbolBars",
    "Target",
    "__version__",
    "check_lookahead",
    "get_profile",
    "load_bars",
    "load_settings",
    "load_strategy",
    "make_source",
    "run_backtest",
]

if TYPE_CHECKING:
    from typing import Any

    from easyquant.backtest import (
        BacktestConfig,
        BacktestResult,
        check_lookahead,
        get_profile,
        run_backtest,
    )
    from easyquant.backtest.request import BacktestRequest
    from easyquant.config import Settings, load_settings
    from easyquant.data import load_bars, make_source
    from easyquant.errors import ConfigError, DataError, EasyQuantError, StrategyError
    from easyquant.strategy import (
        BUILTINS,
        Bars,
        Param,
        Strategy,
        SymbolBars,
        Target,
        load_strategy,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'easyquant' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
