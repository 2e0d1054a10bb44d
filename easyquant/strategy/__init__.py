"""The Strategy API and built-in strategies."""

from easyquant import _jit  # noqa: F401  (keys numba's cache by source: import it first)
from easyquant.strategy.base import Bars, Decisions, Param, Strategy, SymbolBars, Target
from easyquant.strategy.builtins import BUILTINS
from easyquant.strategy.registry import load_strategy, make_strategy

__all__ = [
    "BUILTINS",
    "Bars",
    "Decisions",
    "Param",
    "Strategy",
    "SymbolBars",
    "Target",
    "load_strategy",
    "make_strategy",
]
