"""A self-contained HTML report of a stored run, rendered from its tearsheet
(:mod:`easyquant.backtest.tearsheet`): inline CSS and SVG, no scripts, no network, a print
stylesheet, in English or Simplified Chinese."""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from easyquant.backtest import report_svg as svg
from easyquant.backtest.report_text import METRICS as METRIC_LABELS
from easyquant.backtest.report_text import MONTHS, TEXT, check_lang, fmt

MAX_TRADES = 500
STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","WenQuanYi Micro Hei",
sans-serif;margin:0 auto;padding:24px;max-width:1100px;color:#1d2329;font-size:14px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #e3e6ea;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px;color:#444}
.muted{color:#6b7480}.err{color:#c0392b}.note{color:#8a5a00}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
td,th{border:1px solid #e3e6ea;padding:3px 8px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}thead th{background:#f5f7f9}
.pos{color:#1e7d3a}.neg{color:#b3261e}
svg.chart{width:100%;height:auto;aspect-ratio:900/240;display:block;font-size:11px;fill:#555}
.legend{font-size:12px;margin:2px 0 8px}.key{margin-right:14px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.heat td{min-width:52px;color:#1d2329}
@media (max-width:700px){body{padding:10px}.grid2{grid-template-columns:1fr}}
@media print{@page{size:A4;margin:12mm}body{padding:0;max-width:none;font-size:11px}
section{break-inside:avoid}table{font-size:10px}.scroll{overflow:visible}
.trades tr{break-inside:avoid}h2{break-after:avoid}a{color:inherit;text-decoration:none}}
"""


def render(model: Mapping[str, Any], lang: str = "en") -> str:
    """Return the report's HTML for a tearsheet (``tearsheet.build``) in ``lang``."""
    lang = check_lang(lang)
    tx = TEXT[lang]
    run = model["run"]
    title = tx["title"].format(
        id=run["run_id"], strategy=run["strategy"], symbols=", ".join(run["symbols"])
    )
    params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(run["params"].items()))
    head = [
        f"<h1>{_e(title)}</h1>",
        '<p class="muted" id="summary">'
        + _e(
            tx["summary"].format(
                state=run["state"],
                market=run["market"],
                freq=run["freq"],
                params=params or tx["none"],
                benchmark=run.get("benchmark") or tx["none"],
            )
        )
        + "</p>",
    ]
    if run.get("error"):
        head.append(f'<p class="err">{_e(tx["error"].format(error=run["error"]))}</p>')
    head += [f'<p class="note">{_e(tx["warning"].format(text=w))}</p>' for w in model["warnings"]]
    parts = [
        *head,
        _sweep(model.get("sweep"), lang),
        _metrics(model, lang),
        _equity(model, lang),
        _drawdown(model, lang),
        _monthly(model, lang),
        _rolling(model, lang),
        _distribution(model, lang),
        _exposure(model, lang),
        _trades(model, lang),
        f'<p class="muted">{_e(tx["generated"])}</p>',
    ]
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def write_report(model: Mapping[str, Any], out: Path, lang: str = "en") -> Path:
    """Write the HTML report atomically to ``out``; return the path. ``model`` is a tearsheet,
    or a stored run (``queries.load_run``), whose tearsheet is then built without a benchmark."""
    lang = check_lang(lang)
    if "series" not in model:
        from easyquant.backtest import tearsheet

        model = tearsheet.build(model, children=model.get("children") or ())
    text = render(model, lang)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def _e(s: Any) -> str:
    return html.escape(str(s))


def _short(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, default=str)


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_e(title)}</h2>{body}</section>'


def _signed(v: float | None, kind: str, lang: str) -> str:
    cls = "" if v is None else (' class="pos"' if v > 0 else (' class="neg"' if v < 0 else ""))
    return f"<td{cls}>{_e(fmt(v, kind, lang))}</td>"


def _x_labels(model: Mapping[str, Any], times: list[str] | None = None) -> list[str]:
    t = times if times is not None else model["series"]["time"]
    if not t:
        return []
    cut = 10 if model["run"]["time_unit"] == "date" else 16
    picks = sorted({0, len(t) // 4, len(t) // 2, 3 * len(t) // 4, len(t) - 1})
    return [t[i][:cut].replace("T", " ") for i in picks]


def _metrics(model: Mapping[str, Any], lang: str) -> str:
    tx, names = TEXT[lang], METRIC_LABELS[lang]
    rows = "".join(
        f"<tr><th>{_e(names[m['key']])}</th>"
        f"<td>{_e(fmt(m['value'], m['kind'], lang))}</td>"
        f"<td>{_e(fmt(m['benchmark'], m['kind'], lang))}</td></tr>"
        for m in model["metrics"]
    )
    head = (
        f"<thead><tr><th>{tx['metric']}</th><th>{tx['strategy']}</th>"
        f"<th>{tx['benchmark']}</th></tr></thead>"
    )
    return _section(
        "metrics", tx["metrics"], f'<div class="scroll"><table>{head}{rows}</table></div>'
    )


def _equity(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    s = model["series"]
    series = [(tx["strategy"], s["equity"])]
    if s["benchmark"] is not None:
        series.append((tx["benchmark"] + f" ({model['run']['benchmark']})", s["benchmark"]))
    labels = _x_labels(model)

    def money(v: float) -> str:
        return fmt(v, "money", lang).split(".")[0]

    body = svg.lines(tx["equity"], series, labels, money)
    log = svg.lines(tx["equity_log"], series, labels, money, log=True)
    return _section("equity", tx["equity"], body + f"<h3>{_e(tx['equity_log'])}</h3>" + log)


def _pct(lang: str, digits: int = 1) -> svg.Fmt:
    return lambda v: f"{v * 100:.{digits}f}%"


def _drawdown(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    s = model["series"]
    series = [(tx["strategy"], s["drawdown"])]
    if s["benchmark_drawdown"] is not None:
        series.append((tx["benchmark"], s["benchmark_drawdown"]))
    chart = svg.lines(tx["drawdown"], series, _x_labels(model), _pct(lang), area=True)
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{_e(p['start'])}</td><td>{_e(p['trough'])}</td>"
        f"<td>{_e(p['recovery'] or tx['not_recovered'])}</td>"
        f"{_signed(p['depth'], 'percent', lang)}"
        f"<td>{_e(fmt(p['days'], 'duration', lang))}</td></tr>"
        for i, p in enumerate(model["drawdowns"])
    )
    head = (
        f"<thead><tr><th>#</th><th>{tx['start']}</th><th>{tx['trough']}</th><th>{tx['recovery']}"
        f"</th><th>{tx['depth']}</th><th>{tx['length']}</th></tr></thead>"
    )
    table = f'<h3>{_e(tx["worst"])}</h3><div class="scroll"><table>{head}{rows}</table></div>'
    return _section("drawdown", tx["drawdown"], chart + table)


def _monthly(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    mt = model["monthly"]
    vals = [abs(v) for row in mt["returns"] for v in row if v is not None]
    scale = max(vals) if vals else 0.0
    yearly = {y["year"]: y for y in model["yearly"]}
    head = (
        f"<thead><tr><th>{tx['year']}</th>"
        + "".join(f"<th>{m}</th>" for m in MONTHS[lang])
        + f"<th>{tx['year']}</th><th>{tx['benchmark']}</th></tr></thead>"
    )
    rows = []
    for year, row in zip(mt["years"], mt["returns"], strict=True):
        cells = "".join(
            f'<td style="background:{svg.heat_color(v, scale)}">{_e(fmt(v, "percent", lang))}</td>'
            for v in row
        )
        y = yearly.get(year, {})
        rows.append(
            f"<tr><th>{year}</th>{cells}{_signed(y.get('return'), 'percent', lang)}"
            f"{_signed(y.get('benchmark'), 'percent', lang)}</tr>"
        )
    table = f'<div class="scroll"><table class="heat">{head}{"".join(rows)}</table></div>'
    years = [str(y["year"]) for y in model["yearly"]]
    series = [(tx["strategy"], [y["return"] for y in model["yearly"]])]
    if any(y["benchmark"] is not None for y in model["yearly"]):
        series.append((tx["benchmark"], [y["benchmark"] for y in model["yearly"]]))
    chart = svg.bars(tx["yearly"], years, series, _pct(lang))
    return _section("monthly", tx["monthly"], table) + _section("yearly", tx["yearly"], chart)


def _rolling(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    ro = model["rolling"]
    labels = _x_labels(model, ro["time"])
    body = f"<h3>{_e(tx['rolling_sharpe'])}</h3>" + svg.lines(
        tx["rolling_sharpe"],
        [(tx["strategy"], ro["sharpe"])],
        labels,
        lambda v: f"{v:.2f}",
        zero=True,
    )
    body += f"<h3>{_e(tx['rolling_vol'])}</h3>" + svg.lines(
        tx["rolling_vol"], [(tx["strategy"], ro["volatility"])], labels, _pct(lang), zero=True
    )
    if ro["beta"] is not None:
        body += f"<h3>{_e(tx['rolling_beta'])}</h3>" + svg.lines(
            tx["rolling_beta"],
            [(tx["strategy"], ro["beta"])],
            labels,
            lambda v: f"{v:.2f}",
            zero=True,
        )
    title = tx["rolling"].format(months=ro["months"], window=ro["window"])
    return _section("rolling", title, body)


def _histogram(title: str, h: Mapping[str, Any], lang: str) -> str:
    if not h["counts"]:
        return f"<h3>{_e(title)}</h3><p class='muted'>{_e(TEXT[lang]['no_data'])}</p>"
    edges = h["edges"]
    mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    groups = [f"{m * 100:.1f}%" for m in mids]
    counts = [float(c) for c in h["counts"]]
    colors = ["#c0392b" if m < 0 else "#2a9d4b" for m in mids]
    chart = svg.bars(title, groups, [("n", counts)], lambda v: f"{v:,.0f}", colors=colors)
    return f"<h3>{_e(title)}</h3>{chart}"


def _distribution(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    d = model["distribution"]
    body = (
        '<div class="grid2"><div>'
        + _histogram(tx["daily_returns"].format(n=d["daily"]["n"]), d["daily"], lang)
        + "</div><div>"
        + _histogram(tx["trade_returns"].format(n=d["trades"]["n"]), d["trades"], lang)
        + "</div></div>"
    )
    return _section("distribution", tx["distribution"], body)


def _exposure(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    chart = svg.lines(
        tx["exposure"],
        [(tx["exposure"], model["series"]["exposure"])],
        _x_labels(model),
        _pct(lang, 0),
        area=True,
    )
    return _section("exposure", tx["exposure"], chart)


def _trades(model: Mapping[str, Any], lang: str) -> str:
    tx = TEXT[lang]
    trades = model["trades"]
    title = tx["trades"].format(n=model["trades_total"])
    if not trades:
        return _section("trades", title, f"<p class='muted'>{_e(tx['no_trades'])}</p>")
    cols = (
        "symbol",
        "entry",
        "entry_price",
        "exit",
        "exit_price",
        "quantity",
        "pnl",
        "return",
        "fees",
    )
    head = "<thead><tr>" + "".join(f"<th>{_e(tx[c])}</th>" for c in cols) + "</tr></thead>"
    rows = []
    for t in trades[:MAX_TRADES]:
        rows.append(
            f"<tr><td>{_e(t['symbol'])}</td><td>{_e(t['entry'])}</td>"
            f"<td>{_e(fmt(t['entry_price'], 'money', lang))}</td>"
            f"<td>{_e(tx['open'] if t['open'] else t['exit'])}</td>"
            f"<td>{_e(fmt(t['exit_price'], 'money', lang))}</td>"
            f"<td>{_e(fmt(t['quantity'], 'count', lang))}</td>"
            f"{_signed(t['pnl'], 'money', lang)}{_signed(t['return'], 'percent', lang)}"
            f"<td>{_e(fmt(t['fees'], 'money', lang))}</td></tr>"
        )
    more = len(trades) - MAX_TRADES
    note = f"<p class='muted'>{_e(tx['more_trades'].format(n=more))}</p>" if more > 0 else ""
    table = f'<div class="scroll"><table class="trades">{head}{"".join(rows)}</table></div>{note}'
    return _section("trades", title, table)


def _sweep(sweep: Mapping[str, Any] | None, lang: str) -> str:
    if not sweep:
        return ""
    tx, names = TEXT[lang], METRIC_LABELS[lang]
    parts: list[str] = []
    chosen = sweep.get("chosen")
    if chosen:
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(chosen["params"].items()))
        parts.append(f"<p>{_e(tx['chosen'].format(params=params))}</p>")
    metric = sweep["rank_by"]
    kind = _kind(metric)
    hm = sweep.get("heatmap")
    if hm:
        vals = [abs(v) for row in hm["values"] for v in row if v is not None]
        scale = max(vals) if vals else 0.0
        head = (
            f"<thead><tr><th>{_e(hm['y_param'])} \\ {_e(hm['x_param'])}</th>"
            + "".join(f"<th>{_e(x)}</th>" for x in hm["x"])
            + "</tr></thead>"
        )
        rows = "".join(
            f"<tr><th>{_e(y)}</th>"
            + "".join(
                f'<td style="background:{svg.heat_color(v, scale)}">{_e(fmt(v, kind, lang))}</td>'
                for v in row
            )
            + "</tr>"
            for y, row in zip(hm["y"], hm["values"], strict=True)
        )
        parts.append(f'<div class="scroll"><table class="heat">{head}{rows}</table></div>')
    if sweep["kind"] == "walkforward":
        head = (
            f"<thead><tr><th>{tx['window']}</th><th>{tx['params']}</th><th>{tx['in_sample']}</th>"
            f"<th>{tx['in_sample']}: {_e(names.get(metric, metric))}</th>"
            f"<th>{tx['out_of_sample']}</th>"
            f"<th>{tx['out_of_sample']}: {_e(names.get(metric, metric))}</th>"
            f"<th>{tx['out_of_sample']}: {_e(names['total_return'])}</th></tr></thead>"
        )
        rows = "".join(
            f"<tr><td>{w['window']}</td><td>{_e(_params(w['params']))}</td>"
            f"<td>{_e(_period(w['in_sample']))}</td>"
            f"{_signed(w['in_sample_metrics'].get(metric), kind, lang)}"
            f"<td>{_e(_period(w['out_of_sample']))}</td>"
            f"{_signed(w['out_of_sample_metrics'].get(metric), kind, lang)}"
            f"{_signed(w['out_of_sample_metrics'].get('total_return'), 'percent', lang)}</tr>"
            for w in sweep.get("windows") or []
        )
        parts.append(f'<div class="scroll"><table>{head}{rows}</table></div>')
        title = tx["walkforward"]
    else:
        if not hm:
            head = (
                f"<thead><tr><th>{tx['rank']}</th><th>{tx['params']}</th>"
                f"<th>{_e(names.get(metric, metric))}</th></tr></thead>"
            )
            rows = "".join(
                f"<tr><td>{_e(p['rank'] if p['rank'] is not None else '—')}</td>"
                f"<td>{_e(_params(p['params']))}</td>"
                f"{_signed(p['metrics'].get(metric), kind, lang)}</tr>"
                for p in sweep["points"][:200]
            )
            parts.append(f'<div class="scroll"><table>{head}{rows}</table></div>')
        title = tx["sweep"].format(metric=names.get(metric, metric))
    return _section("sweep", title, "".join(parts))


def _kind(metric: str) -> str:
    from easyquant.backtest.tearsheet import METRIC_KINDS

    return METRIC_KINDS.get(metric, "ratio")


def _params(p: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in sorted(p.items()))


def _period(p: list[Any]) -> str:
    return " → ".join(str(x)[:10] for x in p) if p else "—"
