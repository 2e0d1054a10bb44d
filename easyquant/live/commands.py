"""``easyquant live [halt|resume|status]`` and ``easyquant parity``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from easyquant.errors import ConfigError

#: the numeric options of ``easyquant live``: (flag, type, help); unset, each takes the stored
#: session's value, else the default named
NUMBER_OPTIONS: tuple[tuple[str, type, str | None], ...] = (
    ("--seed", int, "synthetic feed seed (default 42)"),
    ("--cash", float, "starting cash (default 100000)"),
    ("--commission", float, None),
    ("--min-commission", float, None),
    ("--stamp-duty", float, None),
    ("--slippage-bps", float, None),
    (
        "--max-volume-fraction",
        float,
        "a fill takes at most this fraction of the bar's volume (0 < F <= 1; default: none)",
    ),
    ("--max-position-value", float, "risk: |position value| per symbol"),
    ("--max-gross-exposure", float, "risk: sum of |position values|"),
    ("--max-order-value", float, "risk: one order's value"),
    ("--max-daily-loss", float, "risk: loss from the day's starting equity"),
    ("--heartbeat", float, "status heartbeat, s (default 5)"),
    (
        "--warmup",
        int,
        "bars of lake history before the first live bar (default: the strategy's window)",
    ),
)


def register(sub: argparse._SubParsersAction) -> None:
    lv = sub.add_parser(
        "live",
        help="run a live trading session (or halt / resume / status one)",
        description="Run a live session until stopped (SIGTERM finishes the bar and persists). "
        "Starting an existing session again resumes it from its last bar.",
    )
    lv.add_argument("--session", help="session name (letters, digits, '.', '_', '-')")
    lv.add_argument("--strategy", help="built-in name or package.module:Class")
    lv.add_argument("--symbols", help="comma-separated symbols")
    lv.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter (repeatable)",
    )
    lv.add_argument("--market", default=None, help="us, cn or crypto (default us)")
    lv.add_argument("--broker", default=None, help="paper (default)")
    lv.add_argument("--feed", default=None, help="replay (the lake, default) or synthetic")
    lv.add_argument("--freq", default=None, help="bar frequency (default 1d replay, 1m synthetic)")
    lv.add_argument(
        "--speed",
        default=None,
        help="x real time, or 'max' (default: max for replay, 1 for synthetic)",
    )
    lv.add_argument("--start", default=None, help="replay: first date; synthetic: clock start")
    lv.add_argument("--end", default=None, help="last date (default: open-ended)")
    lv.add_argument("--fill", default=None, help="next_open (default) or close")
    for flag, kind, text in NUMBER_OPTIONS:
        lv.add_argument(flag, type=kind, default=None, help=text)
    lv.add_argument(
        "--flatten-on-breach",
        action="store_true",
        default=None,
        help="close every position when a risk limit halts the session",
    )
    lv.add_argument("--json", action="store_true", help="print the final summary as JSON")
    lv.set_defaults(func=_run)
    actions = lv.add_subparsers(dest="live_action", metavar="ACTION", required=False)

    h = actions.add_parser("halt", help="halt a session (it stops sending orders)")
    h.add_argument("--session", required=True, dest="target")
    h.add_argument("--flatten", action="store_true", help="also close every position")
    h.add_argument("--reason", default="", help="why (shown in status)")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=_halt)

    r = actions.add_parser("resume", help="resume a halted session")
    r.add_argument("--session", required=True, dest="target")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_resume)

    st = actions.add_parser("status", help="show sessions (positions, orders, risk)")
    st.add_argument("--session", default=None, dest="target")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)

    par = sub.add_parser(
        "parity",
        help="replay a live session's bars through the backtester "
        "and report differences in orders, fills and P&L",
    )
    par.add_argument("--session", required=True)
    par.add_argument("--date", required=True, help="trading date YYYY-MM-DD (exchange clock)")
    par.add_argument("--json", action="store_true")
    par.set_defaults(func=_parity)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} {item!r}: expected NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


# SessionConfig field -> command-line option, for the options given as plain values
OPTIONS = {
    "market": "--market",
    "broker": "--broker",
    "feed": "--feed",
    "freq": "--freq",
    "speed": "--speed",
    "start": "--start",
    "end": "--end",
    "seed": "--seed",
    "cash": "--cash",
    "fill": "--fill",
    "commission": "--commission",
    "min_commission": "--min-commission",
    "stamp_duty": "--stamp-duty",
    "slippage_bps": "--slippage-bps",
    "max_volume_fraction": "--max-volume-fraction",
    "heartbeat": "--heartbeat",
    "warmup": "--warmup",
}
RISK_OPTIONS = ("max_position_value", "max_gross_exposure", "max_order_value", "max_daily_loss")


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The SessionConfig fields the command line sets explicitly (``risk``: the limits given)."""
    out: dict[str, Any] = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
    if args.strategy:
        out["strategy"] = args.strategy
    if args.symbols:
        out["symbols"] = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if args.param:
        out["params"] = _pairs(args.param, "--param")
    risk: dict[str, Any] = {
        k: getattr(args, k) for k in RISK_OPTIONS if getattr(args, k) is not None
    }
    if args.flatten_on_breach:
        risk["flatten_on_breach"] = True
    if risk:
        out["risk"] = risk
    return out


def config_from_args(args: argparse.Namespace) -> Any:
    """Build the SessionConfig ``easyquant live`` describes for a new session (ConfigError
    naming the option); None without --strategy and --symbols (a stored session started
    again: see :func:`merge_options`)."""
    from easyquant.live.config import SessionConfig

    if not args.session:
        raise ConfigError("--session: required (a name for the session)")
    if not args.strategy or not args.symbols:
        return None
    given = given_options(args)
    given.setdefault("freq", "1m" if given.get("feed") == "synthetic" else "1d")
    return SessionConfig(session=args.session, **given)


def merge_options(stored: Any, args: argparse.Namespace) -> Any:
    """A stored session's configuration with the options given on the command line applied
    (risk limits one by one). A changed identity field (strategy, symbols, market, ...) is
    refused by the service, naming it; the rest is used and stored with the session."""
    given = given_options(args)
    risk = given.pop("risk", None)
    for key, value in given.items():
        setattr(stored, key, value)
    if risk:
        stored.risk = {**stored.risk, **risk}
    return stored


def _ready() -> Any:
    from easyquant.config import get_settings
    from easyquant.db import ensure_ready

    return ensure_ready(get_settings())


def _run(args: argparse.Namespace) -> int:
    from easyquant.live.config import SessionConfig
    from easyquant.live.journal import Store
    from easyquant.live.service import LiveService

    config = config_from_args(args)
    if config is not None:
        config.validate()  # bad input fails before anything is stored
    settings = _ready()
    store = Store(settings, args.session)
    store.connect()
    try:
        row = store.load_session()
    finally:
        store.close()
    if row is not None:
        # an existing session started again: its stored configuration, with what is given
        config = merge_options(SessionConfig.from_row(row), args)
        config.validate()
    elif config is None:
        raise ConfigError(
            f"--strategy and --symbols: required for the new session {args.session!r}"
        )
    state = LiveService(config, settings).run()
    if args.json:
        print(json.dumps({"session": config.session, "state": state}))
    else:
        print(f"session {config.session}: {state}")
    return 0


def _conn() -> Any:
    from easyquant.db import connect

    return connect(_ready())


def _halt(args: argparse.Namespace) -> int:
    from easyquant.live.sessions import halt_session

    conn = _conn()
    try:
        out = halt_session(conn, args.target, reason=args.reason, flatten=args.flatten)
    finally:
        conn.close()
    _show(
        out,
        args.json,
        f"session {args.target}: halted" + (" (flatten requested)" if args.flatten else ""),
    )
    return 0


def _resume(args: argparse.Namespace) -> int:
    from easyquant.live.sessions import resume_session

    conn = _conn()
    try:
        out = resume_session(conn, args.target)
    finally:
        conn.close()
    _show(out, args.json, f"session {args.target}: resumed")
    return 0


def _status(args: argparse.Namespace) -> int:
    from easyquant.live.queries import get_session, list_sessions

    conn = _conn()
    try:
        sessions = [get_session(conn, args.target)] if args.target else list_sessions(conn)
    finally:
        conn.close()
    if args.json:
        print(json.dumps({"sessions": sessions}, default=str))
        return 0
    for s in sessions:
        pos = ", ".join(f"{p['symbol']} {p['quantity']:g}" for p in s["positions"]) or "flat"
        eq = f"{s['equity']:,.2f}" if s["equity"] is not None else "-"
        print(
            f"{s['session']}: {s['state']}{' HALTED' if s['halted'] else ''}  equity {eq}  "
            f"cash {s['cash']:,.2f}  {pos}  last bar {s['last_bar_time']}"
        )
    return 0


def _parity(args: argparse.Namespace) -> int:
    from easyquant.live.parity import check_parity, report_parity

    settings = _ready()
    report = check_parity(settings, args.session, args.date)
    report_parity(report)  # component parity:{session}:{date}
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(report["summary"])
        for d in report["differences"][:50]:
            print(f"  {d}")
    return 0 if report["identical"] else 1


def _show(out: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(out, default=str))
    else:
        print(text)
