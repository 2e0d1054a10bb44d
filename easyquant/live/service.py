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
import re
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from easyquant import status
from easyquant.backtest.engine import FILLS
from easyquant.backtest.market import MarketProfile, get_profile
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError, DatabaseError, StrategyError
from easyquant.live.bars import BarEvent, BarGuard, History, Refusal
from easyquant.live.broker import BROKERS, Broker, BrokerUnavailable, make_broker
from easyquant.live.feeds import FEEDS, Feed, make_feed, parse_speed
from easyquant.live.ledger import DatabaseUnavailable, SessionRow, Store, ts_of
from easyquant.live.orders import Halt, OrderManager
from easyquant.live.risk import RiskLimits, check_loss
from easyquant.strategy.base import Strategy

log = logging.getLogger(__name__)

SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
DAY_NS = 86_400_000_000_000
CRASH_ENV = "EASYQUANT_LIVE_CRASH"
CRASH_POINTS = (
    "after_write_ahead",
    "after_submit",
    "after_record",
    "before_flush",
    "after_flush",
    "after_halt",
    "after_flatten",
)
# What must match when a stored session is started again.
IDENTITY = (
    "strategy",
    "params",
    "symbols",
    "market",
    "freq",
    "feed",
    "broker",
    "fill",
    "cash",
    "commission",
    "min_commission",
    "stamp_duty",
    "slippage_bps",
    "seed",
)


@dataclass
class SessionConfig:
    """Everything a session is started with (what ``easyquant live`` takes)."""

    session: str
    strategy: str
    symbols: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    market: str = "us"
    broker: str = "paper"
    feed: str = "replay"
    freq: str = "1d"
    speed: str | float | None = None
    start: str | None = None
    end: str | None = None
    seed: int = 42
    cash: float = 100_000.0
    fill: str = "next_open"
    commission: float | None = None
    min_commission: float | None = None
    stamp_duty: float | None = None
    slippage_bps: float | None = None
    risk: dict[str, Any] = field(default_factory=dict)
    heartbeat: float = 5.0

    def validate(self) -> Strategy:
        """Check every field; return the strategy instance. ConfigError names the field."""
        from easyquant.data._freq import parse_freq
        from easyquant.data.sources import check_symbol
        from easyquant.strategy.registry import make_strategy

        if not isinstance(self.session, str) or not SESSION_RE.match(self.session):
            raise ConfigError(
                f"session: expected 1-64 letters, digits, '.', '_' or '-', got {self.session!r}"
            )
        if not self.symbols:
            raise ConfigError("symbols: expected at least one symbol")
        for s in self.symbols:
            check_symbol(s)
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError(f"symbols: duplicated symbol in {','.join(self.symbols)}")
        if self.feed not in FEEDS:
            raise ConfigError(f"feed: expected one of {', '.join(FEEDS)}, got {self.feed!r}")
        if self.broker not in BROKERS:
            raise ConfigError(f"broker: expected one of {', '.join(BROKERS)}, got {self.broker!r}")
        if self.fill not in FILLS:
            raise ConfigError(f"fill: expected one of {', '.join(FILLS)}, got {self.fill!r}")
        if not (isinstance(self.cash, int | float) and 0 < self.cash < float("inf")):
            raise ConfigError(f"cash: must be > 0, got {self.cash!r}")
        if not (isinstance(self.heartbeat, int | float) and 0.1 <= self.heartbeat <= 300):
            raise ConfigError(f"heartbeat: must be 0.1 to 300 seconds, got {self.heartbeat!r}")
        self.freq = parse_freq(self.freq).name  # "1D" and "1d" are one frequency
        parse_speed(self.speed)
        self.profile()
        RiskLimits.from_dict(self.risk)
        strategy = make_strategy(self.strategy, dict(self.params))
        self.params = strategy.param_values
        return strategy

    def profile(self) -> MarketProfile:
        return get_profile(
            self.market,
            commission=self.commission,
            min_commission=self.min_commission,
            stamp_duty=self.stamp_duty,
            slippage_bps=self.slippage_bps,
        )

    def limits(self) -> RiskLimits:
        return RiskLimits.from_dict(self.risk)

    def stored(self) -> dict[str, Any]:
        out = asdict(self)
        out["risk"] = self.limits().as_dict()
        return out

    @classmethod
    def from_row(cls, row: SessionRow) -> SessionConfig:
        cfg = dict(row.config)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in cfg.items() if k in known})


def _crash_hook() -> Any:
    """``EASYQUANT_LIVE_CRASH=point:n`` kills the process (SIGKILL) the n-th time it reaches
    ``point`` (one of CRASH_POINTS): fault-injection tests use it to crash exactly between
    writing an order and recording the venue's answer."""
    spec = os.environ.get(CRASH_ENV, "")
    if not spec:
        return lambda point: None
    point, _, n = spec.partition(":")
    if point not in CRASH_POINTS:
        raise ConfigError(f"{CRASH_ENV}: expected one of {', '.join(CRASH_POINTS)}, got {point!r}")
    target = int(n or 1)
    seen = {"n": 0}

    def hit(where: str) -> None:
        if where == point:
            seen["n"] += 1
            if seen["n"] >= target:
                os.kill(os.getpid(), signal.SIGKILL)

    return hit


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
        self.crash = _crash_hook()
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
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.state = "running"

    # ----- start-up -------------------------------------------------------------------------
    def _open(self) -> None:
        self.store.connect()
        self.store.lock()
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
        for o in self.store.load_orders(active=True):
            rep = self.broker.order(o.client_order_id)
            if rep is None:
                if row.last_bar_ts is not None and o.bar_ts <= row.last_bar_ts:
                    self.store.cancel(o, "never reached the venue; its bar has passed")
                continue  # never reached the venue: sent when its bar is processed again
            new = self.store.record(o, rep)
            self.store.event(
                "reconcile",
                f"order {o.client_order_id}: the venue had it "
                f"({rep.status}, {len(new)} fill(s)) but the ledger had not "
                "recorded its acknowledgement",
                {"order": o.client_order_id},
            )
        known = {o.client_order_id: o for o in self.store.load_orders()}
        for _, f in self.broker.fills():
            if f.fill_id in self.store.fill_ids:
                continue
            order = known.get(f.client_order_id)
            rep = self.broker.order(f.client_order_id)
            if order is None or rep is None:
                self.store.event(
                    "reconcile_mismatch",
                    f"venue fill {f.fill_id} belongs to an order the ledger does not know",
                    {"fill": f.fill_id},
                )
                continue
            self.store.record(order, rep)
            self.store.event(
                "reconcile",
                f"fill {f.fill_id} made while the service was down recorded",
                {"fill": f.fill_id},
            )
        self._compare_with_venue()
        row = self.store.load_session()
        assert row is not None
        events = self.store.load_events()
        self.history = History(self.config.symbols, capacity=max(1024, 2 * len(events)))
        self.history.extend(events)
        self.guard = BarGuard(self.config.symbols)
        for ev in events:
            self.broker.on_market(ev)
            for sym in ev.bars:
                self.guard.last[sym] = ev.ts
            self.guard.last_event = ev.ts
        self.om.load(row.engine_state, self.store.load_orders(after=row.last_bar_ts))
        self.om.halted = row.halted
        self.halt_reason = row.halt_reason
        self.flatten_requested = row.flatten_requested
        self.last_bar_ts = row.last_bar_ts
        self.last_equity = row.equity
        self.day_key = row.day_key
        self.day_start_equity = row.day_start_equity
        self.bad_bars = row.bad_bars
        self.bars_done = row.bars

    def _warm_up(self) -> None:
        """Compile the strategy's and the market model's code before the first live bar, so
        the first bar is not seconds late (the strategy's answer is discarded)."""
        from easyquant.backtest import market as mk

        if len(self.history):
            with contextlib.suppress(StrategyError):  # reported when its bar is processed
                self.strategy.decide(self.history.bars())
        cfg = self.profile.vector()
        mk.fill_order(
            self.profile, side="buy", quantity=1.0, bar=mk.Bar(1.0, 1.0, 1.0, 1.0), cash=10.0
        )
        mk.slipped(mk.BUY, mk.trigger_price(mk.BUY, 0, 0.0, 1.0, 1.0, 1.0, 1.0, False), cfg)
        mk.round_lot(mk.target_quantity(0.5, 100.0, 1.0, cfg), 1.0)
        mk.awaits_one_lot(0.5, 0.0, 0.0)

    def _compare_with_venue(self) -> None:
        venue_pos = self.broker.positions()
        mine = {s: p.quantity for s, p in self.store.positions.items() if p.quantity != 0}
        diffs = []
        for sym in sorted(set(venue_pos) | set(mine)):
            a, b = mine.get(sym, 0.0), venue_pos.get(sym, 0.0)
            if abs(a - b) > 1e-9 * max(1.0, abs(b)):
                diffs.append(f"{sym}: ledger {a:g}, venue {b:g}")
        cash, vcash = self.store.cash, self.broker.cash()
        if abs(cash - vcash) > 1e-6 * max(1.0, abs(vcash)):
            diffs.append(f"cash: ledger {cash:.2f}, venue {vcash:.2f}")
        if diffs:
            reason = "reconciliation found differences: " + "; ".join(diffs)
            self.store.event("reconcile_mismatch", reason, {"differences": diffs})
            self.store.set_halt(reason, flatten=False)
            log.error("session %s: %s", self.config.session, reason)

    # ----- the loop -------------------------------------------------------------------------
    def run(self) -> str:
        """Run until the feed ends (``finished``) or stop is requested (``stopped``)."""
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
            self.store.mark_running(os.getpid())
        except BaseException:
            self.store.close()
            self.broker.close()
            raise
        self.tracker.update(
            state="running",
            progress=None,
            message=f"{cfg.strategy} on {','.join(cfg.symbols)}: {cfg.feed} feed, "
            f"{cfg.broker} broker" + (" (halted)" if self.om.halted else ""),
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
        self._start_heartbeat()
        try:
            again = True
            while again and not self.stop.is_set():
                again = False
                for ev in feed.events(after=self.last_bar_ts, stop=self.stop):
                    if not self.handle(ev):
                        again = True  # after an outage: from the last stored bar
                        break
                    if self.stop.is_set():
                        break
            self.state = "stopped" if self.stop.is_set() else "finished"
        except BaseException as exc:
            self.state = "failed"
            self._finish(f"{type(exc).__name__}: {exc}")
            raise
        self._finish("stopped on request" if self.state == "stopped" else "feed ended")
        return self.state

    def _finish(self, message: str) -> None:
        self._beat_stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        try:
            self.store.set_state(self.state, message)  # stores the staged bars with it
        except DatabaseError as exc:
            log.warning(
                "session %s: could not store state %s: %s", self.config.session, self.state, exc
            )
        metrics = self.metrics()
        if self.state == "failed":
            self.tracker.finish("failed", message, **metrics)
        elif self.state == "stopped":
            self.tracker.finish("stopped", message, **metrics)
        else:
            self.tracker.finish("success", message, **metrics)
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
        self._pending_message = msg
        self.tracker.update(message=msg, metrics={"bad_bars": self.bad_bars, "last_bad_bar": msg})
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
        self.history.append(ev.ts, ev.bars)
        try:
            decisions = self.strategy.decide(self.history.bars())
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
        self._pending_message = msg
        self.tracker.update(message=msg, metrics={"halted": True, "halt_reason": halt.reason})
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

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._beat_stop.wait(float(self.config.heartbeat)):
                msg = self._pending_message
                try:
                    metrics = self.metrics()
                except Exception:  # a snapshot taken mid-update; try again next beat
                    continue
                if msg is not None:
                    stored = self.tracker.update(message=msg, metrics=metrics)
                    if stored and self._pending_message == msg:
                        self._pending_message = None
                else:
                    self.tracker.heartbeat(**metrics)

        self._beat = threading.Thread(
            target=beat, name=f"live-heartbeat-{self.config.session}", daemon=True
        )
        self._beat.start()

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


def demo_config(
    session: str = "demo", symbols: Sequence[str] = ("AAA", "BBB"), **overrides: Any
) -> SessionConfig:
    """The demo session ``make up`` starts: SMA crossover on a synthetic 24/7 feed, one bar a
    second (1-minute bars at 60x), paper broker."""
    base: dict[str, Any] = {
        "session": session,
        "strategy": "sma_cross",
        "symbols": list(symbols),
        "params": {"fast": 5, "slow": 20},
        "market": "crypto",
        "feed": "synthetic",
        "freq": "1m",
        "speed": 60.0,
        "broker": "paper",
    }
    base.update(overrides)
    return SessionConfig(**base)
