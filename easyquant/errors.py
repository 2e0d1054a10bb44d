"""The exception hierarchy: one root, caught at the outermost layer."""

from __future__ import annotations


class EasyQuantError(Exception):
    """Root of every error EasyQuant raises on purpose."""


class ConfigError(EasyQuantError):
    """A setting or parameter is missing or invalid."""


class DataError(EasyQuantError):
    """Input data is malformed; the message names the file, row and field."""


class DatabaseError(EasyQuantError):
    """The database cannot be reached or a migration failed."""


class BrokerError(EasyQuantError):
    """A broker refused or failed an operation."""


class StrategyError(EasyQuantError):
    """User strategy code raised; the message names the strategy, symbol and bar."""


class NotFoundError(EasyQuantError):
    """A requested object (component, run, symbol) does not exist."""
