"""Vendor adapters behind the Source protocol, each an optional extra (``easyquant[akshare]``).

None of these adapters has been run against the live vendor service from this repository's
tests: they are tested against the libraries' documented result shapes (tests/fixtures/vendors).
"""

from __future__ import annotations

from typing import Any

from easyquant.data.vendors.base import VendorError, VendorSource
from easyquant.errors import ConfigError

VENDORS = ("akshare", "baostock", "tushare", "yfinance", "ccxt")
__all__ = ["VENDORS", "VendorError", "VendorSource", "make_vendor"]


def make_vendor(name: str, *, api: Any = None, **options: Any) -> VendorSource:
    """Build a vendor adapter by name; ``api`` replaces the vendor library (tests)."""
    from easyquant.data.vendors.cn import AkshareSource, BaostockSource, TushareSource
    from easyquant.data.vendors.intl import CcxtSource, YfinanceSource

    classes: dict[str, type[VendorSource]] = {
        "akshare": AkshareSource,
        "baostock": BaostockSource,
        "tushare": TushareSource,
        "yfinance": YfinanceSource,
        "ccxt": CcxtSource,
    }
    if name not in classes:
        raise ConfigError(f"source: expected one of {VENDORS}, got {name!r}")
    return classes[name](api, **options)
