"""The order manager: strategy decisions -> targets -> orders, as the backtest kernel does it.

It keeps the execution layer's pending decisions (:class:`~easyquant.execution.working.Book`)
and executes pending targets at the phase the backtest would (a bar's open for ``next_open``,
its close for ``close``): equity is taken at that moment, each target becomes a quantity by the
execution layer's sizing (:func:`~easyquant.execution.sizing.size_order`), sells go before
buys, and what the venue does not fill stays pending by the same rule
(:func:`~easyquant.execution.working.stays_pending`). The backtest kernel calls the same
functions; the parity test holds the two together.

Orders get deterministic client order ids ``{session}-{bar time}-{phase}{pass}-{symbol}``; each
group of orders is written to PostgreSQL before the first is sent; a group already written
(before a crash) is re-used, never recomputed, and an order the venue already has is never sent
again.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from easyquant.execution import market as mk
from easyquant.execution import rules
from easyquant.execution.dated import rules_on_day
from easyquant.execution.market import KIND_NAMES, TIF_NAMES, MarketProfile
from easyquant.execution.sizing import size_order
from easyquant.execution.working import B_WORK_Q, Book, after_try, expire, stays_pending
from easyquant.live.bars import BarEvent
from easyquant.live.broker import EXPIRED, Broker, OrderReport, OrderRequest
from easyquant.live.journal import Store
from easyquant.live.records import OrderRow
from easyquant.live.risk import RiskLimits, check_order
from easyquant.strategy.base import ORDER_KINDS, Target

NAN = float("nan")
DAY_NS = 86_400_000_000_000
TIF_CODES = {name: code for code, name in enumerate(TIF_NAMES)}
REASON_CODES = {name: code for code, name in enumerate(mk.REASONS)}


def warm_up(profile: MarketProfile) -> None:
    """Compile the execution layer's code the order manager and the paper broker call, so the
    first live bar is not seconds late."""
    cfg = profile.vector()
    rules.fill_order(
        profile, side="buy", quantity=1.0, bar=rules.Bar(1.0, 1.0, 1.0, 1.0), cash=10.0
    )
    size_order(0.5, 0, NAN, 100.0, 0.0, NAN, 1.0, 1.0, 1.0, 1.0, False, False, cfg)
    Book.fresh(1).decide(0, 0.5, 0, NAN, 0, 0.0)
    stays_pending(0.0, 0)


@dataclass
class Halt:
    reason: str
    flatten: bool


@dataclass
class OrderManager:
    """Turns decisions into orders for one session and sends them through ``broker``."""

    session: str
    symbols: Sequence[str]
    profile: MarketProfile
    sizing: str
    at_close: bool
    store: Store
    broker: Broker
    limits: RiskLimits = field(default_factory=RiskLimits)
    crash: Callable[[str], None] = lambda point: None
    #: the instrument master's rows by symbol (board, ST and suspension periods, listing day)
    instruments: Mapping[str, Any] | None = None
    state: Book = field(init=False)
    halted: bool = False
    halt: Halt | None = None  # a breach found while trading (the service stores it)
    # the session's (halted, flatten_requested, halt_reason) flags when a write-ahead found
    # it halted by an operator (the service takes them)
    flags: tuple[bool, bool, str | None] | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    orders_sent: int = 0
    _stored: dict[tuple[int, str], list[OrderRow]] = field(default_factory=dict)
    _working: dict[str, OrderRow] = field(default_factory=dict)  # by client order id

    def __post_init__(self) -> None:
        self._ts = 0
        self.state = Book.fresh(len(self.symbols))
        self._col = {s: j for j, s in enumerate(self.symbols)}
        self._offset = int(self.profile.utc_offset_hours * 3600e9)

    # ----- state ----------------------------------------------------------------------------
    def load(
        self,
        engine_state: Mapping[str, Any],
        orders: Sequence[OrderRow],
        working: Sequence[OrderRow] = (),
    ) -> None:
        """Restore the state committed with the last bar, the orders written after it, and the
        orders that work at the venue (``working``: the session's active orders)."""
        self.state = Book.from_json(engine_state, len(self.symbols))
        self._stored = {}
        for o in orders:
            self._stored.setdefault((o.bar_ts, o.phase), []).append(o)
        ids = {cid for cid in self.state.work_id if cid}
        self._working = {o.client_order_id: o for o in working if o.client_order_id in ids}

    def position(self, symbol: str) -> float:
        p = self.store.positions.get(symbol)
        return p.quantity if p is not None else 0.0

    def equity(self, prices: Mapping[str, float] | None = None) -> float:
        """Cash plus positions marked at ``prices`` (falling back to the last close)."""
        eq = self.store.cash
        st = self.state
        for j, sym in enumerate(self.symbols):
            q = self.position(sym)
            if q == 0:
                continue
            px = prices.get(sym, NAN) if prices is not None else NAN
            if px != px:
                px = st.mark[j]
            if px == px:
                eq += q * px
        return eq

    def open_orders(self) -> int:
        return sum(1 for orders in self._stored.values() for o in orders if o.active)

    # ----- decisions ------------------------------------------------------------------------
    def on_close(self, event: BarEvent, decisions: Mapping[str, Target]) -> None:
        """Update marks with the closes and pending targets with bar's decisions (the
        backtest's phase 1)."""
        st = self.state
        for sym, bar in event.bars.items():
            st.mark[self._col[sym]] = bar.close
        for sym, tg in decisions.items():
            j = self._col[sym]
            k = ORDER_KINDS[tg.kind]
            p = float(tg.price) if (k != mk.MARKET and tg.price is not None) else NAN
            f = TIF_CODES[tg.tif] if k != mk.MARKET else mk.GTC
            if st.work_q[j] != 0 and st.changes(j, float(tg.value), k, p, f):
                self._cancel_working(j)  # replaced: cancelled before the new order is sized
            st.decide(j, float(tg.value), k, p, f, self.position(sym))

    def _cancel_working(self, j: int) -> None:
        """Cancel symbol ``j``'s working order at the venue, through the journal: the intent is
        written first; after a crash the venue is asked, and a cancel it already has is never
        sent again. Fills it made before the cancel are recorded."""
        st = self.state
        cid = st.work_id[j]
        o = self._working.pop(cid, None) if cid else None
        st.work_id[j] = None
        st.rows[B_WORK_Q, j] = 0.0
        if o is None:
            return
        rep: OrderReport | None = None
        if o.cancel_requested:  # requested before a crash: did it reach the venue?
            rep = self.broker.order(o.client_order_id)
        if rep is None or rep.status == "open":
            if not o.cancel_requested:
                self.store.request_cancel(o)
                self.crash("after_cancel_write")
            rep = self.broker.cancel(o.client_order_id)
            self.crash("after_cancel")
        if rep is not None:
            self.store.record(o, rep)

    # ----- execution ------------------------------------------------------------------------
    def _oid(self, ts: int, phase: str, pass_: int, symbol: str) -> str:
        when = pd.Timestamp(ts, tz="UTC").strftime("%Y%m%dT%H%M%S")
        return f"{self.session}-{when}-{phase}{pass_}-{symbol}"

    def rules_on(self, symbol: str, ts: int) -> np.ndarray:
        """Return ``symbol``'s rules row on the trading day of bar time ``ts``."""
        return rules_on_day(self.profile, symbol, ts, self.instruments)

    def _size(
        self,
        j: int,
        eq: float,
        o: float,
        h: float,
        lo: float,
        c: float,
    ) -> tuple[int, float, float] | None:
        """Return (side, desired position, estimated price) for symbol ``j``'s pending target,
        or None when there is no price to size with (the target stays pending)."""
        st = self.state
        side, desired, est = size_order(
            st.pend_t[j],
            int(st.pend_k[j]),
            st.pend_p[j],
            eq,
            self.position(self.symbols[j]),
            st.mark[j],
            o,
            h,
            lo,
            c,
            self.at_close,
            self.sizing == "shares",
            self.rules_on(self.symbols[j], self._ts),
        )
        if desired != desired:
            return None
        return int(side), float(desired), float(est)

    def run_phase(self, event: BarEvent, phase: str) -> None:
        """Execute pending targets at this bar's open (``o``) or close (``c``)."""
        self._ts = event.ts
        st = self.state
        stored = self._stored.get((event.ts, phase), [])
        if not any(st.pend) and not stored:
            return
        if self.halted and not stored:
            return
        at_close = phase == "c"
        prices = {s: (b.close if at_close else b.open) for s, b in event.bars.items()}
        working_here = not stored and bool(np.any(st.work_q[st.pend != 0]))
        noted = self.store.phase_note(event.ts, phase) if working_here else None
        eq = (
            stored[0].phase_equity
            if stored and stored[0].phase_equity is not None
            else noted
            if noted is not None
            else self.equity(prices)
        )
        if working_here and noted is None:
            # working orders may fill before any new order is written: note the equity the
            # phase sizes with first, so a restart in between sizes as this run does
            self.store.note_phase(event.ts, phase, eq)
        # a symbol whose order of this phase is stored (a restart) is not sized again
        ordered = {o.symbol: o.pass_ for o in stored}
        for pass_ in (0, 1):
            mine = {o.symbol: o for o in stored if o.pass_ == pass_}
            batch_stored = bool(mine)
            intents: list[OrderRow] = []
            working: list[OrderRow] = []
            for j, sym in enumerate(self.symbols):
                if not st.pend[j]:
                    continue
                if st.work_q[j] != 0:  # working at the venue: asked about in its side's pass
                    o = self._working.get(st.work_id[j] or "")
                    if o is not None and (o.side == "sell") == (pass_ == 0) and not self.halted:
                        working.append(o)
                    continue
                if sym in mine:
                    intents.append(mine[sym])
                    continue
                if ordered.get(sym, pass_) != pass_:
                    continue
                bar = event.bars.get(sym)
                if bar is None:
                    continue  # no price at this time: stays pending (the venue could not fill)
                sized = self._size(j, eq, bar.open, bar.high, bar.low, bar.close)
                if sized is None:
                    continue
                side, desired, est = sized
                pos = self.position(sym)
                delta = desired - pos
                if delta == 0:
                    if self.sizing != "shares" and rules.awaits_one_lot(st.pend_t[j], desired, pos):
                        continue  # cannot pay for one lot yet: stays pending, as in the backtest
                    st.pend[j] = False
                    continue
                if (side == mk.SELL) != (pass_ == 0) or batch_stored or self.halted:
                    continue
                k = int(st.pend_k[j])
                intents.append(
                    OrderRow(
                        client_order_id=self._oid(event.ts, phase, pass_, sym),
                        bar_ts=event.ts,
                        phase=phase,
                        pass_=pass_,
                        symbol=sym,
                        side="buy" if delta > 0 else "sell",
                        quantity=abs(delta),
                        kind=KIND_NAMES[k],
                        limit_price=float(st.pend_p[j]) if k != mk.MARKET else None,
                        est_price=est,
                        phase_equity=eq,
                        tif=TIF_NAMES[int(st.pend_f[j])] if k != mk.MARKET else "gtc",
                    )
                )
            self._send(event, intents, at_close, write=not batch_stored, working=working)
            if self.flags is not None:
                return  # halted by an operator: nothing more at this phase

    def _send(
        self,
        event: BarEvent,
        intents: list[OrderRow],
        at_close: bool,
        *,
        write: bool,
        working: Sequence[OrderRow] = (),
    ) -> None:
        if not intents and not working:
            return
        if write and intents:
            self._check_risk(intents)
            flags = self.store.write_ahead(intents, unless_halted=True)
            if flags is not None and flags[0]:
                # an operator halted the session before the orders could be written: none
                # was written or sent; the targets stay pending (the service takes the flags)
                self.flags = flags
                return
            self._stored.setdefault((event.ts, intents[0].phase), []).extend(intents)
            self.crash("after_write_ahead")
        # orders written before a halt that was stored while they waited (the service was
        # down between writing and sending them) are never sent; a group that itself breached
        # a limit is the halt's cause, and sends what it sent before
        held = self.halted and not any(o.state == "risk_rejected" for o in intents)
        day = (event.ts + self._offset) // DAY_NS
        asked = {o.client_order_id for o in working}
        # in symbol order, as the backtest tries them: working orders interleaved with new ones
        for o in sorted([*intents, *working], key=lambda o: self._col.get(o.symbol, -1)):
            if o.client_order_id in asked:
                self._poll(o, event, at_close, day)
                continue
            if held and o.state == "new" and o.phase != "x":
                self.store.cancel(o, "halted")
            if o.state == "risk_rejected" and not self.halted:
                # written before a crash that came before the halt was stored: halt again
                self.halted = True
                self.halt = Halt(
                    f"risk limit breached: {o.reason.removeprefix('risk: ')}",
                    self.limits.flatten_on_breach,
                )
            if o.state == "new":
                report = self.broker.submit(
                    OrderRequest(
                        o.client_order_id,
                        o.symbol,
                        o.side,
                        o.quantity,
                        o.kind,
                        o.limit_price,
                        o.bar_ts,
                        o.tif,
                    ),
                    at_close=at_close,
                )
                self.orders_sent += 1
                if event.received:
                    self.latencies.append(time.perf_counter() - event.received)
                self.crash("after_submit")
                self.store.record(o, report)
                self.crash("after_record")
            if o.phase == "x":
                continue
            j = self._col[o.symbol]
            if o.state in ("risk_rejected", "cancelled"):
                continue  # never sent: the target stays pending
            sent = o.quantity if o.side == "buy" else -o.quantity
            self._after(j, o, sent, o.filled_qty, o.reason, day)

    def _after(
        self, j: int, o: OrderRow, sent: float, filled: float, reason: str, day: int
    ) -> None:
        """Apply what became of an order to the book (the execution layer's rule): a limit or
        stop order that does not fill keeps working."""
        st = self.state
        after_try(st.rows, j, sent, filled, REASON_CODES.get(reason, mk.FILLED), day, 0)
        if st.work_q[j] != 0:
            st.work_id[j] = o.client_order_id
            self._working[o.client_order_id] = o
        elif st.work_id[j] is not None:
            self._working.pop(st.work_id[j] or "", None)
            st.work_id[j] = None

    def _poll(self, o: OrderRow, event: BarEvent, at_close: bool, day: int) -> None:
        """Ask the venue about a working order at this moment; record its fills."""
        rep = self.broker.poll(o.client_order_id, at_close=at_close)
        self.crash("after_poll")
        if rep is None:
            return
        self.store.record(o, rep)
        j = self._col[o.symbol]
        st = self.state
        if rep.status == "cancelled" and rep.reason == EXPIRED:
            expire(st.rows, j, 0)
            self._working.pop(o.client_order_id, None)
            st.work_id[j] = None
            return
        now = sum(abs(f.quantity) for f in rep.fills if f.bar_ts == event.ts)
        self._after(j, o, float(st.work_q[j]), now, rep.reason, day)

    def _check_risk(self, intents: list[OrderRow]) -> None:
        """Refuse (and halt on) the first order that breaches a limit; cancel the rest."""
        positions = {s: self.position(s) for s in self.symbols}
        marks = {s: self.state.mark[j] for j, s in enumerate(self.symbols)}
        for o in intents:
            if self.halted:
                o.state, o.reason = "cancelled", "halted"
                continue
            px = (
                o.est_price
                if o.est_price is not None and math.isfinite(o.est_price)
                else marks.get(o.symbol, NAN)
            )
            breach = check_order(
                self.limits,
                symbol=o.symbol,
                side=o.side,
                quantity=o.quantity,
                price=px,
                positions=positions,
                marks=marks,
            )
            if breach is not None:
                o.state, o.reason = "risk_rejected", f"risk: {breach}"
                self.halted = True
                self.halt = Halt(f"risk limit breached: {breach}", self.limits.flatten_on_breach)
                continue
            positions[o.symbol] = positions.get(o.symbol, 0.0) + (
                o.quantity if o.side == "buy" else -o.quantity
            )

    def flatten(self, event: BarEvent) -> int:
        """Close every position at this bar's open (phase ``x``); return orders sent."""
        for j in range(len(self.symbols)):  # working orders end first
            if self.state.work_q[j] != 0:
                self._cancel_working(j)
        stored = self._stored.get((event.ts, "x"), [])
        if stored:
            self._send(event, stored, False, write=False)
            self.state.flattened = True
            return len(stored)
        intents = []
        for sym in self.symbols:
            q = self.position(sym)
            if q == 0 or sym not in event.bars:
                continue
            intents.append(
                OrderRow(
                    client_order_id=self._oid(event.ts, "x", 0, sym),
                    bar_ts=event.ts,
                    phase="x",
                    pass_=0,
                    symbol=sym,
                    side="sell" if q > 0 else "buy",
                    quantity=abs(q),
                    est_price=event.bars[sym].open,
                )
            )
        if intents:
            self.store.write_ahead(intents)
            self._stored.setdefault((event.ts, "x"), []).extend(intents)
            self.crash("after_write_ahead")
            self._send(event, intents, False, write=False)
        self.state.flattened = True
        return len(intents)

    def forget_before(self, ts: int) -> None:
        """Drop finished groups of orders older than ``ts`` from memory."""
        for key in [k for k in self._stored if k[0] < ts]:
            if not any(o.active for o in self._stored[key]):
                del self._stored[key]

    def latency_ms(self) -> dict[str, float | None]:
        if not self.latencies:
            return {"latency_p50_ms": None, "latency_p99_ms": None}
        a = np.fromiter(self.latencies, dtype=np.float64) * 1e3
        return {
            "latency_p50_ms": float(np.percentile(a, 50)),
            "latency_p99_ms": float(np.percentile(a, 99)),
        }
