"""A stored run (as ``queries.load_run`` returns it) made from seeded random returns, for the
tearsheet tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def stored_run(
    n: int = 800, seed: int = 7, freq: str = "1d", kind: str = "backtest"
) -> tuple[dict[str, Any], pd.Series]:
    """Return (stored run, benchmark closes): a daily curve of ``n`` business days with three
    trades (the last one open) and a correlated benchmark."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2019-01-02", periods=n, tz="UTC").as_unit("ns")
    rb = rng.normal(0.0003, 0.012, n)
    r = 0.6 * rb + rng.normal(0.0009, 0.008, n)
    r[0] = rb[0] = 0.0
    equity = pd.Series(100_000 * np.cumprod(1 + r), index=idx, name="equity")
    bench = pd.Series(40 * np.cumprod(1 + rb), index=idx)
    a, b, c, d = (5, 100, 200, 300) if n >= 400 else (1, n // 4, n // 2, 3 * n // 4)
    trades = pd.DataFrame(
        {
            "run_id": "r1",
            "seq": [0, 1, 2],
            "symbol": ["AAA", "AAA", "AAA"],
            "entry_time": [idx[a], idx[c], idx[n - n // 16]],
            "entry_price": [40.0, 45.0, 50.0],
            "exit_time": [idx[b], idx[d], None],
            "exit_price": [44.0, 42.0, None],
            "quantity": [1000.0, 800.0, 500.0],
            "pnl": [4000.0, -2400.0, 0.0],
            "fees": [5.0, 5.0, 2.5],
        }
    )
    run = {
        "id": "r1",
        "kind": kind,
        "strategy": "sma_cross",
        "symbols": ["AAA"],
        "market": "us",
        "freq": freq,
        "state": "success",
        "error": None,
        "config": {
            "cash": 100_000.0,
            "benchmark": "AAA",
            "market": {"commission": 0.001, "min_commission": 1.0, "slippage_bps": 5.0},
        },
    }
    stored = {
        "run": run,
        "params": {"fast": 10},
        "equity": equity,
        "trades": trades,
        "children": [],
    }
    return stored, bench
