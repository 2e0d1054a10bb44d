"""A run over one data set: the market arrays computed once (:class:`Prepared`), the fill loop
called, and its raw outcome (:class:`Simulation`) with the equity curve replayed from the fills.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.flat import mark_last_seen
from easyquant.backtest.kernel import simulate_into
from easyquant.backtest.metrics import bench_stats, finish_accumulators, new_accumulators
from easyquant.backtest.phase import R_RESTED
from easyquant.backtest.trips import round_trips
from easyquant.errors import ConfigError
from easyquant.execution import dated
from easyquant.execution import market as mk
from easyquant.strategy.base import Bars, Decisions

#: names of the loop's counters: rejection reasons, then day orders expired (the count of
#: orders left working is :attr:`Simulation.rested`)
COUNTS = (*mk.REASONS, "day order expired", "")


@njit(cache=True, nogil=True)
def day_ids(ns: np.ndarray, offset_ns: int) -> np.ndarray:
    """Return the trading-day number of each timestamp (ns since epoch, UTC) in a clock."""
    out = np.empty(len(ns), dtype=np.int64)
    for i in range(len(ns)):
        out[i] = (ns[i] + offset_ns) // 86_400_000_000_000
    return out


@njit(cache=True, nogil=True)
def previous_day_close(close: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Return, for each bar and symbol, the last close of the previous trading day."""
    n, m = close.shape
    out = np.full((n, m), np.nan)
    last = np.full(m, np.nan)
    ref = np.full(m, np.nan)
    for t in range(n):
        if t > 0 and day[t] != day[t - 1]:
            ref[:] = last
        for s in range(m):
            out[t, s] = ref[s]
            c = close[t, s]
            if c == c:
                last[s] = c
    return out


@njit(cache=True, nogil=True)
def longest_gap(ts: np.ndarray) -> int:
    """Return the longest interval between consecutive sorted times (0 for one bar)."""
    g = 0
    for i in range(1, len(ts)):
        g = max(g, ts[i] - ts[i - 1])
    return g


class Simulation:
    """The raw outcome of one run (arrays); :class:`BacktestResult` adds metrics and frames.

    The equity curve and the held flags are built on first use, by replaying the fills over
    the closes (the fill loop keeps only their statistics): a run whose curve nobody reads
    (a sweep point, ``--json``) never writes it. The replay performs the loop's own arithmetic
    in the loop's order, so the curve is the one the loop would have written, bit for bit.
    """

    def __init__(
        self,
        *,
        index: pd.DatetimeIndex,
        symbols: list[str],
        close: np.ndarray,
        cash: float,
        min_cash: float,
        final_cash: float,
        fills: dict[str, np.ndarray],
        trades: dict[str, np.ndarray],
        rejects: dict[str, int],
        rested: int = 0,
        final_position: np.ndarray,
        stats: np.ndarray,
        equity: np.ndarray | None = None,
        held: np.ndarray | None = None,
    ) -> None:
        self.index = index
        self.symbols = symbols
        self.min_cash = min_cash
        self.final_cash = final_cash
        self.fills = fills
        self.trades = trades
        self.rejects = rejects
        #: how many limit or stop orders were left working at the venue after a first try
        self.rested = rested
        self.final_position = final_position
        #: the curve's statistics (``compute_metrics``' ``stats``), benchmark included if given
        self.stats = stats
        self._close = close
        self._cash = cash
        self._equity = equity
        self._held = held

    @property
    def final_equity(self) -> float:
        """The equity at the last bar's close."""
        return float(self.stats[11])

    @property
    def equity(self) -> np.ndarray:
        """The equity at every bar's close."""
        return self._curve()[0]

    @property
    def held(self) -> np.ndarray:
        """1 where a position is held at the bar's close, else 0 (uint8)."""
        return self._curve()[1]

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The equity and held curves: as the kernel kept them, else replayed from the fills
        (once)."""
        if self._equity is None or self._held is None:
            self._equity, self._held = self._replay()
        return self._equity, self._held

    def _replay(self) -> tuple[np.ndarray, np.ndarray]:
        n = self._close.shape[0]
        f = self.fills
        return replay_curve(
            self._close,
            f["bar"],
            f["symbol"],
            f["quantity"],
            f["price"],
            f["fees"],
            self._cash,
            np.empty(n),
            np.empty(n, dtype=np.uint8),
        )


@njit(cache=True, nogil=True)
def replay_curve(
    close: np.ndarray,
    f_bar: np.ndarray,
    f_sym: np.ndarray,
    f_qty: np.ndarray,
    f_price: np.ndarray,
    f_fee: np.ndarray,
    cash0: float,
    equity: np.ndarray,
    held: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``equity`` and ``held`` from the fills, as the fill loop computes them: each
    bar's fills in order, then the cash plus the positions at their last known closes.
    Positions only change at fill bars: a stretch without a position is the cash throughout
    (a fill of the arrays), one with a position is marked bar by bar."""
    n, m = close.shape
    pos = np.zeros(m)
    mark = np.full(m, np.nan)
    cash = cash0
    k = 0
    nf = len(f_bar)
    n_held = 0
    t = 0
    while t < n:
        while k < nf and f_bar[k] == t:
            s = f_sym[k]
            pos[s] += f_qty[k]
            if abs(pos[s]) < 1e-12:
                pos[s] = 0.0
            cash -= f_qty[k] * f_price[k] + f_fee[k]
            k += 1
            n_held = 0
            for j in range(m):
                if pos[j] != 0:
                    n_held += 1
        end = f_bar[k] if k < nf else n  # the next bar with a fill
        if t < end and n_held == 0:  # flat until then
            equity[t:end] = cash
            held[t:end] = 0
            mark_last_seen(close, t, end, mark)
            t = end
            continue
        stop = max(end, t + 1)
        while t < stop:
            eq = cash
            for s in range(m):
                c = close[t, s]
                if c == c:
                    mark[s] = c
                if pos[s] != 0 and mark[s] == mark[s]:
                    eq += pos[s] * mark[s]
            equity[t] = eq
            held[t] = 1 if n_held > 0 else 0
            t += 1
    return equity, held


class Prepared:
    """Market arrays for one data set and profile, computed once and reused across runs."""

    def __init__(self, data: Bars, config: BacktestConfig) -> None:
        self.data = data
        self.config = config
        prof = config.market
        self.rules, self.stretch = dated.rule_table(
            prof, data.symbols, data.index, config.instruments, close=data.close
        )
        self._day: np.ndarray | None = None
        self._trading_days: np.ndarray | None = None
        self._ref: np.ndarray | None = None
        self._max_gap: int | None = None
        self.needs_days = prof.t_plus_one or prof.price_limit > 0

    @property
    def trading_days(self) -> np.ndarray:
        """Each bar's trading day (by the market's clock)."""
        if self._trading_days is None:
            off = int(self.config.market.utc_offset_hours * 3600e9)
            self._trading_days = day_ids(self.data.index.asi8, off)
        return self._trading_days

    @property
    def day(self) -> np.ndarray:
        """The trading days where the market's rules need them (T+1, price limits), else 0."""
        if self._day is None:
            if self.needs_days:
                self._day = self.trading_days
            else:
                self._day = np.zeros(len(self.data), dtype=np.int64)
        return self._day

    @property
    def max_gap(self) -> int:
        """The longest interval between consecutive bars (ns)."""
        if self._max_gap is None:
            self._max_gap = int(longest_gap(self.data.index.asi8))
        return self._max_gap

    @property
    def published(self) -> np.ndarray:
        """The days' published (down, up) limit prices, ``(2, bars, symbols)``, where the data
        has them (nan on a bar without); a ``(2, 1, 1)`` placeholder of nan otherwise."""
        d = self.data
        down, up = getattr(d, "limit_down", None), getattr(d, "limit_up", None)
        if down is None and up is None:
            return np.full((2, 1, 1), np.nan)
        nan = np.full(d.close.shape, np.nan)
        return np.ascontiguousarray(
            np.stack([nan if down is None else down, nan if up is None else up])
        )

    @property
    def ref_close(self) -> np.ndarray:
        if self._ref is None:
            if self.config.market.price_limit > 0:
                self._ref = previous_day_close(self.data.close, self.day)
            else:
                self._ref = np.full((1, 1), np.nan)
        return self._ref

    def run(
        self,
        decisions: Decisions,
        sizing: str = "weight",
        *,
        benchmark_close: np.ndarray | None = None,
        benchmark_stats: np.ndarray | None = None,
        curve: bool = False,
        skip_flat: bool = True,
    ) -> Simulation:
        """Execute ``decisions`` over this data; return the raw simulation.

        ``skip_flat=False`` makes the loop visit every bar (as it does with limit or stop
        orders): the reference the skipping of flat stretches is tested against.

        Its ``stats`` include the benchmark's when its closes (aligned to the data) are given
        (with their ``bench_stats``, computed here when
        not given: once per data set in a sweep). The loop writes the equity curve and the
        held flags only with ``curve``; otherwise the simulation replays them from the fills
        when first read (see :class:`Simulation`).
        """
        d = self.data
        n, m = d.close.shape
        if decisions.target.shape != (n, m):
            raise ConfigError(f"decisions shape {decisions.target.shape} != data shape {(n, m)}")
        has_orders = decisions.kind is not None and bool(np.any(decisions.kind))
        kind: np.ndarray = np.zeros((1, 1), dtype=np.int8)
        price: np.ndarray = np.zeros((1, 1))
        tif: np.ndarray = np.zeros((1, 1), dtype=np.int8)
        day = self.day
        if has_orders and decisions.kind is not None:
            kind = decisions.kind
            price = decisions.price if decisions.price is not None else np.full((n, m), np.nan)
            tif = decisions.tif if decisions.tif is not None else np.zeros((n, m), dtype=np.int8)
            if np.any(tif == mk.DAY):  # day orders end with the market's trading day
                day = self.trading_days
        elif not skip_flat:  # market orders, as decisions without kinds are
            has_orders = True
            kind = np.zeros((n, m), dtype=np.int8)
            price = np.full((n, m), np.nan)
            tif = np.zeros((n, m), dtype=np.int8)
        # the bars' volumes are read only under a volume cap
        volume = d.volume if self.config.market.max_volume_fraction > 0 else np.zeros((1, 1))
        published = self.published
        ref = self.ref_close
        if ref.shape != (n, m):
            ref = np.broadcast_to(np.full((1, 1), np.nan), (n, m))
        bench = np.zeros(1)
        if benchmark_close is not None:
            bench = np.ascontiguousarray(benchmark_close, dtype=np.float64)
            if bench.shape != (n,):
                raise ConfigError(f"benchmark: expected {n} values, got {bench.shape}")
            if benchmark_stats is None:
                benchmark_stats = bench_stats(bench)
        else:
            benchmark_stats = None
        acc, iacc = new_accumulators(benchmark_stats)
        eq, held, min_cash, cash, fb, fs, fq, fp, ff, rej, pos, last_mark = simulate_into(
            d.open,
            d.high,
            d.low,
            d.close,
            ref,
            volume,
            published,
            day,
            np.ascontiguousarray(decisions.target),
            kind,
            price,
            tif,
            has_orders,
            self.rules,
            self.stretch,
            float(self.config.cash),
            self.config.fill == "close",
            sizing == "shares",
            np.empty(n if curve else 0),
            np.empty(n if curve else 0, dtype=np.uint8),
            curve,
            self.data.index.asi8,
            self.max_gap,
            bench,
            benchmark_close is not None,
            acc,
            iacc,
        )
        stats = finish_accumulators(acc, iacc, self.data.index.asi8, benchmark_stats)
        tr = round_trips(fb, fs, fq, fp, ff, m, last_mark)
        names = (
            "symbol",
            "entry_bar",
            "exit_bar",
            "quantity",
            "entry_price",
            "exit_price",
            "pnl",
            "fees",
        )
        return Simulation(
            index=d.index,
            symbols=d.symbols,
            close=d.close,
            cash=float(self.config.cash),
            equity=eq if curve else None,
            held=held if curve else None,
            min_cash=min_cash,
            final_cash=cash,
            fills={"bar": fb, "symbol": fs, "quantity": fq, "price": fp, "fees": ff},
            trades=dict(zip(names, tr, strict=True)),
            rejects={
                name: int(rej[i]) for i, name in enumerate(COUNTS) if i > 0 and rej[i] and name
            },
            rested=int(rej[R_RESTED]),
            final_position=pos,
            stats=stats,
        )
