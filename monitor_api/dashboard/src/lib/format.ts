// Number, time and metric formatting shared by every view, in the chosen locale (Intl).

import { intlTag, maybeT, t } from '../i18n';

// Formatters are costly to build: one per locale and option set.
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function cached<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: (tag: string) => T): T {
  const tag = intlTag();
  const k = `${tag}|${key}`;
  let f = formatters.get(k);
  if (!f) formatters.set(k, (f = make(tag)));
  return f as T;
}
const nf = (digits: number) => cached(`n${digits}`, (tag) => new Intl.NumberFormat(tag, { minimumFractionDigits: digits, maximumFractionDigits: digits }));

export function num(v: unknown, digits = 2): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return nf(digits).format(v);
}

/** Large amounts compactly (1.2M in English, 120万 in Chinese), others with two decimals. */
export function money(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  if (Math.abs(v) < 1e7) return nf(2).format(v);
  return cached('compact', (tag) => new Intl.NumberFormat(tag, { notation: 'compact', maximumFractionDigits: 2 })).format(v);
}

export function pct(v: unknown, digits = 2): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return cached(`p${digits}`, (tag) => new Intl.NumberFormat(tag, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits })).format(v);
}

/** A whole count compactly: 1,234 / 1.2M (English), 1,234 / 120万 (Chinese). */
export function count(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  if (Math.abs(v) < 1e6) return nf(0).format(v);
  return cached('compact', (tag) => new Intl.NumberFormat(tag, { notation: 'compact', maximumFractionDigits: 2 })).format(v);
}

/** Metrics whose values are fractions shown as percentages. */
const PERCENT_METRICS = new Set([
  'total_return',
  'cagr',
  'max_drawdown',
  'volatility',
  'win_rate',
  'exposure',
  'annual_return',
  'annual_volatility',
  'turnover',
  'hit_rate',
  'avg_trade_return',
]);

const INTEGER_METRICS = new Set(['trade_count', 'trades', 'bars', 'days', 'max_drawdown_duration']);

/** Metrics where a smaller value is better (for colouring and heatmaps). */
const LOWER_IS_BETTER = new Set(['volatility', 'annual_volatility', 'max_drawdown_duration', 'turnover']);

/** The preferred column order; other metric names follow alphabetically. */
export const METRIC_ORDER = ['total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'calmar', 'win_rate', 'trades', 'trade_count'];

/** The metrics the runs table shows by default (monitor_api's names first, then aliases). */
export const CORE_METRICS = new Set(['total_return', 'cagr', 'sharpe', 'max_drawdown', 'win_rate', 'trades', 'trade_count']);

/** Metrics that are sizes or counts, not good or bad by sign: shown without green/red. */
const NEUTRAL_METRICS = new Set(['trades', 'trade_count', 'bars', 'days', 'final_equity', 'max_drawdown_duration', 'turnover', 'exposure', 'volatility', 'annual_volatility', 'beta']);

/** True when a metric's sign means good (+) or bad (-), so it is coloured. */
export function isSignedMetric(name: string): boolean {
  return !NEUTRAL_METRICS.has(name);
}

/** A metric's label in the chosen language; unknown names are spelled out from the identifier. */
export function metricLabel(name: string): string {
  return maybeT(`metric.${name}`) ?? name.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

export function formatMetric(name: string, v: unknown): string {
  if (PERCENT_METRICS.has(name)) return pct(v);
  if (INTEGER_METRICS.has(name)) return num(v, 0);
  return num(v, 2);
}

/**
 * +1 when a larger value is better, -1 when smaller is. Drawdowns are better
 * near zero whichever sign the back end uses, so they score by -|v|.
 */
export function metricScore(name: string, v: number): number {
  if (name.includes('drawdown') && !name.endsWith('duration')) return -Math.abs(v);
  return LOWER_IS_BETTER.has(name) ? -v : v;
}

export function orderMetricNames(names: Iterable<string>): string[] {
  const set = new Set(names);
  const first = METRIC_ORDER.filter((n) => set.has(n));
  const rest = [...set].filter((n) => !METRIC_ORDER.includes(n)).sort();
  return [...first, ...rest];
}

/** "42s", "3m 05s", "2h 10m", "3d 4h" (42秒, 3分05秒, 2小时10分, 3天4小时). */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return t('dur.s', { s });
  if (s < 3600) return t('dur.ms', { m: Math.floor(s / 60), s: pad(s % 60) });
  if (s < 86400) return t('dur.hm', { h: Math.floor(s / 3600), m: pad(Math.floor((s % 3600) / 60)) });
  return t('dur.dh', { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

/** Seconds between two ISO times, or from `start` to `nowMs` when `end` is null. */
export function elapsed(start: string | null | undefined, end: string | null | undefined, nowMs: number): number | null {
  if (!start) return null;
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : nowMs;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Math.max(0, (b - a) / 1000);
}

const DATE_ONLY = /^\d{4}-\d\d-\d\d(T00:00:00(\.0+)?(Z|\+00:00))?$/;
const dateUtc = () => cached('dateUtc', (tag) => new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeZone: 'UTC' }));
const dateLocal = () => cached('date', (tag) => new Intl.DateTimeFormat(tag, { dateStyle: 'medium' }));
const timeLocal = () => cached('time', (tag) => new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }));

/** A time of day today, else date and time; a bare date (daily bars, stamped at midnight UTC) as the date alone. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  if (DATE_ONLY.test(iso)) return shortDate(iso);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameDay = d.toDateString() === new Date().toDateString();
  const hhmm = timeLocal().format(d);
  return sameDay ? hhmm : `${dateLocal().format(d)} ${hhmm}`;
}

/** The calendar date of an ISO time (as stored, in UTC): "Aug 5, 2021" / "2021年8月5日". */
export function shortDate(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(/^\d{4}-\d\d-\d\d$/.test(iso) ? `${iso}T00:00:00Z` : iso);
  return Number.isNaN(d.getTime()) ? iso : dateUtc().format(d);
}

/** Any cell value as text: numbers formatted, objects as compact JSON. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? num(v, 0) : num(v, Math.abs(v) < 1 ? 4 : 2);
  if (typeof v === 'boolean') return v ? t('common.yes') : t('common.no');
  if (typeof v === 'string') return /^\d{4}-\d\d-\d\dT/.test(v) ? shortTime(v) : v;
  return JSON.stringify(v);
}

/** Compare for sorting: numbers numerically, missing values last, strings naturally. */
export function compareValues(a: unknown, b: unknown): number {
  const missA = a === null || a === undefined || (typeof a === 'number' && Number.isNaN(a));
  const missB = b === null || b === undefined || (typeof b === 'number' && Number.isNaN(b));
  if (missA || missB) return missA === missB ? 0 : missA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Sort rows by a key; missing values stay at the end in both directions. */
export function sortRows<T>(rows: readonly T[], get: (row: T) => unknown, dir: 'asc' | 'desc'): T[] {
  const sign = dir === 'asc' ? 1 : -1;
  return rows
    .map((row, i) => ({ row, i, v: get(row) }))
    .sort((x, y) => {
      const missX = x.v === null || x.v === undefined;
      const missY = y.v === null || y.v === undefined;
      if (missX || missY) return missX === missY ? x.i - y.i : missX ? 1 : -1;
      return sign * compareValues(x.v, y.v) || x.i - y.i;
    })
    .map((x) => x.row);
}
