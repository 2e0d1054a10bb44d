"""Reconciliation at start-up and after an outage: the ledger against the venue.

Orders the venue has but the ledger never saw acknowledged are recorded with the venue's
answer; fills the venue made while the service was down are recorded; an order that never
reached the venue and whose bar has passed is cancelled (one whose bar is processed again is
sent then). Whatever still differs (positions, cash) halts the session.
"""

from __future__ import annotations

import logging

from easyquant.live.broker import Broker
from easyquant.live.journal import Store

log = logging.getLogger(__name__)


def reconcile(store: Store, broker: Broker, last_bar_ts: int | None) -> None:
    """Bring the ledger (loaded by ``store.load_ledger``) up to what the venue says."""
    for o in store.load_orders(active=True):
        rep = broker.order(o.client_order_id)
        if rep is None:
            if last_bar_ts is not None and o.bar_ts <= last_bar_ts:
                store.cancel(o, "never reached the venue; its bar has passed")
            continue  # never reached the venue: sent when its bar is processed again
        new = store.record(o, rep)
        store.event(
            "reconcile",
            f"order {o.client_order_id}: the venue had it "
            f"({rep.status}, {len(new)} fill(s)) but the ledger had not "
            "recorded its acknowledgement",
            {"order": o.client_order_id},
        )
    known = {o.client_order_id: o for o in store.load_orders()}
    for _, f in broker.fills():
        if f.fill_id in store.fill_ids:
            continue
        order = known.get(f.client_order_id)
        rep = broker.order(f.client_order_id)
        if order is None or rep is None:
            store.event(
                "reconcile_mismatch",
                f"venue fill {f.fill_id} belongs to an order the ledger does not know",
                {"fill": f.fill_id},
            )
            continue
        store.record(order, rep)
        store.event(
            "reconcile",
            f"fill {f.fill_id} made while the service was down recorded",
            {"fill": f.fill_id},
        )
    compare_with_venue(store, broker)


def compare_with_venue(store: Store, broker: Broker) -> None:
    """Halt the session (without a flatten) when its positions or cash differ from the venue's."""
    venue_pos = broker.positions()
    mine = {s: p.quantity for s, p in store.positions.items() if p.quantity != 0}
    diffs = []
    for sym in sorted(set(venue_pos) | set(mine)):
        a, b = mine.get(sym, 0.0), venue_pos.get(sym, 0.0)
        if abs(a - b) > 1e-9 * max(1.0, abs(b)):
            diffs.append(f"{sym}: ledger {a:g}, venue {b:g}")
    cash, vcash = store.cash, broker.cash()
    if abs(cash - vcash) > 1e-6 * max(1.0, abs(vcash)):
        diffs.append(f"cash: ledger {cash:.2f}, venue {vcash:.2f}")
    if diffs:
        reason = "reconciliation found differences: " + "; ".join(diffs)
        store.event("reconcile_mismatch", reason, {"differences": diffs})
        store.set_halt(reason, flatten=False)
        log.error("session %s: %s", store.session, reason)
