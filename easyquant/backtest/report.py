"""A self-contained HTML report of a stored run: summary, metrics, equity, drawdown and trade
charts as inline SVG (no scripts, no network)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

W, H, PAD = 900, 260, 40


def _path(x: np.ndarray, y: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> str:
    sx = (W - 2 * PAD) / ((x1 - x0) or 1.0)
    sy = (H - 2 * PAD) / ((y1 - y0) or 1.0)
    px = PAD + (x - x0) * sx
    py = H - PAD - (y - y0) * sy
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))


def _chart(
    title: str,
    times: pd.DatetimeIndex,
    values: np.ndarray,
    color: str,
    fill: bool = False,
    fmt: str = "{:,.0f}",
) -> str:
    if len(values) == 0:
        return f"<h2>{html.escape(title)}</h2><p>no data</p>"
    x = np.asarray(times.asi8, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    pts = _path(x, y, x[0], x[-1], lo, hi)
    shape = (
        f'<polygon points="{PAD},{H - PAD} {pts} {W - PAD},{H - PAD}" fill="{color}" '
        f'fill-opacity="0.25" stroke="none"/>'
        if fill
        else ""
    )
    labels = (
        f'<text x="4" y="{PAD}" font-size="11">{html.escape(fmt.format(hi))}</text>'
        f'<text x="4" y="{H - PAD}" font-size="11">{html.escape(fmt.format(lo))}</text>'
        f'<text x="{PAD}" y="{H - 8}" font-size="11">{times[0].date()}</text>'
        f'<text x="{W - PAD}" y="{H - 8}" font-size="11" text-anchor="end">'
        f"{times[-1].date()}</text>"
    )
    return (
        f"<h2>{html.escape(title)}</h2>"
        f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{html.escape(title)}">'
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" fill="#fafafa" '
        f'stroke="#ddd"/>{shape}<polyline points="{pts}" fill="none" stroke="{color}" '
        f'stroke-width="1.5"/>{labels}</svg>'
    )


def _trade_chart(trades: pd.DataFrame) -> str:
    if trades is None or len(trades) == 0:
        return "<h2>Trades</h2><p>no trades</p>"
    pnl = trades["pnl"].astype(float).to_numpy()
    n = len(pnl)
    top = float(np.max(np.abs(pnl))) or 1.0
    bw = (W - 2 * PAD) / n
    mid = H / 2
    bars = []
    for i, v in enumerate(pnl):
        h = abs(v) / top * (H / 2 - PAD)
        y = mid - h if v > 0 else mid
        color = "#2a9d4b" if v > 0 else "#c0392b"
        bars.append(
            f'<rect x="{PAD + i * bw:.1f}" y="{y:.1f}" width="{max(bw * 0.8, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{color}"/>'
        )
    return (
        "<h2>Trade P&amp;L</h2>"
        f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="trade pnl">'
        f'<line x1="{PAD}" y1="{mid}" x2="{W - PAD}" y2="{mid}" stroke="#999"/>'
        + "".join(bars)
        + "</svg>"
    )


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.4f}"
    return html.escape(str(v))


def render(stored: dict[str, Any]) -> str:
    """Return the HTML report of a run loaded with ``queries.load_run``."""
    run = stored["run"]
    equity: pd.Series = stored["equity"]
    trades: pd.DataFrame = stored["trades"]
    title = f"Backtest {run['id']}: {run['strategy']} on {', '.join(run['symbols'])}"
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>"
        for k, v in sorted(stored["metrics"].items())
    )
    params = ", ".join(f"{k}={v}" for k, v in sorted(stored["params"].items()))
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>state <b>{html.escape(run['state'])}</b>, market {html.escape(run['market'])}, "
        f"params {html.escape(params) or 'none'}, final equity {_fmt(run['final_equity'])}</p>",
    ]
    if run.get("error"):
        parts.append(f"<p class='err'>error: {html.escape(run['error'])}</p>")
    parts.append(f"<h2>Metrics</h2><table>{rows}</table>")
    if len(equity):
        idx = pd.DatetimeIndex(equity.index)
        values = equity.to_numpy(dtype=np.float64)
        dd = values / np.maximum.accumulate(values) - 1.0
        parts.append(_chart("Equity", idx, values, "#1f6feb"))
        parts.append(_chart("Drawdown", idx, dd * 100, "#c0392b", fill=True, fmt="{:.1f}%"))
    parts.append(_trade_chart(trades))
    if len(trades):
        cols = ["symbol", "entry_time", "entry_price", "exit_time", "exit_price", "quantity", "pnl"]
        head = "".join(f"<th>{c}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>"
            for _, r in trades.head(500).iterrows()
        )
        more = f"<p>{len(trades) - 500} more trades not shown</p>" if len(trades) > 500 else ""
        parts.append(f"<h2>Trades ({len(trades)})</h2><table><tr>{head}</tr>{body}</table>{more}")
    if stored.get("children"):
        head = "<tr><th>rank</th><th>run</th><th>state</th><th>params</th><th>metrics</th></tr>"
        body = "".join(
            f"<tr><td>{_fmt(c['rank'])}</td><td>{html.escape(c['id'])}</td>"
            f"<td>{html.escape(c['state'])}</td><td>{html.escape(str(c['params']))}</td>"
            f"<td>{html.escape(str({k: round(v, 4) if isinstance(v, float) else v for k, v in (c['metrics'] or {}).items() if k in ('sharpe', 'total_return', 'max_drawdown')}))}</td></tr>"  # noqa: E501
            for c in stored["children"][:200]
        )
        parts.append(f"<h2>Points</h2><table>{head}{body}</table>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;"
        "padding:3px 8px;text-align:left}.err{color:#c0392b}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )


def write_report(stored: dict[str, Any], out: Path) -> Path:
    """Write the HTML report atomically to ``out``; return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(render(stored), encoding="utf-8")
    tmp.replace(out)
    return out
