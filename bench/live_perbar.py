"""Live per-bar cost against the session's age: does a decision cost more after 40,000 bars
than after 1,000?

Seeded synthetic one-minute bars (24/7, one symbol) are replayed bar by bar through

- the decision path a live session runs per bar: append the bar to the history, decide
  (``strategy.incremental.Decider``), for a per-bar strategy (``opening_range_breakout``,
  ``next()``) and a vectorised built-in (``sma_cross``, over its declared window);
- the same decisions computed the way a session did before (over the whole history, as
  ``Strategy.decisions`` does), sampled at a few bars only, for scale;
- with ``--service``, the whole live loop (guard, decision, orders, paper broker, every bar,
  order and fill stored in PostgreSQL) for both strategies.

The per-bar cost "after N bars" is the median over the 500 bars following bar N. Three runs;
reported: each figure's median and range, and the ratio end / start (target: at most 1.5).

Usage: ``python bench/live_perbar.py [--bars 42000] [--runs 3] [--service] [--out
bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STRATEGIES = {
    "opening_range_breakout": (
        "next()",
        {"range_bars": 30, "exit_bar": 380, "utc_offset_hours": 0},
    ),
    "sma_cross": ("vectorised", {"fast": 10, "slow": 30}),
}
MARKS = (1_000, 40_000)
HEADING = "## Live: per-bar cost against the session's age (`bench/live_perbar.py`)"
SPAN = 500


def minute_bars(n: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[100.0, close[:-1]]
    spread = np.abs(rng.normal(0, 0.0005, n))
    idx = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + spread),
            "low": np.minimum(open_, close) * (1 - spread),
            "close": close,
            "volume": rng.integers(1, 1000, n).astype(float),
        },
        index=idx,
    )


def at_marks(per_bar: np.ndarray) -> list[float]:
    """Median cost (µs) over the SPAN bars after each mark."""
    return [float(np.median(per_bar[m : m + SPAN])) * 1e6 for m in MARKS]


def decision_path(name: str, params: dict[str, Any], events: list[Any]) -> np.ndarray:
    from easyquant.live.bars import History
    from easyquant.strategy import make_strategy
    from easyquant.strategy.incremental import Decider

    history = History(["X"])
    decider = Decider(make_strategy(name, params))
    decider.start(history.bars())
    out = np.empty(len(events))
    clock = time.perf_counter
    for i, ev in enumerate(events):
        t0 = clock()
        history.append(ev.ts, ev.bars)
        decider.decide(history.bars())
        out[i] = clock() - t0
    return out


def whole_history(name: str, params: dict[str, Any], data: Any) -> list[float]:
    """The decision for bar N computed over bars 0..N (what a session did per bar before)."""
    from easyquant.strategy import make_strategy

    strat = make_strategy(name, params)
    out = []
    for m in MARKS:
        times = []
        for k in range(m, m + 5):
            t0 = time.perf_counter()
            strat.decisions(data[: k + 1]).row(k, data.symbols)
            times.append(time.perf_counter() - t0)
        out.append(float(np.median(times)) * 1e6)
    return out


class ListFeed:
    """The replayed bars, as fast as possible."""

    name = "list"
    paced = False

    def __init__(self, events: list[Any]) -> None:
        self._events = events

    def events(self, *, after: int | None, stop: threading.Event) -> Iterator[Any]:
        for ev in self._events:
            if after is None or ev.ts > after:
                ev.received = time.perf_counter()
                yield ev


def service_loop(name: str, params: dict[str, Any], events: list[Any], settings: Any) -> np.ndarray:
    from easyquant.live.service import LiveService, SessionConfig

    cfg = SessionConfig(
        session=f"pb-{name}-{time.time_ns()}",
        strategy=name,
        symbols=["X"],
        params=params,
        market="crypto",
        freq="1m",
        heartbeat=5.0,
        warmup=0,
    )
    svc = LiveService(cfg, settings, feed=ListFeed(events))
    out = np.empty(len(events))
    original = svc.handle
    k = [0]

    def timed(ev: Any) -> bool:
        t0 = time.perf_counter()
        ok = original(ev)
        out[k[0]] = time.perf_counter() - t0
        k[0] += 1
        return ok

    svc.handle = timed  # type: ignore[method-assign]
    svc.run()
    return out[: k[0]]


def summary(values: list[float]) -> str:
    return f"{np.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=42_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--service", action="store_true", help="also time the whole live loop")
    ap.add_argument("--out", type=Path, default=None, help="write the per-bar table here")
    args = ap.parse_args()
    if args.bars < MARKS[-1] + SPAN:
        ap.error(f"--bars: at least {MARKS[-1] + SPAN}")

    from easyquant import status
    from easyquant.live.bars import events_from_frames
    from easyquant.strategy import Bars

    frame = minute_bars(args.bars)
    data = Bars.from_frames({"X": frame})
    settings = cleanup = None
    if args.service:
        from bench._scratch import scratch_settings

        settings, cleanup = scratch_settings(
            Path(tempfile.mkdtemp(prefix="eqbench-perbar-")), "eq_bench_perbar"
        )
        status.set_default_writer(status.StatusWriter(settings))
    rows: dict[tuple[str, str], list[list[float]]] = {}
    try:
        for name, (_, params) in STRATEGIES.items():  # compile before timing
            decision_path(name, params, events_from_frames({"X": frame.iloc[:2000]}))
        for run in range(args.runs):
            for name, (_, params) in STRATEGIES.items():
                events = events_from_frames({"X": frame})
                rows.setdefault((name, "decision"), []).append(
                    at_marks(decision_path(name, params, events))
                )
                rows.setdefault((name, "whole history"), []).append(
                    whole_history(name, params, data)
                )
                if settings is not None:
                    events = events_from_frames({"X": frame})
                    rows.setdefault((name, "live loop"), []).append(
                        at_marks(service_loop(name, params, events, settings))
                    )
            print(f"run {run + 1} done", file=sys.stderr)
    finally:
        if cleanup is not None:
            cleanup()

    lines = [
        HEADING,
        "",
        f"`python bench/live_perbar.py --bars {args.bars} --runs {args.runs}"
        + (" --service" if args.service else "")
        + "`: seeded synthetic 1-minute bars of one symbol, replayed bar by bar. "
        f"Cost per bar in µs: the median over the {SPAN} bars after bar 1,000 and after bar "
        f"40,000; each cell the median of {args.runs} runs (range in brackets). "
        '"decision": append the bar and decide, as the live loop does now; "whole history": '
        "the same decision computed over every bar so far (what each bar cost before; sampled "
        'on 5 bars); "live loop": the service\'s whole per-bar handling (guard, decision, '
        "orders, paper broker, PostgreSQL). Machine: "
        f"{os.cpu_count()} shared CPUs, Python {platform.python_version()}; measured "
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC while other work shared the machine.",
        "",
        "| strategy | path | after 1,000 bars | after 40,000 bars | end / start |",
        "|---|---|---:|---:|---:|",
    ]
    for (name, path), runs in rows.items():
        kind = STRATEGIES[name][0]
        start = [r[0] for r in runs]
        end = [r[1] for r in runs]
        ratio = [b / a for a, b in zip(start, end, strict=True)]
        lines.append(
            f"| {name} ({kind}) | {path} | {summary(start)} | {summary(end)} | "
            f"**{np.median(ratio):.2f}x** ({min(ratio):.2f}-{max(ratio):.2f}) |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_subsection(args.out, text)


def write_subsection(path: Path, text: str) -> None:
    """Replace this section, or put it right after the ``## Live`` section the first time."""
    from bench.results import write_section

    doc = path.read_text()
    live = doc.find("## Live\n")
    if HEADING in doc or live < 0:
        write_section(path, text)
        return
    end = doc.find("\n## ", live + 1)
    end = len(doc) if end < 0 else end + 1
    path.write_text(doc[:end].rstrip("\n") + "\n\n" + text + "\n" + doc[end:])


if __name__ == "__main__":
    main()
