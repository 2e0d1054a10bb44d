"""Causal indicators on 1-d or 2-d (bars x symbols) float arrays: value at ``t`` uses ``0..t``.

Each returns ``nan`` until enough bars exist. Rolling sums use a prefix sum, so the value at
``t`` is bit-for-bit the same whether or not later bars exist (what the look-ahead check needs).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Return the simple moving average over ``n`` bars along axis 0.

    A compensated running sum: accurate over millions of bars, and causal bit for bit.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return _sma1(x, n)
    out = np.empty(x.shape)
    for j in range(x.shape[1]):
        out[:, j] = _sma1(np.ascontiguousarray(x[:, j]), n)
    return out


@njit(cache=True, nogil=True)
def _sma1(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    if n < 1:
        return out
    total = 0.0
    comp = 0.0
    for i in range(len(x)):
        # Kahan-Babuska: add x[i], remove x[i - n]
        for v in (x[i], -x[i - n] if i >= n else 0.0):
            t = total + v
            if abs(total) >= abs(v):
                comp += (total - t) + v
            else:
                comp += (v - t) + total
            total = t
        if i >= n - 1:
            out[i] = (total + comp) / n
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


@njit(cache=True, nogil=True)
def above_below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return 1.0 where ``a > b``, 0.0 where ``a < b``, nan otherwise (one pass, 1-d)."""
    out = np.empty(len(a))
    for i in range(len(a)):
        if a[i] > b[i]:
            out[i] = 1.0
        elif a[i] < b[i]:
            out[i] = 0.0
        else:
            out[i] = np.nan
    return out
