"""Run one backtest: ``run_backtest(strategy, data, config)`` -> :class:`BacktestResult`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from easyquant.backtest.config import BacktestConfig
from easyquant.backtest.metrics import compute_metrics, periods_per_year
from easyquant.backtest.simulation import Prepared, Simulation
from easyquant.errors import ConfigError
from easyquant.strategy.base import Bars, Decisions, Strategy
from easyquant.strategy.registry import make_strategy

DataLike = Bars | Mapping[str, pd.DataFrame] | pd.DataFrame


def as_bars(data: DataLike) -> Bars:
    """Return ``data`` as aligned :class:`Bars` (DataError naming a bad symbol)."""
    return data if isinstance(data, Bars) else Bars.from_frames(data)


@dataclass(eq=False)
class BacktestResult:
    """One run's outcome: equity curve, trades, fills, metrics and the decisions behind them."""

    strategy: Strategy
    data: Bars
    config: BacktestConfig
    decisions: Decisions
    sim: Simulation
    metrics: dict[str, Any]
    run_id: str | None = None

    @property
    def final_equity(self) -> float:
        return self.sim.final_equity

    @cached_property
    def equity(self) -> pd.Series:
        return pd.Series(self.sim.equity, index=self.sim.index, name="equity")

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Return trades (closed and still open) as a DataFrame, one row per round trip."""
        tr = self.sim.trades
        idx = self.sim.index
        exit_bar = tr["exit_bar"]
        exit_time = (
            pd.Series([idx[b] if b >= 0 else pd.NaT for b in exit_bar], dtype="datetime64[ns, UTC]")
            if len(exit_bar)
            else pd.Series([], dtype="datetime64[ns, UTC]")
        )
        return pd.DataFrame(
            {
                "symbol": [self.sim.symbols[s] for s in tr["symbol"]],
                "entry_bar": tr["entry_bar"],
                "entry_time": idx[tr["entry_bar"]] if len(exit_bar) else pd.DatetimeIndex([]),
                "entry_price": tr["entry_price"],
                "exit_bar": exit_bar,
                "exit_time": exit_time.to_numpy(),
                "exit_price": tr["exit_price"],
                "quantity": tr["quantity"],
                "pnl": tr["pnl"],
                "fees": tr["fees"],
                "open": exit_bar < 0,
            }
        )

    @cached_property
    def fills(self) -> pd.DataFrame:
        f = self.sim.fills
        return pd.DataFrame(
            {
                "time": self.sim.index[f["bar"]],
                "bar": f["bar"],
                "symbol": [self.sim.symbols[s] for s in f["symbol"]],
                "quantity": f["quantity"],
                "price": f["price"],
                "fees": f["fees"],
            }
        )

    def trades_json(self) -> list[dict[str, Any]]:
        """Return trades as plain JSON-able dicts."""
        out = []
        row: Any
        for row in self.trades.itertuples(index=False):
            out.append(
                {
                    "symbol": row.symbol,
                    "entry_time": row.entry_time.isoformat(),
                    "entry_price": float(row.entry_price),
                    "exit_time": None if row.open else pd.Timestamp(row.exit_time).isoformat(),
                    "exit_price": None if row.open else float(row.exit_price),
                    "quantity": float(row.quantity),
                    "pnl": float(row.pnl),
                    "open": bool(row.open),
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the summary the CLI prints with ``--json``."""
        return {
            "run_id": self.run_id,
            "strategy": self.strategy.name,
            "params": self.strategy.param_values,
            "symbols": self.sim.symbols,
            "final_equity": self.final_equity,
            "metrics": self.metrics,
            "rejected_orders": self.sim.rejects,
            "trades": self.trades_json(),
        }


def evaluate(
    strategy: Strategy,
    prep: Prepared,
    benchmark: np.ndarray | None,
    ppy: float,
    *,
    benchmark_stats: np.ndarray | None = None,
) -> tuple[Decisions, Simulation, dict[str, Any]]:
    """Run ``strategy`` on prepared data; return decisions, simulation and metrics.

    ``benchmark`` is the benchmark's closes; ``benchmark_stats`` (their ``bench_stats``) saves
    recomputing them per run.
    The metrics come from the fill loop's running statistics: no equity curve is built unless
    the simulation's ``equity`` is read.
    """
    decisions = strategy.decisions(prep.data)
    sim = prep.run(
        decisions,
        strategy.sizing,
        benchmark_close=benchmark,
        benchmark_stats=benchmark_stats,
    )
    closed = sim.trades["exit_bar"] >= 0
    traded = float(np.abs(sim.fills["quantity"] * sim.fills["price"]).sum())
    metrics = compute_metrics(
        None,
        prep.data.index.asi8,
        trade_pnl=sim.trades["pnl"][closed],
        traded_value=traded,
        held=None,
        ppy=ppy,
        stats=sim.stats,
    )
    return decisions, sim, metrics


def benchmark_close(
    data: Bars, config: BacktestConfig, benchmark: pd.Series | np.ndarray | None = None
) -> np.ndarray:
    """Return benchmark closes aligned to ``data`` (default: the first symbol's close)."""
    if benchmark is not None:
        if isinstance(benchmark, pd.Series):
            idx = pd.DatetimeIndex(benchmark.index)
            idx = idx if idx.tz else idx.tz_localize("UTC")
            s = pd.Series(benchmark.to_numpy(np.float64), index=idx)
            return s.reindex(data.index).ffill().to_numpy()
        arr = np.asarray(benchmark, dtype=np.float64)
        if arr.shape != (len(data),):
            raise ConfigError(f"benchmark: expected {len(data)} values, got {arr.shape}")
        return arr
    sym = config.benchmark or data.symbols[0]
    if sym not in data.symbols:
        raise ConfigError(f"benchmark {sym!r}: not among the symbols; load it and pass it in")
    return np.ascontiguousarray(data.close[:, data.symbols.index(sym)])


def run_backtest(
    strategy: Strategy | str,
    data: DataLike,
    config: BacktestConfig | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    benchmark: pd.Series | np.ndarray | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` (an instance, or a name / import path with ``params``) on ``data``."""
    if isinstance(strategy, str):
        strategy = make_strategy(strategy, dict(params or {}))
    elif params:
        strategy = type(strategy)(**{**strategy.param_values, **params})
    config = config or BacktestConfig()
    bars = as_bars(data)
    prep = Prepared(bars, config)
    bench = benchmark_close(bars, config, benchmark)
    ppy = periods_per_year(bars.index.asi8, config.market.periods_per_year)
    decisions, sim, metrics = evaluate(strategy, prep, bench, ppy)
    return BacktestResult(strategy, bars, config, decisions, sim, metrics)
