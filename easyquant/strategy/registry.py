"""Load a strategy class by built-in name or by import path ``package.module:Class``."""

from __future__ import annotations

import importlib

from easyquant.errors import ConfigError
from easyquant.strategy.base import Strategy
from easyquant.strategy.builtins import BUILTINS


def load_strategy(spec: str) -> type[Strategy]:
    """Return the Strategy subclass named by ``spec`` (a built-in name or ``pkg.module:Class``).

    Raise ConfigError naming ``spec`` when it cannot be found or is not a Strategy.
    """
    if spec in BUILTINS:
        return BUILTINS[spec]
    if ":" not in spec:
        raise ConfigError(
            f"unknown strategy {spec!r}: expected a built-in ({', '.join(sorted(BUILTINS))}) "
            "or an import path package.module:Class"
        )
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"strategy {spec!r}: cannot import module {module_name!r}: {exc}"
        ) from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise ConfigError(f"strategy {spec!r}: module {module_name!r} has no attribute {attr!r}")
    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise ConfigError(f"strategy {spec!r}: {attr} is not a Strategy subclass")
    return obj


def make_strategy(spec: str, params: dict[str, object] | None = None) -> Strategy:
    """Load ``spec`` and instantiate it with validated ``params``."""
    return load_strategy(spec)(**(params or {}))
