// The backtest runs table, sortable by any metric.

import { useMemo, useState } from 'react';
import { api, type BacktestRun } from '../api';
import { DataState, Signed, SortTable, StateBadge, type Column } from '../components/ui';
import { useResource } from '../hooks/resource';
import { CORE_METRICS, formatMetric, isSignedMetric, metricLabel, orderMetricNames, shortDate, shortTime } from '../lib/format';
import { t, useLocale } from '../i18n';
import { kindLabel } from './Overview';

export function Backtests() {
  const res = useResource((signal) => api.backtests({ sort: '-created_at', limit: 500 }, signal), [], 15_000);
  return (
    <section className="view">
      <DataState res={res} what={t('backtests.what')}>
        {(d) => <RunsTable runs={d.runs} />}
      </DataState>
    </section>
  );
}

function RunsTable({ runs }: { runs: BacktestRun[] }) {
  const [text, setText] = useState('');
  const [onlySweep, setOnlySweep] = useState<string | null>(null);
  const [allMetrics, setAllMetrics] = useState(false);
  const [kinds, setKinds] = useState<Set<string>>(new Set());
  const locale = useLocale();
  const allNames = useMemo(() => orderMetricNames(runs.flatMap((r) => Object.keys(r.metrics ?? {}))), [runs]);
  const metricNames = useMemo(() => (allMetrics ? allNames : allNames.filter((m) => CORE_METRICS.has(m))), [allNames, allMetrics]);
  const kindCounts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const r of runs) c[r.kind ?? 'backtest'] = (c[r.kind ?? 'backtest'] ?? 0) + 1;
    return c;
  }, [runs]);
  const columns = useMemo<Column<BacktestRun>[]>(
    () => [
      {
        key: 'run_id',
        label: t('col.run'),
        value: (r) => r.run_id,
        render: (r) => (
          <>
            <a href={`#/backtests/${encodeURIComponent(r.run_id)}`} title={r.run_id}>
              {shortRunId(r.run_id)}
            </a>{' '}
            {r.sweep_id ? (
              <button
                type="button"
                className="link small"
                onClick={(e) => (e.stopPropagation(), setOnlySweep(onlySweep ? null : r.sweep_id))}
                title={t(r.kind === 'point' ? 'backtests.onlyItsSweep' : 'backtests.onlyThisSweep', { kind: kindLabel(r.kind ?? 'sweep'), sweep: r.sweep_id })}
              >
                {kindLabel(r.kind ?? 'sweep')}
              </button>
            ) : (
              r.kind && r.kind !== 'backtest' && <span className="muted small"> {kindLabel(r.kind)}</span>
            )}
          </>
        ),
      },
      {
        key: 'strategy',
        label: t('col.strategy'),
        value: (r) => `${r.strategy} ${r.symbols.join(' ')}`,
        render: (r) => (
          <>
            {r.strategy} <span className="muted">{r.symbols.join(' ')}</span>
          </>
        ),
      },
      {
        key: 'params',
        label: t('col.params'),
        value: (r) => paramText(r.params),
        render: (r) => <span title={paramText(r.params)}>{paramText(r.params)}</span>,
        className: 'mono params',
      },
      {
        key: 'period',
        label: t('col.period'),
        value: (r) => r.start,
        // may break after the arrow when the window is too narrow for every column
        render: (r) => (
          <>
            <span className="nowrap">{shortDate(r.start)}&thinsp;→</span> <span className="nowrap">{shortDate(r.end)}</span>
          </>
        ),
        className: 'period',
      },
      { key: 'state', label: t('col.state'), value: (r) => r.state, render: (r) => <StateBadge state={r.state} /> },
      // before the metrics: their count varies ("all metrics"), the time of a run does not
      { key: 'created_at', label: t('col.created'), value: (r) => r.created_at, render: (r) => shortTime(r.created_at), className: 'num' },
      ...metricNames.map<Column<BacktestRun>>((m) => ({
        key: `m:${m}`,
        label: metricLabel(m),
        title: m,
        className: 'num',
        value: (r) => r.metrics?.[m] ?? null,
        render: (r) => {
          const v = r.metrics?.[m];
          const text = formatMetric(m, v);
          return isSignedMetric(m) ? <Signed value={typeof v === 'number' ? v : null} text={text} /> : text;
        },
      })),
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps -- labels follow the locale
    [metricNames, onlySweep, locale],
  );
  const needle = text.trim().toLowerCase();
  const rows = runs.filter(
    (r) =>
      (!onlySweep || r.sweep_id === onlySweep) &&
      (!kinds.size || kinds.has(r.kind ?? 'backtest')) &&
      (!needle || `${r.run_id} ${r.strategy} ${r.symbols.join(' ')} ${paramText(r.params)}`.toLowerCase().includes(needle)),
  );
  return (
    <>
      <div className="filters">
        <input className="search" type="search" placeholder={t('backtests.filter')} value={text} onChange={(e) => setText(e.target.value)} aria-label={t('backtests.filterRuns')} />
        {onlySweep && (
          <span className="chip on">
            {kindLabel('sweep')} {onlySweep.slice(0, 8)} ·{' '}
            <a href={`#/sweeps/${encodeURIComponent(onlySweep)}`}>{runs.find((r) => r.run_id === onlySweep)?.kind === 'walkforward' ? t('backtests.windows') : t('backtests.heatmap')}</a>{' '}
            <button type="button" className="link" onClick={() => setOnlySweep(null)} aria-label={t('backtests.showAll')}>
              ✕
            </button>
          </span>
        )}
        <div className="chips" aria-label={t('col.kind')}>
          {RUN_KINDS.filter((k) => kindCounts[k]).map((k) => (
              <button key={k} type="button" className={`chip ${kinds.has(k) ? 'on' : ''}`} aria-pressed={kinds.has(k)} onClick={() => setKinds(toggle(kinds, k))}>
                {kindLabel(k)} <span className="count">{kindCounts[k]}</span>
              </button>
            ))}
        </div>
        <button type="button" className={`chip ${allMetrics ? 'on' : ''}`} aria-pressed={allMetrics} onClick={() => setAllMetrics(!allMetrics)} title={t('backtests.allMetricsTip')}>
          {t('backtests.allMetrics')} <span className="count">{allNames.length}</span>
        </button>
        <span className="muted small">{t('backtests.shown', { n: rows.length, total: runs.length })}</span>
      </div>
      <SortTable
        rows={rows}
        columns={columns}
        rowKey={(r) => r.run_id}
        initialSort={{ key: 'created_at', dir: 'desc' }}
        onRowClick={(r) => (window.location.hash = `#/backtests/${encodeURIComponent(r.run_id)}`)}
        rowClass={(r) => (r.state === 'failed' ? 'row-failed' : '')}
        empty={t('backtests.none')}
      />
    </>
  );
}

/**
 * A run id short enough for the table. Sweep points and walk-forward windows are named
 * "<parent>-<suffix>": their suffix is what tells them apart, so it is the part kept.
 */
export function shortRunId(id: string): string {
  const dash = id.lastIndexOf('-');
  if (dash > 0) return `…${id.slice(dash, dash + 7)}`;
  return id.length > 12 ? `${id.slice(0, 10)}…` : id;
}

const RUN_KINDS = ['backtest', 'sweep', 'walkforward', 'point'];

function toggle(set: Set<string>, v: string): Set<string> {
  const next = new Set(set);
  if (next.has(v)) next.delete(v);
  else next.add(v);
  return next;
}

/**
 * Parameters as "k=v" pairs. A sweep's or walk-forward's own params hold its grid: shown as
 * each swept parameter's values ("fast 5|10|20"), settings such as rank_by as k=v.
 */
export function paramText(p: Record<string, unknown> | null | undefined): string {
  const entries = Object.entries(p ?? {});
  const grid = p?.grid;
  if (grid && typeof grid === 'object' && !Array.isArray(grid)) {
    const axes = Object.entries(grid as Record<string, unknown>).map(([k, v]) => `${k} ${Array.isArray(v) ? v.map(String).join('|') : String(v)}`);
    const rest = entries.filter(([k, v]) => k !== 'grid' && v !== null && v !== undefined).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    return [...axes, ...rest].join(' ');
  }
  return entries.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
}
