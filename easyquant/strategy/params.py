"""Typed, validated strategy parameters (``Param`` class attributes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from easyquant.errors import ConfigError


# ----- parameters ---------------------------------------------------------------------------
class Param:
    """A typed, validated strategy parameter declared as a class attribute.

    ``fast = Param(10, ge=1, doc="fast SMA window")``: the type is the default's type
    (int, float, bool or str) unless ``type`` is given.
    """

    def __init__(
        self,
        default: Any,
        *,
        type: type | None = None,
        ge: float | None = None,
        le: float | None = None,
        gt: float | None = None,
        lt: float | None = None,
        choices: Sequence[Any] | None = None,
        doc: str = "",
    ) -> None:
        self.type = type or builtin_type(default)
        self.ge, self.le, self.gt, self.lt = ge, le, gt, lt
        self.choices = tuple(choices) if choices is not None else None
        self.doc = doc
        self.name = ""
        self.default = self.coerce(default, owner="Param") if default is not None else None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._params[self.name]

    def coerce(self, value: Any, *, owner: str) -> Any:
        """Convert ``value`` (possibly a CLI string) to this parameter's type and check bounds."""
        where = f"strategy {owner}: parameter {self.name or '?'}"
        t = self.type
        try:
            if t in (int, float) and isinstance(value, bool):
                raise ValueError(value)  # True is not the number 1 here
            if t is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(value)
                    value = low in ("true", "1", "yes")
                elif not isinstance(value, bool | np.bool_ | int):
                    raise ValueError(value)
                value = bool(value)
            elif t is int:
                as_float = float(value)
                if not as_float.is_integer():
                    raise ValueError(value)
                value = int(as_float)
            elif t is float:
                value = float(value)
                if not np.isfinite(value):
                    raise ValueError(value)
            else:
                value = t(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {t.__name__}, got {value!r}") from None
        checks = (
            (self.ge, lambda v, b: v >= b, ">="),
            (self.le, lambda v, b: v <= b, "<="),
            (self.gt, lambda v, b: v > b, ">"),
            (self.lt, lambda v, b: v < b, "<"),
        )
        for bound, ok, sign in checks:
            if bound is not None and not ok(value, bound):
                raise ConfigError(f"{where}: must be {sign} {bound}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: expected one of {list(self.choices)}, got {value!r}")
        return value

    def describe(self) -> dict[str, Any]:
        """Return this parameter as plain data (name, type, default, bounds, doc)."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "doc": self.doc,
        }
        for key in ("ge", "le", "gt", "lt", "choices"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def builtin_type(value: Any) -> type:
    for t in (bool, int, float, str):
        if isinstance(value, t):
            return t
    raise TypeError(f"Param default must be bool, int, float or str, got {type(value).__name__}")
