"""The live trading service: feed -> guard -> the backtest's strategy, bar by bar -> orders ->
broker, with every step in PostgreSQL and the session's status in ``easyquant.status``.

One timestamp's bars are processed as the backtester processes one bar: (flatten if asked,)
pending targets execute at the open, the strategy decides on the history including this bar,
(with ``fill=close`` targets execute at the close,) equity is marked and checked against the
daily loss limit, and the bar is committed with the engine's state. A crash at any point is
recovered from the last committed bar: the ledger is reconciled against the venue first
(orders the venue has but the ledger does not know were acknowledged, fills it made while the
service was down), then the bar is processed again, re-using the orders already written for it
and never sending one twice.

If the database goes away the service pauses trading (it holds the current bar), retries, then
reloads and reconciles as after a restart and carries on; nothing is lost. SIGTERM (or SIGINT)
finishes the current bar, persists, and marks the session stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any

from easyquant import status
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError, DatabaseError, StrategyError
from easyquant.live.bars import BarEvent, BarGuard, History, Refusal
from easyquant.live.broker import Broker, BrokerUnavailable, make_broker
from easyquant.live.config import IDENTITY, SessionConfig
from easyquant.live.crash import crash_hook
from easyquant.live.feeds import Feed, make_feed
from easyquant.live.journal import Store
from easyquant.live.orders import Halt, OrderManager
from easyquant.live.reconcile import reconcile
from easyquant.live.records import DatabaseUnavailable, ts_of
from easyquant.live.risk import check_loss
from easyquant.live.warmup import load_warmup, warmup_size
from easyquant.status import State
from easyquant.strategy.incremental import Decider

__all__ = ["LiveService", "SessionConfig", "run_session"]

log = logging.getLogger(__name__)

DAY_NS = 86_400_000_000_000


class LiveService:
    """Runs one session until the feed ends or a stop is requested."""

    def __init__(
        self,
        config: SessionConfig,
        settings: Settings | None = None,
        *,
        feed: Feed | None = None,
        broker: Broker | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or get_settings()
        self.strategy = config.validate()
        self.profile = config.profile()
        self.limits = config.limits()
        self.stop = stop or threading.Event()
        self._feed = feed
        self.store = Store(self.settings, config.session)
        self.broker: Broker = broker or make_broker(
            config.broker,
            self.settings,
            config.session,
            self.profile,
            initial_cash=float(config.cash),
        )
        self.store.durable_orders = not getattr(self.broker, "shares_database", False)
        # at a real-time pace every bar is stored as it is processed; as fast as possible
        # (an unpaced feed) bars are stored in groups; orders and fills are never delayed
        self.flush_bars = 1
        self.flush_interval = 0.02
        self._unflushed: list[BarEvent] = []
        self._flush_now = False
        self._last_flush = time.monotonic()
        self.at_close = config.fill == "close"
        self.crash = crash_hook()
        self.om = OrderManager(
            config.session,
            config.symbols,
            self.profile,
            self.strategy.sizing,
            self.at_close,
            self.store,
            self.broker,
            self.limits,
            self.crash,
        )
        self.history = History(config.symbols)
        self.decider = Decider(self.strategy)
        self.warmup_bars = 0
        self._warm_before: int | None = None  # -1: the warm-up waits for the first bar
        self.guard = BarGuard(config.symbols)
        self.tracker = status.Tracker(
            f"live:{config.session}",
            "live",
            config.session,
            heartbeat_interval=float(config.heartbeat),
        )
        self.offset = int(self.profile.utc_offset_hours * 3600e9)
        self.last_bar_ts: int | None = None
        self.last_equity: float | None = None
        self.day_key: int | None = None
        self.day_start_equity: float | None = None
        self.flatten_requested = False
        self.halt_reason: str | None = None
        self.bad_bars = 0
        self.bars_done = 0
        self.outages = 0
        self.paused = False
        self.last_outage_s: float | None = None
        self._pending_message: str | None = None
        self._last_report = time.monotonic()
        self.state: State = "running"

    # ----- start-up -------------------------------------------------------------------------
    def _open(self) -> None:
        self.store.connect()
        self.store.lock()
        # the instrument master's rows of the symbols: the rules the backtest applies
        master = self.config.instruments(self.settings)
        self.om.instruments = master
        if hasattr(self.broker, "instruments"):
            self.broker.instruments = master
        row = self.store.load_session()
        if row is None:
            self.store.create_session(
                strategy=self.config.strategy,
                params=self.config.params,
                symbols=self.config.symbols,
                market=self.config.market,
                freq=self.config.freq,
                feed=self.config.feed,
                broker=self.config.broker,
                config=self.config.stored(),
                cash=float(self.config.cash),
            )
        else:
            stored = SessionConfig.from_row(row)
            stored.validate()
            for key in IDENTITY:
                a, b = getattr(stored, key), getattr(self.config, key)
                if a != b:
                    raise ConfigError(
                        f"session {self.config.session}: {key} is {a!r} in the stored session, "
                        f"{b!r} given; use a new --session name to change it"
                    )
            self.store.update_config(self.config.stored())

    def _recover(self) -> None:
        """Load the committed state and reconcile the ledger against the venue."""
        if self.store.conn is None or self.store.conn.closed:
            self.store.connect()
            self.store.lock()
        self.broker.connect()
        row = self.store.load_session()
        assert row is not None
        self.store.load_ledger()
        reconcile(self.store, self.broker, row.last_bar_ts)
        row = self.store.load_session()
        assert row is not None
        events = self.store.load_events()
        self.history = History(self.config.symbols, capacity=max(1024, 2 * len(events)))
        self.decider = Decider(self.strategy)
        # the warm-up ends just before the session's first bar: known once that bar is stored,
        # else read when it arrives (a feed may start anywhere in the lake, or after it)
        self._warm_before = -1
        if events:
            self._warm(events[0].ts)
            self.history.extend(events)
            self.decider.start(self.history.bars())
        self.guard = BarGuard(self.config.symbols)
        for ev in events:
            self.broker.on_market(ev)
            for sym in ev.bars:
                self.guard.last[sym] = ev.ts
            self.guard.last_event = ev.ts
        self.om.load(
            row.engine_state,
            self.store.load_orders(after=row.last_bar_ts),
            self.store.load_orders(active=True),
        )
        self.om.halted = row.halted
        self.halt_reason = row.halt_reason
        self.flatten_requested = row.flatten_requested
        self.last_bar_ts = row.last_bar_ts
        self.last_equity = row.equity
        self.day_key = row.day_key
        self.day_start_equity = row.day_start_equity
        self.bad_bars = row.bad_bars
        self.bars_done = row.bars

    def _warm(self, before: int) -> None:
        """Put the lake's warm-up bars before ``before`` into the (empty) history."""
        warm = load_warmup(
            self.config, warmup_size(self.config, self.strategy), before, self.settings
        )
        self.history.extend(warm)
        self.warmup_bars = len(warm)
        self._warm_before = before

    def _warm_up(self) -> None:
        """Compile the strategy's and the market model's code before the first live bar, so
        the first bar is not seconds late (the strategy's answer is discarded)."""
        from easyquant.live.orders import warm_up

        if len(self.history) and not self.decider.per_bar:  # per bar: started on it already
            with contextlib.suppress(StrategyError):  # reported when its bar is processed
                self.decider.decide(self.history.bars())
        warm_up(self.profile)

    def _decision_note(self) -> str:
        """Say how decisions are made and what history they start from (and, for a strategy
        that declares no window, what each decision costs)."""
        d = self.decider
        if d.per_bar:
            how = "decisions: next() once per bar, its state kept"
        elif d.window is not None:
            how = f"decisions: over the last {d.window} bars"
        else:
            how = d.cost_note(self.history.bars()) or "decisions: over the whole history"
        want = warmup_size(self.config, self.strategy)
        if self._warm_before == -1:
            warm = f"warm-up: up to {want} bars from the lake before the first bar"
        elif want and not self.warmup_bars:
            warm = f"no warm-up history in the lake (wanted {want} bars)"
        else:
            warm = f"warm-up: {self.warmup_bars} bars from the lake"
        note = f"{how}; {warm}"
        log.info("session %s: %s", self.config.session, note)
        return note

    # ----- the loop -------------------------------------------------------------------------
    def run(self) -> str:
        """Run until the feed ends (``success``) or stop is requested (``stopped``); the states
        are ``easyquant.status``'s, for the session's row and its status component alike."""
        cfg = self.config
        # the feed first: bad feed options or missing data fail before anything is stored
        feed = self._feed or make_feed(
            cfg.feed,
            cfg.symbols,
            market=cfg.market,
            freq=cfg.freq,
            speed=cfg.speed,
            start=cfg.start,
            end=cfg.end,
            seed=cfg.seed,
            settings=self.settings,
        )
        if not getattr(feed, "paced", True):
            self.flush_bars = 100  # as fast as possible: store bars in groups
        try:
            self._open()
            self._recover()
            self._warm_up()
            note = self._decision_note()
            self.store.mark_running(os.getpid())
        except BaseException:
            self.store.close()
            self.broker.close()
            raise
        self.tracker.update(
            state="running",
            progress=None,
            message=f"{cfg.strategy} on {','.join(cfg.symbols)}: {cfg.feed} feed, "
            f"{cfg.broker} broker" + (" (halted)" if self.om.halted else "") + f"; {note}",
            attrs={
                "session": cfg.session,
                "strategy": cfg.strategy,
                "symbols": cfg.symbols,
                "market": cfg.market,
                "feed": cfg.feed,
                "broker": cfg.broker,
                "pid": os.getpid(),
            },
            metrics=self.metrics(),
            heartbeat_interval=float(cfg.heartbeat),
        )
        self._install_signals()
        self.tracker.start_heartbeats()  # "alive" while the feed waits for its next bar
        try:
            again = True
            while again and not self.stop.is_set():
                again = False
                for ev in feed.events(after=self.last_bar_ts, stop=self.stop):
                    if not self.handle(ev):
                        again = True  # after an outage: from the last stored bar
                        break
                    self._report()
                    if self.stop.is_set():
                        break
            self.state = "stopped" if self.stop.is_set() else "success"
        except BaseException as exc:
            self.state = "failed"
            self._finish(f"{type(exc).__name__}: {exc}")
            raise
        self._finish("stopped on request" if self.state == "stopped" else "feed ended")
        return self.state

    def _finish(self, message: str) -> None:
        self.tracker.stop_heartbeats()
        try:
            self.store.set_state(self.state, message)  # stores the staged bars with it
        except DatabaseError as exc:
            log.warning(
                "session %s: could not store state %s: %s", self.config.session, self.state, exc
            )
        self.tracker.finish(self.state, message, **self.metrics())
        self.store.close()
        self.broker.close()

    def handle(self, ev: BarEvent) -> bool:
        """Guard one event, then process it. Return False after a database outage: the state
        was reloaded from the database (which may have lost its last moments if the server
        crashed), and the feed must start again after the last stored bar."""
        accepted, refused = self.guard.check(ev)
        for r in refused:
            self._refuse(r)
        if accepted is None:
            return True
        try:
            self._process(accepted)
            self._maybe_flush()
        except (DatabaseUnavailable, BrokerUnavailable) as exc:
            self._outage(exc)
            self._unflushed = []
            return False
        return True

    def _maybe_flush(self, force: bool = False) -> None:
        now = time.monotonic()
        # a pending target means orders at the next bar: store the bars now, so that the
        # orders' write-ahead carries nothing else (bar-to-order latency)
        due = self._unflushed and (
            now - self._last_flush >= self.flush_interval or any(self.om.state.pend)
        )
        if self._flush_now:  # a halt or a flatten: stored with its bar at once
            force, self._flush_now = True, False
        if force or len(self._unflushed) >= self.flush_bars or due:
            self.crash("before_flush")
            flags = self.store.flush()
            self.crash("after_flush")
            self._last_flush = now
            self._flags(*flags)
        done = self.store.flushed_ts
        if done is not None and self._unflushed and self._unflushed[0].ts <= done:
            self._unflushed = [e for e in self._unflushed if e.ts > done]

    def _flags(self, halted: bool, flatten: bool, reason: str | None) -> None:
        om = self.om
        if halted != om.halted:
            if halted:
                self._pending_message = f"halted: {reason or 'by an operator'}"
            else:
                self._pending_message = "resumed: trading again"
            log.warning("session %s: %s", self.config.session, self._pending_message)
        om.halted = halted
        self.halt_reason = reason
        self.flatten_requested = flatten

    def _refuse(self, r: Refusal) -> None:
        self.bad_bars += 1
        msg = r.message()
        log.warning("session %s: %s", self.config.session, msg)
        self._show(msg, bad_bars=self.bad_bars, last_bad_bar=msg)
        self.store.stage_event(
            "bad_bar",
            msg,
            {"symbol": r.bar.symbol, "time": r.bar.time.isoformat(), "reason": r.reason},
        )

    def _process(self, ev: BarEvent) -> None:
        om = self.om
        self.broker.on_market(ev)
        if not om.halted and om.state.flattened:
            om.state.rearm()
        if self.flatten_requested:
            n = om.flatten(ev)
            left = sorted(s for s, p in self.store.positions.items() if p.quantity)
            if not left:  # a symbol without a bar now (or not filled) is tried at the next one
                self.store.clear_flatten()
                self.flatten_requested = False
            self.store.stage_event(
                "flatten",
                f"flattened: {n} order(s) at {ev.time.isoformat()}"
                + (f"; still held: {', '.join(left)}" if left else ""),
            )
            self._flush_now = True
            self.crash("after_flatten")
        if not self.at_close:
            om.run_phase(ev, "o")
            self._take_flags()
            self._store_halt()
        if self._warm_before == -1:  # the session's first bar: its warm-up comes just before
            self._warm(ev.ts)
            self.decider.start(self.history.bars())
            self.tracker.update(message=self._decision_note())
        self.history.append(ev.ts, ev.bars)
        try:
            decisions = self.decider.decide(self.history.bars())
        except StrategyError as exc:
            decisions = {}
            if not om.halted:
                om.halted = True
                om.halt = Halt(f"strategy error: {exc}", False)
        om.on_close(ev, decisions)
        if self.at_close:
            om.run_phase(ev, "c")
            self._take_flags()
        self._store_halt()
        equity = om.equity()
        day = (ev.ts + self.offset) // DAY_NS
        if self.day_key != day or self.day_start_equity is None:
            self.day_key = day
            self.day_start_equity = self.last_equity if self.last_equity is not None else equity
        breach = check_loss(self.limits, equity=equity, day_start_equity=self.day_start_equity)
        if breach is not None and not om.halted:
            om.halted = True
            om.halt = Halt(f"risk limit breached: {breach}", self.limits.flatten_on_breach)
            self._store_halt()
        self.store.stage_bar(
            ev,
            engine_state=om.state.to_json(),
            equity=equity,
            day_key=day,
            day_start_equity=self.day_start_equity,
            bad_bars=self.bad_bars,
            marks={s: om.state.mark[j] for j, s in enumerate(self.config.symbols)},
        )
        self._unflushed.append(ev)
        self.last_bar_ts = ev.ts
        self.last_equity = equity
        self.bars_done += 1
        for sym in ev.bars:
            self.guard.last[sym] = ev.ts
        self.guard.last_event = ev.ts
        om.forget_before(ev.ts)

    def _take_flags(self) -> None:
        """Take the flags a write-ahead found (an operator's halt stopped its orders)."""
        flags = self.om.flags
        if flags is not None:
            self.om.flags = None
            self._flags(*flags)

    def _store_halt(self) -> None:
        halt = self.om.halt
        if halt is None:
            return
        # stored with this bar, in its transaction: a crash before the bar is stored redoes
        # the bar and finds the halt again, rather than acting on it a bar early
        self.store.set_halt(halt.reason, flatten=halt.flatten, staged=True)
        if halt.reason.startswith("risk"):
            self.store.stage_event("breach", halt.reason, {"flatten": halt.flatten})
        self._flush_now = True
        if halt.flatten:
            self.flatten_requested = True
        self.halt_reason = halt.reason
        self.om.halt = None
        msg = f"halted: {halt.reason}"
        log.warning("session %s: %s", self.config.session, msg)
        self._show(msg, halted=True, halt_reason=halt.reason)
        self.crash("after_halt")

    def _outage(self, exc: Exception) -> bool:
        """Pause trading until the database answers again, then reload and reconcile.
        Return False when a stop was requested meanwhile."""
        t0 = time.monotonic()
        self.outages += 1
        self.paused = True
        msg = f"trading paused: {exc}"
        log.warning("session %s: %s", self.config.session, msg)
        self.tracker.update(message=msg, metrics={"paused": True, "db_outages": self.outages})
        while not self.stop.is_set():
            try:
                self.store.close()
                self._recover()
                break
            except (DatabaseUnavailable, BrokerUnavailable) as again:
                log.info("session %s: database still unreachable: %s", self.config.session, again)
                self.stop.wait(0.5)
        if self.stop.is_set():
            return False
        self.paused = False
        self.last_outage_s = time.monotonic() - t0
        note = (
            f"database unreachable for {self.last_outage_s:.1f}s: trading was paused; "
            "state reloaded and reconciled, trading resumed"
        )
        self.store.stage_event("outage", note, {"seconds": self.last_outage_s})
        self._pending_message = note
        log.warning("session %s: %s", self.config.session, note)
        return True

    # ----- status ---------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        om = self.om
        positions = {s: p.quantity for s, p in self.store.positions.items() if p.quantity}
        return {
            "equity": self.last_equity,
            "cash": self.store.cash,
            "positions": positions,
            "open_orders": om.open_orders(),
            "orders_sent": om.orders_sent,
            "last_bar_time": ts_of(self.last_bar_ts).isoformat() if self.last_bar_ts else None,
            "bars": self.bars_done,
            "bad_bars": self.bad_bars,
            "halted": om.halted,
            "halt_reason": self.halt_reason,
            "paused": self.paused,
            "db_outages": self.outages,
            "last_outage_s": self.last_outage_s,
            **om.latency_ms(),
        }

    def _show(self, msg: str, **metrics: Any) -> None:
        """Show a message now; if it cannot be stored, it goes with the next heartbeat."""
        stored = self.tracker.update(message=msg, metrics=metrics)
        self._pending_message = None if stored else msg

    def _report(self) -> None:
        """Once per heartbeat interval, after a bar: the session's metrics, with the message
        that is waiting to be shown (if any) until it is stored."""
        now = time.monotonic()
        if now - self._last_report < float(self.config.heartbeat):
            return
        self._last_report = now
        msg = self._pending_message
        if msg is None:
            self.tracker.heartbeat(**self.metrics())
        elif self.tracker.update(message=msg, metrics=self.metrics()):
            self._pending_message = None

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: Any) -> None:
            log.warning(
                "session %s: %s received: stopping after this bar",
                self.config.session,
                signal.Signals(signum).name,
            )
            self.stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)


def run_session(config: SessionConfig, settings: Settings | None = None, **kw: Any) -> str:
    """Run one session to its end (or a stop); return its final state."""
    return LiveService(config, settings, **kw).run()
