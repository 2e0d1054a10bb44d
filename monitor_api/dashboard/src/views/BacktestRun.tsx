// One backtest run: metrics, equity + drawdown, price with trades, trades table;
// and, for runs that belong to a sweep, the sweep heatmap and walk-forward.

import { useMemo, useState } from 'react';
import { api, type BacktestDetail, type Metrics, type Sweep, type Trade } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { Heatmap } from '../components/Heatmap';
import { Tearsheet } from '../components/Tearsheet';
import { DataState, Signed, SortTable, StateBadge, type Column } from '../components/ui';
import { useResource } from '../hooks/resource';
import { formatMetric, isSignedMetric, metricLabel, metricScore, money, num, orderMetricNames, shortDate, shortTime } from '../lib/format';
import { barSeries, drawdownValue, tradeMarkers, valueSeries } from '../lib/series';
import { paramText } from './Backtests';
import { t, useLocale } from '../i18n';

export function BacktestRun({ runId }: { runId: string }) {
  const res = useResource((signal) => api.backtest(runId, signal), [runId]);
  return (
    <section className="view">
      <div className="crumbs">
        <a href="#/backtests">← {t('nav.backtests')}</a>
      </div>
      <DataState res={res} what={t('run.what', { id: runId })}>
        {(run) => <RunBody run={run} />}
      </DataState>
    </section>
  );
}

function RunBody({ run }: { run: BacktestDetail }) {
  return (
    <>
      <header className="run-head">
        <h2>
          {run.strategy} <span className="muted">{run.symbols.join(', ')}</span>
        </h2>
        <StateBadge state={run.state} />
        <span className="muted small">
          {run.market} · {shortDate(run.start)} → {shortDate(run.end)} · <span className="mono">{paramText(run.params)}</span> · {t('run.id', { id: run.run_id })} · {shortTime(run.created_at)}
        </span>
      </header>
      {run.state === 'failed' && run.error && <div className="notice bad">{t('run.failed', { error: run.error })}</div>}
      {(run.warnings ?? []).map((w) => (
        <div key={w} className="notice warn small">
          {w}
        </div>
      ))}
      <MetricCards metrics={run.metrics} />
      <EquityChart run={run} />
      <h2 className="ts-heading">{t('ts.heading')}</h2>
      <Tearsheet runId={run.run_id} />
      <PriceChart run={run} />
      <TradesTable trades={run.trades ?? []} total={run.trades_total} daily={isDaily(run.freq)} />
      {run.sweep_id && <SweepPanel sweepId={run.sweep_id} currentRun={run.run_id} />}
    </>
  );
}

export function MetricCards({ metrics }: { metrics: Metrics }) {
  const names = orderMetricNames(Object.keys(metrics ?? {}));
  if (!names.length) return null;
  return (
    <div className="metrics">
      {names.map((m) => {
        const v = metrics[m];
        return (
          <div className="metric" key={m} title={m}>
            <div className="metric-label">{metricLabel(m)}</div>
            <div className="metric-value">{isSignedMetric(m) ? <Signed value={typeof v === 'number' ? v : null} text={formatMetric(m, v)} /> : formatMetric(m, v)}</div>
          </div>
        );
      })}
    </div>
  );
}

function EquityChart({ run }: { run: BacktestDetail }) {
  const locale = useLocale();
  const series = useMemo<SeriesSpec[]>(
    () => [
      { kind: 'area', name: t('run.equity'), data: valueSeries(run.equity ?? [], (p) => p.time, (p) => p.equity) },
      { kind: 'area', name: t('run.drawdown'), data: valueSeries(run.equity ?? [], (p) => p.time, (p) => drawdownValue(p.drawdown)), pane: 1, percent: true, negative: true },
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps -- series names follow the locale
    [run.equity, locale],
  );
  if (!run.equity?.length) return <div className="card empty">{t('run.noEquity')}</div>;
  return (
    <div className="card">
      <h3>{t('run.equityAndDrawdown')}</h3>
      <Chart series={series} height={340} paneHeights={PANES} />
    </div>
  );
}
const PANES = [3, 1];

function PriceChart({ run }: { run: BacktestDetail }) {
  const symbols = Object.keys(run.prices ?? {});
  const [symbol, setSymbol] = useState(symbols[0] ?? '');
  const sym = symbols.includes(symbol) ? symbol : (symbols[0] ?? '');
  const series = useMemo<SeriesSpec[]>(() => {
    const bars = barSeries(run.prices?.[sym] ?? []);
    const markers = tradeMarkers(run.trades ?? [], sym, bars.map((b) => b.time));
    return [{ kind: 'candles', name: sym, data: bars, markers }];
  }, [run.prices, run.trades, sym]);
  if (!symbols.length) return <div className="card empty">{t('run.noPrices')}</div>;
  return (
    <div className="card">
      <div className="card-title">
        <h3>{t('run.priceAndTrades')}</h3>
        {symbols.length > 1 && (
          <div className="seg">
            {symbols.map((s) => (
              <button key={s} type="button" className={s === sym ? 'on' : ''} onClick={() => setSymbol(s)}>
                {s}
              </button>
            ))}
          </div>
        )}
        <span className="muted small">
          {t('run.markers')}
          {mergedNote(run.prices_freq?.[sym])}
        </span>
      </div>
      <Chart series={series} height={320} />
    </div>
  );
}

/** " · 1 bar = 3x1m" when monitor_api merged bars to keep a long series light. */
export function mergedNote(freq: string | undefined): string {
  const m = freq ? /^(\d+)x(.+)$/.exec(freq) : null;
  return m ? ` · ${t('run.merged', { n: m[1], freq: m[2] })}` : '';
}

/** Bars of a day or longer: trade times are shown as dates. */
export function isDaily(freq: string | undefined): boolean {
  return /^\d*(d|w|mo)$/i.test(freq ?? '');
}

const tradeColumns = (daily: boolean): Column<Trade & { i: number }>[] => [
  { key: 'symbol', label: t('col.symbol'), value: (x) => x.symbol },
  { key: 'entry_time', label: t('col.entry'), value: (x) => x.entry_time, render: (x) => (daily ? shortDate(x.entry_time) : shortTime(x.entry_time)), className: 'num' },
  { key: 'entry_price', label: t('col.entryPx'), value: (x) => x.entry_price, render: (x) => num(x.entry_price, 4), className: 'num' },
  { key: 'exit_time', label: t('col.exit'), value: (x) => x.exit_time, render: (x) => (x.exit_time ? (daily ? shortDate(x.exit_time) : shortTime(x.exit_time)) : t('run.open')), className: 'num' },
  { key: 'exit_price', label: t('col.exitPx'), value: (x) => x.exit_price, render: (x) => num(x.exit_price, 4), className: 'num' },
  { key: 'quantity', label: t('col.qty'), value: (x) => x.quantity, render: (x) => num(x.quantity, 0), className: 'num' },
  { key: 'pnl', label: t('col.pnl'), value: (x) => x.pnl, render: (x) => <Signed value={x.pnl} text={money(x.pnl)} />, className: 'num' },
  {
    key: 'ret',
    label: t('col.return'),
    value: (x) => tradeReturn(x),
    render: (x) => {
      const r = tradeReturn(x);
      return <Signed value={r} text={formatMetric('total_return', r)} />;
    },
    className: 'num',
  },
];

function tradeReturn(t: Trade): number | null {
  if (t.exit_price === null || !t.entry_price) return null;
  return ((t.exit_price - t.entry_price) / t.entry_price) * Math.sign(t.quantity || 1);
}

function TradesTable({ trades, total, daily }: { trades: Trade[]; total?: number; daily: boolean }) {
  const locale = useLocale();
  const rows = useMemo(() => trades.map((x, i) => ({ ...x, i })), [trades]);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- labels follow the locale
  const columns = useMemo(() => tradeColumns(daily), [locale, daily]);
  const wins = trades.filter((x) => (x.pnl ?? 0) > 0).length;
  const pnl = trades.reduce((s, x) => s + (x.pnl ?? 0), 0);
  const n = total !== undefined && total > trades.length ? t('run.firstOf', { n: trades.length, total }) : String(trades.length);
  return (
    <div className="card">
      <div className="card-title">
        <h3>{t('run.trades')}</h3>
        <span className="muted small">
          {t('run.tradesSummary', { n, wins })} <Signed value={pnl} text={money(pnl)} />
        </span>
      </div>
      <SortTable rows={rows} columns={columns} rowKey={(x) => String(x.i)} initialSort={{ key: 'entry_time', dir: 'asc' }} empty={t('run.noTrades')} />
    </div>
  );
}

export function SweepView({ sweepId }: { sweepId: string }) {
  return (
    <section className="view">
      <div className="crumbs">
        <a href="#/backtests">← {t('nav.backtests')}</a>
      </div>
      <SweepPanel sweepId={sweepId} currentRun={null} />
    </section>
  );
}

function SweepPanel({ sweepId, currentRun }: { sweepId: string; currentRun: string | null }) {
  const res = useResource((signal) => api.sweep(sweepId, signal), [sweepId]);
  const wf = res.data?.kind === 'walkforward';
  return (
    <div className="card">
      <h3>
        {wf ? t('sweep.walkforward') : t('sweep.sweep')} {sweepId}
        {res.data?.strategy && (
          <span className="muted small">
            {' '}
            · {res.data.strategy} {(res.data.symbols ?? []).join(', ')}
            {res.data.rank_by ? ` · ${t('sweep.rankedBy', { metric: metricLabel(res.data.rank_by) })}` : ''}
          </span>
        )}
      </h3>
      <DataState res={res} what={t('sweep.what')}>
        {(s) => <SweepBody sweep={s} currentRun={currentRun} />}
      </DataState>
    </div>
  );
}

function SweepBody({ sweep, currentRun }: { sweep: Sweep; currentRun: string | null }) {
  const metricNames = useMemo(() => orderMetricNames(sweep.points.flatMap((p) => Object.keys(p.metrics ?? {}))), [sweep.points]);
  const params = sweep.params ?? [];
  const [metric, setMetric] = useState(metricNames.includes('sharpe') ? 'sharpe' : (metricNames[0] ?? ''));
  const [x, setX] = useState(params[0] ?? '');
  const [y, setY] = useState(params[1] ?? params[0] ?? '');
  const current = currentRun ? sweep.points.find((p) => p.run_id === currentRun) : undefined;
  if (sweep.kind === 'walkforward') {
    // Its points are each window's winner: the windows table says it all, a heatmap would not.
    return (
      <>
        <div className="filters">
          <MetricSelect value={metric} names={metricNames} onChange={setMetric} />
          <span className="muted small">
            {t('sweep.windowsGrid', { n: (sweep.walkforward ?? []).length, grid: paramText({ grid: sweep.grid ?? {} }) })}
          </span>
        </div>
        {sweep.walkforward && sweep.walkforward.length > 0 ? (
          <WalkForward windows={sweep.walkforward} metric={metric} currentRun={currentRun} />
        ) : (
          <div className="empty">{t('sweep.noWindows')}</div>
        )}
      </>
    );
  }
  return (
    <>
      <div className="filters">
        <MetricSelect value={metric} names={metricNames} onChange={setMetric} />
        {params.length > 2 && (
          <>
            <Pick label="x" value={x} options={params} onChange={setX} />
            <Pick label="y" value={y} options={params} onChange={setY} />
            <span className="muted small">{t('sweep.otherParams')}</span>
          </>
        )}
        <span className="muted small">
          {t('sweep.points', { n: sweep.points.length })}
          {current ? ` · ${t('sweep.thisRun', { params: paramText(current.params) })}` : ''}
        </span>
      </div>
      {params.length === 0 || !metric ? (
        <div className="empty">{t('sweep.nothingToPlot')}</div>
      ) : (
        <Heatmap points={sweep.points} xParam={x} yParam={y} metric={metric} />
      )}
      {sweep.walkforward && sweep.walkforward.length > 0 && <WalkForward windows={sweep.walkforward} metric={metric} currentRun={currentRun} />}
    </>
  );
}

function WalkForward({ windows, metric, currentRun }: { windows: NonNullable<Sweep['walkforward']>; metric: string; currentRun: string | null }) {
  const names = orderMetricNames(windows.flatMap((w) => [...Object.keys(w.in_sample ?? {}), ...Object.keys(w.out_of_sample ?? {})])).slice(0, 6);
  const shown = names.includes(metric) ? [metric, ...names.filter((n) => n !== metric)] : names;
  const max = Math.max(1e-12, ...windows.flatMap((w) => [w.in_sample?.[metric], w.out_of_sample?.[metric]]).filter((v): v is number => typeof v === 'number').map(Math.abs));
  const bar = (v: number | null | undefined) =>
    typeof v === 'number' ? <span className={`wf-bar ${metricScore(metric, v) >= 0 ? 'pos-bg' : 'neg-bg'}`} style={{ width: `${(Math.abs(v) / max) * 100}%` }} /> : null;
  return (
    <div className="wf">
      <h3>{t('sweep.wfTitle')}</h3>
      <div className="table-wrap">
        <table className="grid compact">
          <thead>
            <tr>
              <th rowSpan={2}>{t('sweep.window')}</th>
              <th colSpan={2} className="center">
                {metricLabel(metric)}
              </th>
              {shown.slice(1).map((m) => (
                <th key={m} colSpan={2} className="center">
                  {metricLabel(m)}
                </th>
              ))}
            </tr>
            <tr>
              {shown.flatMap((m) => [
                <th key={`${m}-is`} className="num" title={t('sweep.inSample')}>
                  {t('sweep.is')}
                </th>,
                <th key={`${m}-oos`} className="num" title={t('sweep.outOfSample')}>
                  {t('sweep.oos')}
                </th>,
              ])}
            </tr>
          </thead>
          <tbody>
            {windows.map((w, i) => (
              <tr key={`${String(w.window)}-${i}`} className={w.run_id && w.run_id === currentRun ? 'row-current' : ''}>
                <td data-label={t('sweep.window')} className="wf-window">
                  {w.run_id ? <a href={`#/backtests/${encodeURIComponent(w.run_id)}`}>{String(w.window)}</a> : String(w.window)}
                  {w.out_of_sample_period && (
                    <span className="muted small" title={w.in_sample_period ? t('sweep.inSamplePeriod', { from: shortDate(w.in_sample_period[0]), to: shortDate(w.in_sample_period[1]) }) : undefined}>
                      {' '}
                      {shortDate(w.out_of_sample_period[0])} → {shortDate(w.out_of_sample_period[1])}
                    </span>
                  )}
                  {w.params && <div className="muted small mono">{paramText(w.params)}</div>}
                </td>
                {shown.flatMap((m, j) => {
                  const is = w.in_sample?.[m];
                  const oos = w.out_of_sample?.[m];
                  return [
                    <td key={`${m}-is`} className="num wf-cell" data-label={`${metricLabel(m)} ${t('sweep.is')}`}>
                      {j === 0 && bar(is)}
                      <Signed value={is ?? null} text={formatMetric(m, is)} />
                    </td>,
                    <td key={`${m}-oos`} className={`num wf-cell ${j === 0 ? 'wf-oos' : ''}`} data-label={`${metricLabel(m)} ${t('sweep.oos')}`}>
                      {j === 0 && bar(oos)}
                      <Signed value={oos ?? null} text={formatMetric(m, oos)} />
                    </td>,
                  ];
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** A labelled drop-down of ``options``, each shown as ``text`` gives it. */
function Pick({ label, value, options, onChange, text = (o) => o }: { label: string; value: string; options: string[]; onChange: (o: string) => void; text?: (o: string) => string }) {
  return (
    <label className="inline">
      {label}{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {text(o)}
          </option>
        ))}
      </select>
    </label>
  );
}

function MetricSelect({ value, names, onChange }: { value: string; names: string[]; onChange: (m: string) => void }) {
  return <Pick label={t('sweep.metric')} value={value} options={names} onChange={onChange} text={metricLabel} />;
}
