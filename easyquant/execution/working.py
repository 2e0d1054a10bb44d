"""Pending decisions and working orders: what each symbol was last told to do, what is still to
be done, and the order still working at the venue for it.

Per symbol a *book* (a float64 array, one column per symbol, rows ``B_*``) holds the last
decision (target, order kind, limit/stop price, time in force), the pending one, if any, and the
limit or stop order that rests at the venue for it (its signed remaining quantity and the
trading day it was placed on). A decision that differs from the last becomes pending and
cancels the working order (it is replaced). A pending decision is sized and sent at the next
execution moment. A market order that does not fill is sized and sent again at the next moment;
a limit or stop order that does not fill keeps working with the quantity it was sent with,
until it fills, is replaced or cancelled, or, with day time in force, the trading day ends.
Under a volume cap a fill may be a part: the rest of a market order (a target) is sized and
sent again at the next moment until the target is reached or a new decision replaces it; the
rest of a limit or stop order keeps working as above (a day order's rest ends with its day).
What ends a pending decision is :func:`stays_pending`'s rule. The compiled transitions work on
the book: the backtest kernel keeps one in its loop, the live order manager one per session
(:class:`Book`), stored with every bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from easyquant.execution.market import DAY, MARKET, NO_SHORT, T_PLUS_ONE, VOLUME

# rows of a book: the last decision, the pending one (B_PEND 1.0 when there is one), the
# working order, and what was bought on the current trading day (T+1)
ROWS = (
    "last_t",
    "last_k",
    "last_p",
    "last_f",
    "pend",
    "pend_t",
    "pend_k",
    "pend_p",
    "pend_f",
    "work_q",
    "work_day",
    "buy_day",
    "buy_qty",
)
(
    B_LAST_T,
    B_LAST_K,
    B_LAST_P,
    B_LAST_F,
    B_PEND,
    B_PEND_T,
    B_PEND_K,
    B_PEND_P,
    B_PEND_F,
    B_WORK_Q,
    B_WORK_DAY,
    B_BUY_DAY,
    B_BUY_QTY,
) = range(len(ROWS))


@njit(cache=True, nogil=True)
def new_book(m: int) -> np.ndarray:
    """Return an empty book for ``m`` symbols: no decision, nothing pending or working."""
    book = np.zeros((len(ROWS), m))
    book[B_LAST_T] = np.nan
    book[B_LAST_K] = -1.0
    book[B_LAST_P] = np.nan
    book[B_BUY_DAY] = -1.0
    return book


@njit(cache=True, nogil=True, inline="always")
def is_change(book: np.ndarray, s: int, tg: float, k: int, p: float, f: int) -> bool:
    """True when symbol ``s``'s decision (target ``tg``, kind ``k``, price ``p``, time in
    force ``f``; no decision is a nan target) differs from its last one."""
    if tg != tg:
        return False
    lp = book[B_LAST_P, s]
    same_p = (p == lp) or (p != p and lp != lp)
    return tg != book[B_LAST_T, s] or k != book[B_LAST_K, s] or not same_p or f != book[B_LAST_F, s]


@njit(cache=True, nogil=True, inline="always")
def apply_decision(
    book: np.ndarray, s: int, tg: float, k: int, p: float, f: int, position: float, npend: int
) -> int:
    """Make symbol ``s``'s changed decision its last and its pending one, replacing the
    working order; return the number of pending decisions. A decision to stay flat while
    flat needs no order: it only drops the pending one."""
    book[B_LAST_T, s] = tg
    book[B_LAST_K, s] = k
    book[B_LAST_P, s] = p
    book[B_LAST_F, s] = f
    book[B_WORK_Q, s] = 0.0
    if tg == 0 and position == 0:
        if book[B_PEND, s] != 0:
            book[B_PEND, s] = 0.0
            npend -= 1
        return npend
    if book[B_PEND, s] == 0:
        npend += 1
    book[B_PEND, s] = 1.0
    book[B_PEND_T, s] = tg
    book[B_PEND_K, s] = k
    book[B_PEND_P, s] = p
    book[B_PEND_F, s] = f
    return npend


@njit(cache=True, nogil=True, inline="always")
def stays_pending(filled: float, reason: int) -> bool:
    """After an order for a pending decision was tried: True when the decision stays pending.

    A fill ends it, except a T+1 partial (the rest is sold from the next day) and a partial
    cut by the volume cap (the rest is worked on later bars). An order that did not fill
    stays (the price may come back, cash may free up, volume may trade), except a short where
    shorting is not allowed.
    """
    if filled <= 0:
        return reason != NO_SHORT
    if reason == T_PLUS_ONE:
        return True
    return reason == VOLUME


@njit(cache=True, nogil=True, inline="always")
def rests(book: np.ndarray, s: int) -> bool:
    """True when symbol ``s``'s pending decision is a limit or stop order: one that does not
    fill keeps working at the venue."""
    return book[B_PEND_K, s] != MARKET


@njit(cache=True, nogil=True, inline="always")
def expired(book: np.ndarray, s: int, day: int) -> bool:
    """True when symbol ``s``'s working order is a day order placed before trading day
    ``day``: it ended with its day, unfilled."""
    return book[B_WORK_Q, s] != 0 and book[B_PEND_F, s] == DAY and book[B_WORK_DAY, s] != day


@njit(cache=True, nogil=True, inline="always")
def after_try(
    book: np.ndarray, s: int, sent: float, filled: float, reason: int, day: int, npend: int
) -> int:
    """Record what became of an order of signed quantity ``sent`` for symbol ``s``'s pending
    decision (``filled`` units, 0 when refused, for ``reason``) on trading day ``day``; return
    the number of pending decisions.

    A decision that stays pending (:func:`stays_pending`) keeps, if it is a limit or stop
    order, its order working for the rest of the quantity; one that ends drops it.
    """
    if stays_pending(filled, reason):
        if rests(book, s):
            left = abs(sent) - filled
            if book[B_WORK_Q, s] == 0:
                book[B_WORK_DAY, s] = day
            book[B_WORK_Q, s] = left if sent > 0 else -left
        return npend
    book[B_PEND, s] = 0.0
    book[B_WORK_Q, s] = 0.0
    return npend - 1


@njit(cache=True, nogil=True, inline="always")
def expire(book: np.ndarray, s: int, npend: int) -> int:
    """End symbol ``s``'s expired day order and its pending decision; return the number of
    pending decisions."""
    book[B_WORK_Q, s] = 0.0
    book[B_PEND, s] = 0.0
    return npend - 1


NAN = float("nan")


@dataclass
class Book:
    """One session's book (rows ``ROWS``, a column per symbol, read by name: ``book.pend_t``),
    the last close of each symbol (mark), and whether positions were flattened by a halt.
    Stored as JSON with every bar."""

    rows: np.ndarray
    mark: list[float] = field(default_factory=list)  # plain floats: stored as they are
    flattened: bool = False
    #: the venue's id (client order id) of each symbol's working order
    work_id: list[str | None] = field(default_factory=list)

    @classmethod
    def fresh(cls, m: int) -> Book:
        return cls(new_book(m), [NAN] * m, False, [None] * m)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["rows"][ROWS.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], m: int) -> Book:
        """Read :meth:`to_json`'s form (rows missing from an older form start empty)."""
        book = cls.fresh(m)
        for i, name in enumerate(ROWS):
            if name in data:
                book.rows[i] = [NAN if v is None else float(v) for v in data[name]]
        if "mark" in data:
            book.mark = [NAN if v is None else float(v) for v in data["mark"]]
        book.flattened = bool(data.get("flattened", False))
        if "work_id" in data:
            book.work_id = [None if v is None else str(v) for v in data["work_id"]]
        return book

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: [float(v) if v == v else None for v in self.rows[i].tolist()]
            for i, name in enumerate(ROWS)
        }
        out["mark"] = [v if v == v else None for v in self.mark]
        out["flattened"] = self.flattened
        out["work_id"] = list(self.work_id)
        return out

    def decide(
        self, j: int, target: float, kind: int, price: float, tif: int, position: float
    ) -> None:
        """Take symbol ``j``'s decision (nan target: none); a change becomes pending and
        replaces the working order."""
        if is_change(self.rows, j, target, kind, price, tif):
            apply_decision(self.rows, j, target, kind, price, tif, position, 0)
            self.work_id[j] = None

    def changes(self, j: int, target: float, kind: int, price: float, tif: int) -> bool:
        """True when this decision for symbol ``j`` differs from its last one."""
        return bool(is_change(self.rows, j, target, kind, price, tif))

    def rearm(self) -> None:
        """After a flatten and a resume: pursue every symbol's last decision again."""
        r = self.rows
        for j in range(r.shape[1]):
            if r[B_LAST_T, j] == r[B_LAST_T, j]:
                r[B_PEND, j] = 1.0
                r[B_PEND_T, j] = r[B_LAST_T, j]
                r[B_PEND_K, j] = max(r[B_LAST_K, j], 0.0)
                r[B_PEND_P, j] = r[B_LAST_P, j]
                r[B_PEND_F, j] = r[B_LAST_F, j]
                r[B_WORK_Q, j] = 0.0
                self.work_id[j] = None
        self.flattened = False
