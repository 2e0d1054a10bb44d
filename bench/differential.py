"""Differential check: this tree's backtest engine against a reference commit's, setup by setup.

The reference engine is extracted with ``git archive <ref> easyquant`` into a scratch directory
and run in a subprocess with that directory first on ``PYTHONPATH``; this tree's engine runs in
another subprocess the same way. The decisions are made once, by this tree's strategies, and
both engines execute them (a change to a strategy is not the engine's); both run the same
worker (this file, ``--worker``) over the same setups: markets us / cn / crypto, both fill
modes, several cash levels, 1 to 3 symbols, every built-in strategy, scripted limit, stop
and share-sized orders, data with and without gaps (bars missing per symbol, opening gaps).
For each setup the fills, trades, rejection counts, final cash, lowest cash, final positions,
equity curve and held flags must be bit-identical.

A setup may differ by design only where a limit or stop order rested: it did not fill at its
first try and kept working at the venue with the quantity it was sent with (the reference
re-sized it at every bar). Those setups are listed with the orders that rested; any other
difference fails the check (exit status 1).

Usage: ``python bench/differential.py [--ref 870d6e9] [--seeds 2] [--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from results import write_section

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ("us", "cn", "crypto")
FILLS = ("next_open", "close")
CASHES = (100_000.0, 3_000.0, 15.0)
SYMBOL_COUNTS = (1, 2, 3)
# (strategy, params, intraday data); "orders:*" are the scripted strategies of the worker
STRATEGIES: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("sma_cross", {"fast": 3, "slow": 12}, False),
    ("sma_trend", {"fast": 2, "slow": 5}, False),
    ("momentum_rotation", {"lookback": 10, "top": 2, "rebalance": 5}, False),
    ("bollinger_reversion", {"window": 10, "k": 1.0}, False),
    ("opening_range_breakout", {"range_bars": 6, "exit_bar": 40, "utc_offset_hours": 0.0}, True),
    ("orders:limit", {}, False),
    ("orders:stop", {}, False),
    ("orders:mixed", {}, False),
    ("orders:shares", {}, False),
)


def setups(seeds: int) -> list[dict[str, Any]]:
    """Return every setup as a plain dict (the same list for both engines)."""
    out = []
    grid = itertools.product(
        MARKETS, FILLS, CASHES, SYMBOL_COUNTS, STRATEGIES, (False, True), range(seeds)
    )
    for market, fill, cash, nsym, (name, params, intraday), gapped, seed in grid:
        if seed > 0 and not name.startswith("orders:"):
            continue  # built-ins are deterministic in the data: more seeds only for orders
        out.append(
            {
                "id": len(out),
                "market": market,
                "fill": fill,
                "cash": cash,
                "nsym": nsym,
                "strategy": name,
                "params": params,
                "intraday": intraday,
                "gapped": gapped,
                "seed": seed,
            }
        )
    return out


# ----- the worker: runs with either engine on the path ---------------------------------------
def make_frame(n: int, seed: int, freq: str, vol: float, gapped: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.0002, vol, n)))
    open_ = np.empty(n)
    open_[0] = 20.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0, vol / 3, n - 1))
    if gapped:  # opening gaps of a few percent now and then
        jump = rng.random(n) < 0.05
        open_ *= np.where(jump, np.exp(rng.normal(0, 4 * vol, n)), 1.0)
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    idx = pd.date_range("2021-01-04", periods=n, freq=freq, tz="UTC", name="timestamp")
    df = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1e5}, index=idx
    )
    if gapped:  # bars missing (a nan after alignment)
        keep = rng.random(n) > 0.1
        keep[:3] = True
        df = df[keep]
    return df


def make_strategy(name: str, params: Mapping[str, Any], seed: int) -> Any:
    from easyquant.strategy.base import Param, Strategy, Target
    from easyquant.strategy.builtins import BUILTINS
    from easyquant.strategy.registry import make_strategy as builtin

    if name == "sma_cross" and "sma_trend" in BUILTINS:  # the old sma_cross is sma_trend now
        name = "sma_trend"
    if not name.startswith("orders:"):
        return builtin(name, dict(params))
    mode = name.split(":", 1)[1]

    class Scripted(Strategy):
        """Seeded decisions every few bars: limit orders a little below (buys) or above
        (sells) the close, stop orders the other way, market orders, or share targets."""

        name = f"scripted_{mode}"
        seed = Param(0)
        sizing = "shares" if mode == "shares" else "weight"

        def init(self, data: Any) -> None:
            self._rng = np.random.default_rng(int(self.seed) + 17)

        def next(self, t: int, data: Any) -> Any:
            rng = self._rng
            if rng.random() > 0.25:
                return None
            out: dict[str, Any] = {}
            for j, sym in enumerate(data.symbols):
                c = data.close[t, j]
                if c != c or rng.random() > 0.6:
                    continue
                if mode == "shares":
                    out[sym] = float(rng.choice([0.0, 10.0, 100.0, 250.0]))
                    continue
                w = float(rng.choice([0.0, 0.3, 0.5, 1.0 / len(data.symbols)]))
                kind = {"limit": "limit", "stop": "stop"}.get(mode) or str(
                    rng.choice(["market", "limit", "stop"])
                )
                if kind == "market":
                    out[sym] = w
                    continue
                off = float(rng.uniform(0.002, 0.03))
                below = (kind == "limit") == (w > 0)
                px = c * (1 - off) if below else c * (1 + off)
                out[sym] = Target(w, kind, round(px, 2))
            return out or None

    return Scripted(seed=seed)


def setup_data(setup: Mapping[str, Any]) -> Any:
    """The setup's seeded bars (numpy and pandas only: the same in both trees)."""
    from easyquant.strategy.base import Bars

    vol = 0.035 if setup["market"] == "cn" else 0.02  # cn: reaches the daily price limit
    freq = "15min" if setup["intraday"] else "B"
    n = 500 if setup["intraday"] else 300
    frames = {
        f"S{k}": make_frame(n, 100 * setup["seed"] + 7 * k + 1, freq, vol, setup["gapped"])
        for k in range(setup["nsym"])
    }
    return Bars.from_frames(frames)


def decide(setup: Mapping[str, Any]) -> tuple[Any, ...]:
    """The setup's decisions, by this tree's strategies: (target, kind, price, sizing)."""
    strat = make_strategy(setup["strategy"], setup["params"], setup["seed"])
    d = strat.decisions(setup_data(setup))
    return d.target, d.kind, d.price, strat.sizing


def run_one(setup: Mapping[str, Any], decided: tuple[Any, ...]) -> dict[str, Any]:
    """Execute the decisions with this process's engine."""
    from easyquant.backtest import BacktestConfig, get_profile
    from easyquant.strategy.base import Decisions

    try:
        from easyquant.backtest.simulation import Prepared
    except ImportError:  # the reference's layout
        from easyquant.backtest.engine import Prepared  # type: ignore[no-redef]

    cfg = BacktestConfig(
        cash=setup["cash"],
        market=get_profile(setup["market"], commission=0.001, slippage_bps=2.0),
        fill=setup["fill"],
    )
    target, kind, price, sizing = decided
    sim = Prepared(setup_data(setup), cfg).run(Decisions(target, kind, price), sizing)
    return {
        "fills": {k: np.asarray(v) for k, v in sim.fills.items()},
        "trades": {k: np.asarray(v) for k, v in sim.trades.items()},
        "rejects": dict(sim.rejects),
        "final_cash": float(sim.final_cash),
        "min_cash": float(sim.min_cash),
        "final_position": np.asarray(sim.final_position),
        "equity": np.asarray(sim.equity),
        "held": np.asarray(sim.held),
        "rested": int(getattr(sim, "rested", 0)),
    }


def worker(setups_file: Path, out_file: Path) -> None:
    """``out_file`` absent: decide every setup into it; else execute its decisions into
    ``out_file`` with a ``.out`` suffix."""
    items = json.loads(setups_file.read_text())
    if not out_file.exists():
        out_file.write_bytes(pickle.dumps({s["id"]: decide(s) for s in items}))
        return
    decided = pickle.loads(out_file.read_bytes())
    results = {}
    for s in items:
        try:
            results[s["id"]] = run_one(s, decided[s["id"]])
        except Exception as exc:  # recorded: a setup one engine refuses is a difference
            results[s["id"]] = {"error": f"{type(exc).__name__}: {exc}"}
    out_file.with_suffix(".out").write_bytes(pickle.dumps(results))


# ----- the comparison -----------------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind == "f":
            return bool(
                np.array_equal(
                    a.view(np.int64 if a.itemsize == 8 else np.int32),
                    b.view(np.int64 if b.itemsize == 8 else np.int32),
                )
            )
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return bool(a == b)


FIELDS = ("fills", "trades", "rejects", "final_cash", "min_cash", "final_position", "equity",
          "held")  # fmt: skip


def compare(items: list[dict[str, Any]], ref: dict[int, Any], new: dict[int, Any]) -> dict:
    identical: list[int] = []
    by_design: list[tuple[dict[str, Any], list[str], int]] = []
    failures: list[tuple[dict[str, Any], list[str]]] = []
    for s in items:
        a, b = ref[s["id"]], new[s["id"]]
        if "error" in a or "error" in b:
            failures.append((s, [f"error: ref {a.get('error')}, new {b.get('error')}"]))
            continue
        diff = [k for k in FIELDS if not _same(a[k], b[k])]
        # the reference does not count "rested"; new counters are not compared
        rej_a = {k: v for k, v in a["rejects"].items()}
        rej_b = {k: v for k, v in b["rejects"].items()}
        if "rejects" in diff and _same(rej_a, rej_b):
            diff.remove("rejects")
        if not diff:
            identical.append(s["id"])
        elif b["rested"] > 0:
            by_design.append((s, diff, b["rested"]))
        else:
            failures.append((s, diff))
    return {"identical": identical, "by_design": by_design, "failures": failures}


def _label(s: Mapping[str, Any]) -> str:
    return (
        f"#{s['id']} {s['market']} {s['fill']} cash {s['cash']:g} {s['nsym']} sym "
        f"{s['strategy']}{'' if not s['params'] else ' ' + json.dumps(s['params'])}"
        f"{' gapped' if s['gapped'] else ''} seed {s['seed']}"
    )


def run_engine(path: Path, items_file: Path, out: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(path))
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(items_file), str(out)],
        env=env,
        cwd=str(path),
        check=True,
    )
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--ref", default="870d6e9", help="the reference commit")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per scripted-order setup")
    ap.add_argument("--out", type=Path, default=None, help="write the ## Differential section")
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    items = setups(args.seeds)
    with tempfile.TemporaryDirectory(prefix="eq-diff-") as tmp:
        refdir = Path(tmp) / "ref"
        refdir.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.ref, "easyquant"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(refdir)], input=archive, check=True)
        items_file = Path(tmp) / "setups.json"
        items_file.write_text(json.dumps(items))
        decided = Path(tmp) / "decisions.pkl"
        run_engine(ROOT, items_file, decided)  # this tree's strategies decide, once
        t_ref = run_engine(refdir, items_file, decided)
        ref = pickle.loads(decided.with_suffix(".out").read_bytes())
        t_new = run_engine(ROOT, items_file, decided)
        new = pickle.loads(decided.with_suffix(".out").read_bytes())
    res = compare(items, ref, new)
    print(render(args.ref, items, res, t_ref, t_new, full=True))
    if args.out:
        write_section(args.out, render(args.ref, items, res, t_ref, t_new, full=False))
    return 1 if res["failures"] else 0


def render(
    ref: str, items: list[dict[str, Any]], res: dict, t_ref: float, t_new: float, *, full: bool
) -> str:
    """The report: every by-design setup when ``full``, else grouped by strategy."""
    n = len(items)
    only_rejects = sum(1 for _, diff, _ in res["by_design"] if diff == ["rejects"])
    lines = [
        "## Differential",
        "",
        f"`python bench/differential.py --ref {ref}`: this tree's engine against commit "
        f"{ref}'s, each in its own process, on the same decisions (this tree's strategies), "
        f"on {n:,} setups (markets {', '.join(MARKETS)}; "
        f"fills {', '.join(FILLS)}; cash {', '.join(f'{c:g}' for c in CASHES)}; 1-3 symbols; "
        "every built-in and scripted limit / stop / mixed / share-sized orders; with and "
        "without gaps). Compared bit for bit: fills, trades, rejections, final and lowest cash, "
        f"final positions, equity curve, held flags. Run time: reference {t_ref:.0f} s, this "
        f"tree {t_new:.0f} s (numba compiling included).",
        "",
        f"- bit-identical: **{len(res['identical']):,} of {n:,}**",
        f"- different by design (a limit or stop order rested): {len(res['by_design']):,}, "
        f"of which {only_rejects} only in rejection counts (a working order is tried, and "
        "counted, on bars the reference skipped: no price, or not triggered again)",
        f"- other differences: **{len(res['failures'])}**",
        "",
    ]
    if res["by_design"] and full:
        lines.append("Setups where resting orders changed the outcome (orders that rested):")
        lines.append("")
        for s, diff, rested in res["by_design"]:
            lines.append(f"- {_label(s)}: {rested} rested; differs in {', '.join(diff)}")
        lines.append("")
    elif res["by_design"]:
        groups: dict[str, list[int]] = {}
        for s, _, _ in res["by_design"]:
            groups.setdefault(s["strategy"], []).append(s["id"])
        lines.append(
            "Setups where resting orders changed the outcome, by strategy (setup numbers; the "
            "script prints each with its orders that rested and what differs):"
        )
        lines.append("")
        for name, ids in sorted(groups.items()):
            total = sum(1 for s in items if s["strategy"] == name)
            lines.append(f"- {name}: {len(ids)} of {total}: " + ", ".join(f"#{i}" for i in ids))
        lines.append("")
    if res["failures"]:
        lines.append("**Unexpected differences:**")
        lines.append("")
        for s, diff in res["failures"][:50]:
            lines.append(f"- {_label(s)}: {', '.join(diff)}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
