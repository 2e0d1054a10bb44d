"""The instrument master: board, lot, tick, listing dates and dated ST / suspension periods.

Rows come from a CSV (:func:`read_csv`) or a vendor adapter, are checked as a whole and stored in
one transaction (:func:`store`): one bad row stores nothing. Where no row exists, an A-share's
exchange and board follow from its code (:func:`derive`). :func:`rules_on` gives the market rules
their inputs for one instrument on one date.

Board and order-size facts (SSE / SZSE / BSE trading rules): main board and ChiNext buy in lots of
100 shares; STAR orders are at least 200 shares, then steps of 1; BSE orders at least 100 shares,
then steps of 1; A-share prices tick by 0.01 CNY, exchange-traded funds by 0.001.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from easyquant.config import Settings
from easyquant.data import symbols as symbols_mod
from easyquant.errors import ConfigError, DataError

BOARDS = ("main", "chinext", "star", "bse", "etf", "crypto")
PERIOD_KINDS = ("st", "suspended")
COLUMNS = (
    "symbol",
    "name",
    "exchange",
    "board",
    "currency",
    "lot",
    "min_order",
    "tick",
    "listed",
    "delisted",
    "st",
    "suspended",
)


@dataclass(frozen=True)
class Period:
    """A dated status: ``start`` to ``end`` inclusive; ``end`` None while it lasts."""

    start: dt.date
    end: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass
class Instrument:
    """One row of the master. ``line`` is its position in the origin, for error messages."""

    symbol: str
    exchange: str
    board: str
    currency: str
    lot: float
    min_order: float
    tick: float
    name: str = ""
    listed: dt.date | None = None
    delisted: dt.date | None = None
    st: list[Period] = field(default_factory=list)
    suspended: list[Period] = field(default_factory=list)
    line: int = 0


@dataclass(frozen=True)
class InstrumentRules:
    """What the market rules need about one instrument on one date."""

    symbol: str
    date: dt.date
    exchange: str
    board: str
    st: bool
    suspended: bool
    listed: dt.date | None
    delisted: dt.date | None
    lot: float
    min_order: float
    tick: float
    from_master: bool  # False: derived from the symbol (no row in the master)


def board_of_code(code: str) -> str:
    """Return the board of a six-digit A-share code (SSE / SZSE / BSE code allocation)."""
    if code[:3] in ("688", "689"):
        return "star"
    if code[:2] in ("30",):
        return "chinext"
    if symbols_mod.exchange_of_code(code) == "BJ":
        return "bse"
    if code[:1] in ("5", "1"):
        return "etf"
    return "main"


_BOARD_ORDERS = {  # board -> (lot, min_order, tick)
    "main": (100.0, 100.0, 0.01),
    "chinext": (100.0, 100.0, 0.01),
    "star": (1.0, 200.0, 0.01),
    "bse": (1.0, 100.0, 0.01),
    "etf": (100.0, 100.0, 0.001),
}


def derive(symbol: str) -> Instrument:
    """Return the instrument a symbol implies when the master has no row for it."""
    info = symbols_mod.parse(symbol, option="symbol")
    if info.kind == "cn" and info.code:
        board = board_of_code(info.code)
        lot, min_order, tick = _BOARD_ORDERS[board]
        return Instrument(info.symbol, info.exchange or "", board, "CNY", lot, min_order, tick)
    if info.kind == "crypto":
        return Instrument(info.symbol, "", "crypto", info.quote or "", 1e-8, 1e-8, 1e-8)
    return Instrument(info.symbol, "", "main", "USD", 1.0, 1.0, 0.01)


# ----- reading and checking -------------------------------------------------------------------
def _date(text: str, where: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise DataError(f"{where}: expected a date like 2024-01-31, got {text!r}")


def _periods(text: str, where: str) -> list[Period]:
    """Parse ``2020-01-01..2020-06-30;2022-05-01..`` (end optional: still in force)."""
    out = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        lo, sep, hi = part.partition("..")
        start = _date(lo, where) if sep else None
        if start is None:
            raise DataError(f"{where}: expected periods like 2020-01-01..2020-06-30, got {part!r}")
        end = _date(hi, where)
        if end is not None and end < start:
            raise DataError(f"{where}: period {part!r} ends before it starts")
        out.append(Period(start, end))
    return out


def periods_from_flags(days: Sequence[dt.date], flags: Sequence[bool]) -> list[Period]:
    """Turn per-day flags (sorted days) into periods; a run reaching the last day stays open."""
    out: list[Period] = []
    start: dt.date | None = None
    for i, (day, flag) in enumerate(zip(days, flags, strict=True)):
        if flag and start is None:
            start = day
        if not flag and start is not None:
            out.append(Period(start, days[i - 1]))
            start = None
    if start is not None:
        out.append(Period(start, None))
    return out


def check_periods(periods: Sequence[Period], where: str) -> list[Period]:
    """Return ``periods`` sorted; raise DataError naming ``where`` when two overlap."""
    ordered = sorted(periods, key=lambda p: p.start)
    for a, b in itertools.pairwise(ordered):
        if a.end is None or a.end >= b.start:
            raise DataError(
                f"{where}: periods overlap ({a.start}..{a.end or ''} and {b.start}..{b.end or ''})"
            )
    return ordered


def make_instrument(values: dict[str, str], where: str) -> Instrument:
    """Build an instrument from text fields; blanks are derived from the symbol's code."""
    raw = (values.get("symbol") or "").strip()
    if not raw:
        raise DataError(f"{where}, field 'symbol': missing value")
    try:
        base = derive(raw)
    except ConfigError as exc:
        raise DataError(f"{where}, field 'symbol': {exc}") from None
    board = (values.get("board") or "").strip().lower() or base.board
    if board not in BOARDS:
        raise DataError(
            f"{where}, field 'board': unknown board {board!r}; expected one of {BOARDS}"
        )
    lot, min_order, tick = _BOARD_ORDERS.get(board, (base.lot, base.min_order, base.tick))
    nums: dict[str, float] = {}
    for name, default in (("lot", lot), ("min_order", min_order), ("tick", tick)):
        text = (values.get(name) or "").strip()
        try:
            nums[name] = float(text) if text else default
        except ValueError:
            raise DataError(f"{where}, field {name!r}: not a number ({text!r})") from None
        if not nums[name] > 0:
            raise DataError(f"{where}, field {name!r}: must be above 0, got {text!r}")
    listed = _date(values.get("listed") or "", f"{where}, field 'listed'")
    delisted = _date(values.get("delisted") or "", f"{where}, field 'delisted'")
    if listed and delisted and delisted < listed:
        raise DataError(f"{where}, field 'delisted': {delisted} is before the listing {listed}")
    periods = {
        kind: check_periods(
            _periods(values.get(kind) or "", f"{where}, field {kind!r}"), f"{where}, field {kind!r}"
        )
        for kind in PERIOD_KINDS
    }
    return Instrument(
        symbol=base.symbol,
        exchange=(values.get("exchange") or "").strip().upper() or base.exchange,
        board=board,
        currency=(values.get("currency") or "").strip().upper() or base.currency,
        lot=nums["lot"],
        min_order=nums["min_order"],
        tick=nums["tick"],
        name=(values.get("name") or "").strip(),
        listed=listed,
        delisted=delisted,
        st=periods["st"],
        suspended=periods["suspended"],
    )


def read_csv(path: str | Path) -> list[Instrument]:
    """Read an instrument CSV (columns :data:`COLUMNS`, only ``symbol`` required).

    Raise DataError naming the file, line and field of the first bad row.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file as UTF-8 text: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if "symbol" not in header:
        raise DataError(f"{path}: line 1, field 'symbol': missing column; the header has {header}")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise DataError(
            f"{path}: line 1, field {unknown[0]!r}: unknown column; expected some of {COLUMNS}"
        )
    out: list[Instrument] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(reader, start=2):
        if None in row:
            raise DataError(f"{path}: line {i}: more fields than the header's {len(header)}")
        inst = make_instrument({k.strip(): v or "" for k, v in row.items()}, f"{path}: line {i}")
        if inst.symbol in seen:
            raise DataError(
                f"{path}: line {i}, field 'symbol': {inst.symbol} is also on line "
                f"{seen[inst.symbol]}"
            )
        seen[inst.symbol] = i
        inst.line = i
        out.append(inst)
    if not out:
        raise DataError(f"{path}: line 2: no instrument rows after the header")
    return out


# ----- PostgreSQL -----------------------------------------------------------------------------
_UPSERT = """
INSERT INTO instrument AS i (symbol, name, exchange, board, currency, lot, min_order, tick,
                             listed, delisted, source)
VALUES (%(symbol)s, %(name)s, %(exchange)s, %(board)s, %(currency)s, %(lot)s, %(min_order)s,
        %(tick)s, %(listed)s, %(delisted)s, %(source)s)
ON CONFLICT (symbol) DO UPDATE SET
    name = EXCLUDED.name, exchange = EXCLUDED.exchange, board = EXCLUDED.board,
    currency = EXCLUDED.currency, lot = EXCLUDED.lot, min_order = EXCLUDED.min_order,
    tick = EXCLUDED.tick, listed = EXCLUDED.listed, delisted = EXCLUDED.delisted,
    source = EXCLUDED.source, updated_at = clock_timestamp()
"""


def store(
    settings: Settings, instruments: Sequence[Instrument], *, source: str = "csv", origin: str = ""
) -> int:
    """Upsert ``instruments`` and replace their periods, all in one transaction.

    Refuse (DataError naming the row and the ``listed`` field, nothing stored) an instrument
    whose listing date falls after a bar already stored for it.
    """
    from easyquant.data.catalog import cursor

    where = origin or source
    with cursor(settings) as cur:
        cur.execute(
            "SELECT symbol, min(first_ts) FROM bar_catalog WHERE symbol = ANY(%s) GROUP BY symbol",
            ([i.symbol for i in instruments],),
        )
        first = {s: ts.date() for s, ts in cur.fetchall()}
        for inst in instruments:
            bar = first.get(inst.symbol)
            if inst.listed and bar and inst.listed > bar:
                raise DataError(
                    f"{where}: line {inst.line}, field 'listed': {inst.symbol} is listed on "
                    f"{inst.listed}, but bars are stored from {bar}"
                )
        for inst in instruments:
            row = asdict(inst)
            row["source"] = source
            cur.execute(_UPSERT, row)
            cur.execute("DELETE FROM instrument_period WHERE symbol = %s", (inst.symbol,))
            for kind in PERIOD_KINDS:
                for p in getattr(inst, kind):
                    cur.execute(
                        "INSERT INTO instrument_period (symbol, kind, start_date, end_date) "
                        "VALUES (%s, %s, %s, %s)",
                        (inst.symbol, kind, p.start, p.end),
                    )
    return len(instruments)


def load(settings: Settings, symbols: Iterable[str] | None = None) -> dict[str, Instrument]:
    """Return the stored instruments (all, or those of ``symbols``) keyed by symbol."""
    from easyquant.data.catalog import cursor

    wanted = None if symbols is None else [symbols_mod.canonical(s) for s in symbols]
    with cursor(settings) as cur:
        cur.execute(
            "SELECT symbol, exchange, board, currency, lot, min_order, tick, name, listed, "
            "delisted FROM instrument WHERE %(s)s::text[] IS NULL OR symbol = ANY(%(s)s) "
            "ORDER BY symbol",
            {"s": wanted},
        )
        out = {r[0]: Instrument(*r) for r in cur.fetchall()}
        cur.execute(
            "SELECT symbol, kind, start_date, end_date FROM instrument_period "
            "WHERE %(s)s::text[] IS NULL OR symbol = ANY(%(s)s) ORDER BY symbol, start_date",
            {"s": wanted},
        )
        for sym, kind, start, end in cur.fetchall():
            getattr(out[sym], kind).append(Period(start, end))
    return out


def master_rows(
    settings: Settings, market: str, symbols: Iterable[str]
) -> dict[str, Instrument] | None:
    """Return the master's rows of ``symbols`` where the market's rules depend on them (board,
    ST and suspension periods, listing day): what a backtest and a live session are given
    (``BacktestConfig.instruments``); None for a market without such rules."""
    from easyquant.execution.dated import DATED_MARKETS

    if market not in DATED_MARKETS:
        return None
    return load(settings, symbols)


def as_json(inst: Instrument) -> dict[str, Any]:
    """Return one row as a JSON-able dict (dates ISO, periods as start/end dicts)."""
    row = asdict(inst)
    row.pop("line")
    for key in ("listed", "delisted"):
        row[key] = row[key].isoformat() if row[key] else None
    for kind in PERIOD_KINDS:
        row[kind] = [
            {"start": p.start.isoformat(), "end": p.end.isoformat() if p.end else None}
            for p in getattr(inst, kind)
        ]
    return row


def fingerprint(rows: Mapping[str, Instrument]) -> dict[str, Any]:
    """Return what a stored run keeps of the master's rows it applied: the symbols that had a
    row and a SHA-256 of the rows (equal rows, equal digest)."""
    text = json.dumps(
        [as_json(rows[s]) for s in sorted(rows)], sort_keys=True, separators=(",", ":")
    )
    return {"symbols": sorted(rows), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def list_instruments(settings: Settings, exchange: str | None = None) -> list[dict[str, Any]]:
    """Return the master as JSON-able dicts (dates ISO, periods as start/end dicts)."""
    return [
        as_json(inst)
        for inst in load(settings).values()
        if not exchange or inst.exchange == exchange.upper()
    ]


def rules_on(
    symbol: str,
    day: dt.date | str,
    *,
    settings: Settings | None = None,
    master: dict[str, Instrument] | None = None,
) -> InstrumentRules:
    """Return the market-rule inputs of ``symbol`` on ``day``.

    Read from ``master`` (a :func:`load` result) when given, else from the database; a symbol
    without a row gets what its code implies (:func:`derive`), neither ST nor suspended.
    """
    if isinstance(day, str):
        try:
            day = dt.date.fromisoformat(day[:10])
        except ValueError:
            raise ConfigError(f"date: expected a date like 2024-01-31, got {day!r}") from None
    sym = symbols_mod.canonical(symbol, option="symbol")
    if master is None:
        from easyquant.config import get_settings

        master = load(settings or get_settings(), [sym])
    inst = master.get(sym)
    found = inst is not None
    inst = inst or derive(sym)
    return InstrumentRules(
        symbol=sym,
        date=day,
        exchange=inst.exchange,
        board=inst.board,
        st=any(p.covers(day) for p in inst.st),
        suspended=any(p.covers(day) for p in inst.suspended),
        listed=inst.listed,
        delisted=inst.delisted,
        lot=inst.lot,
        min_order=inst.min_order,
        tick=inst.tick,
        from_master=found,
    )
