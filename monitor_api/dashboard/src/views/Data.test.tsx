// @vitest-environment jsdom
// The Data page against a stubbed monitor_api: catalog, chart with the adjustment switch,
// quality reports, instrument master; in English and in Chinese. Charts are stubbed (no canvas).

import { act } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { gapSummary, pageRange, parseSelection, rejectList, selectionHash, unitsList, volumeSeries } from '../lib/data';
import { appHarness, type Harness } from '../test/harness';
import './Data';

vi.mock('../components/Chart', () => ({
  Chart: ({ series }: { series: { name: string; data: unknown[]; markers?: unknown[]; pane?: number }[] }) => (
    <div className="chart-stub">{series.map((s) => `${s.name}:${s.data.length}:${s.pane ?? 0}`).join(' ')}</div>
  ),
}));

const CATALOG = {
  total: 2,
  limit: 50,
  offset: 0,
  entries: [
    { symbol: '600519.SH', freq: '1d', calendar: 'XSHG', first_ts: '2023-01-03T00:00:00+00:00', last_ts: '2023-12-29T00:00:00+00:00', rows: 242, updated_at: '2026-11-23T09:00:00+00:00' },
    { symbol: 'AAPL', freq: '1d', calendar: 'XNYS', first_ts: '2023-01-03T00:00:00+00:00', last_ts: '2023-12-29T00:00:00+00:00', rows: 250, updated_at: '2026-11-23T09:00:00+00:00' },
  ],
};
const bar = (day: number, open: number, close: number, volume: number) => ({ time: `2023-01-0${day}T00:00:00+00:00`, open, high: Math.max(open, close) + 1, low: Math.min(open, close) - 1, close, volume });
const BARS = (adjust: string) => ({
  symbol: '600519.SH',
  freq: '1d',
  adjust,
  bars_freq: '1d',
  rows: 3,
  actions: 1,
  bars: [bar(3, 10, 11, 1000), bar(4, 11, 10.5, 1500), bar(5, 10.5, 12, 900)],
});
const REPORT = {
  id: 7,
  ingest_id: 'ing-1',
  source: 'csv',
  origin: '/data/akshare/600519.csv',
  symbol: '600519.SH',
  freq: '1d',
  status: 'stored',
  rows_read: 245,
  rows_skipped: 0,
  rows_rejected: 3,
  rows_stored: 242,
  rejects: { 'high below low': 2, 'missing close': 1 },
  samples: [{ line: 17, field: 'high', reason: 'high below low' }],
  gaps: { expected_bars: 242, missing_bars: 2, missing_sessions: 2, first_missing_sessions: ['2023-05-04', '2023-05-05'], off_calendar_rows: 0 },
  warnings: { jumps: 1, layout: 'akshare', units_converted: { volume: 'lots (100 shares) -> shares' } },
  units: { volume: 'lots (100 shares) -> shares' },
  quarantine_path: '/lake/quarantine/freq=1d/ing-1.parquet',
  error: null,
  created_at: '2026-11-23T09:00:00+00:00',
};
const INSTRUMENTS = {
  total: 1,
  limit: 50,
  offset: 0,
  instruments: [
    {
      symbol: '300750.SZ',
      name: '宁德时代',
      exchange: 'XSHE',
      board: 'chinext',
      currency: 'CNY',
      lot: 100,
      min_order: 100,
      tick: 0.01,
      listed: '2018-06-11',
      delisted: null,
      source: 'csv',
      st: [],
      suspended: [{ start: '2023-03-01', end: '2023-03-02' }],
    },
  ],
};

describe('Data page logic', () => {
  it('reads and writes its selection in the hash, defaults left out', () => {
    expect(parseSelection(new URLSearchParams(''))).toEqual({ symbol: null, freq: '1d', adjust: 'raw' });
    expect(parseSelection(new URLSearchParams('symbol=600519.SH&freq=1m&adjust=forward'))).toEqual({ symbol: '600519.SH', freq: '1m', adjust: 'forward' });
    expect(parseSelection(new URLSearchParams('adjust=sideways')).adjust).toBe('raw');
    expect(selectionHash({ symbol: '600519.SH', freq: '1d', adjust: 'raw' })).toBe('#/data?symbol=600519.SH');
    expect(selectionHash({ symbol: 'BTC/USDT', freq: '1m', adjust: 'backward' })).toBe('#/data?symbol=BTC%2FUSDT&freq=1m&adjust=backward');
    expect(selectionHash({ symbol: null, freq: '1d', adjust: 'raw' })).toBe('#/data');
  });

  it('colours volume by the bar, sorts times, and drops bad volumes', () => {
    const v = volumeSeries([bar(4, 11, 10.5, 1500), bar(3, 10, 11, 1000), { ...bar(5, 1, 2, 3), volume: Number.NaN }]);
    expect(v).toEqual([
      { time: Date.parse('2023-01-03T00:00:00Z') / 1000, value: 1000, up: true },
      { time: Date.parse('2023-01-04T00:00:00Z') / 1000, value: 1500, up: false },
    ]);
  });

  it('orders rejection reasons by count and reads gaps and units', () => {
    expect(rejectList({ b: 1, a: 1, c: 5, zero: 0 })).toEqual([
      ['c', 5],
      ['a', 1],
      ['b', 1],
    ]);
    expect(gapSummary(REPORT.gaps)).toEqual({ missing: 2, expected: 242, sessions: ['2023-05-04', '2023-05-05'] });
    expect(gapSummary({ error: 'no calendar' })).toBeNull();
    expect(unitsList(REPORT.units)).toEqual(['volume: lots (100 shares) -> shares']);
    expect(pageRange(50, 20, 70)).toEqual({ from: 51, to: 70, total: 70 });
    expect(pageRange(0, 0, 0)).toEqual({ from: 0, to: 0, total: 0 });
  });
});

/** Serve the Data page's routes, with ``change`` replacing some (null: no such route), then
 * open ``hash`` and let it settle. */
async function openData(h: Harness, hash = '#/data', change: Record<string, unknown> = {}) {
  const routes: Record<string, unknown> = {
    'api/data/catalog': CATALOG,
    'api/data/bars': BARS('raw'),
    'api/data/reports': { total: 1, limit: 50, offset: 0, reports: [REPORT] },
    'api/data/instruments': INSTRUMENTS,
    ...change,
  };
  for (const [path, body] of Object.entries(routes)) {
    if (body === null) delete h.routes[path];
    else h.routes[path] = { status: 200, body };
  }
  h.mount(hash);
  await h.settle();
}

describe('Data page in English', () => {
  const h = appHarness('en');

  it('lists the catalog and charts its first symbol with volume', async () => {
    await openData(h);
    const rows = [...h.host.querySelectorAll('.catalog tbody tr[data-id]')].map((r) => r.getAttribute('data-id'));
    expect(rows).toEqual(['1d/600519.SH', '1d/AAPL']);
    const first = h.host.querySelector('.catalog tr[data-id="1d/600519.SH"]')!;
    expect(first.className).toContain('row-current');
    expect(first.textContent).toContain('Jan 3, 2023');
    expect(first.textContent).toContain('242');
    expect(h.host.querySelector('.chart-stub')?.textContent).toBe('price:3:0 volume:3:1');
    expect(h.lastQuery('api/data/bars')).toEqual({ symbol: '600519.SH', freq: '1d', adjust: 'raw' });
    expect(h.text()).toContain('3 bars from Jan 3, 2023 to Jan 5, 2023');
    expect(h.text()).toContain('1 corporate actions');
  });

  it('switches to forward and backward adjustment through the hash', async () => {
    await openData(h, '#/data?symbol=AAPL');
    expect(h.lastQuery('api/data/bars')).toEqual({ symbol: 'AAPL', freq: '1d', adjust: 'raw' });
    const seg = h.host.querySelector('.seg.adjust')!;
    expect([...seg.querySelectorAll('button')].map((b) => b.textContent)).toEqual(['Raw', 'qfq', 'hfq']);
    h.routes['api/data/bars'] = { status: 200, body: BARS('forward') };
    await act(async () => (seg.querySelector('[data-adjust="forward"]') as HTMLButtonElement).click());
    await h.settle();
    expect(window.location.hash).toBe('#/data?symbol=AAPL&adjust=forward');
    expect(h.lastQuery('api/data/bars')).toEqual({ symbol: 'AAPL', freq: '1d', adjust: 'forward' });
    expect(h.host.querySelector('[data-adjust="forward"]')?.getAttribute('aria-checked')).toBe('true');
    expect(h.text()).toContain('Forward-adjusted (qfq)');
    // every ingest's report, until narrowed to the charted symbol
    expect(h.lastQuery('api/data/reports')).toEqual({ limit: '50', offset: '0' });
    await act(async () => h.button('only AAPL').click());
    await h.settle();
    expect(h.lastQuery('api/data/reports')).toEqual({ symbol: 'AAPL', freq: '1d', limit: '50', offset: '0' });
    expect(h.host.querySelector('.chip.on.reports-only')?.textContent).toContain('Showing AAPL only');
    await act(async () => (h.host.querySelector('.chip.on.reports-only button') as HTMLButtonElement).click());
    await h.settle();
    expect(h.lastQuery('api/data/reports')).toEqual({ limit: '50', offset: '0' });
  });

  it('charts a symbol picked in the catalog', async () => {
    await openData(h);
    await act(async () => (h.host.querySelector('.catalog tr[data-id="1d/AAPL"]') as HTMLElement).click());
    await h.settle();
    expect(window.location.hash).toBe('#/data?symbol=AAPL');
    expect(h.lastQuery('api/data/bars')?.symbol).toBe('AAPL');
  });

  it('shows a quality report: counts, reasons, gaps, units, and its details on click', async () => {
    await openData(h);
    const row = h.host.querySelector('.reports tr[data-id="7"]') as HTMLElement;
    expect(row.querySelector('td[data-label="Read"]')?.textContent).toBe('245');
    expect(row.querySelector('td[data-label="Stored"]')?.textContent).toBe('242');
    expect(row.querySelector('td[data-label="Rejected"]')?.textContent).toBe('3');
    expect(row.querySelector('td[data-label="Gaps"]')?.textContent).toBe('2 of 242 bars missing');
    expect(row.querySelector('td[data-label="Units converted"]')?.textContent).toBe('volume: lots (100 shares) -> shares');
    const reasons = [...row.querySelectorAll('.reasons .chip')].map((c) => c.textContent);
    expect(reasons).toEqual(['high below low 2', 'missing close 1']);
    await act(async () => row.click());
    const detail = h.host.querySelector('.report-detail')!;
    expect(detail.textContent).toContain('/lake/quarantine/freq=1d/ing-1.parquet');
    expect(detail.textContent).toContain('May 4, 2023, May 5, 2023');
    expect(detail.textContent).toContain('"line":17');
    expect(detail.textContent).toContain('Warnings: jumps1');
    expect(detail.textContent).toContain('File layoutakshare');
    expect(detail.textContent).not.toContain('Warnings: layout');
    expect(detail.textContent).not.toContain('units_converted'); // shown as units, not as a warning
  });

  it('pages through the catalog with limit and offset', async () => {
    await openData(h, '#/data', { 'api/data/catalog': { ...CATALOG, total: 120 } });
    expect(h.host.querySelector('.catalog .pager')?.textContent).toContain('1–2 of 120');
    await act(async () => h.button('Next').click());
    await h.settle();
    expect(h.lastQuery('api/data/catalog')).toEqual({ limit: '50', offset: '50' });
  });

  it('shows the instrument master with boards and suspensions', async () => {
    await openData(h);
    const row = h.host.querySelector('.instruments tr[data-id="300750.SZ"]')!;
    expect(row.textContent).toContain('宁德时代');
    expect(row.textContent).toContain('ChiNext');
    expect(row.textContent).toContain('Jun 11, 2018');
    expect(row.textContent).toContain('Mar 1, 2023 → Mar 2, 2023');
    const board = h.host.querySelector('select.board') as HTMLSelectElement;
    expect([...board.options].map((o) => o.textContent)).toEqual(['all boards', 'Main board', 'ChiNext', 'STAR Market', 'Beijing SE', 'ETF', 'Crypto']);
    await act(async () => {
      board.value = 'chinext';
      board.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await h.settle();
    expect(h.lastQuery('api/data/instruments')).toEqual({ board: 'chinext', limit: '50', offset: '0' });
  });

  it('says the instrument master is not available yet when monitor_api has no such route', async () => {
    await openData(h, '#/data', { 'api/data/instruments': null });
    expect(h.text()).toContain('The instrument master: not available yet.');
  });
});

describe('Data page in Chinese', () => {
  const h = appHarness('zh');

  it('renders its labels, adjustment names and figures in Chinese', async () => {
    await openData(h);
    const heads = [...h.host.querySelectorAll('.catalog thead th')].map((th) => th.textContent?.replace(/[▲▼]/g, '').trim());
    expect(heads).toEqual(['代码', '频率', '交易日历', '首根K线', '末根K线', '行数', '更新时间']);
    expect([...h.host.querySelectorAll('.seg.adjust button')].map((b) => b.textContent)).toEqual(['不复权', '前复权', '后复权']);
    expect(h.text()).toContain('数据目录');
    expect(h.text()).toContain('质量报告');
    expect(h.text()).toContain('证券主表');
    expect(h.text()).toContain('2023年1月3日');
    expect(h.host.querySelector('.chart-stub')?.textContent).toBe('价格:3:0 成交量:3:1');
    const row = h.host.querySelector('.reports tr[data-id="7"]')!;
    expect(row.querySelector('td[data-label="缺口"]')?.textContent).toBe('缺 2 / 242 根K线');
    expect(row.querySelector('.badge')?.textContent).toBe('已存储');
    expect(h.host.querySelector('.instruments tr[data-id="300750.SZ"]')?.textContent).toContain('创业板');
  });
});
