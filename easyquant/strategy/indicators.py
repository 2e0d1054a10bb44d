"""Causal indicators on 1-d or 2-d (bars x symbols) float arrays: value at ``t`` uses ``0..t``.

Each returns ``nan`` until enough bars exist. Rolling sums are compensated running sums: the
value at ``t`` is computed from bars ``0..t`` in the same order whether or not later bars
exist, so it is bit-for-bit the same (what the look-ahead check needs). A missing value
(``nan``: a bar the symbol does not have, in data aligned across symbols) is skipped: the
moving averages run over the last ``n`` values present, and are ``nan`` at the missing bar.

Outputs are allocated by numpy and filled by compiled loops: numpy asks the kernel for huge
pages on large arrays, which makes a fresh million-bar output about twice as fast to fill.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Return the simple moving average over ``n`` bars along axis 0.

    A compensated running sum: accurate over millions of bars, and causal bit for bit.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return _over_present(lambda v: _sma1(v, n, np.empty(len(v))), np.ascontiguousarray(x))
    out = np.empty(x.shape)
    for j in range(x.shape[1]):
        out[:, j] = sma(x[:, j], n)
    return out


def _over_present(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Return ``fn`` of the values of 1-d ``x`` present, placed back at their bars (``nan``
    at the missing ones); ``fn(x)`` itself when none is missing."""
    if not _any_nan(x):
        return fn(x)
    present = ~np.isnan(x)
    out = np.full(len(x), np.nan)
    out[present] = fn(np.ascontiguousarray(x[present]))
    return out


@njit(cache=True, nogil=True)
def _any_nan(x: np.ndarray) -> bool:
    found = 0
    for a in range(0, len(x), 4096):  # a count per chunk (it vectorises), then an exit
        chunk = x[a : a + 4096]
        for i in range(len(chunk)):
            found += chunk[i] != chunk[i]
        if found:
            return True
    return False


@njit(cache=True, nogil=True)
def _sma1(x: np.ndarray, n: int, out: np.ndarray) -> np.ndarray:
    if n < 1:
        out[:] = np.nan
        return out
    total = 0.0
    comp = 0.0
    for i in range(len(x)):
        # Kahan-Babuska (Neumaier) sum of the change x[i] - x[i - n]: one dependent addition
        # per bar, the compensation runs alongside
        v = x[i] - x[i - n] if i >= n else x[i]
        t = total + v
        if abs(total) >= abs(v):
            comp += (total - t) + v
        else:
            comp += (v - t) + total
        total = t
        out[i] = (total + comp) / n if i >= n - 1 else np.nan
    return out


def sma_above_below(x: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """Return ``above_below(sma(x, fast), sma(x, slow))`` for a 1-d ``x`` in one pass, with
    neither average stored: the two running sums advance side by side (the same sums, so the
    same values, bit for bit)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if fast < 1 or slow < 1:
        return np.full(len(x), np.nan)
    return _over_present(lambda v: _sma_above_below(v, fast, slow, np.empty(len(v))), x)


@njit(cache=True, nogil=True, inline="always")
def _neumaier(total: float, comp: float, v: float) -> tuple[float, float]:
    t = total + v
    if abs(total) >= abs(v):
        comp += (total - t) + v
    else:
        comp += (v - t) + total
    return t, comp


CHUNK = 1024


@njit(cache=True, nogil=True)
def _sma_above_below(x: np.ndarray, fast: int, slow: int, out: np.ndarray) -> np.ndarray:
    # per chunk: the two running sums (a dependent chain each, side by side) into small
    # buffers, then the averages and their comparison over the chunk (no chain: it vectorises)
    n = len(x)
    bf = np.empty(CHUNK)
    bs = np.empty(CHUNK)
    tf = cf = ts = cs = 0.0
    big = max(fast, slow)
    for a in range(0, n, CHUNK):
        k = min(CHUNK, n - a)
        if a >= big:  # every bar leaves both windows: slices, no index to test or wrap
            xa = x[a : a + k]
            xf = x[a - fast : a - fast + k]
            xs = x[a - slow : a - slow + k]
            for j in range(k):
                xi = xa[j]
                tf, cf = _neumaier(tf, cf, xi - xf[j])
                ts, cs = _neumaier(ts, cs, xi - xs[j])
                bf[j] = tf + cf
                bs[j] = ts + cs
        else:
            for j in range(k):
                i = a + j
                xi = x[i]
                tf, cf = _neumaier(tf, cf, xi - x[i - fast] if i >= fast else xi)
                ts, cs = _neumaier(ts, cs, xi - x[i - slow] if i >= slow else xi)
                bf[j] = tf + cf
                bs[j] = ts + cs
        o = out[a : a + k]
        for j in range(k):
            f = bf[j] / fast
            s = bs[j] / slow
            o[j] = 1.0 if f > s else (0.0 if f < s else np.nan)
    out[: min(n, max(fast, slow) - 1)] = np.nan  # an average is undefined before its window
    return out


def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Return the population standard deviation over ``n`` bars along axis 0."""
    x = np.asarray(x, dtype=np.float64)
    m = sma(x, n)
    m2 = sma(x * x, n)
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def momentum(x: np.ndarray, n: int) -> np.ndarray:
    """Return the ``n``-bar rate of change ``x[t] / x[t-n] - 1`` along axis 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    if 0 < n < len(x):
        out[n:] = x[n:] / x[:-n] - 1.0
    return out


def crossed_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return True at ``t`` where ``a`` moved from <= ``b`` at ``t-1`` to > ``b`` at ``t``."""
    out = np.zeros(np.shape(a), dtype=bool)
    out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def crossings(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return 1.0 where ``a`` crosses above ``b``, 0.0 where it crosses below, nan elsewhere
    (1-d).

    A cross is a strict change between two consecutive bars where both values exist: ``a < b``
    on the earlier and ``a > b`` on the later (or the reverse). A bar where either is missing
    is skipped; a bar where they are equal breaks a cross.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    return _crossings(a, np.ascontiguousarray(b, dtype=np.float64), np.empty(len(a)))


@njit(cache=True, nogil=True)
def _crossings(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    before = 0  # the relation on the last bar with both values: -1 below, 0 equal or none, 1
    for i in range(len(a)):
        out[i] = np.nan
        if a[i] != a[i] or b[i] != b[i]:
            continue
        now = 1 if a[i] > b[i] else (-1 if a[i] < b[i] else 0)
        if now == 1 and before == -1:
            out[i] = 1.0
        elif now == -1 and before == 1:
            out[i] = 0.0
        before = now
    return out


def above_below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return 1.0 where ``a > b``, 0.0 where ``a < b``, nan otherwise (one pass, 1-d)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    return _above_below(a, np.ascontiguousarray(b, dtype=np.float64), np.empty(len(a)))


@njit(cache=True, nogil=True)
def _above_below(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    for i in range(len(a)):
        if a[i] > b[i]:
            out[i] = 1.0
        elif a[i] < b[i]:
            out[i] = 0.0
        else:
            out[i] = np.nan
    return out
