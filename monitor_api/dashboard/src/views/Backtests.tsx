// The backtest runs table, sortable by any metric.

import { useMemo, useState } from 'react';
import { api, type BacktestRun } from '../api';
import { DataState, Signed, SortTable, StateBadge, type Column } from '../components/ui';
import { useResource } from '../hooks/resource';
import { formatMetric, metricLabel, orderMetricNames, shortDate, shortTime } from '../lib/format';

export function Backtests() {
  const res = useResource((signal) => api.backtests({ sort: '-created_at', limit: 500 }, signal), [], 15_000);
  return (
    <section className="view">
      <DataState res={res} what="backtest runs">
        {(d) => <RunsTable runs={d.runs} />}
      </DataState>
    </section>
  );
}

function RunsTable({ runs }: { runs: BacktestRun[] }) {
  const [text, setText] = useState('');
  const [onlySweep, setOnlySweep] = useState<string | null>(null);
  const metricNames = useMemo(() => orderMetricNames(runs.flatMap((r) => Object.keys(r.metrics ?? {}))), [runs]);
  const columns = useMemo<Column<BacktestRun>[]>(
    () => [
      {
        key: 'run_id',
        label: 'Run',
        value: (r) => r.run_id,
        render: (r) => <a href={`#/backtests/${encodeURIComponent(r.run_id)}`}>{r.run_id.length > 14 ? `${r.run_id.slice(0, 12)}…` : r.run_id}</a>,
      },
      { key: 'strategy', label: 'Strategy', value: (r) => r.strategy },
      { key: 'symbols', label: 'Symbols', value: (r) => r.symbols.join(' ') },
      { key: 'params', label: 'Params', value: (r) => paramText(r.params), className: 'mono' },
      { key: 'period', label: 'Period', value: (r) => r.start, render: (r) => `${shortDate(r.start)} → ${shortDate(r.end)}` },
      { key: 'state', label: 'State', value: (r) => r.state, render: (r) => <StateBadge state={r.state} /> },
      ...metricNames.map<Column<BacktestRun>>((m) => ({
        key: `m:${m}`,
        label: metricLabel(m),
        title: m,
        className: 'num',
        value: (r) => r.metrics?.[m] ?? null,
        render: (r) => {
          const v = r.metrics?.[m];
          const text = formatMetric(m, v);
          return m === 'trade_count' ? text : <Signed value={typeof v === 'number' ? v : null} text={text} />;
        },
      })),
      {
        key: 'sweep_id',
        label: 'Sweep',
        value: (r) => r.sweep_id,
        render: (r) =>
          r.sweep_id ? (
            <button type="button" className="link" onClick={(e) => (e.stopPropagation(), setOnlySweep(onlySweep ? null : r.sweep_id))} title="Show only this sweep's runs">
              {r.sweep_id.slice(0, 8)}
            </button>
          ) : (
            ''
          ),
      },
      { key: 'created_at', label: 'Created', value: (r) => r.created_at, render: (r) => shortTime(r.created_at), className: 'num' },
    ],
    [metricNames, onlySweep],
  );
  const t = text.trim().toLowerCase();
  const rows = runs.filter(
    (r) => (!onlySweep || r.sweep_id === onlySweep) && (!t || `${r.run_id} ${r.strategy} ${r.symbols.join(' ')} ${paramText(r.params)}`.toLowerCase().includes(t)),
  );
  return (
    <>
      <div className="filters">
        <input className="search" type="search" placeholder="Filter by strategy, symbol, params" value={text} onChange={(e) => setText(e.target.value)} aria-label="Filter runs" />
        {onlySweep && (
          <span className="chip on">
            sweep {onlySweep.slice(0, 8)} ·{' '}
            <a href={`#/sweeps/${encodeURIComponent(onlySweep)}`}>heatmap</a>{' '}
            <button type="button" className="link" onClick={() => setOnlySweep(null)} aria-label="Show all runs">
              ✕
            </button>
          </span>
        )}
        <span className="muted small">
          {rows.length} of {runs.length} runs · click a header to sort
        </span>
      </div>
      <SortTable
        rows={rows}
        columns={columns}
        rowKey={(r) => r.run_id}
        initialSort={{ key: 'created_at', dir: 'desc' }}
        onRowClick={(r) => (window.location.hash = `#/backtests/${encodeURIComponent(r.run_id)}`)}
        rowClass={(r) => (r.state === 'failed' ? 'row-failed' : '')}
        empty="No backtest runs yet."
      />
    </>
  );
}

export function paramText(p: Record<string, unknown> | null | undefined): string {
  return Object.entries(p ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}
