// @vitest-environment jsdom
// The run page's tearsheet against a stubbed /api/backtests/{id}/tearsheet, in both languages:
// every section, figures formatted by kind, dates for daily bars, "open" for an open trade.

import { act } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { appHarness, type Harness } from '../test/harness';
import { byKind } from '../components/Tearsheet';
import { setLocale } from '../i18n';
import './BacktestRun';

vi.mock('../components/Chart', () => ({
  Chart: () => <div className="chart-stub" />,
}));

const TIMES = ['2024-01-02T00:00:00+00:00', '2024-01-31T00:00:00+00:00', '2024-02-01T00:00:00+00:00', '2025-01-02T00:00:00+00:00'];
export const SHEET = {
  run: { run_id: 'r2', kind: 'backtest', freq: '1d', benchmark: 'SPY', cash: 100000, time_unit: 'date', periods_per_year: 252 },
  warnings: [],
  metrics: [
    { key: 'cagr', kind: 'percent', value: 0.2666, benchmark: 0.1 },
    { key: 'sharpe', kind: 'ratio', value: 1.234, benchmark: 0.5 },
    { key: 'trades', kind: 'count', value: 33, benchmark: null },
    { key: 'max_drawdown_duration', kind: 'duration', value: 41, benchmark: 90 },
    { key: 'final_equity', kind: 'money', value: 126660.5, benchmark: 110000 },
  ],
  series: { time: TIMES, equity: [100000, 101000, 99000, 126660.5], benchmark: [99850, 100500, 101000, 110000], drawdown: [0, 0, -0.0198, 0], benchmark_drawdown: [0, 0, 0, 0], exposure: [0, 1, 1, 0] },
  drawdowns: [
    { start: '2024-02-01', trough: '2024-02-01', recovery: '2025-01-02', depth: -0.0198, days: 336, bars: 1 },
    { start: '2024-03-01', trough: '2024-03-05', recovery: null, depth: -0.01, days: 5, bars: 3 },
  ],
  monthly: { years: [2024, 2025], returns: [[0.01, -0.0198, null, null, null, null, null, null, null, null, null, null], [0.2793, null, null, null, null, null, null, null, null, null, null, null]] },
  yearly: [
    { year: 2024, return: -0.01, benchmark: 0.0115 },
    { year: 2025, return: 0.2793, benchmark: 0.089 },
  ],
  rolling: { window: 2, months: 6, time: TIMES.slice(1), sharpe: [null, 1.1, 1.3], volatility: [null, 0.12, 0.14], beta: [null, 0.8, 0.9] },
  distribution: { daily: { edges: [-0.02, 0, 0.02], counts: [1, 2], n: 3, mean: 0.01, median: 0.01 }, trades: { edges: [-0.1, 0, 0.1], counts: [1, 1], n: 2, mean: 0, median: 0 } },
  trades: [],
  trades_total: 2,
};
const DETAIL = {
  run_id: 'r2',
  kind: 'backtest',
  strategy: 'sma_cross',
  symbols: ['AAA'],
  params: { fast: 10 },
  market: 'us',
  freq: '1d',
  start: '2024-01-01',
  end: '2024-12-31',
  state: 'success',
  created_at: '2026-11-23T10:00:00Z',
  metrics: { sharpe: 1.234 },
  sweep_id: null,
  equity: [{ time: '2024-01-02', equity: 100000, drawdown: 0 }],
  trades: [
    { symbol: 'AAA', entry_time: '2024-01-31T00:00:00+00:00', entry_price: 10, exit_time: '2024-02-01T00:00:00+00:00', exit_price: 11, quantity: 100, pnl: 100, fees: 1 },
    { symbol: 'AAA', entry_time: '2024-03-01T00:00:00+00:00', entry_price: 10, exit_time: null, exit_price: null, quantity: 100, pnl: 0, fees: 1 },
  ],
  trades_total: 2,
  prices: {},
  prices_freq: {},
  warnings: [],
};

/** Open run r2's page with ``sheet`` as its tearsheet; wait for the run, then the sheet. */
async function openRun(h: Harness, sheet: unknown = SHEET) {
  h.routes['api/backtests/r2'] = { status: 200, body: DETAIL };
  h.routes['api/backtests/r2/tearsheet'] = { status: 200, body: sheet };
  h.mount('#/backtests/r2');
  await h.settle();
  await h.settle();
}

const SECTIONS = ['metrics', 'equity', 'drawdown', 'monthly', 'yearly', 'rolling', 'distribution', 'exposure'];

describe.each([
  ['en', ['Metrics vs benchmark', 'Five worst drawdowns', 'Monthly returns', 'Rolling statistics (6 months, 2 bars)', 'Exposure over time', 'not recovered', 'open'], '26.66%'],
  ['zh', ['指标与基准对比', '最大的五次回撤', '月度收益', '滚动统计（6 个月，2 根K线）', '持仓暴露', '未恢复', '持仓中'], '26.66%'],
] as const)('tearsheet on the run page (%s)', (locale, labels, cagr) => {
  const h = appHarness(locale);

  it('renders every section with figures by kind', async () => {
    await openRun(h);
    const sections = [...h.host.querySelectorAll('[data-section]')].map((s) => s.getAttribute('data-section'));
    expect(sections).toEqual(SECTIONS);
    for (const label of labels) expect(h.text()).toContain(label);
    const rows = [...h.host.querySelectorAll('.ts-metrics tbody tr')].map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent));
    expect(rows[0][1]).toBe(cagr);
    expect(rows[1][1]).toBe('1.23');
    expect(rows[2][1]).toBe('33'); // a count, not 33.00
    expect(rows[2][2]).toBe('–');
    expect(rows[3][1]).toBe(locale === 'en' ? '41 days' : '41 天');
    expect(rows[4][1]).toMatch(/^126,660\.50$/);
    // daily bars: trade times are dates (no 00:00), an open trade says so
    const trades = [...h.host.querySelectorAll('table')].at(-1)!.textContent ?? '';
    expect(trades).not.toContain('00:00');
    // the monthly heatmap colours a gain green and a loss red
    const cells = [...h.host.querySelectorAll('.ts-heat tbody td')] as HTMLElement[];
    expect(cells[1].style.background).toContain('rgba(15, 157, 88');
    expect(cells[2].style.background).toContain('rgba(217, 48, 37');
  });

  it('switches equity to a log scale', async () => {
    await openRun(h);
    const equity = h.host.querySelector('[data-section="equity"]')!;
    const before = equity.querySelector('polyline')!.getAttribute('points');
    const log = [...equity.querySelectorAll('button')].find((b) => b.textContent === (locale === 'en' ? 'log' : '对数'))!;
    await act(async () => log.click());
    expect(equity.querySelector('polyline')!.getAttribute('points')).not.toBe(before);
    expect(log.className).toBe('on');
  });
});

describe('tearsheet edge cases', () => {
  const h = appHarness('en');

  it('a run without a curve says so, and a missing tearsheet does not hide the run', async () => {
    await openRun(h, { ...SHEET, series: { ...SHEET.series, time: [] } });
    expect(h.text()).toContain('No equity curve: no tearsheet for this run.');
    expect(h.text()).toContain('sma_cross');
  });

  it('formats by kind', () => {
    setLocale('en');
    expect(byKind('percent', 0.2666)).toBe('26.66%');
    expect(byKind('count', 33)).toBe('33');
    expect(byKind('ratio', null)).toBe('–');
    expect(byKind('duration', 3.4)).toBe('3 days');
  });
});
