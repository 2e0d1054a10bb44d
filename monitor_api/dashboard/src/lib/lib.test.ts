import { describe, expect, it } from 'vitest';
import { comp, iso, T0 } from '../test/fixtures';
import type { SweepPoint, Trade } from '../api';
import { compareValues, duration, formatMetric, metricScore, orderMetricNames, sortRows } from './format';
import { buildHeatGrid, heatColor } from './heatmap';
import { groupDagRuns, parseTaskId } from './pipelines';
import { barSeries, drawdownValue, snapToBar, tradeMarkers, valueSeries } from './series';

describe('pipelines', () => {
  const run = 'manual__2026-11-23T00:00:00+00:00';
  const parent = `dag_run:easyquant_etl:${run}`;
  const task = (taskId: string, mapIndex: number, tryNumber: number, state: string, extra = {}) =>
    comp({
      id: `task:easyquant_etl:${run}:${taskId}:${mapIndex}:${tryNumber}`,
      kind: 'task',
      name: `easyquant_etl.${taskId}${mapIndex >= 0 ? `[${mapIndex}]` : ''}`,
      state,
      parent_id: parent,
      attrs: { dag_id: 'easyquant_etl', run_id: run, task_id: taskId, map_index: mapIndex, try_number: tryNumber },
      ...extra,
    });

  it('parses task ids whose run id contains colons', () => {
    expect(parseTaskId(`task:easyquant_etl:${run}:ingest:3:2`)).toEqual({ dagId: 'easyquant_etl', runId: run, taskId: 'ingest', mapIndex: 3, tryNumber: 2 });
  });

  it('groups tasks under their run, mapped instances together, latest try only', () => {
    const runs = groupDagRuns([
      comp({ id: parent, kind: 'dag_run', name: 'easyquant_etl', state: 'running', url: 'http://af/run' }),
      task('plan', -1, 1, 'success', { started_at: iso(T0), finished_at: iso(T0 + 2000), host: 'worker1@a' }),
      task('ingest', 0, 1, 'success', { started_at: iso(T0 + 3000), finished_at: iso(T0 + 9000), host: 'worker2@a' }),
      task('ingest', 1, 1, 'failed', { started_at: iso(T0 + 3000), host: 'worker1@a' }),
      task('ingest', 1, 2, 'running', { started_at: iso(T0 + 10_000), finished_at: null, host: 'worker2@a' }),
      task('ingest', 2, 1, 'queued', { started_at: null }),
    ]);
    expect(runs).toHaveLength(1);
    const r = runs[0];
    expect(r.dagId).toBe('easyquant_etl');
    expect(r.url).toBe('http://af/run');
    expect(r.tasks.map((t) => t.taskId)).toEqual(['plan', 'ingest']);
    const ingest = r.tasks[1];
    expect(ingest.mapped).toBe(true);
    expect(ingest.instances).toHaveLength(3);
    expect(ingest.states).toEqual({ success: 1, running: 1, queued: 1 });
    expect(ingest.state).toBe('running');
    expect(ingest.maxTry).toBe(2);
    // the latest tries' workers: the retry of [1] moved to worker2, [2] has not run anywhere yet
    expect(ingest.hosts).toEqual([['worker2@a', 2]]);
    expect(r.tasks[0].hosts).toEqual([['worker1@a', 1]]);
    expect(ingest.finished_at).toBeNull();
    expect(r.tasks[0].mapped).toBe(false);
  });

  it('builds a run from its tasks when the dag_run row is missing', () => {
    const runs = groupDagRuns([task('a', -1, 1, 'success'), task('b', -1, 1, 'failed')]);
    expect(runs[0].id).toBe(parent);
    expect(runs[0].state).toBe('failed');
  });
});

describe('heatmap', () => {
  const pts: SweepPoint[] = [
    { params: { fast: 5, slow: 20 }, metrics: { sharpe: 0.5, max_drawdown: -0.3 } },
    { params: { fast: 10, slow: 20 }, metrics: { sharpe: 1.5, max_drawdown: -0.1 } },
    { params: { fast: 5, slow: 50 }, metrics: { sharpe: -0.5, max_drawdown: -0.2 } },
    { params: { fast: 10, slow: 50 }, metrics: { sharpe: null, max_drawdown: -0.4 } },
  ];

  it('lays points on sorted axes and scores them between worst and best', () => {
    const g = buildHeatGrid(pts, 'fast', 'slow', 'sharpe');
    expect(g.xs).toEqual([5, 10]);
    expect(g.ys).toEqual([20, 50]);
    expect(g.rows[0].map((c) => c.value)).toEqual([0.5, 1.5]);
    expect(g.rows[1].map((c) => c.score)).toEqual([0, null]);
    expect(g.rows[0][1].score).toBe(1);
    expect(g.best?.x).toBe(10);
    expect(g.best?.y).toBe(20);
  });

  it('treats a drawdown nearer zero as better', () => {
    const g = buildHeatGrid(pts, 'fast', 'slow', 'max_drawdown');
    expect(g.best?.value).toBe(-0.1);
    expect(g.rows[1][1].score).toBe(0);
  });

  it('keeps the best point per cell when a third parameter is folded', () => {
    const g = buildHeatGrid(
      [
        { params: { a: 1, b: 1, c: 1 }, metrics: { sharpe: 0.2 } },
        { params: { a: 1, b: 1, c: 2 }, metrics: { sharpe: 0.9 } },
      ],
      'a',
      'b',
      'sharpe',
    );
    expect(g.rows[0][0].value).toBe(0.9);
  });

  it('colours from red to green', () => {
    expect(heatColor(0)).toBe('hsl(0 62% 45%)');
    expect(heatColor(1)).toBe('hsl(130 62% 45%)');
    expect(heatColor(null)).toBe('transparent');
  });
});

describe('series', () => {
  it('sorts, de-duplicates and drops bad rows (lightweight-charts needs strictly ascending times)', () => {
    const s = valueSeries(
      [
        { time: '2024-01-03', v: 3 },
        { time: '2024-01-01', v: 1 },
        { time: '2024-01-03', v: 33 },
        { time: 'garbage', v: 4 },
        { time: '2024-01-02', v: Number.NaN },
      ],
      (r) => r.time,
      (r) => r.v,
    );
    expect(s.map((p) => p.value)).toEqual([1, 33]);
    expect(s[0].time).toBe(Date.parse('2024-01-01') / 1000);
  });

  it('drops bars with missing prices', () => {
    const b = barSeries([
      { time: '2024-01-01', open: 1, high: 2, low: 0.5, close: 1.5 },
      { time: '2024-01-02', open: 1, high: null as unknown as number, low: 0.5, close: 1.5 },
    ]);
    expect(b).toHaveLength(1);
  });

  it('snaps markers to the bar at or before their time', () => {
    const times = [100, 200, 300];
    expect(snapToBar(times, 250)).toBe(200);
    expect(snapToBar(times, 300)).toBe(300);
    expect(snapToBar(times, 50)).toBe(100);
    expect(snapToBar(times, 999)).toBe(300);
    expect(snapToBar([], 1)).toBeNull();
  });

  it('makes entry and exit markers for one symbol, buy below and sell above', () => {
    const t = (s: string) => Date.parse(s) / 1000;
    const bars = [t('2024-01-01'), t('2024-01-02'), t('2024-01-03')];
    const trades: Trade[] = [
      { symbol: 'AAA', entry_time: '2024-01-02T00:00:00Z', entry_price: 10, exit_time: '2024-01-03T00:00:00Z', exit_price: 11, quantity: 100, pnl: 100 },
      { symbol: 'AAA', entry_time: '2024-01-01T00:00:00Z', entry_price: 12, exit_time: null, exit_price: null, quantity: -5, pnl: null },
      { symbol: 'BBB', entry_time: '2024-01-01T00:00:00Z', entry_price: 1, exit_time: null, exit_price: null, quantity: 1, pnl: null },
    ];
    const m = tradeMarkers(trades, 'AAA', bars);
    expect(m.map((x) => [x.time, x.kind, x.position])).toEqual([
      [bars[0], 'sell', 'aboveBar'],
      [bars[1], 'buy', 'belowBar'],
      [bars[2], 'sell', 'aboveBar'],
    ]);
    expect(m[1].text).toBe('B');
    expect(m[1].detail).toBe('buy 100 @ 10');
    expect(m[0].detail).toBe('sell 5 @ 12');
  });

  it('shows drawdown as non-positive whatever the sign convention', () => {
    expect(drawdownValue(0.2)).toBe(-0.2);
    expect(drawdownValue(-0.2)).toBe(-0.2);
    expect(drawdownValue(null)).toBeNull();
  });
});

describe('format', () => {
  it('sorts numbers numerically and keeps missing values last in both directions', () => {
    const rows = [{ v: 10 }, { v: null }, { v: 2 }, { v: -1 }];
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.v)).toEqual([-1, 2, 10, null]);
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.v)).toEqual([10, 2, -1, null]);
    expect(compareValues('run2', 'run10')).toBeLessThan(0);
  });

  it('formats metrics and durations', () => {
    expect(formatMetric('total_return', 0.1234)).toBe('12.34%');
    expect(formatMetric('sharpe', 1.2345)).toBe('1.23');
    expect(formatMetric('trade_count', 12)).toBe('12');
    expect(formatMetric('sharpe', null)).toBe('–');
    expect(duration(42)).toBe('42s');
    expect(duration(185)).toBe('3m 05s');
    expect(duration(7800)).toBe('2h 10m');
    expect(metricScore('max_drawdown', 0.3)).toBe(-0.3);
    expect(orderMetricNames(['zeta', 'sharpe', 'total_return'])).toEqual(['total_return', 'sharpe', 'zeta']);
  });
});
