"""The order and fill journal of a live session: orders written ahead (before any is sent),
the venue's reports applied (fills, the positions and cash they change, the order's state), and
the ledger loaded back after a restart.

A fill, the position it changes, the session's cash and its order's state are written in one
transaction, so cash and positions always equal what the fills say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from easyquant.live.broker import BrokerFill, OrderReport
from easyquant.live.records import ORDER_COLUMNS, OrderRow, Position, clean, order_row, ts_of
from easyquant.live.sessions import SessionStore


@dataclass
class Store(SessionStore):
    """The ledger of one session: its session store and the order and fill journal."""

    fill_ids: set[str] = field(default_factory=set)
    # Orders written ahead wait for the disk unless the venue shares this database: then its
    # records can never survive a server crash without the order rows written before them.
    durable_orders: bool = True

    def load_ledger(self) -> None:
        """Load cash, positions and recorded fill ids (what the fills say)."""
        rows = self.exec("SELECT cash FROM live_session WHERE id = %s", (self.session,), fetch=True)
        self.cash = float(rows[0][0])
        self.positions = {
            r[0]: Position(float(r[1]), float(r[2]), float(r[3]))
            for r in self.exec(
                "SELECT symbol, quantity, avg_price, realized_pnl FROM "
                "live_position WHERE session = %s",
                (self.session,),
                fetch=True,
            )
        }
        self.fill_ids = {
            r[0]
            for r in self.exec(
                "SELECT fill_id FROM live_fill WHERE session = %s", (self.session,), fetch=True
            )
        }

    def load_orders(self, *, after: int | None = None, active: bool = False) -> list[OrderRow]:
        cond = ["session = %s"]
        params: list[Any] = [self.session]
        if after is not None:
            cond.append("bar_ts > %s")
            params.append(ts_of(after))
        if active:
            cond.append("state IN ('new', 'open')")
        rows = self.exec(
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM live_order WHERE "
            f"{' AND '.join(cond)} ORDER BY bar_ts, phase, pass, created_at",
            params,
            fetch=True,
        )
        return [order_row(r) for r in rows]

    # ----- writing orders and fills ---------------------------------------------------------
    def write_ahead(
        self, orders: Sequence[OrderRow], *, unless_halted: bool = False
    ) -> tuple[bool, bool, str | None] | None:
        """Store orders before any is sent (durable: waits for the disk).

        With ``unless_halted`` the orders are written only if the session is not halted at
        that moment (the session's row is locked for the check, so an operator's halt either
        commits before them, and none is written, or after them): the session's (halted,
        flatten_requested, halt_reason) flags come back, and nothing was written when halted
        is true. Without it, None."""
        parts = []
        if unless_halted:
            parts.append(
                self.q("SELECT 1 FROM live_session WHERE id = %s FOR SHARE", (self.session,))
            )
        cols = (
            "INSERT INTO live_order (session, client_order_id, bar_ts, phase, pass, "
            "symbol, side, quantity, kind, limit_price, est_price, phase_equity, state, "
            "reason, tif) "
        )
        values = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
        for o in orders:
            args: list[Any] = [
                self.session,
                o.client_order_id,
                ts_of(o.bar_ts),
                o.phase,
                o.pass_,
                o.symbol,
                o.side,
                o.quantity,
                o.kind,
                clean(o.limit_price),
                clean(o.est_price),
                clean(o.phase_equity),
                o.state,
                o.reason,
                o.tif,
            ]
            if unless_halted:
                parts.append(
                    self.q(
                        cols + f"SELECT {values} WHERE NOT EXISTS (SELECT 1 FROM live_session "
                        "WHERE id = %s AND halted)",
                        [*args, self.session],
                    )
                )
            else:
                parts.append(self.q(cols + f"VALUES ({values})", args))
        if not unless_halted:
            self.run(parts, durable=self.durable_orders)
            return None
        head = ["SET LOCAL synchronous_commit TO on"] if self.durable_orders else []
        return self._commit_staged(head, parts)

    def record(self, order: OrderRow, report: OrderReport) -> list[BrokerFill]:
        """Apply the venue's report: new fills (position and cash with them) and the order's
        state, in one transaction. Return the fills that were new."""
        new = [f for f in report.fills if f.fill_id not in self.fill_ids]
        cash = self.cash
        touched: dict[str, Position] = {}
        parts = []
        for f in new:
            pos = touched.get(f.symbol) or Position(
                **vars(self.positions.get(f.symbol, Position()))
            )
            pos.apply(f.quantity, f.price)
            touched[f.symbol] = pos
            cash -= f.quantity * f.price + f.fees
            parts.append(
                self.q(
                    "INSERT INTO live_fill (session, fill_id, client_order_id, symbol, bar_ts, "
                    "quantity, price, fees) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    (
                        self.session,
                        f.fill_id,
                        f.client_order_id,
                        f.symbol,
                        ts_of(f.bar_ts if f.bar_ts is not None else order.bar_ts),
                        f.quantity,
                        f.price,
                        f.fees,
                    ),
                )
            )
        for sym, pos in touched.items():
            parts.append(
                self.q(
                    "INSERT INTO live_position (session, symbol, quantity, avg_price, "
                    "realized_pnl) VALUES (%s,%s,%s,%s,%s) ON CONFLICT (session, symbol) "
                    "DO UPDATE SET "
                    "quantity = EXCLUDED.quantity, avg_price = EXCLUDED.avg_price, "
                    "realized_pnl = EXCLUDED.realized_pnl",
                    (self.session, sym, pos.quantity, pos.avg_price, pos.realized),
                )
            )
        if new:
            parts.append(
                self.q("UPDATE live_session SET cash = %s WHERE id = %s", (cash, self.session))
            )
        filled = sum(abs(f.quantity) for f in report.fills)
        value = sum(abs(f.quantity) * f.price for f in report.fills)
        fees = sum(f.fees for f in report.fills)
        avg = value / filled if filled > 0 else None
        state = (
            report.status
            if report.status in ("open", "filled", "partial", "rejected", "cancelled")
            else "rejected"
        )
        parts.append(
            self.q(
                "UPDATE live_order SET state = %s, filled_qty = %s, avg_price = %s, fees = %s, "
                "reason = %s, broker_order_id = %s, "
                "acked_at = COALESCE(acked_at, clock_timestamp()) WHERE client_order_id = %s",
                (
                    state,
                    filled,
                    avg,
                    fees,
                    report.reason,
                    report.broker_order_id,
                    order.client_order_id,
                ),
            )
        )
        self.run(parts)
        self.cash = cash
        self.positions.update(touched)
        self.fill_ids.update(f.fill_id for f in new)
        order.state, order.filled_qty, order.avg_price = state, filled, avg
        order.fees, order.reason = fees, report.reason
        return new

    def note_phase(self, ts: int, phase: str, equity: float) -> None:
        """Note the equity a phase sizes its orders with, before anything of it is done."""
        self.run(
            [
                self.q(
                    "UPDATE live_session SET phase_note = %s WHERE id = %s",
                    (json.dumps({"ts": ts, "phase": phase, "equity": equity}), self.session),
                )
            ],
            durable=self.durable_orders,
        )

    def phase_note(self, ts: int, phase: str) -> float | None:
        """The equity noted for this phase before a restart, if any."""
        rows = self.exec(
            "SELECT phase_note FROM live_session WHERE id = %s", (self.session,), fetch=True
        )
        note = rows[0][0] if rows else None
        if note and note.get("ts") == ts and note.get("phase") == phase:
            return float(note["equity"])
        return None

    def request_cancel(self, order: OrderRow) -> None:
        """Note, durably, that a cancel of a working order is about to be sent: after a crash
        the venue is asked for the order's state instead of being sent the cancel again."""
        self.run(
            [
                self.q(
                    "UPDATE live_order SET cancel_requested_at = clock_timestamp() WHERE "
                    "client_order_id = %s",
                    (order.client_order_id,),
                )
            ],
            durable=self.durable_orders,
        )
        order.cancel_requested = True

    def cancel(self, order: OrderRow, reason: str) -> None:
        """Mark a never-sent order cancelled."""
        self.run(
            [
                self.q(
                    "UPDATE live_order SET state = 'cancelled', reason = %s WHERE "
                    "client_order_id = %s AND state = 'new'",
                    (reason, order.client_order_id),
                )
            ]
        )
        order.state, order.reason = "cancelled", reason
