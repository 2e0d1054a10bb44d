"""The order manager: strategy decisions -> targets -> orders, exactly as the backtester does it.

It keeps the backtest engine's per-symbol state (the last decision; a pending target) and
executes pending targets at the phase the backtest would (a bar's open for ``next_open``, its
close for ``close``): equity is taken at that moment, each target becomes a quantity with the
shared market model's rules (``trigger_price``, ``slipped``, ``target_quantity``,
``round_lot``), sells go before buys, and what the venue does not fill stays pending under the
same rules (a T+1 partial stays, a short that is not allowed is dropped, a filled order is
done). ``easyquant.backtest.engine.simulate_into`` is the reference; the parity test holds the two
together.

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

from easyquant.backtest import market as mk
from easyquant.backtest.market import MarketProfile
from easyquant.live.bars import BarEvent
from easyquant.live.broker import Broker, OrderRequest
from easyquant.live.journal import Store
from easyquant.live.records import OrderRow
from easyquant.live.risk import RiskLimits, check_order
from easyquant.strategy.base import ORDER_KINDS, Target

KIND_NAMES = ("market", "limit", "stop")
NAN = float("nan")
SHORT_REASON = mk.REASONS[mk.NO_SHORT]
T1_REASON = mk.REASONS[mk.T_PLUS_ONE]


def _f(v: Any) -> float:
    return NAN if v is None else float(v)


@dataclass
class EngineState:
    """Per symbol: the last decision (target, kind, price) and the pending target, if any;
    the last close (mark); whether positions were flattened by a halt."""

    last_t: list[float]
    last_k: list[int]
    last_p: list[float]
    pend: list[bool]
    pend_t: list[float]
    pend_k: list[int]
    pend_p: list[float]
    mark: list[float]
    flattened: bool = False

    @classmethod
    def fresh(cls, m: int) -> EngineState:
        return cls(
            [NAN] * m, [-1] * m, [NAN] * m, [False] * m, [0.0] * m, [0] * m, [0.0] * m, [NAN] * m
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any], m: int) -> EngineState:
        if not data:
            return cls.fresh(m)
        return cls(
            [_f(v) for v in data["last_t"]],
            [int(v) for v in data["last_k"]],
            [_f(v) for v in data["last_p"]],
            [bool(v) for v in data["pend"]],
            [_f(v) for v in data["pend_t"]],
            [int(v) for v in data["pend_k"]],
            [_f(v) for v in data["pend_p"]],
            [_f(v) for v in data["mark"]],
            bool(data.get("flattened", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "last_t": self.last_t,
            "last_k": self.last_k,
            "last_p": self.last_p,
            "pend": self.pend,
            "pend_t": self.pend_t,
            "pend_k": self.pend_k,
            "pend_p": self.pend_p,
            "mark": self.mark,
            "flattened": self.flattened,
        }

    def rearm(self) -> None:
        """After a flatten and a resume: pursue every symbol's last decision again."""
        for j, t in enumerate(self.last_t):
            if t == t:
                self.pend[j] = True
                self.pend_t[j] = t
                self.pend_k[j] = max(self.last_k[j], 0)
                self.pend_p[j] = self.last_p[j]
        self.flattened = False


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
    state: EngineState = field(init=False)
    halted: bool = False
    halt: Halt | None = None  # a breach found while trading (the service stores it)
    # the session's (halted, flatten_requested, halt_reason) flags when a write-ahead found
    # it halted by an operator (the service takes them)
    flags: tuple[bool, bool, str | None] | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    orders_sent: int = 0
    _stored: dict[tuple[int, str], list[OrderRow]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cfg = self.profile.vector()
        self.state = EngineState.fresh(len(self.symbols))
        self._col = {s: j for j, s in enumerate(self.symbols)}

    # ----- state ----------------------------------------------------------------------------
    def load(self, engine_state: Mapping[str, Any], orders: Sequence[OrderRow]) -> None:
        """Restore the state committed with the last bar and the orders written after it."""
        self.state = EngineState.from_json(engine_state, len(self.symbols))
        self._stored = {}
        for o in orders:
            self._stored.setdefault((o.bar_ts, o.phase), []).append(o)

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
            v = float(tg.value)
            if v != v:
                continue
            k = ORDER_KINDS[tg.kind]
            p = float(tg.price) if (k != 0 and tg.price is not None) else NAN
            same_p = (p == st.last_p[j]) or (p != p and st.last_p[j] != st.last_p[j])
            if v != st.last_t[j] or k != st.last_k[j] or not same_p:
                st.last_t[j], st.last_k[j], st.last_p[j] = v, k, p
                st.pend[j] = True
                st.pend_t[j], st.pend_k[j], st.pend_p[j] = v, k, p

    # ----- execution ------------------------------------------------------------------------
    def _oid(self, ts: int, phase: str, pass_: int, symbol: str) -> str:
        when = pd.Timestamp(ts, tz="UTC").strftime("%Y%m%dT%H%M%S")
        return f"{self.session}-{when}-{phase}{pass_}-{symbol}"

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
        pos = self.position(self.symbols[j])
        if self.sizing == "shares":
            desired = st.pend_t[j]
            ref = c if self.at_close else o
            if ref != ref:
                ref = st.mark[j]
            return (mk.BUY if desired > pos else mk.SELL), desired, ref
        ref_px = c if self.at_close else o
        if ref_px != ref_px:
            ref_px = st.mark[j]
        if ref_px != ref_px:
            return None
        side = mk.BUY if st.pend_t[j] * eq > pos * ref_px else mk.SELL
        raw = mk.trigger_price(side, st.pend_k[j], st.pend_p[j], o, h, lo, c, self.at_close)
        if raw != raw:
            raw = ref_px
        est = mk.slipped(side, raw, self.cfg)
        desired = mk.target_quantity(st.pend_t[j], eq, est, self.cfg)
        lot = self.cfg[mk.C_LOT]
        if desired > 0:
            desired = mk.round_lot(desired, lot)
        elif desired < 0:
            desired = -mk.round_lot(-desired, lot)
        if desired != pos:
            side = mk.BUY if desired > pos else mk.SELL
        return side, float(desired), float(est)

    def run_phase(self, event: BarEvent, phase: str) -> None:
        """Execute pending targets at this bar's open (``o``) or close (``c``)."""
        st = self.state
        stored = self._stored.get((event.ts, phase), [])
        if not any(st.pend) and not stored:
            return
        if self.halted and not stored:
            return
        at_close = phase == "c"
        prices = {s: (b.close if at_close else b.open) for s, b in event.bars.items()}
        eq = (
            stored[0].phase_equity
            if stored and stored[0].phase_equity is not None
            else self.equity(prices)
        )
        for pass_ in (0, 1):
            mine = {o.symbol: o for o in stored if o.pass_ == pass_}
            batch_stored = bool(mine)
            intents: list[OrderRow] = []
            for j, sym in enumerate(self.symbols):
                if not st.pend[j]:
                    continue
                if sym in mine:
                    intents.append(mine[sym])
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
                    if self.sizing != "shares" and mk.awaits_one_lot(st.pend_t[j], desired, pos):
                        continue  # cannot pay for one lot yet: stays pending, as in the backtest
                    st.pend[j] = False
                    continue
                if (side == mk.SELL) != (pass_ == 0) or batch_stored or self.halted:
                    continue
                k = st.pend_k[j]
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
                        limit_price=st.pend_p[j] if k != 0 else None,
                        est_price=est,
                        phase_equity=eq,
                    )
                )
            self._send(event, intents, at_close, write=not batch_stored)
            if self.flags is not None:
                return  # halted by an operator: nothing more at this phase

    def _send(
        self,
        event: BarEvent,
        intents: list[OrderRow],
        at_close: bool,
        *,
        write: bool,
    ) -> None:
        if not intents:
            return
        if write:
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
        st = self.state
        for o in intents:
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
            if o.filled_qty <= 0:
                if o.reason == SHORT_REASON:
                    st.pend[j] = False
            elif o.reason != T1_REASON:
                st.pend[j] = False

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
