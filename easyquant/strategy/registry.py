"""Load a strategy class by built-in name or by import path ``package.module:Class``."""

from __future__ import annotations

import importlib

from easyquant.errors import ConfigError
from easyquant.strategy.base import Strategy
from easyquant.strategy.builtins import BUILTINS


def allowed_module(module_name: str, prefixes: str) -> bool:
    """True when ``module_name`` is one of the comma-separated ``prefixes`` or inside one."""
    return any(
        module_name == p or module_name.startswith(p + ".")
        for p in (part.strip() for part in prefixes.split(","))
        if p
    )


def load_strategy(spec: str, allowed: str | None = None) -> type[Strategy]:
    """Return the Strategy subclass named by ``spec`` (a built-in name or ``pkg.module:Class``).

    Only modules under the ``allowed`` prefixes (default: ``EASYQUANT_STRATEGY_MODULES``) are
    imported: a request cannot make a worker import arbitrary code. Raise ConfigError naming
    ``spec`` when it is not allowed, cannot be found or is not a Strategy.
    """
    if spec in BUILTINS:
        return BUILTINS[spec]
    if ":" not in spec:
        raise ConfigError(
            f"unknown strategy {spec!r}: expected a built-in ({', '.join(sorted(BUILTINS))}) "
            "or an import path package.module:Class"
        )
    module_name, _, attr = spec.partition(":")
    if allowed is None:
        from easyquant.config import get_settings

        allowed = get_settings().strategy_modules
    if not allowed_module(module_name, allowed):
        raise ConfigError(
            f"strategy {spec!r}: module {module_name!r} is not under an allowed prefix "
            f"({allowed}); set EASYQUANT_STRATEGY_MODULES to allow it"
        )
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
