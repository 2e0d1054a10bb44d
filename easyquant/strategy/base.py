"""The Strategy API: one small class, written once, run unchanged in backtest and live.

A strategy turns bars into *decisions*: for each bar ``t`` and symbol, a target (a weight of
equity by default, or a number of shares) computed from bars ``0..t`` only. The engine, not the
strategy, decides when a decision executes (default: bar ``t+1``'s open). A strategy writes one
of three hooks:

- ``signal(self, bars)``: vectorised, one symbol at a time (``bars`` is a :class:`SymbolBars`);
  return an array of target weights, ``nan`` meaning "no decision". With several symbols each
  symbol's weight is divided by the number of symbols.
- ``weights(self, data)``: vectorised, the whole universe (``data`` is :class:`Bars`); return an
  ``(n_bars, n_symbols)`` array of target weights (e.g. rotation into the top N by momentum).
- ``next(self, t, data)``: per bar, for stateful logic, after ``init(self, data)``; return
  ``None`` (no decision) or ``{symbol: target}``, where a target is a float or a :class:`Target`
  carrying a limit or stop price.

``decisions(data)`` is the batch path the backtester uses; ``decide(history)`` is the per-bar
path the live service calls with the history so far. Both give the same decision for a bar.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numba import njit

from easyquant.errors import ConfigError, DataError, StrategyError
from easyquant.strategy.params import Param

MARKET, LIMIT, STOP = 0, 1, 2
ORDER_KINDS = {"market": MARKET, "limit": LIMIT, "stop": STOP}
TIFS = {"gtc": 0, "day": 1}  # a limit or stop order's time in force
_COLUMNS = ("open", "high", "low", "close", "volume")
# the day's published limit prices, where a source gives them (tushare ``stk_limit`` names
# them up_limit / down_limit): the fill rules take them over computed ones
_LIMIT_COLUMNS = {"limit_down": ("limit_down", "down_limit"), "limit_up": ("limit_up", "up_limit")}


# ----- data ---------------------------------------------------------------------------------
class SymbolBars:
    """One symbol's bars as 1-d arrays (``open``, ``high``, ``low``, ``close``, ``volume``).

    ``cached(key, fn)`` memoises an indicator for this data, so a parameter sweep computes
    each indicator window once. ``shared`` is True while the data serves many runs (a sweep):
    memoising pays then; a single run may rather fuse its passes.
    """

    def __init__(
        self,
        symbol: str,
        index: pd.DatetimeIndex,
        cols: Mapping[str, np.ndarray],
        cache: dict[Any, Any],
        shared: bool = False,
        origin: int = 0,
    ) -> None:
        self.symbol = symbol
        self.shared = shared
        #: the bar number of the first row in the whole history (see ``Bars.origin``)
        self.origin = origin
        self.index = index
        self.open = cols["open"]
        self.high = cols["high"]
        self.low = cols["low"]
        self.close = cols["close"]
        self.volume = cols["volume"]
        self._cache = cache

    def __len__(self) -> int:
        return len(self.close)

    def cached(self, key: Any, fn: Callable[[], np.ndarray]) -> np.ndarray:
        """Return ``fn()``, computed once per (symbol, data, key)."""
        full = (self.symbol, key)
        if full not in self._cache:
            self._cache[full] = fn()
        return self._cache[full]


class Bars:
    """Aligned OHLCV of several symbols: ``(n_bars, n_symbols)`` float64 arrays and one index.

    Build it with :meth:`from_frames` from ``{symbol: DataFrame}`` (as ``load_bars`` returns);
    slice it with ``data[:k]`` for the first ``k`` bars (no copy).
    """

    def __init__(
        self,
        index: pd.DatetimeIndex | None,
        symbols: Sequence[str],
        arrays: Mapping[str, np.ndarray],
        *,
        ts: np.ndarray | None = None,
        origin: int = 0,
    ) -> None:
        if index is None and ts is None:
            raise TypeError("Bars: give the index or the bar times (ts, ns since the epoch)")
        self._index = index
        self._ts = ts
        self.symbols = list(symbols)
        self.open = arrays["open"]
        self.high = arrays["high"]
        self.low = arrays["low"]
        self.close = arrays["close"]
        self.volume = arrays["volume"]
        #: the day's published limit prices (None when the data has none; nan on a bar without)
        self.limit_down: np.ndarray | None = arrays.get("limit_down")
        self.limit_up: np.ndarray | None = arrays.get("limit_up")
        #: the bar number of the first row in the whole history (``data[k:]`` starts at k)
        self.origin = origin
        self._cache: dict[Any, Any] = {}
        #: True while this data serves many runs (a sweep sets it): see ``SymbolBars.shared``
        self.shared = False

    @property
    def index(self) -> pd.DatetimeIndex:
        """The bar times (UTC), built on first use when the bars were given as ``ts``."""
        if self._index is None:
            assert self._ts is not None
            self._index = pd.DatetimeIndex(
                self._ts.view("datetime64[ns]"), name="timestamp"
            ).tz_localize("UTC")
        return self._index

    @property
    def ts(self) -> np.ndarray:
        """The bar times as int64 ns since the epoch (no index is built)."""
        if self._ts is None:
            assert self._index is not None
            self._ts = self._index.asi8
        return self._ts

    def __len__(self) -> int:
        return len(self.close)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        out = {c: getattr(self, c) for c in _COLUMNS}
        for c in _LIMIT_COLUMNS:
            if getattr(self, c) is not None:
                out[c] = getattr(self, c)
        return out

    def __getitem__(self, key: slice) -> Bars:
        """The bars of a contiguous slice, as data of their own (rows counted from the
        slice's start: ``origin`` is kept); see :meth:`since` for a window of one history."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Bars supports contiguous slices only, e.g. data[:k]")
        return Bars(
            None if self._index is None else self._index[key],
            self.symbols,
            {c: a[key] for c, a in self.arrays.items()},
            ts=None if self._ts is None else self._ts[key],
            origin=self.origin,
        )

    def since(self, row: int) -> Bars:
        """The bars from ``row`` on, as a window of this history: ``origin`` moves with it, so
        a strategy that counts bars from the first one (a rebalancing schedule) keeps count."""
        out = self[row:]
        out.origin = self.origin + range(len(self))[row:].start
        return out

    def column(self, symbol: str) -> SymbolBars:
        """Return one symbol's bars."""
        j = self.symbols.index(symbol)
        return SymbolBars(
            symbol,
            self.index,
            {c: a[:, j] for c, a in self.arrays.items()},
            self._cache,
            self.shared,
            self.origin,
        )

    def frame(self, symbol: str) -> pd.DataFrame:
        """Return one symbol's bars as a DataFrame."""
        j = self.symbols.index(symbol)
        return pd.DataFrame({c: a[:, j] for c, a in self.arrays.items()}, index=self.index)

    @classmethod
    def from_frames(
        cls, frames: Mapping[str, pd.DataFrame] | pd.DataFrame, symbol: str = "ASSET"
    ) -> Bars:
        """Align ``{symbol: DataFrame}`` (or one DataFrame) on the union of their timestamps.

        Raise DataError naming the symbol for empty data, missing columns or a bad index.
        """
        if isinstance(frames, pd.DataFrame):
            frames = {symbol: frames}
        if not frames:
            raise DataError("no symbols given")
        checked: dict[str, tuple[pd.DatetimeIndex, dict[str, pd.Series]]] = {}
        for sym, df in frames.items():
            if df is None or len(df) == 0:
                raise DataError(f"symbol {sym}: no bars")
            cols = {c.lower(): c for c in df.columns}
            missing = [c for c in ("open", "high", "low", "close") if c not in cols]
            if missing:
                raise DataError(f"symbol {sym}: missing column(s) {', '.join(missing)}")
            if not isinstance(df.index, pd.DatetimeIndex):
                raise DataError(f"symbol {sym}: index must be a DatetimeIndex of bar times")
            k = _first_unordered(df.index.asi8)
            if k == 0:
                raise DataError(f"symbol {sym}, row 0: missing timestamp (NaT)")
            if k > 0:
                raise DataError(
                    f"symbol {sym}, row {k} ({df.index[k]}): timestamps must be sorted and "
                    f"unique (the row before is {df.index[k - 1]})"
                )
            idx = df.index if df.index.tz is not None else df.index.tz_localize("UTC")
            series = {c: df[cols[c]] for c in _COLUMNS if c in cols}
            for c, names in _LIMIT_COLUMNS.items():
                given = [cols[n] for n in names if n in cols]
                if given:
                    series[c] = df[given[0]]
            checked[sym] = (idx, series)
        symbols = list(checked)
        first = checked[symbols[0]][0]
        same = all(i.equals(first) for i, _ in checked.values())
        index = first
        if not same:
            for i, _ in checked.values():
                index = index.union(i)
            index = pd.DatetimeIndex(index).sort_values()
        index = pd.DatetimeIndex(index)
        if index.unit != "ns":
            index = index.as_unit("ns")
        n = len(index)
        arrays: dict[str, np.ndarray] = {}
        limits = [c for c in _LIMIT_COLUMNS if any(c in cs for _, cs in checked.values())]
        for c in (*_COLUMNS, *limits):
            parts = []
            for i, cs in checked.values():
                if c not in cs:  # no volume: zero; no published limits: nan
                    parts.append(np.zeros(n) if c == "volume" else np.full(n, np.nan))
                elif same:
                    parts.append(cs[c].to_numpy(np.float64))
                else:
                    parts.append(
                        pd.Series(cs[c].to_numpy(np.float64), index=i).reindex(index).to_numpy()
                    )
            if len(parts) == 1:
                arrays[c] = np.ascontiguousarray(parts[0]).reshape(-1, 1)
            else:
                arrays[c] = np.ascontiguousarray(np.column_stack(parts))
        close = arrays["close"]
        for j, sym in enumerate(symbols):
            k = _first_bad_close(close[:, j])
            if k == -2:
                raise DataError(f"symbol {sym}: no valid close prices")
            if k >= 0:
                raise DataError(f"symbol {sym}, bar {index[k].isoformat()}: close must be > 0")
        return cls(index, symbols, arrays)


@njit(cache=True, nogil=True)
def _first_bad_close(col: np.ndarray) -> int:
    """Return the first bar whose close is <= 0, -2 when no close is finite, else -1.

    Counted per chunk without an early exit (the counting vectorises), searched only in a
    chunk that holds a bad close."""
    n = len(col)
    finite = 0
    for a in range(0, n, 4096):
        chunk = col[a : min(n, a + 4096)]
        bad = 0
        for i in range(len(chunk)):
            v = chunk[i]
            bad += v <= 0
            finite += abs(v) < np.inf
        if bad:
            for i in range(len(chunk)):
                if chunk[i] <= 0:
                    return a + i
    return -1 if finite else -2


@njit(cache=True, nogil=True)
def _first_unordered(ts: np.ndarray) -> int:
    """Return the first row whose time is not after the row before's (0 for a missing first
    time, which sorts first), else -1 (a count per chunk, as in ``_first_bad_close``)."""
    n = len(ts)
    if n and ts[0] == np.iinfo(np.int64).min:
        return 0
    for a in range(1, n, 4096):
        b = min(n, a + 4096)
        later = ts[a:b]
        before = ts[a - 1 : b - 1]
        bad = 0
        for i in range(len(later)):
            bad += later[i] <= before[i]
        if bad:
            for i in range(len(later)):
                if later[i] <= before[i]:
                    return a + i
    return -1


def window_start(close: np.ndarray, bars: int) -> int:
    """Return the first row of the shortest tail of ``close`` (bars x symbols) holding at
    least ``bars`` closes of every symbol (0 when a symbol has fewer in all)."""
    return int(_window_start(np.asarray(close, dtype=np.float64).reshape(len(close), -1), bars))


@njit(cache=True, nogil=True)
def _window_start(close: np.ndarray, bars: int) -> int:
    n, m = close.shape
    start = n
    for j in range(m):
        seen = 0
        t = n - 1
        while t >= 0 and seen < bars:
            if close[t, j] == close[t, j]:  # not nan
                seen += 1
            t -= 1
        if seen < bars:
            return 0
        start = min(start, t + 1)
    return start if bars > 0 else n


# ----- decisions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A decision for one symbol: a target (weight or shares) reached by a market, limit or stop
    order at ``price``. A limit or stop order that does not fill at once keeps working until it
    fills or a new decision replaces it; with ``tif="day"`` it also ends with its trading day."""

    value: float
    kind: str = "market"
    price: float | None = None
    tif: str = "gtc"

    def __post_init__(self) -> None:
        if self.tif not in TIFS:
            raise ValueError(f"Target tif: expected one of {list(TIFS)}, got {self.tif!r}")
        if self.kind not in ORDER_KINDS:
            raise ValueError(f"Target kind: expected one of {list(ORDER_KINDS)}, got {self.kind!r}")
        if self.kind != "market" and (self.price is None or not self.price > 0):
            raise ValueError(f"Target: a {self.kind} order needs a price > 0, got {self.price!r}")


@dataclass
class Decisions:
    """Decisions for every bar: ``target`` (n, m) with nan = no decision; optional order kinds
    (0 market, 1 limit, 2 stop) and limit/stop prices."""

    target: np.ndarray
    kind: np.ndarray | None = None
    price: np.ndarray | None = None
    tif: np.ndarray | None = None  # 0 good till cancelled, 1 day (limit and stop orders)

    def row(self, t: int, symbols: Sequence[str]) -> dict[str, Target]:
        """Return bar ``t``'s decisions as ``{symbol: Target}`` (symbols without one omitted)."""
        out: dict[str, Target] = {}
        for j, sym in enumerate(symbols):
            v = self.target[t, j]
            if np.isnan(v):
                continue
            k = int(self.kind[t, j]) if self.kind is not None else MARKET
            name = ("market", "limit", "stop")[k]
            p = float(self.price[t, j]) if self.price is not None and k != MARKET else None
            f = int(self.tif[t, j]) if self.tif is not None and k != MARKET else 0
            out[sym] = Target(float(v), name, p, ("gtc", "day")[f])
        return out

    def first_difference(self, other: Decisions, upto: int) -> tuple[int, int] | None:
        """Return (bar, symbol column) of the first decision in ``[0, upto)`` that differs."""
        a = _stack(self, upto)
        b = _stack(other, upto)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        bad = ~same.all(axis=(2,))
        if not bad.any():
            return None
        t, j = np.argwhere(bad)[0]
        return int(t), int(j)


def _stack(d: Decisions, upto: int) -> np.ndarray:
    n, m = d.target[:upto].shape
    kind = d.kind[:upto] if d.kind is not None else np.zeros((n, m))
    price = d.price[:upto] if d.price is not None else np.full((n, m), np.nan)
    price = np.where(kind == MARKET, np.nan, price)
    tgt = d.target[:upto]
    kind = np.where(np.isnan(tgt), 0, kind)
    price = np.where(np.isnan(tgt), np.nan, price)
    return np.stack([tgt, kind.astype(np.float64), price], axis=2)


# ----- the base class -----------------------------------------------------------------------
class Strategy:
    """Subclass this: declare ``Param`` class attributes and write ``signal``, ``weights`` or
    ``next`` (see the module docstring)."""

    name: ClassVar[str] = ""
    #: "weight": targets are fractions of equity; "shares": targets are share counts.
    sizing: ClassVar[str] = "weight"
    params: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, val in vars(klass).items():
                if isinstance(val, Param):
                    found[key] = val
        cls.params = found
        if not cls.name:
            cls.name = cls.__name__
        if cls.sizing not in ("weight", "shares"):
            raise TypeError(f"{cls.__name__}.sizing must be 'weight' or 'shares'")

    def __init__(self, **params: Any) -> None:
        unknown = [k for k in params if k not in self.params]
        if unknown:
            names = sorted(self.params)
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, names, n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(
                f"strategy {self.name}: unknown parameter {', '.join(hints)}; "
                f"expected {', '.join(names) or 'no parameters'}"
            )
        values: dict[str, Any] = {}
        for key, p in self.params.items():
            values[key] = p.coerce(params[key], owner=self.name) if key in params else p.default
        self._params = values
        try:
            self.validate()
        except ValueError as exc:
            raise ConfigError(f"strategy {self.name}: {exc}") from None

    # --- hooks -------------------------------------------------------------------------------
    def validate(self) -> None:
        """Check constraints between parameters; raise ValueError with a clear message."""

    def init(self, data: Bars) -> None:
        """Prepare state before ``next`` runs over ``data`` (per-bar strategies only)."""

    def signal(self, bars: SymbolBars) -> np.ndarray:
        raise NotImplementedError

    def weights(self, data: Bars) -> np.ndarray:
        raise NotImplementedError

    def next(self, t: int, data: Bars) -> Mapping[str, float | Target] | None:
        raise NotImplementedError

    # --- running -----------------------------------------------------------------------------
    @property
    def param_values(self) -> dict[str, Any]:
        """Return the validated parameter values."""
        return dict(self._params)

    def decision_window(self) -> int | None:
        """Return how many bars of each symbol a decision depends on, or None (undeclared).

        A vectorised strategy (``signal``, ``weights``) is then evaluated live over the last
        ``window`` bars rather than the whole history, and must decide on them as it does on
        the whole history (``tests/unit/strategy`` checks every built-in on every bar). A
        per-bar strategy (``next``) is warmed up with that many bars, so that its state at the
        first live bar is the state a backtest reaches there. None: the whole history.
        """
        return None

    def _style(self) -> str:
        cls = type(self)
        for hook in ("weights", "signal", "next"):
            if getattr(cls, hook) is not getattr(Strategy, hook):
                return hook
        raise TypeError(f"strategy {self.name}: write one of signal(), weights() or next()")

    def decisions(self, data: Bars) -> Decisions:
        """Compute every bar's decision from ``data`` (the batch path).

        Raise StrategyError naming the strategy, symbol and bar when strategy code raises.
        """
        n, m = len(data), len(data.symbols)
        style = self._style()
        if style == "signal":
            target = np.empty((n, m))
            for j, sym in enumerate(data.symbols):
                try:
                    out = np.asarray(self.signal(data.column(sym)), dtype=np.float64)
                except Exception as exc:
                    raise self._error(exc, sym, data, None) from exc
                if out.shape != (n,):
                    raise self._error(
                        ValueError(f"signal() returned shape {out.shape}, expected ({n},)"),
                        sym,
                        data,
                        None,
                    )
                if m == 1:
                    return Decisions(out.reshape(n, 1))
                target[:, j] = out / m if self.sizing == "weight" else out
            return Decisions(target)
        if style == "weights":
            try:
                out = np.asarray(self.weights(data), dtype=np.float64)
            except Exception as exc:
                raise self._error(exc, None, data, None) from exc
            if out.shape != (n, m):
                raise self._error(
                    ValueError(f"weights() returned shape {out.shape}, expected ({n}, {m})"),
                    None,
                    data,
                    None,
                )
            return Decisions(out)
        return self._run_next(data)

    def _run_next(self, data: Bars) -> Decisions:
        n, m = len(data), len(data.symbols)
        target = np.full((n, m), np.nan)
        kind = np.zeros((n, m), dtype=np.int8)
        tif = np.zeros((n, m), dtype=np.int8)
        price = np.full((n, m), np.nan)
        col = {s: j for j, s in enumerate(data.symbols)}
        self._init(data)
        for t in range(n):
            for j, tg in self._step(t, data, col).items():
                target[t, j] = tg.value
                kind[t, j] = ORDER_KINDS[tg.kind]
                price[t, j] = tg.price if tg.price is not None else np.nan
                tif[t, j] = TIFS[tg.tif]
        return Decisions(target, kind, price, tif)

    def _init(self, data: Bars) -> None:
        try:
            self.init(data)
        except Exception as exc:
            raise self._error(exc, None, data, None) from exc

    def _step(self, t: int, data: Bars, col: Mapping[str, int]) -> dict[int, Target]:
        """Run ``next(t, data)``; return its targets by symbol column."""
        try:
            out = self.next(t, data)
        except Exception as exc:
            raise self._error(exc, None, data, t) from exc
        row: dict[int, Target] = {}
        for sym, val in (out or {}).items():
            if sym not in col:
                raise self._error(KeyError(f"unknown symbol {sym!r}"), sym, data, t)
            row[col[sym]] = val if isinstance(val, Target) else Target(float(val))
        return row

    def decide(self, history: Bars) -> dict[str, Target]:
        """Return the decision for the last bar of ``history``, computed afresh: a vectorised
        strategy over its window (see :meth:`decision_window`), a per-bar one over the whole
        history. The live service keeps a per-bar strategy's state between bars instead
        (:class:`easyquant.strategy.incremental.Decider`)."""
        if len(history) == 0:
            return {}
        window = self.decision_window() if self._style() != "next" else None
        if window is not None:
            history = history.since(window_start(history.close, window))
        return self.decisions(history).row(len(history) - 1, history.symbols)

    def _error(
        self, exc: BaseException, symbol: str | None, data: Bars, t: int | None
    ) -> StrategyError:
        where = [f"symbol {symbol}" if symbol else f"symbols {','.join(data.symbols)}"]
        if t is not None:
            where.append(f"bar {data.index[t].isoformat()}")
        elif len(data):
            where.append(f"bars up to {data.index[-1].isoformat()}")
        return StrategyError(
            f"strategy {self.name} ({', '.join(where)}): {type(exc).__name__}: {exc}"
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"
