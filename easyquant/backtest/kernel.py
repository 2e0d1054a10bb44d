"""The backtest kernel: the compiled bar loop.

A decision made at bar ``t`` (from bars ``0..t``) becomes a pending order when it differs from
the symbol's previous decision; the order executes at bar ``t+1``'s open (``fill="next_open"``,
default) or at bar ``t``'s close (``fill="close"``), and stays pending (for example at the
daily price limit, or under T+1) until it fills or a new decision replaces it. At each fill the
target is turned into a quantity from the equity at that moment; sells go before buys so cash
is shared across symbols. An order whose equity cannot pay for one lot waits (it is re-tried on
every bar, as an engine that re-submits "buy all-in" each bar would) until it can, or until a
new decision replaces it. Sizing, the fill rules and the pending state are the execution
layer's (``easyquant.execution``), as in live trading.

The bar loop only marks to market and records changed decisions; the rules run on the bars
with pending orders (``easyquant.backtest.phase``). While flat it skips to the next changed
decision (``easyquant.backtest.flat``). It keeps the equity curve's running statistics
(``easyquant.backtest.running``), so the metrics need no pass over the curve; the curve itself
is replayed from the fills when first read (``easyquant.backtest.simulation``). It allocates
nothing and runs without reference counting: numba reference-counts arrays that are
re-allocated or passed to calls inside a loop, on every bar.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from easyquant.backtest import running
from easyquant.backtest.flat import mark_last_seen, skip_flat
from easyquant.backtest.phase import N_COUNTS, W_SIZE, decide, execute
from easyquant.execution import market as mk
from easyquant.execution.working import is_change, new_book

# the fill loop's scalars: cash and the lowest cash
S_CASH, S_MIN_CASH = range(2)


@njit(cache=True, nogil=True)
def _grow_rows(a: np.ndarray, n: int) -> np.ndarray:
    b = np.empty((max(n, 2 * a.shape[0]), a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]
def _span(
    t0: int,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    volume: np.ndarray,
    published: np.ndarray,
    day: np.ndarray,
    target: np.ndarray,
    kind: np.ndarray,
    oprice: np.ndarray,
    tif: np.ndarray,
    has_orders: bool,
    rules: np.ndarray,
    table: np.ndarray,
    seg: np.ndarray,
    at_close: bool,
    shares_mode: bool,
    pos: np.ndarray,
    mark: np.ndarray,
    book: np.ndarray,
    rejects: np.ndarray,
    fills: np.ndarray,
    work: np.ndarray,
    equity: np.ndarray,
    held: np.ndarray,
    keep_curve: bool,
    ts: np.ndarray,
    max_gap: int,
    bench: np.ndarray,
    has_bench: bool,
    acc: np.ndarray,
    iacc: np.ndarray,
    scal: np.ndarray,
    nf: int,
    npend: int,
) -> tuple[int, int, int]:
    """Run bars ``t0..`` to the end, or until ``fills`` may be too small for the next bar
    (then return that bar so the caller can grow it). Nothing is allocated in this loop and
    it runs without reference counting (``_nrt=False``): an array reallocated or passed to a
    call inside a loop costs atomic reference counts on every bar.
    Return (next bar, fill count, pending count).

    Each bar's equity goes into the running statistics of ``acc``/``iacc``, and into
    ``equity``/``held`` when ``keep_curve``."""
    n, m = close.shape
    cash = scal[S_CASH]
    min_cash = scal[S_MIN_CASH]
    fs, is_ = running.load(acc, iacc)
    n_held = 0
    for s in range(m):
        if pos[s] != 0:
            n_held += 1
    t = t0
    dated = table.shape[0] > 1  # rules that change with the date: no flat-stretch skipping
    cur = -1
    while t < n:
        # room for one fill per symbol: orders made at this bar may fill at its close
        if nf + m > fills.shape[0]:
            break
        if dated and seg[t] != cur:  # this bar's rules (a copy: nothing allocated)
            cur = seg[t]
            for s in range(m):
                for c in range(rules.shape[1]):
                    rules[s, c] = table[cur, s, c]
        if n_held == 0 and not has_orders and t > 0 and fs[0] == cash and cash != 0 and not dated:
            # flat, and the equity (the cash) as on the bar before: skip to the next bar
            # that can change anything
            u, refused, npend = skip_flat(
                t, open_, close, target, rules, at_close, shares_mode, cash, pos, book, work,
                npend,
            )  # fmt: skip
            if u > t:
                rejects[mk.NO_CASH] += refused
                mark_last_seen(close, t, u, mark)
                if keep_curve:
                    equity[t:u] = cash
                    held[t:u] = 0
                fs, is_ = running.on_flat(fs, is_, t, u, cash, ts, max_gap, acc, iacc)
                t = u
                continue
        if npend > 0 and not at_close:  # next_open: fill at this bar's open
            cash, npend, nf, n_held = execute(
                t, False, shares_mode, open_, high, low, close, ref_close, volume, published, day,
                rules, pos,
                mark, book, rejects, fills, work, nf, cash, npend, n_held,
            )  # fmt: skip
        # the decision made at bar t (from bars 0..t) is an order if it changed
        for s in range(m):
            c = close[t, s]
            if c == c:
                mark[s] = c
            tg = target[t, s]
            if tg == tg:
                k = kind[t, s] if has_orders else 0
                p = oprice[t, s] if has_orders and k != 0 else np.nan
                f = tif[t, s] if has_orders and k != 0 else 0
                if is_change(book, s, tg, k, p, f):
                    npend = decide(book, s, t, tg, k, p, f, at_close, open_, pos, work, npend)
        if npend > 0 and at_close:  # close: fill at this bar's close
            cash, npend, nf, n_held = execute(
                t, True, shares_mode, open_, high, low, close, ref_close, volume, published, day,
                rules, pos,
                mark, book, rejects, fills, work, nf, cash, npend, n_held,
            )  # fmt: skip
        eq = cash
        if n_held > 0:
            for s in range(m):
                if pos[s] != 0 and mark[s] == mark[s]:
                    eq += pos[s] * mark[s]
        if keep_curve:
            equity[t] = eq
            held[t] = 1 if n_held > 0 else 0
        if cash < min_cash:
            min_cash = cash
        fs, is_ = running.on_bar(fs, is_, eq, t, n_held > 0, has_bench, bench, ts, acc, iacc)
        t += 1
    scal[S_CASH] = cash
    scal[S_MIN_CASH] = min_cash
    running.store(fs, is_, t, acc, iacc)
    return t, nf, npend


@njit(cache=True, nogil=True)
def simulate_into(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    ref_close: np.ndarray,
    volume: np.ndarray,
    published: np.ndarray,
    day: np.ndarray,
    target: np.ndarray,
    kind: np.ndarray,
    oprice: np.ndarray,
    tif: np.ndarray,
    has_orders: bool,
    table: np.ndarray,
    seg: np.ndarray,
    cash0: float,
    at_close: bool,
    shares_mode: bool,
    equity: np.ndarray,
    held: np.ndarray,
    keep_curve: bool,
    ts: np.ndarray,
    max_gap: int,
    bench: np.ndarray,
    has_bench: bool,
    acc: np.ndarray,
    iacc: np.ndarray,
):
    """Run the fill loop; return the equity curve and held flags (written into the given
    arrays only when ``keep_curve``), the lowest and final cash, the fills, rejection counts,
    final positions and last marks. The curve's running statistics go into ``acc`` and
    ``iacc`` (``new_accumulators``; bar times ``ts`` in ns, the benchmark's closes ``bench``).

    The bar loop marks to market and turns changed decisions into pending orders; the market
    rules run in :func:`easyquant.backtest.phase.execute`, only on bars with pending orders.
    """
    n, m = close.shape
    pos = np.zeros(m)
    mark = np.full(m, np.nan)
    book = new_book(m)
    fills = np.empty((max(256, 4 * m), 5))
    rejects = np.zeros(N_COUNTS, dtype=np.int64)
    work = np.zeros((5, m))
    work[W_SIZE] = np.nan
    scal = np.array([cash0, cash0])
    rules = table[0].copy()
    t = 0
    nf = 0
    npend = 0
    while True:
        t, nf, npend = _span(
            t, open_, high, low, close, ref_close, volume, published, day, target, kind, oprice,
            tif, has_orders, rules, table, seg, at_close, shares_mode, pos, mark, book, rejects,
            fills, work, equity, held,
            keep_curve, ts, max_gap, bench, has_bench, acc, iacc, scal, nf, npend,
        )  # fmt: skip
        if t >= n:
            break
        fills = _grow_rows(fills, nf + m)
    f = fills[:nf]
    return (
        equity,
        held,
        scal[S_MIN_CASH],
        scal[S_CASH],
        f[:, 0].astype(np.int64),
        f[:, 1].astype(np.int64),
        f[:, 2].copy(),
        f[:, 3].copy(),
        f[:, 4].copy(),
        rejects,
        pos,
        mark,
    )
