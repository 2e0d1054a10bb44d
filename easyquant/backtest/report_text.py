"""The report's words in English and Simplified Chinese, and its number formats by kind."""

# ruff: noqa: RUF001  (Chinese text uses full-width punctuation)

from __future__ import annotations

import math
from typing import Any

LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Backtest {id}: {strategy} on {symbols}",
        "summary": "state {state} · market {market} · bars {freq} · params {params} · "
        "benchmark {benchmark} (buy and hold, after the same costs)",
        "none": "none",
        "metrics": "Headline metrics",
        "metric": "Metric",
        "strategy": "Strategy",
        "benchmark": "Benchmark",
        "equity": "Equity vs benchmark",
        "equity_log": "Equity vs benchmark (log scale)",
        "drawdown": "Drawdown (underwater)",
        "worst": "Five worst drawdowns",
        "start": "Start",
        "trough": "Trough",
        "recovery": "Recovery",
        "depth": "Depth",
        "length": "Length",
        "not_recovered": "not recovered",
        "monthly": "Monthly returns",
        "year": "Year",
        "yearly": "Yearly returns vs benchmark",
        "rolling": "Rolling statistics ({months} months, {window} bars)",
        "rolling_sharpe": "Rolling Sharpe",
        "rolling_vol": "Rolling volatility",
        "rolling_beta": "Rolling beta vs benchmark",
        "distribution": "Distribution of returns",
        "daily_returns": "Bar returns ({n})",
        "trade_returns": "Trade P&L: returns per trade ({n})",
        "exposure": "Exposure over time",
        "trades": "Trades ({n})",
        "symbol": "Symbol",
        "entry": "Entry",
        "entry_price": "Entry price",
        "exit": "Exit",
        "exit_price": "Exit price",
        "quantity": "Quantity",
        "pnl": "P&L",
        "return": "Return",
        "fees": "Fees",
        "open": "open",
        "more_trades": "{n} more trades not shown",
        "no_data": "no data",
        "no_trades": "no trades",
        "sweep": "Sweep: {metric} by parameters",
        "points": "Points",
        "rank": "Rank",
        "params": "Parameters",
        "chosen": "Chosen point: {params} (the tearsheet below)",
        "walkforward": "Walk-forward: in and out of sample",
        "window": "Window",
        "in_sample": "In sample",
        "out_of_sample": "Out of sample",
        "days": "{n} days",
        "error": "error: {error}",
        "warning": "note: {text}",
        "generated": "Self-contained report; figures from the stored run.",
    },
    "zh": {
        "title": "回测 {id}：{strategy}，标的 {symbols}",
        "summary": "状态 {state} · 市场 {market} · 周期 {freq} · 参数 {params} · "
        "基准 {benchmark}（买入持有，扣除相同成本）",
        "none": "无",
        "metrics": "核心指标",
        "metric": "指标",
        "strategy": "策略",
        "benchmark": "基准",
        "equity": "净值与基准对比",
        "equity_log": "净值与基准对比（对数坐标）",
        "drawdown": "回撤（水下曲线）",
        "worst": "最大的五次回撤",
        "start": "开始",
        "trough": "谷底",
        "recovery": "恢复",
        "depth": "深度",
        "length": "持续",
        "not_recovered": "未恢复",
        "monthly": "月度收益",
        "year": "年份",
        "yearly": "年度收益与基准对比",
        "rolling": "滚动统计（{months} 个月，{window} 根K线）",
        "rolling_sharpe": "滚动夏普比率",
        "rolling_vol": "滚动波动率",
        "rolling_beta": "相对基准的滚动贝塔",
        "distribution": "收益分布",
        "daily_returns": "每根K线收益（{n}）",
        "trade_returns": "每笔交易收益（{n}）",
        "exposure": "持仓暴露",
        "trades": "交易记录（{n}）",
        "symbol": "代码",
        "entry": "开仓",
        "entry_price": "开仓价",
        "exit": "平仓",
        "exit_price": "平仓价",
        "quantity": "数量",
        "pnl": "盈亏",
        "return": "收益率",
        "fees": "费用",
        "open": "持仓中",
        "more_trades": "另有 {n} 笔交易未显示",
        "no_data": "无数据",
        "no_trades": "无交易",
        "sweep": "参数扫描：按参数的{metric}",
        "points": "参数组合",
        "rank": "排名",
        "params": "参数",
        "chosen": "选中的参数：{params}（即下方报告）",
        "walkforward": "滚动前进分析：样本内与样本外",
        "window": "窗口",
        "in_sample": "样本内",
        "out_of_sample": "样本外",
        "days": "{n} 天",
        "error": "错误：{error}",
        "warning": "提示：{text}",
        "generated": "独立报告文件；数据来自已保存的回测。",
    },
}

METRICS: dict[str, dict[str, str]] = {
    "en": {
        "total_return": "Total return",
        "cagr": "CAGR",
        "volatility": "Volatility (ann.)",
        "sharpe": "Sharpe ratio",
        "sortino": "Sortino ratio",
        "calmar": "Calmar ratio",
        "max_drawdown": "Max drawdown",
        "max_drawdown_duration": "Longest drawdown",
        "win_rate": "Win rate",
        "profit_factor": "Profit factor",
        "expectancy": "Expectancy per trade",
        "trades": "Trades",
        "exposure": "Exposure",
        "turnover": "Turnover (per year)",
        "alpha": "Alpha (ann.)",
        "beta": "Beta",
        "final_equity": "Final equity",
    },
    "zh": {
        "total_return": "总收益率",
        "cagr": "年化收益率",
        "volatility": "年化波动率",
        "sharpe": "夏普比率",
        "sortino": "索提诺比率",
        "calmar": "卡玛比率",
        "max_drawdown": "最大回撤",
        "max_drawdown_duration": "最长回撤期",
        "win_rate": "胜率",
        "profit_factor": "盈亏比",
        "expectancy": "每笔期望盈亏",
        "trades": "交易次数",
        "exposure": "持仓时间占比",
        "turnover": "年换手率",
        "alpha": "年化阿尔法",
        "beta": "贝塔",
        "final_equity": "期末权益",
    },
}

MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "zh": [f"{i}月" for i in range(1, 13)],
}


def check_lang(lang: str) -> str:
    """Return ``lang`` when it is one of :data:`LANGS`; else ValueError naming the option."""
    if lang not in LANGS:
        raise ValueError(f"--lang: expected one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def fmt(value: Any, kind: str, lang: str = "en") -> str:
    """Format a figure by kind: percent, ratio, money, count, duration (days); '—' when
    undefined."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    v = float(value)
    if kind == "percent":
        return f"{v * 100:,.2f}%"
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "count":
        return f"{round(v):,d}"
    if kind == "duration":
        return TEXT[lang]["days"].format(n=f"{v:,.0f}")
    return f"{v:,.2f}"
