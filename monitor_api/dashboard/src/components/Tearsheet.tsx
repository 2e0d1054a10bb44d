// A run's tearsheet (the model the HTML report renders too): headline metrics next to the
// benchmark's, equity vs benchmark (linear or log), drawdowns, monthly and yearly returns,
// rolling statistics, return distributions and exposure. Charts are small inline SVGs.

import { useState, type ReactNode } from 'react';
import { api, type Histogram, type MetricKind, type Tearsheet as Sheet } from '../api';
import { DataState, Signed } from './ui';
import { useResource } from '../hooks/resource';
import { count, metricLabel, money, num, pct, shortDate, shortTime } from '../lib/format';
import { t, useLocale } from '../i18n';

export function Tearsheet({ runId }: { runId: string }) {
  const res = useResource((signal) => api.tearsheet(runId, signal), [runId]);
  useLocale();
  return (
    <DataState res={res} what={t('ts.what')}>
      {(s) => <TearsheetBody sheet={s} />}
    </DataState>
  );
}

/** A figure formatted by its kind. */
export function byKind(kind: MetricKind, v: number | null | undefined): string {
  switch (kind) {
    case 'percent':
      return pct(v);
    case 'money':
      return money(v);
    case 'count':
      return count(v);
    case 'duration':
      return typeof v === 'number' ? t('ts.days', { n: num(v, 0) }) : '–';
    default:
      return num(v, 2);
  }
}

export function TearsheetBody({ sheet }: { sheet: Sheet }) {
  if (!sheet.series.time.length) {
    return <div className="card empty">{t('ts.empty')}</div>;
  }
  const when = (iso: string | null) => (iso === null ? t('ts.notRecovered') : sheet.run.time_unit === 'date' ? shortDate(iso) : shortTime(iso));
  return (
    <div className="tearsheet">
      {sheet.warnings.map((w) => (
        <div key={w} className="notice warn small">
          {w}
        </div>
      ))}
      <MetricsTable sheet={sheet} />
      <EquityVsBenchmark sheet={sheet} />
      <Card section="drawdown" title={t('ts.drawdown')}>
        <SvgLines series={lines(sheet, sheet.series.drawdown, sheet.series.benchmark_drawdown)} fmt={(v) => pct(v, 0)} area />
        <h4>{t('ts.worst')}</h4>
        <Grid
          head={
            <>
              <th>#</th>
              <th>{t('ts.start')}</th>
              <th>{t('ts.trough')}</th>
              <th>{t('ts.recovery')}</th>
              <th className="num">{t('ts.depth')}</th>
              <th className="num">{t('ts.length')}</th>
            </>
          }
        >
          {sheet.drawdowns.map((d, i) => (
            <tr key={d.start}>
              <td>{i + 1}</td>
              <td>{when(d.start)}</td>
              <td>{when(d.trough)}</td>
              <td>{when(d.recovery)}</td>
              <td className="num">
                <Signed value={d.depth} text={pct(d.depth)} />
              </td>
              <td className="num">{t('ts.days', { n: num(d.days, 0) })}</td>
            </tr>
          ))}
        </Grid>
      </Card>
      <Monthly sheet={sheet} />
      <Card section="yearly" title={t('ts.yearly')}>
        <SvgBars
          groups={sheet.yearly.map((y) => String(y.year))}
          series={[
            { name: t('ts.strategy'), values: sheet.yearly.map((y) => y.return) },
            ...(sheet.series.benchmark ? [{ name: t('ts.benchmark'), values: sheet.yearly.map((y) => y.benchmark) }] : []),
          ]}
          fmt={(v) => pct(v, 0)}
        />
      </Card>
      <Card section="rolling" title={t('ts.rolling', { months: sheet.rolling.months, window: sheet.rolling.window })}>
        <div className="ts-grid">
          <div>
            <h4>{t('ts.rollingSharpe')}</h4>
            <SvgLines series={[{ name: t('ts.strategy'), values: sheet.rolling.sharpe }]} fmt={(v) => num(v, 1)} zero />
          </div>
          <div>
            <h4>{t('ts.rollingVol')}</h4>
            <SvgLines series={[{ name: t('ts.strategy'), values: sheet.rolling.volatility }]} fmt={(v) => pct(v, 0)} zero />
          </div>
          {sheet.rolling.beta && (
            <div>
              <h4>{t('ts.rollingBeta')}</h4>
              <SvgLines series={[{ name: t('ts.strategy'), values: sheet.rolling.beta }]} fmt={(v) => num(v, 2)} zero />
            </div>
          )}
        </div>
      </Card>
      <Card section="distribution" title={t('ts.distribution')}>
        <div className="ts-grid">
          <HistogramChart title={t('ts.barReturns', { n: sheet.distribution.daily.n })} h={sheet.distribution.daily} />
          <HistogramChart title={t('ts.tradeReturns', { n: sheet.distribution.trades.n })} h={sheet.distribution.trades} />
        </div>
      </Card>
      <Card section="exposure" title={t('ts.exposure')}>
        <SvgLines series={[{ name: t('ts.exposure'), values: sheet.series.exposure }]} fmt={(v) => pct(v, 0)} area />
      </Card>
    </div>
  );
}

function lines(sheet: Sheet, mine: (number | null)[], bench: (number | null)[] | null): Line[] {
  const out: Line[] = [{ name: t('ts.strategy'), values: mine }];
  if (bench) out.push({ name: `${t('ts.benchmark')} (${sheet.run.benchmark ?? ''})`, values: bench });
  return out;
}

/** One tearsheet section: a card under its title (``data-section`` names it); ``tools`` stand
 * beside the title. */
function Card({ section, title, tools, children }: { section: string; title: string; tools?: ReactNode; children: ReactNode }) {
  return (
    <section className="card" data-section={section}>
      {tools ? (
        <div className="card-title">
          <h3>{title}</h3>
          {tools}
        </div>
      ) : (
        <h3>{title}</h3>
      )}
      {children}
    </section>
  );
}

/** A compact table: one header row of ``head`` cells, then the rows. */
function Grid({ className, head, children }: { className?: string; head: ReactNode; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className={className ? `grid compact ${className}` : 'grid compact'}>
        <thead>
          <tr>{head}</tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

function MetricsTable({ sheet }: { sheet: Sheet }) {
  return (
    <Card section="metrics" title={t('ts.metrics')}>
      <Grid
        className="ts-metrics"
        head={
          <>
            <th>{t('ts.metric')}</th>
            <th className="num">{t('ts.strategy')}</th>
            <th className="num">
              {t('ts.benchmark')} {sheet.run.benchmark ? `(${sheet.run.benchmark})` : ''}
            </th>
          </>
        }
      >
        {sheet.metrics.map((m) => (
          <tr key={m.key}>
            <td>{metricLabel(m.key)}</td>
            <td className="num">{byKind(m.kind, m.value)}</td>
            <td className="num muted">{byKind(m.kind, m.benchmark)}</td>
          </tr>
        ))}
      </Grid>
      <div className="muted small">{t('ts.benchmarkNote')}</div>
    </Card>
  );
}

function EquityVsBenchmark({ sheet }: { sheet: Sheet }) {
  const [log, setLog] = useState(false);
  return (
    <Card
      section="equity"
      title={t('ts.equity')}
      tools={
        <div className="seg">
          <button type="button" className={log ? '' : 'on'} onClick={() => setLog(false)}>
            {t('ts.linear')}
          </button>
          <button type="button" className={log ? 'on' : ''} onClick={() => setLog(true)}>
            {t('ts.log')}
          </button>
        </div>
      }
    >
      <SvgLines series={lines(sheet, sheet.series.equity, sheet.series.benchmark)} fmt={(v) => count(v)} log={log} labels={edgeLabels(sheet)} />
    </Card>
  );
}

function edgeLabels(sheet: Sheet): [string, string] {
  const ts = sheet.series.time;
  const f = sheet.run.time_unit === 'date' ? shortDate : shortTime;
  return [f(ts[0]), f(ts[ts.length - 1])];
}

function Monthly({ sheet }: { sheet: Sheet }) {
  const months = Array.from({ length: 12 }, (_, i) => i);
  const monthName = (i: number) => new Intl.DateTimeFormat(document.documentElement.lang || undefined, { month: 'short', timeZone: 'UTC' }).format(Date.UTC(2000, i, 1));
  const scale = Math.max(1e-12, ...sheet.monthly.returns.flat().filter((v): v is number => v !== null).map(Math.abs));
  const yearly = new Map(sheet.yearly.map((y) => [y.year, y]));
  return (
    <Card section="monthly" title={t('ts.monthly')}>
      <Grid
        className="ts-heat"
        head={
          <>
            <th>{t('ts.year')}</th>
            {months.map((m) => (
              <th key={m} className="num">
                {monthName(m)}
              </th>
            ))}
            <th className="num">{t('ts.year')}</th>
            <th className="num">{t('ts.benchmark')}</th>
          </>
        }
      >
        {sheet.monthly.years.map((year, i) => (
          <tr key={year}>
            <td>{year}</td>
            {sheet.monthly.returns[i].map((v, m) => (
              <td key={m} className="num" style={{ background: heat(v, scale) }}>
                {pct(v, 1)}
              </td>
            ))}
            <td className="num">
              <Signed value={yearly.get(year)?.return ?? null} text={pct(yearly.get(year)?.return, 1)} />
            </td>
            <td className="num muted">{pct(yearly.get(year)?.benchmark, 1)}</td>
          </tr>
        ))}
      </Grid>
    </Card>
  );
}

function heat(v: number | null, scale: number): string | undefined {
  if (v === null) return undefined;
  const a = 0.12 + 0.6 * Math.min(Math.abs(v) / scale, 1);
  return v >= 0 ? `rgba(15,157,88,${a.toFixed(2)})` : `rgba(217,48,37,${a.toFixed(2)})`;
}

type Line = { name: string; values: (number | null)[] };
const COLORS = ['var(--accent, #1f6fd1)', '#8a8f98', '#b7791f'];
const W = 600;
const H = 180;
const L = 52;
const B = 18;

export function SvgLines({ series, fmt, log = false, area = false, zero = false, labels }: { series: Line[]; fmt: (v: number) => string; log?: boolean; area?: boolean; zero?: boolean; labels?: [string, string] }) {
  const tf = (v: number | null) => (v === null || !Number.isFinite(v) || (log && v <= 0) ? null : log ? Math.log10(v) : v);
  const data = series.map((s) => s.values.map(tf));
  const finite = data.flat().filter((v): v is number => v !== null);
  if (!finite.length) return <div className="empty small">{t('ts.noData')}</div>;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (area || zero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (lo === hi) hi = lo + 1;
  const y = (v: number) => 4 + ((hi - v) / (hi - lo)) * (H - B - 8);
  const ticks = [0, 0.5, 1].map((f) => lo + f * (hi - lo));
  return (
    <div className="ts-chart">
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={series.map((s) => s.name).join(', ')}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={L} x2={W} y1={y(v)} y2={y(v)} className="ts-grid-line" />
            <text x={L - 4} y={y(v) + 4} textAnchor="end" className="ts-tick">
              {fmt(log ? 10 ** v : v)}
            </text>
          </g>
        ))}
        {data.map((vals, k) => {
          const sx = (W - L) / Math.max(vals.length - 1, 1);
          const pts = vals.map((v, i) => (v === null ? null : `${(L + i * sx).toFixed(1)},${y(v).toFixed(1)}`)).filter((p): p is string => p !== null);
          const color = COLORS[k % COLORS.length];
          return (
            <g key={series[k].name}>
              {area && pts.length > 1 && <polygon points={`${pts[0].split(',')[0]},${y(0)} ${pts.join(' ')} ${pts[pts.length - 1].split(',')[0]},${y(0)}`} fill={color} opacity={0.25} />}
              <polyline points={pts.join(' ')} fill="none" stroke={color} strokeWidth={1.3} vectorEffect="non-scaling-stroke" />
            </g>
          );
        })}
      </svg>
      <div className="ts-legend small muted">
        {labels && (
          <span>
            {labels[0]} → {labels[1]}
          </span>
        )}
        {series.length > 1 &&
          series.map((s, k) => (
            <span key={s.name}>
              <i style={{ background: COLORS[k % COLORS.length] }} /> {s.name}
            </span>
          ))}
      </div>
    </div>
  );
}

export function SvgBars({ groups, series, fmt, colors }: { groups: string[]; series: Line[]; fmt: (v: number) => string; colors?: string[] }) {
  const finite = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  if (!finite.length || !groups.length) return <div className="empty small">{t('ts.noData')}</div>;
  const lo = Math.min(0, ...finite);
  let hi = Math.max(0, ...finite);
  if (lo === hi) hi = lo + 1;
  const y = (v: number) => 4 + ((hi - v) / (hi - lo)) * (H - B - 8);
  const step = (W - L) / groups.length;
  const bw = (step * 0.8) / series.length;
  const every = Math.max(1, Math.ceil(groups.length / 10));
  return (
    <div className="ts-chart">
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={series.map((s) => s.name).join(', ')}>
        {[lo, hi].map((v) => (
          <text key={v} x={L - 4} y={y(v) + 4} textAnchor="end" className="ts-tick">
            {fmt(v)}
          </text>
        ))}
        <line x1={L} x2={W} y1={y(0)} y2={y(0)} className="ts-grid-line" />
        {groups.map((g, i) => (
          <g key={`${g}-${i}`}>
            {i % every === 0 && (
              <text x={L + (i + 0.5) * step} y={H - 4} textAnchor="middle" className="ts-tick">
                {g}
              </text>
            )}
            {series.map((s, k) => {
              const v = s.values[i];
              if (v === null || !Number.isFinite(v)) return null;
              return <rect key={s.name} x={L + i * step + step * 0.1 + k * bw} y={y(Math.max(v, 0))} width={Math.max(bw - 1, 0.6)} height={Math.max(Math.abs(y(v) - y(0)), 0.5)} fill={colors?.[i] ?? COLORS[k % COLORS.length]} />;
            })}
          </g>
        ))}
      </svg>
      {series.length > 1 && (
        <div className="ts-legend small muted">
          {series.map((s, k) => (
            <span key={s.name}>
              <i style={{ background: COLORS[k % COLORS.length] }} /> {s.name}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

function HistogramChart({ title, h }: { title: string; h: Histogram }) {
  const mids = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
  return (
    <div>
      <h4>{title}</h4>
      <SvgBars groups={mids.map((m) => pct(m, 1))} series={[{ name: title, values: h.counts }]} fmt={(v) => count(v)} colors={mids.map((m) => (m < 0 ? '#d93025' : '#0f9d58'))} />
    </div>
  );
}
