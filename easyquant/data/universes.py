"""Universes: named sets of instruments ingested nightly, read from a TOML file.

::

    [universe.cn_daily]
    source = "akshare"
    rule = "exchange:XSHG,XSHE"     # all stocks of these exchanges in the instrument master
    freq = "1d"
    calendar = "XSHG"

    [universe.us_daily]
    source = "yfinance"
    symbols = ["AAPL", "MSFT", "SPY"]
    calendar = "XNYS"

Each universe becomes one ETL DAG ``easyquant_etl_<name>``, scheduled on weekdays
:data:`RUN_AFTER_CLOSE` after its calendar's close, in that exchange's time zone, and updating
the asset :func:`asset_uri` (``easyquant://lake/bars/<name>``), which a backtest DAG can be
scheduled on. This module imports only the standard library: DAG files parse it at load time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from easyquant.errors import ConfigError

# Regular close (exchange-local) and time zone of each calendar a universe may name. Sources:
# the exchanges' published trading hours (SSE/SZSE 15:00, NYSE/Nasdaq 16:00, HKEX 16:00,
# LSE 16:30, TSE 15:30 from 2024-11-05); crypto trades around the clock (daily bars close 00:00
# UTC).
CLOSES: dict[str, tuple[str, dt.time]] = {
    "XSHG": ("Asia/Shanghai", dt.time(15, 0)),
    "XNYS": ("America/New_York", dt.time(16, 0)),
    "XNAS": ("America/New_York", dt.time(16, 0)),
    "XHKG": ("Asia/Hong_Kong", dt.time(16, 0)),
    "XLON": ("Europe/London", dt.time(16, 30)),
    "XTKS": ("Asia/Tokyo", dt.time(15, 30)),
    "24/7": ("UTC", dt.time(0, 0)),
}
RUN_AFTER_CLOSE = dt.timedelta(minutes=90)
SOURCES = ("synthetic", "akshare", "baostock", "tushare", "yfinance", "ccxt", "csv", "parquet")
RULE_EXCHANGES = ("XSHG", "XSHE", "BJSE", "XNYS", "XNAS")
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "dags" / "universes.toml"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,39}$")
_FREQ = re.compile(r"^[0-9]+(m|min|h|d)$")
_KEYS = {"source", "symbols", "rule", "freq", "calendar", "exchange", "path", "batch_size"}
_KEYS |= {"paused"}


@dataclass(frozen=True)
class Universe:
    """One universe: where bars come from and which instruments, on which calendar."""

    name: str
    source: str
    calendar: str
    freq: str = "1d"
    symbols: tuple[str, ...] = ()
    rule: str | None = None  # "exchange:XSHG,XSHE"
    exchange: str | None = None  # ccxt: the exchange id
    path: str | None = None  # csv / parquet
    batch_size: int = 50
    paused: bool = False  # the DAG starts paused (e.g. a vendor universe on an offline machine)

    @property
    def dag_id(self) -> str:
        return f"easyquant_etl_{self.name}"

    @property
    def asset_uri(self) -> str:
        return asset_uri(self.name)

    @property
    def timezone(self) -> str:
        return CLOSES[self.calendar][0]

    @property
    def cron(self) -> str:
        """Run time: the close plus :data:`RUN_AFTER_CLOSE`, weekdays (crypto: every day)."""
        close = dt.datetime.combine(dt.date(2000, 1, 3), CLOSES[self.calendar][1])
        at = close + RUN_AFTER_CLOSE
        days = "*" if self.calendar == "24/7" else "1-5"
        return f"{at.minute} {at.hour} * * {days}"

    def rule_exchanges(self) -> list[str]:
        return [] if not self.rule else self.rule.split(":", 1)[1].split(",")


def asset_uri(universe: str) -> str:
    """The asset a universe's ETL DAG updates (what a backtest DAG may be scheduled on)."""
    return f"easyquant://lake/bars/{universe}"


def universes_file() -> Path:
    """The universes file: ``EASYQUANT_UNIVERSES`` if set, else ``dags/universes.toml``."""
    return Path(os.environ.get("EASYQUANT_UNIVERSES") or DEFAULT_FILE)


def _fail(path: Path, field: str, what: str) -> ConfigError:
    return ConfigError(f"{path}: field {field!r}: {what}")


def _universe(path: Path, name: str, body: Any) -> Universe:
    where = f"universe.{name}"
    if not _NAME.match(name):
        raise _fail(path, where, "a universe name is 1-40 lower-case letters, digits or '_'")
    if not isinstance(body, dict):
        raise _fail(path, where, "expected a table of settings")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise _fail(path, f"{where}.{unknown[0]}", f"unknown setting; expected {sorted(_KEYS)}")
    source = body.get("source")
    if source not in SOURCES:
        raise _fail(path, f"{where}.source", f"expected one of {SOURCES}, got {source!r}")
    calendar = str(body.get("calendar", "")).upper()
    if calendar not in CLOSES:
        raise _fail(
            path, f"{where}.calendar", f"expected one of {sorted(CLOSES)}, got {calendar!r}"
        )
    freq = str(body.get("freq", "1d")).lower()
    if not _FREQ.match(freq):
        raise _fail(path, f"{where}.freq", f"expected a frequency like 1d or 5m, got {freq!r}")
    symbols, rule = body.get("symbols"), body.get("rule")
    if (symbols is None) == (rule is None):
        raise _fail(path, f"{where}.symbols", 'give either symbols = [...] or rule = "..."')
    if symbols is not None:
        if not isinstance(symbols, list) or not symbols:
            raise _fail(path, f"{where}.symbols", "expected a non-empty list of symbols")
        for i, s in enumerate(symbols):
            if not isinstance(s, str) or not _SYMBOL.match(s):
                raise _fail(path, f"{where}.symbols[{i}]", f"invalid symbol {s!r}")
    if rule is not None:
        kind, _, exchanges = str(rule).partition(":")
        names = [e.strip().upper() for e in exchanges.split(",") if e.strip()]
        if kind != "exchange" or not names or any(e not in RULE_EXCHANGES for e in names):
            raise _fail(
                path,
                f"{where}.rule",
                f"expected 'exchange:' and some of {RULE_EXCHANGES}, got {rule!r}",
            )
        rule = "exchange:" + ",".join(names)
    if source in ("csv", "parquet") and not body.get("path"):
        raise _fail(path, f"{where}.path", f"the {source} source needs a path")
    batch = body.get("batch_size", 50)
    if not isinstance(batch, int) or not 1 <= batch <= 1000:
        raise _fail(path, f"{where}.batch_size", f"expected 1 to 1000, got {batch!r}")
    paused = body.get("paused", False)
    if not isinstance(paused, bool):
        raise _fail(path, f"{where}.paused", f"expected true or false, got {paused!r}")
    return Universe(
        paused=paused,
        name=name,
        source=source,
        calendar=calendar,
        freq=freq,
        symbols=tuple(symbols or ()),
        rule=rule,
        exchange=body.get("exchange"),
        path=body.get("path"),
        batch_size=batch,
    )


def load_universes(path: str | Path | None = None) -> list[Universe]:
    """Read and check the universes file; raise ConfigError naming the file and the field."""
    path = Path(path) if path else universes_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such universes file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"universe"})
    if extra:
        raise _fail(path, extra[0], "unknown section; universes go under [universe.NAME]")
    table = data.get("universe", {})
    if not isinstance(table, dict):
        raise _fail(path, "universe", "expected [universe.NAME] tables")
    return [_universe(path, name, body) for name, body in table.items()]
