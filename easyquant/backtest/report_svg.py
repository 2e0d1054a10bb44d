"""Inline SVG charts for the HTML report: lines (linear or log), an underwater area, bars."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 900, 240, 64, 12, 12, 28
COLORS = ("#1f6feb", "#8a8f98", "#c0392b", "#2a9d4b")

Fmt = Callable[[float], str]


def _clean(values: Sequence[float | None], log: bool) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        if v is None or not math.isfinite(v) or (log and v <= 0):
            out.append(None)
        else:
            out.append(math.log10(v) if log else float(v))
    return out


def _axes(lo: float, hi: float, fy: Fmt, labels: Sequence[str], log: bool) -> str:
    parts = [
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" '
        'fill="#fafafa" stroke="#ddd"/>'
    ]
    for i in range(5):
        frac = i / 4
        y = PAD_T + (1 - frac) * (H - PAD_T - PAD_B)
        v = lo + frac * (hi - lo)
        parts.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{html.escape(fy(10**v if log else v))}</text>"
        )
    n = len(labels)
    for i, label in enumerate(labels):
        x = PAD_L + (i / max(n - 1, 1)) * (W - PAD_L - PAD_R)
        anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        parts.append(
            f'<text x="{x:.1f}" y="{H - 8}" text-anchor="{anchor}">{html.escape(label)}</text>'
        )
    return "".join(parts)


def _svg(label: str, body: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    keys = "".join(
        f'<span class="key"><i style="background:{c}"></i>{html.escape(n)}</span>'
        for n, c in legend
    )
    return (
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{html.escape(label)}" '
        f'preserveAspectRatio="none">{body}</svg>'
        + (f'<div class="legend">{keys}</div>' if keys else "")
    )


def lines(
    label: str,
    series: Sequence[tuple[str, Sequence[float | None]]],
    x_labels: Sequence[str],
    fy: Fmt,
    *,
    log: bool = False,
    area: bool = False,
    zero: bool = False,
) -> str:
    """Line chart of equally spaced points; ``area`` fills down to zero (underwater)."""
    cleaned = [(name, _clean(vals, log)) for name, vals in series]
    finite = [v for _, vals in cleaned for v in vals if v is not None]
    if not finite:
        return f'<p class="muted">{html.escape(label)}: —</p>'
    lo, hi = min(finite), max(finite)
    if zero or area:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    sy = (H - PAD_T - PAD_B) / (hi - lo)
    body = [_axes(lo, hi, fy, x_labels, log)]
    for k, (_name, vals) in enumerate(cleaned):
        n = len(vals)
        sx = (W - PAD_L - PAD_R) / max(n - 1, 1)
        color = COLORS[k % len(COLORS)]
        segs: list[list[str]] = [[]]
        for i, v in enumerate(vals):
            if v is None:
                if segs[-1]:
                    segs.append([])
                continue
            segs[-1].append(f"{PAD_L + i * sx:.1f},{PAD_T + (hi - v) * sy:.1f}")
        for pts in (s for s in segs if s):
            if area:
                y0 = PAD_T + hi * sy
                first, last = pts[0].split(",")[0], pts[-1].split(",")[0]
                body.append(
                    f'<polygon points="{first},{y0:.1f} {" ".join(pts)} {last},{y0:.1f}" '
                    f'fill="{color}" fill-opacity="0.3" stroke="none"/>'
                )
            body.append(
                f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" '
                'stroke-width="1.4" vector-effect="non-scaling-stroke"/>'
            )
    legend = [(name, COLORS[k % len(COLORS)]) for k, (name, _) in enumerate(series)]
    return _svg(label, "".join(body), legend if len(series) > 1 else ())


def bars(
    label: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fy: Fmt,
    *,
    colors: Sequence[str] | None = None,
) -> str:
    """Grouped bar chart (one bar per series in each group), from zero; ``colors``: one per
    group (a single series)."""
    finite = [float(v) for _, vals in series for v in vals if v is not None and math.isfinite(v)]
    if not finite or not groups:
        return f'<p class="muted">{html.escape(label)}: —</p>'
    lo, hi = min(min(finite), 0.0), max(max(finite), 0.0)
    if lo == hi:
        hi = lo + 1
    sy = (H - PAD_T - PAD_B) / (hi - lo)
    step = (W - PAD_L - PAD_R) / len(groups)
    bw = step * 0.8 / len(series)
    body = [_axes(lo, hi, fy, [], False)]
    every = max(1, math.ceil(len(groups) / 12))
    for g, name in enumerate(groups):
        if g % every == 0:
            x = PAD_L + (g + 0.5) * step
            body.append(
                f'<text x="{x:.1f}" y="{H - 8}" text-anchor="middle">{html.escape(name)}</text>'
            )
        for k, (_n, vals) in enumerate(series):
            v = vals[g]
            if v is None or not math.isfinite(v):
                continue
            color = colors[g] if colors else COLORS[k % len(COLORS)]
            y = PAD_T + (hi - max(v, 0.0)) * sy
            h = abs(v) * sy
            x = PAD_L + g * step + step * 0.1 + k * bw
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw - 1, 0.6):.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{color}"><title>{html.escape(name)} '
                f"{html.escape(fy(v))}</title></rect>"
            )
    legend = [(n, COLORS[k % len(COLORS)]) for k, (n, _) in enumerate(series)]
    return _svg(label, "".join(body), legend if len(series) > 1 else ())


def heat_color(v: float | None, scale: float) -> str:
    """A cell background: green for gains, red for losses, by ``|v| / scale``."""
    if v is None or not math.isfinite(v) or scale <= 0:
        return "#f4f4f4"
    a = min(abs(v) / scale, 1.0)
    r, g, b = (42, 157, 75) if v >= 0 else (192, 57, 43)
    mix = [round(255 + (c - 255) * (0.15 + 0.7 * a)) for c in (r, g, b)]
    return f"rgb({mix[0]},{mix[1]},{mix[2]})"
