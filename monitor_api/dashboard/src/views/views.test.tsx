// @vitest-environment jsdom
// Render each REST-backed view against a stubbed monitor_api (charts stubbed:
// jsdom has no canvas) and check what the user would see and send.

import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { StatusProvider } from '../hooks/status';
import { StatusClient } from '../state/statusClient';
import { comp, FakeSocket, iso, T0 } from '../test/fixtures';
import { setToken } from '../token';
// Load the lazily imported views up front so React.lazy resolves within a few microtasks.
import './Backtests';
import './BacktestRun';
import './Live';

vi.mock('../components/Chart', () => ({
  Chart: ({ series }: { series: { name: string; data: unknown[]; markers?: unknown[] }[] }) => (
    <div className="chart-stub">{series.map((s) => `${s.name}:${s.data.length}:${s.markers?.length ?? 0}`).join(' ')}</div>
  ),
}));

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const metrics = (sharpe: number, ret: number) => ({ total_return: ret, cagr: ret / 2, sharpe, sortino: sharpe * 1.2, max_drawdown: -0.1, trade_count: 4 });
const RUNS = [
  { run_id: 'r1', strategy: 'sma_cross', symbols: ['AAA'], params: { fast: 5, slow: 20 }, market: 'us', start: '2024-01-01', end: '2024-12-31', state: 'success', created_at: iso(T0), metrics: metrics(0.4, 0.05), sweep_id: 'sw1' },
  { run_id: 'r2', strategy: 'sma_cross', symbols: ['AAA'], params: { fast: 10, slow: 20 }, market: 'us', start: '2024-01-01', end: '2024-12-31', state: 'success', created_at: iso(T0 + 1000), metrics: metrics(1.7, 0.2), sweep_id: 'sw1' },
  { run_id: 'r3', strategy: 'breakout', symbols: ['BBB'], params: {}, market: 'us', start: '2024-01-01', end: '2024-12-31', state: 'failed', created_at: iso(T0 + 2000), metrics: metrics(-0.3, -0.04), sweep_id: null },
];
const DETAIL = {
  ...RUNS[1],
  equity: [
    { time: '2024-01-02', equity: 100000, drawdown: 0 },
    { time: '2024-01-03', equity: 99000, drawdown: -0.01 },
    { time: '2024-01-04', equity: 101000, drawdown: 0 },
  ],
  trades: [{ symbol: 'AAA', entry_time: '2024-01-02T00:00:00Z', entry_price: 10, exit_time: '2024-01-04T00:00:00Z', exit_price: 11, quantity: 100, pnl: 100 }],
  prices: {
    AAA: [
      { time: '2024-01-02', open: 10, high: 10.5, low: 9.8, close: 10.2 },
      { time: '2024-01-03', open: 10.2, high: 10.6, low: 10, close: 10.4 },
      { time: '2024-01-04', open: 10.4, high: 11.2, low: 10.3, close: 11 },
    ],
  },
};
const SWEEP = {
  sweep_id: 'sw1',
  params: ['fast', 'slow'],
  points: [
    { params: { fast: 5, slow: 20 }, metrics: { sharpe: 0.4 }, run_id: 'r1' },
    { params: { fast: 10, slow: 20 }, metrics: { sharpe: 1.7 }, run_id: 'r2' },
    { params: { fast: 5, slow: 50 }, metrics: { sharpe: 0.1 } },
    { params: { fast: 10, slow: 50 }, metrics: { sharpe: 0.9 } },
  ],
  walkforward: [
    { window: '2024H1', in_sample: { sharpe: 1.9 }, out_of_sample: { sharpe: 0.7 } },
    { window: '2024H2', in_sample: { sharpe: 1.4 }, out_of_sample: { sharpe: -0.2 } },
  ],
};
const SESSIONS = {
  sessions: [
    {
      session: 'paper',
      strategy: 'sma_cross',
      symbols: ['AAA', 'BBB'],
      state: 'running',
      halted: false,
      equity: 100500,
      cash: 50000,
      positions: [{ symbol: 'AAA', quantity: 100, avg_price: 10, market_value: 1100 }],
      open_orders: [{ order_id: 'o1', symbol: 'BBB', side: 'buy', quantity: 10, limit_price: 5.5 }],
      recent_fills: [],
      risk: { limits: { max_position_value: 50000, max_daily_loss: 0.02 }, breaches: ['daily loss 2.1% over 2%'] },
    },
  ],
};

let routes: Record<string, { status: number; body: unknown }>;
let fetchMock: ReturnType<typeof vi.fn>;
let root: Root;
let host: HTMLElement;

function mount(hash: string) {
  window.location.hash = hash;
  const client = new StatusClient({
    url: () => 'ws://test/ws/status',
    createSocket: (u) => new FakeSocket(u),
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    random: () => 0,
  });
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
  act(() => root.render(<StatusProvider client={client}>{<App />}</StatusProvider>));
}

/** Let lazy imports and fetches settle. */
async function settle() {
  for (let i = 0; i < 10; i++) await act(async () => vi.advanceTimersByTimeAsync(5));
}
const text = () => host.textContent ?? '';
const button = (label: string) => [...host.querySelectorAll('button')].find((b) => b.textContent?.trim().startsWith(label)) as HTMLButtonElement;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0 + 60_000);
  FakeSocket.reset();
  vi.spyOn(console, 'error');
  routes = {};
  fetchMock = vi.fn(async (url: string) => {
    const path = url.split('?')[0];
    const r = routes[path] ?? { status: 404, body: { detail: 'Not Found' } };
    return new Response(JSON.stringify(r.body), { status: r.status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
});
afterEach(() => {
  act(() => root.unmount());
  host.remove();
  expect(console.error).not.toHaveBeenCalled();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  vi.useRealTimers();
  setToken('');
});

describe('Backtests', () => {
  it('lists runs and sorts by a metric column', async () => {
    routes['api/backtests'] = { status: 200, body: { runs: RUNS } };
    mount('#/backtests');
    await settle();
    const ids = () => [...host.querySelectorAll('tbody tr td:first-child')].map((td) => td.textContent);
    expect(ids()).toEqual(['r3', 'r2', 'r1']); // newest first
    await act(async () => button('Sharpe').click());
    expect(ids()).toEqual(['r2', 'r1', 'r3']); // descending
    await act(async () => button('Sharpe').click());
    expect(ids()).toEqual(['r3', 'r1', 'r2']);
    expect(text()).toContain('20.00%');
  });

  it('says "not available yet" when the endpoint 404s', async () => {
    mount('#/backtests');
    await settle();
    expect(text()).toContain('not available yet');
  });

  it('shows a run: metrics, charts, trades, sweep heatmap and walk-forward', async () => {
    routes['api/backtests/r2'] = { status: 200, body: DETAIL };
    routes['api/sweeps/sw1'] = { status: 200, body: SWEEP };
    mount('#/backtests/r2');
    await settle();
    expect(text()).toContain('Sharpe');
    expect(text()).toContain('1.70');
    const charts = [...host.querySelectorAll('.chart-stub')].map((c) => c.textContent);
    expect(charts).toEqual(['equity:3:0 drawdown:3:0', 'AAA:3:2']);
    expect(text()).toContain('1 trades · 1 winners');
    const cells = [...host.querySelectorAll('.hm-cell')];
    expect(cells).toHaveLength(4);
    expect(host.querySelector('.hm-best')?.getAttribute('title')).toBe('fast=10, slow=20: Sharpe 1.70');
    expect(host.querySelector('.hm-best a')?.getAttribute('href')).toBe('#/backtests/r2');
    expect(text()).toContain('Walk-forward');
    expect(text()).toContain('2024H2');
  });
});

describe('Live', () => {
  it('shows a session with positions, orders, risk, and halts it with the token', async () => {
    setToken('tok');
    routes['api/live/sessions'] = { status: 200, body: SESSIONS };
    routes['api/live/sessions/paper/equity'] = { status: 200, body: { points: [{ time: iso(T0), equity: 100000 }, { time: iso(T0 + 1000), equity: 100500 }] } };
    routes['api/live/sessions/paper/halt'] = { status: 200, body: { halted: true } };
    mount('#/live');
    await settle();
    expect(text()).toContain('paper');
    expect(text()).toContain('100,500.00');
    expect(text()).toContain('daily loss 2.1% over 2%');
    expect(text()).toContain('max position value');
    expect(text()).toContain('limit price');
    expect(host.querySelector('.chart-stub')?.textContent).toBe('equity:2:0');
    vi.spyOn(window, 'confirm').mockReturnValue(true);
    await act(async () => button('Halt').click());
    await settle();
    const call = fetchMock.mock.calls.find(([u]) => String(u).endsWith('/halt'));
    expect(call).toBeDefined();
    expect(call![1].method).toBe('POST');
    expect(call![1].headers.Authorization).toBe('Bearer tok');
  });

  it('says "token refused" on 401', async () => {
    routes['api/live/sessions'] = { status: 401, body: { detail: 'bad token' } };
    mount('#/live');
    await settle();
    expect(text()).toContain('Token refused');
  });
});

describe('Pipelines', () => {
  it('groups DAG runs with mapped tasks and triggers a DAG with its conf', async () => {
    routes['api/pipelines/easyquant_backtest/trigger'] = { status: 200, body: { dag_run_id: 'manual__x', url: 'http://af/x' } };
    mount('#/pipelines');
    const run = 'manual__1';
    const ws = FakeSocket.last();
    act(() => ws.open());
    act(() =>
      ws.snapshot([
        comp({ id: `dag_run:easyquant_etl:${run}`, kind: 'dag_run', name: 'easyquant_etl', state: 'running', url: 'http://af/run', heartbeat_at: iso(Date.now()) }),
        ...[0, 1, 2].map((i) =>
          comp({
            id: `task:easyquant_etl:${run}:ingest:${i}:1`,
            kind: 'task',
            name: `ingest[${i}]`,
            state: i === 2 ? 'failed' : 'success',
            parent_id: `dag_run:easyquant_etl:${run}`,
            attrs: { dag_id: 'easyquant_etl', run_id: run, task_id: 'ingest', map_index: i, try_number: 1 },
          }),
        ),
      ]),
    );
    expect(text()).toContain('[3 mapped]');
    expect(text()).toContain('2 success');
    expect(text()).toContain('1 failed');
    expect(host.querySelector('a.ext')?.getAttribute('href')).toBe('http://af/run');

    await act(async () => button('easyquant_backtest').click());
    await act(async () => button('Trigger').click());
    await settle();
    const call = fetchMock.mock.calls.find(([u]) => String(u).includes('/trigger'));
    expect(JSON.parse(call![1].body).conf.strategy).toBe('sma_cross');
    expect(text()).toContain('manual__x');
  });
});
