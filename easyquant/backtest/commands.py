"""``easyquant backtest | sweep | walkforward | report``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from easyquant.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    bt = sub.add_parser("backtest", help="backtest a strategy on the lake")
    _common(bt)
    bt.add_argument(
        "--check-lookahead",
        action="store_true",
        help="rerun on truncated histories; fail if an earlier decision changes",
    )
    bt.add_argument("--lookahead-cuts", type=int, default=20, help="truncated runs (default 20)")
    bt.set_defaults(func=_backtest)

    sw = sub.add_parser("sweep", help="grid or random search over strategy parameters")
    _common(sw)
    _grid(sw)
    sw.add_argument(
        "--random",
        type=int,
        default=None,
        metavar="N",
        help="try N random points of the grid instead of all",
    )
    sw.add_argument("--seed", type=int, default=0)
    sw.add_argument("--top", type=int, default=10, help="points to print (default 10)")
    sw.set_defaults(func=_sweep)

    wf = sub.add_parser("walkforward", help="rolling in-sample optimisation, out-of-sample test")
    _common(wf)
    _grid(wf)
    wf.add_argument("--in-sample", type=int, required=True, help="in-sample bars per window")
    wf.add_argument("--out-of-sample", type=int, required=True, help="out-of-sample bars")
    wf.add_argument("--step", type=int, default=None, help="bars between windows")
    wf.set_defaults(func=_walkforward)

    rp = sub.add_parser("report", help="write a self-contained HTML report of a stored run")
    rp.add_argument("run_id")
    rp.add_argument("--out", type=Path, default=None, help="output file (default RUN_ID.html)")
    rp.add_argument("--lang", default="en", help="report language: en (English) or zh (简体中文)")
    rp.set_defaults(func=_report)


#: Request fields every backtest command takes as ``--name`` options (the model checks them).
FIELDS = (
    "strategy",
    "symbols",
    "start",
    "end",
    "freq",
    "market",
    "cash",
    "commission",
    "min_commission",
    "stamp_duty",
    "slippage_bps",
    "max_volume_fraction",
    "fill",
    "benchmark",
    "rank_by",
)


def _common(p: argparse.ArgumentParser) -> None:
    """Add the request's fields as options: their help and defaults come from the model."""
    from easyquant.backtest.request import BacktestRequest

    for name in FIELDS:
        field = BacktestRequest.model_fields[name]
        default = "" if field.is_required() or field.default is None else f" ({field.default})"
        p.add_argument(
            "--" + name.replace("_", "-"),
            required=field.is_required(),
            default=None,
            help=f"{field.description}{default}",
        )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter (repeatable)",
    )
    p.add_argument("--no-store", action="store_true", help="do not store results")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _grid(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2|START:STOP:STEP",
        help="parameter values to search (repeatable)",
    )


def _request(args: argparse.Namespace, *, search: bool = False) -> Any:
    """Return the command line's :class:`BacktestRequest` (ConfigError naming the field)."""
    from easyquant.backtest.request import BacktestRequest

    raw: dict[str, Any] = {name: getattr(args, name) for name in FIELDS}
    raw["params"] = args.param
    if search:
        if not args.grid:
            raise ConfigError("--grid: give at least one NAME=VALUES")
        raw["grid"] = args.grid
        raw["random"] = getattr(args, "random", None)
        raw["seed"] = getattr(args, "seed", None)
    if getattr(args, "in_sample", None) is not None:
        raw["walkforward"] = {
            "in_sample": args.in_sample,
            "out_of_sample": args.out_of_sample,
            "step": args.step,
        }
    return BacktestRequest.parse(raw)


def _settings(args: argparse.Namespace) -> Any:
    if args.no_store:
        return None
    from easyquant.config import get_settings
    from easyquant.db import ensure_ready

    return ensure_ready(get_settings())


def _dump(obj: Any) -> None:
    print(json.dumps(obj, default=str, allow_nan=False, indent=None))


def _backtest(args: argparse.Namespace) -> int:
    from easyquant.backtest.service import execute

    req = _request(args)
    settings = _settings(args)
    res = execute(
        req,
        settings=settings,
        store=not args.no_store,
        lookahead=args.check_lookahead,
        lookahead_cuts=args.lookahead_cuts,
    )
    if args.json:
        _dump(res.to_json())
    else:
        m = res.metrics
        print(
            f"run {res.run_id}: {req.label} final equity "
            f"{res.final_equity:,.2f}, return {m['total_return']:.2%}, sharpe "
            f"{_f(m['sharpe'])}, max drawdown {m['max_drawdown']:.2%}, trades {m['trades']}"
        )
        if args.check_lookahead:
            print("look-ahead check: passed")
    return 0


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _sweep(args: argparse.Namespace) -> int:
    from easyquant.backtest.service import execute_sweep

    req = _request(args, search=True)
    settings = _settings(args)
    run_id, ranked = execute_sweep(
        req,
        settings=settings,
        store=not args.no_store,
        show_progress=not args.json,
    )
    top = ranked[: max(1, args.top)]
    if args.json:
        _dump(
            {
                "run_id": run_id if not args.no_store else None,
                "rank_by": req.rank_by,
                "points": len(ranked),
                "results": [
                    {"rank": i + 1, "params": r.params, "metrics": r.metrics}
                    for i, r in enumerate(top)
                ],
            }
        )
    else:
        print(f"sweep {run_id}: {len(ranked)} points ranked by {req.rank_by}")
        for i, r in enumerate(top):
            print(
                f"{i + 1:>4}  {r.params}  {req.rank_by}={_f(r.metrics.get(req.rank_by))}"
                f"  return={r.metrics['total_return']:.2%}"
            )
    return 0


def _walkforward(args: argparse.Namespace) -> int:
    from easyquant.backtest.service import execute_walkforward

    req = _request(args, search=True)
    settings = _settings(args)
    run_id, windows, summary = execute_walkforward(
        req,
        settings=settings,
        store=not args.no_store,
        show_progress=not args.json,
    )
    rows = [
        {
            "window": w.index,
            "in_sample": [str(w.in_sample[0]), str(w.in_sample[1])],
            "out_of_sample": [str(w.out_of_sample[0]), str(w.out_of_sample[1])],
            "params": w.params,
            "in_sample_metrics": w.in_sample_metrics,
            "out_of_sample_metrics": w.out_of_sample_metrics,
        }
        for w in windows
    ]
    if args.json:
        _dump(
            {
                "run_id": run_id if not args.no_store else None,
                "windows": rows,
                "out_of_sample": summary,
            }
        )
    else:
        print(f"walk-forward {run_id}: {len(windows)} windows")
        for w in windows:
            m = w.out_of_sample_metrics
            print(
                f"  {w.out_of_sample[0].date()}..{w.out_of_sample[1].date()}  {w.params}  "
                f"oos return={m['total_return']:.2%} sharpe={_f(m['sharpe'])}"
            )
        print(
            f"out of sample: return {summary['total_return']:.2%}, sharpe "
            f"{_f(summary['sharpe'])}, max drawdown {summary['max_drawdown']:.2%}"
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from easyquant.backtest import tearsheet
    from easyquant.backtest.report import write_report
    from easyquant.backtest.report_text import check_lang
    from easyquant.config import get_settings
    from easyquant.db import connect, ensure_ready

    try:
        lang = check_lang(args.lang)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings = ensure_ready(get_settings())
    conn = connect(settings)
    try:
        model = tearsheet.load(conn, args.run_id, settings)
    finally:
        conn.close()
    out = write_report(model, args.out or Path(f"{args.run_id}.html"), lang=lang)
    print(f"report written: {out}", file=sys.stdout)
    return 0
