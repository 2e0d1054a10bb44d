"""Vectorised checks on a batch of bars, before anything is stored.

Each row gets the first problem found (a reason and a field) or none. Timestamps must be sorted
and unique per symbol across the whole ingest, so the last accepted bar of each symbol is kept
in a :class:`SequenceState` between batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from easyquant.data.batch import LIMIT_FIELDS, SYMBOL_RE

FIELDS = ("symbol", "timestamp", "open", "high", "low", "close", "volume", *LIMIT_FIELDS)
# a traded price may pass a published limit by this much (one tick of the markets that
# publish limits: 0.01 CNY) before the row is refused
LIMIT_TOLERANCE = 0.01 + 1e-9
REASONS = (
    "",
    "invalid symbol",
    "missing timestamp",
    "missing value (NaN)",
    "price must be > 0",
    "volume must be >= 0",
    "high < low",
    "open outside [low, high]",
    "close outside [low, high]",
    "duplicate timestamp",
    "timestamp out of order (rows must be sorted by time per symbol)",
    "limit price must be > 0",
    "limit_down above limit_up",
    "high above the published limit_up",
    "low below the published limit_down",
)


@dataclass
class SequenceState:
    """Last accepted timestamp and close per symbol, carried from batch to batch."""

    last_ts: dict[str, int] = field(default_factory=dict)
    last_close: dict[str, float] = field(default_factory=dict)


@dataclass
class Checked:
    """The outcome of checking one batch."""

    reason: np.ndarray  # int8 per row, 0 = good
    field: np.ndarray  # int8 per row, index into FIELDS
    good_order: np.ndarray  # indices of good rows, grouped by symbol, in input order within
    segments: list[tuple[str, int, int]]  # (symbol, start, end) into good_order
    jumps: dict[str, list[int]]  # symbol -> row indices of implausible jumps (kept, warned)

    @property
    def bad(self) -> np.ndarray:
        return np.flatnonzero(self.reason)


def check_batch(
    table: pa.Table,
    codes: np.ndarray,
    names: list[str],
    state: SequenceState,
    *,
    jump_factor: float = 4.0,
) -> Checked:
    """Check every row of ``table`` (BATCH_SCHEMA); ``codes`` index ``names`` (its symbols)."""
    n = table.num_rows
    reason = np.zeros(n, dtype=np.int8)
    fieldc = np.zeros(n, dtype=np.int8)

    def flag(mask: np.ndarray, r: int, f: int) -> None:
        m = mask & (reason == 0)
        reason[m] = r
        fieldc[m] = f

    bad_sym = np.array([not SYMBOL_RE.match(s or "") for s in names], dtype=bool)
    if bad_sym.any():
        flag(bad_sym[codes], 1, 0)
    ts_col = table.column("timestamp")
    if ts_col.null_count:
        flag(ts_col.is_null().to_numpy(zero_copy_only=False), 2, 1)
        ts = ts_col.cast(pa.int64()).fill_null(0).to_numpy()
    else:
        ts = ts_col.cast(pa.int64()).to_numpy()
    vals = [table.column(f).to_numpy() for f in ("open", "high", "low", "close", "volume")]
    o, h, lo, c, v = vals
    for k, arr in enumerate(vals):
        bad = ~np.isfinite(arr)
        if bad.any():
            flag(bad, 3, 2 + k)
    for k, arr in enumerate(vals[:4]):
        bad = arr <= 0
        if bad.any():
            flag(bad, 4, 2 + k)
    flag(v < 0, 5, 6)
    flag(h < lo, 6, 3)
    flag((o < lo) | (o > h), 7, 2)
    flag((c < lo) | (c > h), 8, 5)
    if LIMIT_FIELDS[0] in table.column_names:
        _check_limits(table, h, lo, flag)

    idx = np.flatnonzero(reason == 0)
    if len(names) == 1:
        order = idx
        starts = np.array([0]) if len(idx) else np.array([], dtype=np.int64)
    else:
        order = idx[np.argsort(codes[idx], kind="stable")]
        cs = codes[order]
        starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]]) if len(cs) else np.array([])
    ends = _ends(starts, len(order))
    log_jump = np.log(jump_factor)
    keep = np.ones(len(order), dtype=bool)
    segments: list[tuple[str, int, int]] = []
    jumps: dict[str, list[int]] = {}
    for s, e in zip(starts.astype(np.int64), ends, strict=True):
        sym = names[codes[order[s]]]
        rows = order[s:e]
        seg = ts[rows]
        prev = state.last_ts.get(sym)
        cm = np.maximum.accumulate(seg)
        before = np.empty_like(seg)
        before[0] = prev if prev is not None else np.iinfo(np.int64).min
        before[1:] = np.maximum(cm[:-1], before[0])
        dup = seg == before
        uns = seg < before
        if dup.any() or uns.any():
            reason[rows[dup]] = 9
            fieldc[rows[dup]] = 1
            reason[rows[uns]] = 10
            fieldc[rows[uns]] = 1
            keep[s:e] = ~(dup | uns)
            rows = rows[~(dup | uns)]
        if len(rows) == 0:
            continue
        state.last_ts[sym] = int(ts[rows[-1]])
        closes = c[rows]
        prev_c = state.last_close.get(sym)
        ref = np.empty_like(closes)
        ref[0] = prev_c if prev_c is not None else closes[0]
        ref[1:] = closes[:-1]
        jumped = np.abs(np.log(closes / ref)) > log_jump
        if jumped.any():
            jumps[sym] = rows[jumped].tolist()
        state.last_close[sym] = float(closes[-1])
    if not keep.all():
        order = order[keep]
        cs = codes[order]
        starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]]) if len(cs) else np.array([])
        ends = _ends(starts, len(order))
    for s, e in zip(starts.astype(np.int64), ends, strict=True):
        segments.append((names[codes[order[s]]], int(s), int(e)))
    return Checked(reason, fieldc, order, segments, jumps)


def _check_limits(
    table: pa.Table, h: np.ndarray, lo: np.ndarray, flag: Callable[[np.ndarray, int, int], None]
) -> None:
    """Flag published limit prices that are not positive, cross, or that a traded price
    passes by more than :data:`LIMIT_TOLERANCE` (a null limit is no limit given)."""
    up, down = (
        table.column(f).to_numpy(zero_copy_only=False).astype(np.float64) for f in LIMIT_FIELDS
    )
    with np.errstate(invalid="ignore"):
        flag(~np.isnan(up) & ~(up > 0), 11, 7)
        flag(~np.isnan(down) & ~(down > 0), 11, 8)
        flag(down > up, 12, 8)
        flag(h > up + LIMIT_TOLERANCE, 13, 3)
        flag(lo < down - LIMIT_TOLERANCE, 14, 4)


def _ends(starts: np.ndarray, n: int) -> np.ndarray:
    if len(starts) == 0:
        return np.array([], dtype=np.int64)
    return np.r_[starts[1:], n].astype(np.int64)
