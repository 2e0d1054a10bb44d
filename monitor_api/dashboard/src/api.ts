// Every REST call the dashboard makes, with the shapes it expects.
// Status endpoints follow docs/contracts.md; backtest, sweep, live and
// pipeline-trigger endpoints are the dashboard's proposal to monitor_api.

import type { Component } from './state/status';
import { getToken } from './token';
import { t } from './i18n';

export type Metrics = Record<string, number | null | undefined>;

export interface Health {
  status: 'ok' | 'degraded';
  database: boolean;
  listener: 'listening' | 'polling' | 'down';
  clients: number;
}

export interface ComponentEvent {
  id: number | string;
  at: string;
  state: string;
  progress: number | null;
  message: string | null;
  metrics: Record<string, unknown> | null;
}

export type RunKind = 'backtest' | 'sweep' | 'walkforward' | 'point';

export interface BacktestRun {
  run_id: string;
  /** A sweep point or walk-forward window is a 'point' whose parent is sweep_id. */
  kind?: RunKind;
  freq?: string;
  error?: string | null;
  rank?: number | null;
  strategy: string;
  symbols: string[];
  params: Record<string, unknown>;
  market: string;
  start: string;
  end: string;
  state: string;
  created_at: string;
  metrics: Metrics;
  sweep_id: string | null;
}

export interface EquityPoint {
  time: string;
  equity: number;
  drawdown: number;
}

export interface Trade {
  symbol: string;
  entry_time: string;
  entry_price: number;
  exit_time: string | null;
  exit_price: number | null;
  quantity: number;
  pnl: number | null;
  fees?: number;
}

export interface Bar {
  time: string;
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface BacktestDetail extends BacktestRun {
  equity: EquityPoint[];
  trades: Trade[];
  /** How many trades the run has (the API sends at most a few thousand). */
  trades_total?: number;
  prices: Record<string, Bar[]>;
  /** Per symbol: the stored frequency, or "Nx<freq>" when N bars were merged into one. */
  prices_freq?: Record<string, string>;
  /** What could not be shown (a symbol's prices missing from the lake, trades cut). */
  warnings?: string[];
}

export interface SweepPoint {
  params: Record<string, number | string>;
  metrics: Metrics;
  run_id?: string;
}

export interface WalkForwardWindow {
  window: string | number;
  run_id?: string;
  /** The in-sample winner, traded out of sample. */
  params?: Record<string, unknown>;
  in_sample_period?: [string, string] | null;
  out_of_sample_period?: [string, string] | null;
  in_sample: Metrics;
  out_of_sample: Metrics;
}

export interface Sweep {
  sweep_id: string;
  kind?: 'sweep' | 'walkforward';
  strategy?: string;
  symbols?: string[];
  rank_by?: string | null;
  grid?: Record<string, unknown[]>;
  params: string[];
  points: SweepPoint[];
  walkforward: WalkForwardWindow[] | null;
}

/** A run's tearsheet (easyquant.backtest.tearsheet), as /api/backtests/{id}/tearsheet sends it. */
export type MetricKind = 'percent' | 'ratio' | 'money' | 'count' | 'duration';
export interface Histogram {
  edges: number[];
  counts: number[];
  n: number;
  mean: number | null;
  median: number | null;
}
export interface Tearsheet {
  run: { run_id: string; kind: RunKind; freq: string; benchmark: string | null; cash: number; time_unit: 'date' | 'datetime'; periods_per_year?: number };
  warnings: string[];
  metrics: { key: string; kind: MetricKind; value: number | null; benchmark: number | null }[];
  series: { time: string[]; equity: (number | null)[]; benchmark: (number | null)[] | null; drawdown: (number | null)[]; benchmark_drawdown: (number | null)[] | null; exposure: (number | null)[] };
  drawdowns: { start: string; trough: string; recovery: string | null; depth: number; days: number; bars: number }[];
  monthly: { years: number[]; returns: (number | null)[][] };
  yearly: { year: number; return: number | null; benchmark: number | null }[];
  rolling: { window: number; months: number; time: string[]; sharpe: (number | null)[]; volatility: (number | null)[]; beta: (number | null)[] | null };
  distribution: { daily: Histogram; trades: Histogram };
  trades: { symbol: string; entry: string; exit: string | null; open: boolean }[];
  trades_total: number;
}

export interface Position {
  symbol: string;
  quantity: number;
  avg_price: number;
  market_value: number;
}

export type Row = Record<string, unknown>;

/** A risk breach, halt or resume of a live session, as monitor_api lists them (newest first). */
export interface RiskEvent {
  at?: string;
  kind?: string;
  message?: string;
  detail?: unknown;
}

export interface LiveSession {
  session: string;
  strategy: string;
  params?: Record<string, unknown>;
  symbols: string[];
  market?: string;
  feed?: string;
  broker?: string;
  state: string;
  halted: boolean;
  halt_reason?: string | null;
  equity: number | null;
  cash: number | null;
  last_bar_time?: string | null;
  bars?: number;
  bad_bars?: number;
  positions: Position[];
  open_orders: Row[];
  recent_fills: Row[];
  risk: { limits: Record<string, unknown>; breaches: (string | RiskEvent)[] };
}

export interface TriggerResult {
  dag_id?: string;
  state?: string | null;
  dag_run_id: string;
  url: string;
}

export type ApiErrorKind = 'not_found' | 'unauthorized' | 'http' | 'network' | 'parse';

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    readonly status: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Relative to the page, so the app works under any prefix monitor_api mounts it at. */
function apiUrl(path: string): string {
  return path.replace(/^\//, '');
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError('network', null, t('api.unreachable'));
  }
  if (!res.ok) {
    const detail = await errorDetail(res);
    if (res.status === 401 || res.status === 403) throw new ApiError('unauthorized', res.status, t('conn.tokenRefused'));
    if (res.status === 404 || res.status === 405 || res.status === 501) {
      throw new ApiError('not_found', res.status, detail || t('api.notAvailable', { path }));
    }
    throw new ApiError('http', res.status, detail || t('api.httpFailed', { method, path, status: res.status }));
  }
  try {
    return (await res.json()) as T;
  } catch {
    throw new ApiError('parse', res.status, t('api.notJson', { path }));
  }
}

async function errorDetail(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { detail?: unknown };
    if (typeof body.detail === 'string') return body.detail;
    if (body.detail !== undefined) return JSON.stringify(body.detail);
  } catch {
    /* not JSON */
  }
  return '';
}

const q = (params: Record<string, string | number | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const str = s.toString();
  return str ? `?${str}` : '';
};
const seg = encodeURIComponent;

export const api = {
  health: (signal?: AbortSignal) => request<Health>('GET', '/api/health', undefined, signal),
  componentEvents: (id: string, limit = 50, signal?: AbortSignal) =>
    request<{ events: ComponentEvent[] }>('GET', `/api/components/${seg(id)}/events${q({ limit })}`, undefined, signal),
  component: (id: string, signal?: AbortSignal) => request<Component>('GET', `/api/components/${seg(id)}`, undefined, signal),

  /** `sort` is a field or metric name, "-" prefixed for descending (e.g. "-sharpe"). */
  backtests: (opts: { sort?: string; limit?: number } = {}, signal?: AbortSignal) =>
    request<{ runs: BacktestRun[] }>('GET', `/api/backtests${q(opts)}`, undefined, signal),
  backtest: (runId: string, signal?: AbortSignal) => request<BacktestDetail>('GET', `/api/backtests/${seg(runId)}`, undefined, signal),
  sweep: (sweepId: string, signal?: AbortSignal) => request<Sweep>('GET', `/api/sweeps/${seg(sweepId)}`, undefined, signal),
  tearsheet: (runId: string, signal?: AbortSignal) => request<Tearsheet>('GET', `/api/backtests/${seg(runId)}/tearsheet`, undefined, signal),

  liveSessions: (signal?: AbortSignal) => request<{ sessions: LiveSession[] }>('GET', '/api/live/sessions', undefined, signal),
  liveEquity: (session: string, signal?: AbortSignal) =>
    request<{ points: { time: string; equity: number }[] }>('GET', `/api/live/sessions/${seg(session)}/equity`, undefined, signal),
  halt: (session: string) => request<unknown>('POST', `/api/live/sessions/${seg(session)}/halt`, {}),
  resume: (session: string) => request<unknown>('POST', `/api/live/sessions/${seg(session)}/resume`, {}),

  triggerDag: (dagId: string, conf: Record<string, unknown>) =>
    request<TriggerResult>('POST', `/api/pipelines/${seg(dagId)}/trigger`, { conf }),
};

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.kind === 'unauthorized') return t('common.tokenRefused');
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A page of a list: `total` rows match, `limit` from `offset` are sent. */
export interface Page {
  total: number;
  limit: number;
  offset: number;
}

/** One partition of the lake (bar_catalog). */
export interface CatalogEntry {
  symbol: string;
  freq: string;
  calendar: string | null;
  first_ts: string;
  last_ts: string;
  rows: number;
  updated_at: string;
}

/** How one ingest went for one symbol (quality_report). */
export interface QualityReport {
  id: number;
  ingest_id: string;
  source: string;
  origin: string;
  symbol: string;
  freq: string;
  status: string;
  rows_read: number;
  rows_skipped: number;
  rows_rejected: number;
  rows_stored: number;
  /** Rejection reason -> rows. */
  rejects: Record<string, number>;
  samples: Record<string, unknown>[];
  gaps: Record<string, unknown>;
  warnings: Record<string, unknown>;
  /** Field -> the conversion applied (e.g. volume: "lots (100 shares) -> shares"). */
  units: Record<string, string>;
  quarantine_path: string | null;
  error: string | null;
  created_at: string;
}

export type Adjustment = 'raw' | 'forward' | 'backward';

export interface StoredBars {
  symbol: string;
  freq: string;
  adjust: Adjustment;
  /** The stored frequency, or "Nx<freq>" when N bars were merged into one. */
  bars_freq: string;
  /** Stored bars in the period, before merging. */
  rows: number;
  /** Corporate actions of the symbol (what adjustment applies). */
  actions: number;
  bars: (Bar & { volume: number })[];
}

export interface Period {
  start: string;
  /** Inclusive; null while it lasts. */
  end: string | null;
}

/** One row of the instrument master, with its dated ST and suspension periods. */
export interface Instrument {
  symbol: string;
  name: string;
  exchange: string;
  board: string;
  currency: string;
  lot: number;
  min_order: number;
  tick: number;
  listed: string | null;
  delisted: string | null;
  source?: string;
  st: Period[];
  suspended: Period[];
}

type Query = Record<string, string | number | undefined>;

export const dataApi = {
  catalog: (opts: Query, signal?: AbortSignal) => request<Page & { entries: CatalogEntry[] }>('GET', `/api/data/catalog${q(opts)}`, undefined, signal),
  reports: (opts: Query, signal?: AbortSignal) => request<Page & { reports: QualityReport[] }>('GET', `/api/data/reports${q(opts)}`, undefined, signal),
  bars: (opts: { symbol: string; freq: string; adjust: Adjustment }, signal?: AbortSignal) =>
    request<StoredBars>('GET', `/api/data/bars${q(opts)}`, undefined, signal),
  instruments: (opts: Query, signal?: AbortSignal) => request<Page & { instruments: Instrument[] }>('GET', `/api/data/instruments${q(opts)}`, undefined, signal),
};
