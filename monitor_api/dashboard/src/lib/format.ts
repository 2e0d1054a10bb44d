// Number, time and metric formatting shared by every view.

const nf = (digits: number) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const nf0 = nf(0);
const nf2 = nf(2);
const compactNf = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });

export function num(v: unknown, digits = 2): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return digits === 2 ? nf2.format(v) : digits === 0 ? nf0.format(v) : nf(digits).format(v);
}

export function money(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1e7 ? compactNf.format(v) : nf2.format(v);
}

export function pct(v: unknown, digits = 2): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return `${(v * 100).toFixed(digits)}%`;
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

export function metricLabel(name: string): string {
  const special: Record<string, string> = { cagr: 'CAGR', total_return: 'Return', max_drawdown: 'Max DD', trade_count: 'Trades', max_drawdown_duration: 'Max DD bars' };
  return special[name] ?? name.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
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

/** "42s", "3m 05s", "2h 10m", "3d 4h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Seconds between two ISO times, or from `start` to `nowMs` when `end` is null. */
export function elapsed(start: string | null | undefined, end: string | null | undefined, nowMs: number): number | null {
  if (!start) return null;
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : nowMs;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Math.max(0, (b - a) / 1000);
}

export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  // Daily bars are stamped at midnight UTC: the date alone says it.
  if (/^\d{4}-\d\d-\d\d(T00:00:00(\.0+)?(Z|\+00:00))?$/.test(iso)) return iso.slice(0, 10);
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const hhmm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return sameDay ? hhmm : `${d.toISOString().slice(0, 10)} ${hhmm}`;
}

export function shortDate(iso: string | null | undefined): string {
  if (!iso) return '–';
  return iso.length >= 10 ? iso.slice(0, 10) : iso;
}

/** Any cell value as text: numbers formatted, objects as compact JSON. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? num(v, 0) : num(v, Math.abs(v) < 1 ? 4 : 2);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
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
