"""``easyquant ingest ...`` and ``easyquant data ...``: load bars and look at the lake."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from easyquant.config import get_settings
from easyquant.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ingest", help="load bars from a source into the Parquet lake")
    p.add_argument(
        "--source",
        required=True,
        choices=(
            "synthetic",
            "csv",
            "parquet",
            "akshare",
            "baostock",
            "tushare",
            "yfinance",
            "ccxt",
        ),
        help="synthetic bars, csv/parquet files, or a vendor (needs easyquant[VENDOR])",
    )
    p.add_argument(
        "--format",
        default="auto",
        choices=("auto", "plain", "yahoo", "akshare", "tushare", "baostock", "binance"),
        help="csv: the file layout (default: recognised from the header)",
    )
    p.add_argument("--exchange", help="ccxt: the exchange id (default binance)")
    p.add_argument("--symbols", help="comma-separated symbols (synthetic: required)")
    p.add_argument("--symbol", help="symbol of a file without a symbol column")
    p.add_argument("--path", help="csv/parquet: a file or a folder")
    p.add_argument("--start", help="first date, e.g. 2020-01-01")
    p.add_argument("--end", help="last date (inclusive)")
    p.add_argument("--freq", default="1d", help="bar frequency: 1m, 5m, 15m, 1h, 1d (default 1d)")
    p.add_argument("--calendar", help="exchange calendar: XNYS, XSHG, XSHE, 24/7 ...")
    p.add_argument("--columns", help="column mapping, e.g. timestamp=Date,close=Adj Close")
    p.add_argument("--tz", help="time zone of naive timestamps (default UTC)")
    p.add_argument("--seed", type=int, default=42, help="synthetic: random seed")
    p.add_argument("--full", action="store_true", help="fetch the whole range, not only new bars")
    p.add_argument(
        "--policy",
        default="reject",
        choices=("reject", "quarantine"),
        help="bad rows: reject the batch (default) or quarantine them",
    )
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(func=_ingest)

    d = sub.add_parser("data", help="the data lake: list, show, corporate actions")
    dsub = d.add_subparsers(dest="data_command", required=True)
    ls = _command(dsub, "ls", _ls, "list the catalog")
    ls.add_argument("--freq")
    show = _command(dsub, "show", _show, "print stored bars of a symbol", "symbol")
    show.add_argument("--freq", default="1d")
    show.add_argument("--start")
    show.add_argument("--end")
    show.add_argument("--adjust", choices=("forward", "backward"))
    show.add_argument("--rows", type=int, default=20, help="rows to print (head and tail)")
    _command(dsub, "actions", _actions, "load a corporate-actions CSV into the database", "path")
    inst = dsub.add_parser("instruments", help="the instrument master: load a CSV, list it")
    isub = inst.add_subparsers(dest="instruments_command", required=True)
    _command(isub, "load", _instruments_load, "load an instrument CSV (all rows or none)", "path")
    ifetch = _command(
        isub, "fetch", _instruments_fetch, "load the A-share list from a vendor adapter"
    )
    ifetch.add_argument("--source", required=True, choices=("akshare", "baostock"))
    ifetch.add_argument(
        "--symbols", help="baostock: only these, with dated ST and suspension periods"
    )
    ifetch.add_argument("--start", help="baostock --symbols: first day of the periods")
    ils = _command(isub, "ls", _instruments_ls, "list the instrument master")
    ils.add_argument("--exchange", help="only this exchange (XSHG, XSHE, BJSE, ...)")


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Any,
    help: str,
    *positional: str,
) -> argparse.ArgumentParser:
    """A ``data`` subcommand that runs ``func``: its ``positional`` arguments and ``--json``."""
    p = sub.add_parser(name, help=help)
    for arg in positional:
        p.add_argument(arg)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=func)
    return p


def _columns(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise ConfigError(f"--columns: expected field=NAME pairs, got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _ingest(args: argparse.Namespace) -> int:
    from easyquant import status
    from easyquant.data.request import parse_request
    from easyquant.db import ensure_ready

    settings = get_settings()
    request = parse_request(
        {
            "source": args.source,
            "symbols": args.symbols,
            "path": args.path,
            "symbol": args.symbol,
            "format": args.format,
            "columns": _columns(args.columns),
            "tz": args.tz,
            "start": args.start,
            "end": args.end,
            "freq": args.freq,
            "calendar": args.calendar,
            "full": args.full,
            "policy": args.policy,
            "seed": args.seed,
            "exchange": args.exchange,
        }
    )
    request.make_source(settings)  # a source that cannot be built fails before anything runs
    ensure_ready(settings)
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=1000, unit="‰", desc="ingest", leave=False)
    name = f"ingest {args.source} {args.freq}"
    with status.track("etl", name, heartbeat_interval=10) as job:

        def progress(frac: float, message: str, metrics: dict[str, Any]) -> None:
            job.progress(frac, message, **metrics)
            if bar is not None:
                bar.n = int(frac * 1000)
                bar.set_postfix_str(message)
                bar.refresh()

        try:
            result = request.run(settings, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        summary = result.to_dict()
        quality = {
            s: {k: r[k] for k in ("status", "rows_read", "rows_stored", "rows_rejected")}
            | {"missing_bars": r["gaps"].get("missing_bars", 0)}
            for s, r in summary["symbols"].items()
        }
        job.metrics(**summary["totals"], ingest_id=result.ingest_id, quality=quality)
        t = summary["totals"]
        job.message(f"{t['rows_stored']} rows stored, {t['rows_rejected']} rejected")
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(
            f"ingest {result.ingest_id}: {t['symbols']} symbols, read {t['rows_read']}, "
            f"skipped {t['rows_skipped']} already stored, stored {t['rows_stored']}, "
            f"rejected {t['rows_rejected']}, missing bars {t['gaps']} "
            f"({summary['seconds']} s)"
        )
        for sym, rep in summary["symbols"].items():
            if "already_stored" in rep["warnings"]:
                print(
                    f"{sym}: nothing to fetch, already stored ({rep['warnings']['already_stored']})"
                )
        if result.quarantine_path:
            print(f"quarantined rows: {result.quarantine_path}")
    return 0


def _ls(args: argparse.Namespace) -> int:
    from easyquant.data import catalog
    from easyquant.db import ensure_ready

    settings = ensure_ready(get_settings())
    rows = catalog.list_entries(settings, args.freq)
    if args.json:
        print(json.dumps({"entries": rows}, default=str))
        return 0
    print(
        f"{'symbol':<12} {'freq':<5} {'calendar':<8} {'first':<25} {'last':<25} "
        f"{'rows':>10}  checksum"
    )
    for r in rows:
        print(
            f"{r['symbol']:<12} {r['freq']:<5} {r['calendar'] or '':<8} "
            f"{r['first_ts'].isoformat():<25} {r['last_ts'].isoformat():<25} "
            f"{r['rows']:>10}  {r['checksum'][:12]}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from easyquant.data import load_bars

    settings = get_settings()
    if args.adjust:
        from easyquant.db import ensure_ready

        ensure_ready(settings)
    df = load_bars(
        [args.symbol], args.freq, args.start, args.end, settings=settings, adjust=args.adjust
    )[args.symbol]
    if args.json:
        out = df.reset_index()
        out["timestamp"] = out["timestamp"].map(lambda t: t.isoformat())
        out = out.astype(object).where(out.notna(), None)  # a day without published limits
        print(
            json.dumps(
                {"symbol": args.symbol, "freq": args.freq, "bars": out.to_dict(orient="records")}
            )
        )
        return 0
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_rows", args.rows):
        print(
            df
            if len(df) <= args.rows
            else pd.concat([df.head(args.rows // 2), df.tail(args.rows // 2)])
        )
    print(f"{len(df)} bars")
    return 0


def _actions(args: argparse.Namespace) -> int:
    from easyquant.data import catalog
    from easyquant.data.adjust import read_actions
    from easyquant.db import ensure_ready

    settings = ensure_ready(get_settings())
    n = catalog.store_actions(settings, read_actions(args.path))
    print(json.dumps({"stored": n}) if args.json else f"stored {n} corporate actions")
    return 0


def _instruments_load(args: argparse.Namespace) -> int:
    from easyquant.data import instruments
    from easyquant.db import ensure_ready

    rows = instruments.read_csv(args.path)
    settings = ensure_ready(get_settings())
    n = instruments.store(settings, rows, source="csv", origin=str(args.path))
    print(json.dumps({"stored": n}) if args.json else f"stored {n} instruments")
    return 0


def _instruments_fetch(args: argparse.Namespace) -> int:
    import datetime as dt

    from easyquant.data import instruments
    from easyquant.data.vendors import make_vendor
    from easyquant.db import ensure_ready

    src: Any = make_vendor(args.source)
    if args.source == "baostock" and args.symbols:
        start = dt.date.fromisoformat(args.start) if args.start else None
        rows = src.instruments(symbols=args.symbols.split(","), start=start)
    else:
        rows = src.instruments()
    settings = ensure_ready(get_settings())
    n = instruments.store(settings, rows, source=args.source, origin=args.source)
    print(json.dumps({"stored": n}) if args.json else f"stored {n} instruments from {args.source}")
    return 0


def _instruments_ls(args: argparse.Namespace) -> int:
    from easyquant.data import instruments
    from easyquant.db import ensure_ready

    settings = ensure_ready(get_settings())
    rows = instruments.list_instruments(settings, args.exchange)
    if args.json:
        print(json.dumps({"instruments": rows}))
        return 0
    print(
        f"{'symbol':<12} {'exchange':<8} {'board':<8} {'cur':<4} {'lot':>6} {'min':>6} "
        f"{'tick':>6}  {'listed':<10}  {'ST':<3} name"
    )
    for r in rows:
        st = "yes" if any(p["end"] is None for p in r["st"]) else ""
        print(
            f"{r['symbol']:<12} {r['exchange']:<8} {r['board']:<8} {r['currency']:<4} "
            f"{r['lot']:>6g} {r['min_order']:>6g} {r['tick']:>6g}  {r['listed'] or '':<10}  "
            f"{st:<3} {r['name']}"
        )
    print(f"{len(rows)} instruments")
    return 0
