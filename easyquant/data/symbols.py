"""One spelling per instrument: every vendor's symbol maps to it on the way in.

- China A-shares: ``600519.SH``, ``000001.SZ``, ``430047.BJ``, from ``600519``, ``sh.600519``,
  ``SH600519``, ``sh600519``, ``600519.XSHG``, ``600519.SS`` (Yahoo) and so on. A bare code's
  exchange follows from its leading digits (:data:`CODE_PREFIXES`).
- Crypto pairs: ``BTC-USDT`` from ``BTCUSDT``, ``BTC/USDT``, ``btc_usdt``, ``BTC-USDT``: base and
  quote in upper case joined by ``-`` (``/`` cannot name a lake partition). A pair without a
  separator is recognised by a stablecoin quote (:data:`JOINED_QUOTES`).
- Anything else (US tickers such as ``AAPL`` or ``BRK-B``) is kept as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from easyquant.errors import ConfigError

# Exchange suffix -> (suffix, exchange MIC, calendar). The three A-share exchanges trade on one
# holiday calendar, published by the exchanges; exchange-calendars names it XSHG.
A_SHARE_EXCHANGES = {
    "SH": ("SH", "XSHG", "XSHG"),
    "SZ": ("SZ", "XSHE", "XSHG"),
    "BJ": ("BJ", "BJSE", "XSHG"),
}
_SUFFIX_ALIASES = {
    "SH": "SH",
    "SS": "SH",
    "SHG": "SH",
    "XSHG": "SH",
    "SSE": "SH",
    "SZ": "SZ",
    "SHE": "SZ",
    "XSHE": "SZ",
    "SZSE": "SZ",
    "BJ": "BJ",
    "BSE": "BJ",
    "BJSE": "BJ",
    "XBSE": "BJ",
}
# Leading digits of a six-digit code -> exchange (SSE, SZSE and BSE code allocation rules):
# 60 SH main, 68 SH STAR, 90 SH B shares, 5 SH funds; 00 SZ main, 30 SZ ChiNext, 20 SZ B shares,
# 1 SZ funds; 4, 8 and 92 BJ. Longest prefix wins.
CODE_PREFIXES = {
    "60": "SH",
    "68": "SH",
    "90": "SH",
    "5": "SH",
    "00": "SZ",
    "30": "SZ",
    "20": "SZ",
    "1": "SZ",
    "4": "BJ",
    "8": "BJ",
    "92": "BJ",
}
QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USD", "EUR", "BTC", "ETH", "BNB")
JOINED_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD")
# What any stored symbol looks like: it names a lake folder, so no separator can be in it
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$")
CRYPTO_CALENDAR = "24/7"

_PREFIXED = re.compile(r"^(SH|SZ|BJ)[.:_]?(\d{6})$", re.IGNORECASE)
_SUFFIXED = re.compile(r"^(\d{6})[.:_]([A-Za-z]{2,4})$")
_CODE = re.compile(r"^\d{6}$")
_PAIR = re.compile(r"^([A-Za-z0-9]{2,15})[/\-_:]([A-Za-z]{3,5})$")
_JOINED = re.compile(r"^([A-Z0-9]{2,15}?)(" + "|".join(JOINED_QUOTES) + r")$")


@dataclass(frozen=True)
class SymbolInfo:
    """A canonical symbol and what its spelling tells: kind, exchange MIC and calendar."""

    symbol: str
    kind: str  # "cn" (China A-share), "crypto" or "other"
    exchange: str | None = None
    calendar: str | None = None
    code: str | None = None  # A-shares: the six-digit code; crypto: the base asset
    quote: str | None = None  # crypto: the quote asset


def exchange_of_code(code: str) -> str | None:
    """Return ``SH``, ``SZ`` or ``BJ`` for a six-digit A-share code, or None when unknown."""
    for n in (2, 1):
        hit = CODE_PREFIXES.get(code[:n])
        if hit:
            return hit
    return None


def _a_share(code: str, suffix: str) -> SymbolInfo:
    sfx, mic, cal = A_SHARE_EXCHANGES[suffix]
    return SymbolInfo(f"{code}.{sfx}", "cn", mic, cal, code=code)


def parse(symbol: str, *, option: str = "symbols") -> SymbolInfo:
    """Return the canonical form of ``symbol`` with its kind, exchange and calendar.

    Raise ConfigError naming ``option`` for a six-digit code whose exchange is unknown or an
    A-share suffix that names no exchange.
    """
    text = str(symbol).strip()
    m = _PREFIXED.match(text)
    if m:
        return _a_share(m.group(2), m.group(1).upper())
    m = _SUFFIXED.match(text)
    if m:
        suffix = _SUFFIX_ALIASES.get(m.group(2).upper())
        if suffix is None:
            raise ConfigError(
                f"{option}: symbol {symbol!r}: unknown exchange suffix {m.group(2)!r}; "
                "expected .SH, .SZ or .BJ (or .XSHG, .XSHE, .SS)"
            )
        return _a_share(m.group(1), suffix)
    if _CODE.match(text):
        exch = exchange_of_code(text)
        if exch is None:
            raise ConfigError(
                f"{option}: symbol {symbol!r}: cannot tell the exchange of this code; "
                "write it with its exchange, e.g. 600519.SH, 000001.SZ or 430047.BJ"
            )
        return _a_share(text, exch)
    m = _PAIR.match(text)
    if m and m.group(2).upper() in QUOTES:
        base, quote = m.group(1).upper(), m.group(2).upper()
        return SymbolInfo(f"{base}-{quote}", "crypto", None, CRYPTO_CALENDAR, base, quote)
    m = _JOINED.match(text.upper()) if text.isalnum() and len(text) >= 6 else None
    if m:
        base, quote = m.group(1), m.group(2)
        return SymbolInfo(f"{base}-{quote}", "crypto", None, CRYPTO_CALENDAR, base, quote)
    return SymbolInfo(check_symbol(text, option=option), "other")


def check_symbol(symbol: str, *, option: str = "symbols") -> str:
    """Return ``symbol`` if it can name a lake partition, else raise ConfigError."""
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol):
        raise ConfigError(
            f"{option}: invalid symbol {symbol!r}; expected 1-40 letters, digits, '.', '_' or '-'"
        )
    return symbol


def canonical(symbol: str, *, option: str = "symbols") -> str:
    """Return the one stored spelling of ``symbol`` (see the module docstring)."""
    return parse(symbol, option=option).symbol


def calendar_of(symbols: list[str] | tuple[str, ...]) -> str | None:
    """Return the calendar every symbol's exchange implies, or None when they differ or say none."""
    cals = {parse(s).calendar for s in symbols}
    if len(cals) == 1:
        return cals.pop()
    return None


def vendor_code(symbol: str, style: str) -> str:
    """Spell a canonical A-share or crypto symbol the way a vendor wants it.

    ``style``: ``code`` (``600519``), ``baostock`` (``sh.600519``), ``tushare``/``yahoo``
    (``600519.SH`` / ``600519.SS``), ``ccxt`` (``BTC/USDT``), ``binance`` (``BTCUSDT``).
    """
    info = parse(symbol)
    if info.kind == "cn" and info.code:
        sfx = info.symbol.rsplit(".", 1)[1]
        if style == "code":
            return info.code
        if style == "baostock":
            return f"{sfx.lower()}.{info.code}"
        if style == "yahoo":
            return f"{info.code}.{'SS' if sfx == 'SH' else sfx}"
        return info.symbol
    if info.kind == "crypto":
        if style == "ccxt":
            return f"{info.code}/{info.quote}"
        if style == "binance":
            return f"{info.code}{info.quote}"
    return info.symbol
