// @vitest-environment jsdom
// The whole dashboard speaks Chinese: every view's labels, and the header's switch changes them
// all at once and is remembered.

import { act } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { comp, FakeSocket, iso, T0 } from '../test/fixtures';
import { appHarness } from '../test/harness';
import './BacktestRun';
import './Backtests';
import './Data';
import './Live';

vi.mock('../components/Chart', () => ({
  Chart: ({ series }: { series: { name: string; data: unknown[] }[] }) => <div className="chart-stub">{series.map((s) => `${s.name}:${s.data.length}`).join(' ')}</div>,
}));

const RUN = {
  run_id: 'r1',
  kind: 'backtest',
  strategy: 'sma_cross',
  symbols: ['600519.SH'],
  params: { fast: 5, slow: 20 },
  market: 'cn',
  start: '2024-01-02',
  end: '2024-12-31',
  state: 'success',
  created_at: iso(T0),
  metrics: { total_return: 0.1234, sharpe: 1.5, max_drawdown: -0.08, trades: 4 },
  sweep_id: null,
};
const SESSION = {
  session: 'paper',
  strategy: 'sma_cross',
  symbols: ['600519.SH'],
  state: 'running',
  halted: true,
  halt_reason: 'max_daily_loss',
  equity: 1234567.5,
  cash: 50000,
  positions: [{ symbol: '600519.SH', quantity: 100, avg_price: 1700, market_value: 171000 }],
  open_orders: [{ bar_ts: iso(T0), symbol: '600519.SH', side: 'buy', quantity: 100, kind: 'limit', limit_price: 1690, state: 'open' }],
  recent_fills: [],
  risk: { limits: { max_order_value: 20000 }, breaches: [{ at: iso(T0), kind: 'halt', message: 'halted by an operator' }] },
};

const headers = (h: ReturnType<typeof appHarness>, scope = '') =>
  [...h.host.querySelectorAll(`${scope} thead th`)].map((th) => th.textContent?.replace(/[▲▼]/g, '').trim());
const nav = (h: ReturnType<typeof appHarness>) => [...h.host.querySelectorAll('header nav a')].map((a) => a.textContent);

describe('the dashboard in Chinese', () => {
  const h = appHarness('zh');

  it('labels the overview, its states and durations in Chinese', async () => {
    h.mount('#/');
    const ws = FakeSocket.last();
    act(() => ws.open());
    act(() => ws.snapshot([comp({ id: 'cli:1', kind: 'cli', name: 'ingest', state: 'failed', message: 'disk full' }), comp({ id: 'live:p', kind: 'live', name: 'paper', heartbeat_at: iso(Date.now() - 185_000), heartbeat_interval: 600 })]));
    expect(nav(h)).toEqual(['总览', '流水线', '回测', '实盘', '数据']);
    expect(h.host.querySelector('.conn-text')?.textContent).toBe('已连接');
    expect(headers(h, 'table.components')).toEqual(['类型', '名称', '状态', '进度', '消息', '心跳', '耗时']);
    expect(h.host.querySelector('tr[data-id="cli:1"] .badge')?.textContent).toBe('失败');
    expect(h.host.querySelector('tr[data-id="cli:1"] td.kind')?.textContent).toBe('命令行');
    expect(h.host.querySelector('tr[data-id="live:p"] td.age')?.textContent).toBe('3分05秒前');
    expect(document.title).toBe('总览 · EasyQuant');
    await h.settle();
  });

  it("labels a DAG run's tasks and their workers in Chinese", async () => {
    h.mount('#/pipelines');
    const ws = FakeSocket.last();
    act(() => ws.open());
    const run = 'manual__1';
    const attrs = (i: number) => ({ dag_id: 'easyquant_etl', run_id: run, task_id: 'ingest', map_index: i, try_number: 1 });
    act(() =>
      ws.snapshot(
        [0, 1].map((i) => comp({ id: `task:easyquant_etl:${run}:ingest:${i}:1`, kind: 'task', name: `ingest[${i}]`, state: 'running', host: 'worker1@a', attrs: attrs(i) })),
      ),
    );
    expect(headers(h, 'table.tasks')).toEqual(['任务', '状态', '工作节点', '进度', '消息', '耗时']);
    expect(h.host.querySelector('table.tasks td.host')?.textContent).toBe('worker1@a × 2 个');
    await h.settle();
  });

  it('labels the backtests table and metrics in Chinese, with Chinese-style numbers', async () => {
    h.routes['api/backtests'] = { status: 200, body: { runs: [RUN] } };
    h.mount('#/backtests');
    await h.settle();
    const hs = headers(h);
    expect(hs.slice(0, 6)).toEqual(['运行', '策略', '参数', '区间', '状态', '创建时间']);
    expect(hs).toContain('夏普比率');
    expect(hs).toContain('最大回撤');
    expect(h.text()).toContain('2024年1月2日');
    expect(h.text()).toContain('12.34%');
    expect(h.text()).toContain('显示 1 / 1 个运行');
  });

  it('labels a live session in Chinese', async () => {
    h.routes['api/live/sessions'] = { status: 200, body: { sessions: [SESSION] } };
    h.routes['api/live/sessions/paper/equity'] = { status: 200, body: { points: [] } };
    h.mount('#/live');
    await h.settle();
    expect(h.text()).toContain('已暂停：max_daily_loss。恢复之前不会下新单。');
    expect(h.button('恢复')).toBeDefined();
    expect(h.text()).toContain('单笔订单金额上限');
    expect(h.text()).toContain('1,234,567.50');
    const open = [...h.host.querySelectorAll('.session-tables > div')].find((d) => d.querySelector('h4')?.textContent === '未成交订单')!;
    expect([...open.querySelectorAll('thead th')].map((th) => th.textContent?.replace(/[▲▼]/g, '').trim())).toEqual(['K线时间', '代码', '方向', '数量', '类型', '限价', '状态']);
  });

  it('says "not available yet" in Chinese', async () => {
    h.mount('#/backtests');
    await h.settle();
    expect(h.text()).toContain('回测记录：暂不可用。');
  });
});

describe('the language switch', () => {
  const h = appHarness('en');

  it('changes every label at once, keeps the page state, and is remembered', async () => {
    h.routes['api/backtests'] = { status: 200, body: { runs: [RUN] } };
    h.mount('#/backtests');
    await h.settle();
    expect(nav(h)).toEqual(['Overview', 'Pipelines', 'Backtests', 'Live', 'Data']);
    expect(headers(h)).toContain('Sharpe');
    const select = h.host.querySelector('header select') as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['English', '简体中文']);
    expect(select.value).toBe('en');
    await act(async () => {
      select.value = 'zh';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(nav(h)).toEqual(['总览', '流水线', '回测', '实盘', '数据']);
    expect(headers(h)).toContain('夏普比率');
    expect(headers(h)).not.toContain('Sharpe');
    expect(localStorage.getItem('easyquant.locale')).toBe('zh');
    expect(document.documentElement.lang).toBe('zh-CN');
    expect(document.title).toBe('回测 · EasyQuant');
    // no refetch needed: the same rows, relabelled
    expect(h.host.querySelectorAll('tbody tr[data-id]')).toHaveLength(1);
    // other views follow too
    act(() => {
      window.location.hash = '#/pipelines';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(h.text()).toContain('触发 DAG');
    await act(async () => {
      select.value = 'en';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(h.text()).toContain('Trigger a DAG');
    expect(localStorage.getItem('easyquant.locale')).toBe('en');
    await h.settle();
  });
});
