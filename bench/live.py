"""Live trading benchmark: bar-to-order latency and sustained replay throughput, persistence on.

A replay session as fast as possible (the paper broker, every order written ahead to
PostgreSQL, fills and positions stored as they happen, every bar and equity point stored) over
seeded synthetic one-minute bars. Reported:

- bars/s: symbol-bars processed per second of the replay loop (start-up excluded), and
  timestamps/s; the same session's bars through the backtester, measured in the same run, for
  scale.
- bar-to-order latency: from the feed handing over a bar to the venue's acknowledgement of the
  order it caused (sizing, risk check, write-ahead, the venue's transaction), p50 / p99.
- a database round trip (``SELECT 1``) on the same server, for scale.

Usage: ``python bench/live.py [--days 20] [--symbols 2] [--out bench/RESULTS.md]``. Uses the
server in EASYQUANT_DATABASE_URL (a scratch database on it) or an embedded one in a temp dir.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=20, help="trading days of 1m bars (default 20)")
    ap.add_argument("--symbols", type=int, default=2)
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=30)
    ap.add_argument("--out", type=Path, default=None, help="write the ## Live section here")
    args = ap.parse_args()

    from bench._scratch import scratch_settings
    from easyquant import status
    from easyquant.backtest.config import BacktestConfig
    from easyquant.backtest.runner import run_backtest
    from easyquant.data import make_source
    from easyquant.data.ingest import ingest
    from easyquant.execution.market import get_profile
    from easyquant.live.bars import History
    from easyquant.live.journal import Store
    from easyquant.live.service import LiveService, SessionConfig

    home = Path(tempfile.mkdtemp(prefix="eqbench-live-"))
    settings, cleanup = scratch_settings(home, "eq_bench_live")
    external = bool(os.environ.get("EASYQUANT_DATABASE_URL"))
    status.set_default_writer(status.StatusWriter(settings))
    symbols = [f"S{i:02d}" for i in range(args.symbols)]
    import pandas as pd

    start = pd.Timestamp("2024-01-02")
    end = start + pd.offsets.BDay(args.days + 3)
    ingest(
        make_source("synthetic", calendar="XNYS", seed=7),
        freq="1m",
        symbols=symbols,
        start=str(start.date()),
        end=str(end.date()),
        settings=settings,
        full=True,
    )

    def session(name: str, **kw: object) -> LiveService:
        cfg = SessionConfig(
            session=name,
            strategy="sma_cross",
            symbols=symbols,
            params={"fast": args.fast, "slow": args.slow},
            freq="1m",
            commission=0.0005,
            heartbeat=5.0,
            **kw,
        )  # type: ignore[arg-type]
        return LiveService(cfg, settings)

    # warm-up: compile the strategy's and the fill model's numba functions
    session("warmup", end=str((start + pd.offsets.BDay(1)).date())).run()

    svc = session("bench")
    loop_start = {}
    original = svc.handle

    def timed(ev):  # type: ignore[no-untyped-def]
        loop_start.setdefault("t", time.perf_counter())
        return original(ev)

    svc.handle = timed  # type: ignore[method-assign]
    svc.run()
    loop = time.perf_counter() - loop_start["t"]
    n_ts = svc.bars_done
    store = Store(settings, "bench")
    store.connect()
    hist = History(symbols)
    hist.extend(store.load_events())
    n_bars = sum(int(np.isfinite(hist.bars().close[:, j]).sum()) for j in range(len(symbols)))
    orders = store.exec("SELECT count(*) FROM live_order WHERE session = 'bench'", fetch=True)[0][0]
    fills = store.exec("SELECT count(*) FROM live_fill WHERE session = 'bench'", fetch=True)[0][0]
    rt = []
    for _ in range(2000):
        t = time.perf_counter()
        store.exec("SELECT 1", fetch=True)
        rt.append(time.perf_counter() - t)
    store.close()
    lat = np.array(svc.om.latencies) * 1e3
    data = hist.bars()
    run_backtest("sma_cross", data[:200], BacktestConfig(), params={"fast": 2, "slow": 5})  # JIT
    t = time.perf_counter()
    bt = run_backtest(
        "sma_cross",
        data,
        BacktestConfig(cash=100_000.0, market=get_profile("us", commission=0.0005)),
        params={"fast": args.fast, "slow": args.slow},
    )
    bt_s = time.perf_counter() - t
    same = len(bt.sim.fills["bar"]) == fills and abs(bt.final_equity - svc.last_equity) < 1e-6
    cleanup()

    p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
    rt50, rt99 = float(np.percentile(rt, 50)) * 1e3, float(np.percentile(rt, 99)) * 1e3
    rate = n_bars / loop
    lines = [
        "## Live",
        "",
        f"`python bench/live.py --days {args.days} --symbols {args.symbols} --out "
        "bench/RESULTS.md`: a replay session as fast as possible through the whole live path "
        "(guard, history, the unchanged `sma_cross` strategy "
        f"({args.fast}/{args.slow}) deciding over its {args.slow}-bar window at every bar, order "
        "manager, "
        "risk checks, paper broker with its own ledger), persistence on: every order written "
        "ahead, every fill, position, bar and equity point stored in PostgreSQL. Seeded "
        f"synthetic 1-minute bars, {len(symbols)} symbols x {args.days}+ XNYS sessions. "
        f"Machine: {os.cpu_count()} shared CPUs, Python {platform.python_version()}, database "
        f"{'server from EASYQUANT_DATABASE_URL' if external else 'embedded'}; measured "
        f"{time.strftime('%Y-%m-%d')} while other work shared the machine.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| symbol-bars replayed | {n_bars:,} ({n_ts:,} timestamps) |",
        f"| orders / fills | {orders:,} / {fills:,} |",
        f"| replay loop | {loop:.2f} s |",
        f"| **sustained bars/s** (symbol-bars) | **{rate:,.0f}** |",
        f"| timestamps/s | {n_ts / loop:,.0f} |",
        f"| **bar-to-order latency p50 / p99** | **{p50:.2f} / {p99:.2f} ms** |",
        f"| database round trip (SELECT 1) p50 / p99 | {rt50:.3f} / {rt99:.3f} ms |",
        f"| the same bars through the backtester | {bt_s:.3f} s "
        f"({n_bars / bt_s:,.0f} bars/s, {loop / bt_s:,.0f}x faster than live) |",
        f"| live fills and final equity equal the backtest's | {'yes' if same else 'NO'} |",
        "",
        f"Targets (p99 < 5 ms; > 2,000 bars/s): latency **{'met' if p99 < 5 else 'missed'}**, "
        f"throughput **{'met' if rate > 2000 else 'missed'}** in this run. Latency covers "
        "sizing, the risk check, the write-ahead transaction and the venue's transaction "
        "(the paper venue shares the database, so both commit asynchronously: one write-ahead "
        "log orders them; an external venue gets a durable write-ahead). Bars are stored in "
        "groups when replaying as fast as possible (at most 100 bars or 20 ms, and at once "
        "when a target is pending, so an order's write-ahead carries no bars; orders and "
        "fills never wait), one by one at a real-time pace.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        from bench.results import write_section

        write_section(args.out, text)


if __name__ == "__main__":
    main()
