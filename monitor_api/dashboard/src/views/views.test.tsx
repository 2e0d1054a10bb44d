// @vitest-environment jsdom
// Render each REST-backed view against a stubbed monitor_api (charts stubbed:
// jsdom has no canvas) and check what the user would see and send.

import { act } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { comp, FakeSocket, iso, T0 } from '../test/fixtures';
import { appHarness } from '../test/harness';
import { setToken } from '../token';
// Load the lazily imported views up front so React.lazy resolves within a few microtasks.
import { shortRunId } from './Backtests';
import './BacktestRun';
import './Live';

vi.mock('../components/Chart', () => ({
  Chart: ({ series }: { series: { name: string; data: unknown[]; markers?: unknown[] }[] }) => (
    <div className="chart-stub">{series.map((s) => `${s.name}:${s.data.length}:${s.markers?.length ?? 0}`).join(' ')}</div>
  ),
}));

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

const h = appHarness('en');
const { mount, settle, text, button } = h;

describe('Backtests', () => {
  it('lists runs and sorts by a metric column', async () => {
    h.routes['api/backtests'] = { status: 200, body: { runs: RUNS } };
    mount('#/backtests');
    await settle();
    const ids = () => [...h.host.querySelectorAll('tbody tr td:first-child a')].map((a) => a.textContent);
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
    h.routes['api/backtests/r2'] = { status: 200, body: DETAIL };
    h.routes['api/sweeps/sw1'] = { status: 200, body: SWEEP };
    mount('#/backtests/r2');
    await settle();
    expect(text()).toContain('Sharpe');
    expect(text()).toContain('1.70');
    const charts = [...h.host.querySelectorAll('.chart-stub')].map((c) => c.textContent);
    expect(charts).toEqual(['equity:3:0 drawdown:3:0', 'AAA:3:2']);
    expect(text()).toContain('1 trades · 1 winners');
    const cells = [...h.host.querySelectorAll('.hm-cell')];
    expect(cells).toHaveLength(4);
    expect(h.host.querySelector('.hm-best')?.getAttribute('title')).toBe('fast=10, slow=20: Sharpe 1.70');
    expect(h.host.querySelector('.hm-best a')?.getAttribute('href')).toBe('#/backtests/r2');
    expect(text()).toContain('Walk-forward');
    expect(text()).toContain('2024H2');
  });

  it('lets a sweep of three parameters pick the heatmap axes', async () => {
    const sweep = {
      ...SWEEP,
      params: ['fast', 'slow', 'stop'],
      points: SWEEP.points.map((p, i) => ({ ...p, params: { ...p.params, stop: i % 2 ? 0.05 : 0.1 } })),
      walkforward: [],
    };
    h.routes['api/backtests/r2'] = { status: 200, body: DETAIL };
    h.routes['api/sweeps/sw1'] = { status: 200, body: sweep };
    mount('#/backtests/r2');
    await settle();
    const [metric, x, y] = [...h.host.querySelectorAll('.filters select')] as HTMLSelectElement[];
    expect(metric.value).toBe('sharpe');
    expect([...x.options].map((o) => o.value)).toEqual(['fast', 'slow', 'stop']);
    expect([x.value, y.value]).toEqual(['fast', 'slow']);
    expect(text()).toContain('other parameters: best value per cell');
    const heatmap = () => h.host.querySelector('.heatmap')!.getAttribute('aria-label');
    const before = heatmap();
    await act(async () => {
      y.value = 'stop';
      y.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(y.value).toBe('stop');
    expect(heatmap()).not.toBe(before);
    expect(heatmap()).toContain('stop');
  });
});

describe('Live', () => {
  it('shows a session with positions, orders, risk, and halts it with the token', async () => {
    setToken('tok');
    h.routes['api/live/sessions'] = { status: 200, body: SESSIONS };
    h.routes['api/live/sessions/paper/equity'] = { status: 200, body: { points: [{ time: iso(T0), equity: 100000 }, { time: iso(T0 + 1000), equity: 100500 }] } };
    h.routes['api/live/sessions/paper/halt'] = { status: 200, body: { halted: true } };
    mount('#/live');
    await settle();
    expect(text()).toContain('paper');
    expect(text()).toContain('100,500.00');
    expect(text()).toContain('daily loss 2.1% over 2%');
    expect(text()).toContain('max position value');
    expect(text()).toContain('limit price');
    expect(h.host.querySelector('.chart-stub')?.textContent).toBe('equity:2:0');
    vi.spyOn(window, 'confirm').mockReturnValue(true);
    await act(async () => button('Halt').click());
    await settle();
    const call = h.fetchMock.mock.calls.find(([u]) => String(u).endsWith('/halt'));
    expect(call).toBeDefined();
    expect(call![1].method).toBe('POST');
    expect(call![1].headers.Authorization).toBe('Bearer tok');
  });

  it('says "token refused" on 401', async () => {
    h.routes['api/live/sessions'] = { status: 401, body: { detail: 'bad token' } };
    mount('#/live');
    await settle();
    expect(text()).toContain('Token refused');
  });
});

describe('Pipelines', () => {
  it('groups DAG runs with mapped tasks and triggers a DAG with its conf', async () => {
    h.routes['api/pipelines/easyquant_backtest/trigger'] = { status: 200, body: { dag_run_id: 'manual__x', url: 'http://af/x' } };
    mount('#/pipelines');
    const run = 'manual__1';
    const ws = FakeSocket.last();
    act(() => ws.open());
    act(() =>
      ws.snapshot([
        comp({ id: `dag_run:easyquant_etl:${run}`, kind: 'dag_run', name: 'easyquant_etl', state: 'running', url: 'http://af/run', heartbeat_at: iso(Date.now()) }),
        comp({
          id: `task:easyquant_etl:${run}:plan:-1:1`,
          kind: 'task',
          name: 'plan',
          state: 'success',
          host: 'worker1@node-a',
          parent_id: `dag_run:easyquant_etl:${run}`,
          attrs: { dag_id: 'easyquant_etl', run_id: run, task_id: 'plan', map_index: -1, try_number: 1 },
        }),
        ...[0, 1, 2].map((i) =>
          comp({
            id: `task:easyquant_etl:${run}:ingest:${i}:1`,
            kind: 'task',
            name: `ingest[${i}]`,
            state: i === 2 ? 'failed' : 'success',
            host: i === 1 ? 'worker2@node-b' : 'worker1@node-a',
            parent_id: `dag_run:easyquant_etl:${run}`,
            attrs: { dag_id: 'easyquant_etl', run_id: run, task_id: 'ingest', map_index: i, try_number: 1 },
          }),
        ),
      ]),
    );
    expect(text()).toContain('[3 mapped]');
    expect(text()).toContain('2 success');
    expect(text()).toContain('1 failed');
    expect(h.host.querySelector('a.ext')?.getAttribute('href')).toBe('http://af/run');
    // each task's worker: a plain task's own, a mapped task's workers with their counts,
    // and each mapped instance's once the row is opened
    const workers = () => [...h.host.querySelectorAll('table.tasks tbody td[data-label="Worker"]')].map((td) => td.textContent);
    expect([...h.host.querySelectorAll('table.tasks thead th')].map((th) => th.textContent)).toContain('Worker');
    expect(workers()).toEqual(['worker1@node-a × 2worker2@node-b × 1', 'worker1@node-a']);
    await act(async () => (h.host.querySelector('tr.clickable') as HTMLElement).click());
    expect(workers()).toEqual(['worker1@node-a × 2worker2@node-b × 1', 'worker1@node-a', 'worker2@node-b', 'worker1@node-a', 'worker1@node-a']);

    await act(async () => button('easyquant_backtest').click());
    await act(async () => button('Trigger').click());
    await settle();
    const call = h.fetchMock.mock.calls.find(([u]) => String(u).includes('/trigger'));
    expect(JSON.parse(call![1].body).conf.strategy).toBe('sma_cross');
    expect(text()).toContain('manual__x');
  });
});

// Shapes as monitor_api sends them (monitor_api/routes/backtests.py): run kinds, a sweep's
// grid in its params, 'trades' as the trade count, warnings, walk-forward windows with periods.
describe('Backtests as monitor_api stores them', () => {
  const run = (id: string, kind: string, extra: Record<string, unknown> = {}) => ({
    ...RUNS[0],
    run_id: id,
    kind,
    sweep_id: kind === 'backtest' ? null : 'sw9',
    metrics: { sharpe: 1, trades: 7, final_equity: 101000, turnover: 3.2 },
    ...extra,
  });

  it('filters by kind, shows a sweep grid compactly, and adds every metric on demand', async () => {
    h.routes['api/backtests'] = {
      status: 200,
      body: {
        runs: [
          run('b1', 'backtest'),
          run('sw9', 'sweep', { params: { grid: { fast: [5, 10], slow: [30, 50] }, random: null, rank_by: 'sharpe' } }),
          run('p1', 'point'),
          run('p2', 'point'),
        ],
      },
    };
    mount('#/backtests');
    await settle();
    const ids = () => [...h.host.querySelectorAll('tbody tr[data-id]')].map((tr) => tr.getAttribute('data-id'));
    expect(ids()).toHaveLength(4);
    expect(text()).toContain('fast 5|10 slow 30|50 rank_by=sharpe');
    expect(text()).not.toContain('"grid"');
    await act(async () => button('point').click());
    expect(ids().sort()).toEqual(['p1', 'p2']);
    await act(async () => button('point').click());
    expect(ids()).toHaveLength(4);
    const headers = () => [...h.host.querySelectorAll('thead th')].map((th) => th.textContent?.replace(/[▲▼]/g, '').trim());
    expect(headers()).toContain('Trades');
    expect(headers()).not.toContain('Final equity');
    await act(async () => button('all metrics').click());
    expect(headers()).toContain('Final equity');
    expect(headers()).toContain('Turnover');
    // counts and sizes are not coloured as gains or losses
    const trades = h.host.querySelector('tr[data-id="b1"] td[data-label="Trades"]');
    expect(trades?.textContent).toBe('7');
    expect(trades?.querySelector('.pos, .neg')).toBeNull();
    expect(h.host.querySelector('tr[data-id="b1"] td[data-label="Sharpe"] .pos')).not.toBeNull();
  });

  it("filters to one sweep's runs from a point's sweep link", async () => {
    h.routes['api/backtests'] = {
      status: 200,
      body: { runs: [run('b1', 'backtest'), run('sw9', 'sweep', { params: { grid: { fast: [5, 10] } } }), run('p1', 'point'), run('p2', 'point')] },
    };
    mount('#/backtests');
    await settle();
    const link = h.host.querySelector('tr[data-id="p1"] button.link') as HTMLButtonElement;
    expect(link.textContent).toBe('point');
    await act(async () => link.click());
    const ids = [...h.host.querySelectorAll('tbody tr[data-id]')].map((tr) => tr.getAttribute('data-id')).sort();
    expect(ids).toEqual(['p1', 'p2', 'sw9']);
    expect(h.host.querySelector('.chip.on a')?.getAttribute('href')).toBe('#/sweeps/sw9');
  });

  it('shortens run ids to the part that tells sweep points apart', () => {
    expect(shortRunId('92d4e302cccd4b1a-1a2b3c4d5e')).toBe('…-1a2b3c');
    expect(shortRunId('3b7f3b2858224c1d-w003')).toBe('…-w003');
    expect(shortRunId('476898c00d16ab12')).toBe('476898c00d…');
    expect(shortRunId('r1')).toBe('r1');
  });

  it('shows a failed run with its error, warnings, and merged price bars', async () => {
    h.routes['api/backtests/f1'] = {
      status: 200,
      body: {
        ...DETAIL,
        run_id: 'f1',
        kind: 'backtest',
        sweep_id: null,
        state: 'failed',
        error: "DataError: symbol 'NOSUCH': no 1d bars stored",
        warnings: ["prices of NOSUCH: symbol 'NOSUCH': no 1d bars stored"],
        prices_freq: { AAA: '3x1m' },
        trades_total: 5000,
      },
    };
    mount('#/backtests/f1');
    await settle();
    expect(h.host.querySelector('.notice.bad')?.textContent).toContain("This run failed: DataError: symbol 'NOSUCH'");
    expect(h.host.querySelector('.notice.warn')?.textContent).toContain('prices of NOSUCH');
    expect(text()).toContain('1 bar = 3 × 1m');
    expect(text()).toContain('first 1 of 5000 trades');
  });

  it('shows a walk-forward as windows (periods, winners, IS vs OOS), without a heatmap', async () => {
    h.routes['api/backtests/w-w001'] = { status: 200, body: { ...DETAIL, run_id: 'w-w001', kind: 'point', sweep_id: 'wf1' } };
    h.routes['api/sweeps/wf1'] = {
      status: 200,
      body: {
        sweep_id: 'wf1',
        kind: 'walkforward',
        strategy: 'sma_cross',
        symbols: ['AAA'],
        rank_by: 'sharpe',
        grid: { fast: [5, 10], slow: [30, 60] },
        params: ['fast', 'slow'],
        metrics: { sharpe: 0.8 },
        points: [],
        walkforward: [
          {
            window: 1,
            run_id: 'w-w000',
            params: { fast: 5, slow: 30 },
            in_sample_period: ['2021-01-04T00:00:00+00:00', '2021-08-04T00:00:00+00:00'],
            out_of_sample_period: ['2021-08-05T00:00:00+00:00', '2021-10-29T00:00:00+00:00'],
            in_sample: { sharpe: 0.67 },
            out_of_sample: { sharpe: 1.98 },
          },
          {
            window: 2,
            run_id: 'w-w001',
            params: { fast: 10, slow: 60 },
            in_sample_period: ['2021-04-01T00:00:00+00:00', '2021-10-29T00:00:00+00:00'],
            out_of_sample_period: ['2021-11-01T00:00:00+00:00', '2022-01-27T00:00:00+00:00'],
            in_sample: { sharpe: 0.83 },
            out_of_sample: { sharpe: -0.43 },
          },
        ],
      },
    };
    mount('#/backtests/w-w001');
    await settle();
    expect(text()).toContain('Walk-forward wf1');
    expect(text()).toContain('ranked by Sharpe');
    expect(h.host.querySelectorAll('.hm-cell')).toHaveLength(0);
    const rows = [...h.host.querySelectorAll('.wf tbody tr')];
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('Aug 5, 2021 → Oct 29, 2021'); // English dates, as Intl writes them
    expect(rows[0].textContent).toContain('fast=5 slow=30');
    expect(rows[0].querySelector('a')?.getAttribute('href')).toBe('#/backtests/w-w000');
    expect(rows[1].className).toContain('row-current');
    expect(rows[1].textContent).toContain('0.83');
    expect(rows[1].textContent).toContain('-0.43');
  });
});

// Live sessions as monitor_api/routes/live.py sends them: risk events are {at, kind, message}
// and include halts and resumes, not only breaches.
describe('Live as monitor_api sends it', () => {
  const session = (extra: Record<string, unknown>) => ({
    ...SESSIONS.sessions[0],
    market: 'us',
    feed: 'replay',
    broker: 'paper',
    bars: 250,
    bad_bars: 0,
    last_bar_time: '2022-12-30T00:00:00+00:00',
    halt_reason: null,
    ...extra,
  });

  it('lists risk events readably and is red only while halted or just breached', async () => {
    h.routes['api/live/sessions'] = {
      status: 200,
      body: {
        sessions: [
          session({
            risk: {
              limits: { max_order_value: 20000 },
              breaches: [
                { at: iso(T0 + 2000), kind: 'resume', message: 'resumed by an operator', detail: null },
                { at: iso(T0 + 1000), kind: 'halt', message: 'halted by an operator', detail: { flatten: false } },
              ],
            },
          }),
        ],
      },
    };
    h.routes['api/live/sessions/paper/equity'] = { status: 200, body: { points: [] } };
    mount('#/live');
    await settle();
    const card = h.host.querySelector('article.session') as HTMLElement;
    expect(card.className).not.toContain('card-failed');
    const items = [...card.querySelectorAll('.breaches li')].map((li) => li.textContent);
    expect(items[0]).toContain('resume resumed by an operator');
    expect(items[1]).toContain('halt halted by an operator');
    expect(card.textContent).not.toContain('{"at"');
    expect(card.textContent).toContain('feed replay');
    expect(card.textContent).toContain('250 bars');
  });

  it('shows fills and orders with the trader columns first and without long ids', async () => {
    h.routes['api/live/sessions'] = {
      status: 200,
      body: {
        sessions: [
          session({
            open_orders: [{ client_order_id: 'paper-2022-o0-AAA', bar_ts: iso(T0), symbol: 'AAA', side: 'buy', quantity: 10, kind: 'limit', limit_price: 9.5, state: 'open', created_at: iso(T0) }],
            recent_fills: [{ fill_id: 'paper/paper-2022-o0-AAA/1', client_order_id: 'paper-2022-o0-AAA', symbol: 'AAA', bar_ts: iso(T0), quantity: -100, price: 10.25, fees: 1.5, recorded_at: iso(T0) }],
          }),
        ],
      },
    };
    h.routes['api/live/sessions/paper/equity'] = { status: 200, body: { points: [] } };
    mount('#/live');
    await settle();
    const heads = (title: string) =>
      [...h.host.querySelectorAll('.session-tables > div')]
        .find((d) => d.querySelector('h4')?.textContent === title)!
        .querySelectorAll('thead th');
    const labels = (title: string) => [...heads(title)].map((th) => th.textContent?.replace(/[▲▼]/g, '').trim());
    expect(labels('Recent fills')).toEqual(['bar', 'symbol', 'quantity', 'px', 'fees']);
    expect(labels('Open orders')).toEqual(['bar', 'symbol', 'side', 'quantity', 'kind', 'limit price', 'state']);
    expect(text()).not.toContain('paper/paper-2022-o0-AAA/1');
  });

  it('shows a halted session in red with its reason and a Resume button', async () => {
    h.routes['api/live/sessions'] = {
      status: 200,
      body: {
        sessions: [
          session({
            halted: true,
            halt_reason: 'max_daily_loss breached',
            risk: { limits: {}, breaches: [{ at: iso(T0), kind: 'breach', message: 'daily loss 2.4% over 2%' }] },
          }),
        ],
      },
    };
    h.routes['api/live/sessions/paper/equity'] = { status: 200, body: { points: [] } };
    mount('#/live');
    await settle();
    const card = h.host.querySelector('article.session') as HTMLElement;
    expect(card.className).toContain('card-failed');
    expect(card.textContent).toContain('Halted: max_daily_loss breached');
    expect(card.querySelector('.breaches li.bad')?.textContent).toContain('breach daily loss 2.4% over 2%');
    expect(button('Resume')).toBeDefined();
  });
});
