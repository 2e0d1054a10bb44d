// Pure, framework-free state for the /ws/status feed (see docs/contracts.md).
// Everything here is deterministic: time and randomness are passed in.

export type ComponentKind = 'dag_run' | 'task' | 'live' | 'backtest' | 'cli' | 'etl';
export type ComponentState = 'queued' | 'running' | 'success' | 'failed' | 'stopped';

export const KINDS: readonly ComponentKind[] = ['dag_run', 'task', 'live', 'backtest', 'cli', 'etl'];
export const STATES: readonly ComponentState[] = ['queued', 'running', 'success', 'failed', 'stopped'];

/** One status row, exactly as the server sends it. */
export interface Component {
  id: string;
  kind: ComponentKind | string;
  name: string;
  state: ComponentState | string;
  stale: boolean;
  progress: number | null;
  message: string | null;
  metrics: Record<string, unknown> | null;
  attrs: Record<string, unknown> | null;
  url: string | null;
  parent_id: string | null;
  /** Where it ran: for an Airflow task try, the worker's hostname as Airflow records it. */
  host: string | null;
  heartbeat_interval: number | null;
  started_at: string | null;
  heartbeat_at: string | null;
  updated_at: string | null;
  finished_at: string | null;
  seq: number;
}

export type ServerMessage =
  | { type: 'snapshot'; components: Component[]; server_time?: string }
  | { type: 'update'; components: Component[]; server_time?: string }
  | { type: 'error'; error: string }
  | { type: 'pong' };

export type Connection =
  | 'idle' // not started
  | 'connecting' // first attempt, nothing received yet
  | 'syncing' // socket open, waiting for the snapshot
  | 'live' // snapshot received, updates flowing
  | 'reconnecting' // socket lost, a retry is scheduled
  | 'unauthorized'; // server closed with 1008: token refused, no automatic retry

export interface StatusState {
  connection: Connection;
  components: Record<string, Component>;
  /** True once any snapshot arrived; components may be from an older connection. */
  hasSnapshot: boolean;
  /** Server clock minus local clock, in ms, from the last message with server_time. */
  skewMs: number;
  /** Failed attempts since the last snapshot; drives the backoff. */
  attempt: number;
  /** Local time (ms) of the next scheduled retry while reconnecting. */
  retryAt: number | null;
  lastMessageAt: number | null;
  lastSnapshotAt: number | null;
  lastError: string | null;
  lastClose: { code: number; reason: string } | null;
}

export const initialStatusState: StatusState = {
  connection: 'idle',
  components: {},
  hasSnapshot: false,
  skewMs: 0,
  attempt: 0,
  retryAt: null,
  lastMessageAt: null,
  lastSnapshotAt: null,
  lastError: null,
  lastClose: null,
};

export type StatusEvent =
  | { type: 'connect'; at: number }
  | { type: 'open'; at: number }
  | { type: 'message'; message: ServerMessage; at: number }
  | { type: 'bad_message'; error: string; at: number }
  | { type: 'close'; code: number; reason: string; at: number; retryInMs: number | null }
  | { type: 'stop' };

/** Close code the server uses for a refused token. */
export const POLICY_VIOLATION = 1008;

export function statusReducer(state: StatusState, event: StatusEvent): StatusState {
  switch (event.type) {
    case 'connect':
      return {
        ...state,
        connection: state.hasSnapshot || state.attempt > 0 ? 'reconnecting' : 'connecting',
        retryAt: null,
      };
    case 'open':
      return { ...state, connection: 'syncing', retryAt: null, lastError: null };
    case 'bad_message':
      return { ...state, lastError: event.error, lastMessageAt: event.at };
    case 'message':
      return applyMessage(state, event.message, event.at);
    case 'close': {
      const lastClose = { code: event.code, reason: event.reason };
      if (event.code === POLICY_VIOLATION) {
        return { ...state, connection: 'unauthorized', retryAt: null, lastClose, lastError: 'token refused' };
      }
      return {
        ...state,
        connection: event.retryInMs === null ? 'idle' : 'reconnecting',
        attempt: state.attempt + 1,
        retryAt: event.retryInMs === null ? null : event.at + event.retryInMs,
        lastClose,
      };
    }
    case 'stop':
      return { ...state, connection: 'idle', retryAt: null };
  }
}

function applyMessage(state: StatusState, msg: ServerMessage, at: number): StatusState {
  const skewMs = 'server_time' in msg && msg.server_time ? skewFrom(msg.server_time, at, state.skewMs) : state.skewMs;
  switch (msg.type) {
    case 'snapshot': {
      // A snapshot is the whole truth: rows missing from it are gone.
      const components: Record<string, Component> = {};
      for (const c of msg.components ?? []) {
        if (isComponent(c)) components[c.id] = c;
      }
      return {
        ...state,
        components,
        hasSnapshot: true,
        connection: 'live',
        attempt: 0,
        retryAt: null,
        skewMs,
        lastMessageAt: at,
        lastSnapshotAt: at,
        lastError: null,
      };
    }
    case 'update': {
      let components = state.components;
      for (const c of msg.components ?? []) {
        if (!isComponent(c)) continue;
        const prev = components[c.id];
        // Rows carry a monotonically increasing seq; ignore anything older than what we hold.
        if (prev && typeof prev.seq === 'number' && typeof c.seq === 'number' && c.seq < prev.seq) continue;
        if (components === state.components) components = { ...components };
        components[c.id] = c;
      }
      return { ...state, components, skewMs, lastMessageAt: at };
    }
    case 'error':
      return { ...state, lastError: msg.error, lastMessageAt: at };
    case 'pong':
      return { ...state, lastMessageAt: at };
    default:
      return state;
  }
}

function isComponent(c: unknown): c is Component {
  return typeof c === 'object' && c !== null && typeof (c as Component).id === 'string';
}

function skewFrom(serverTime: string, localAt: number, fallback: number): number {
  const t = Date.parse(serverTime);
  return Number.isFinite(t) ? t - localAt : fallback;
}

/** Parse one websocket frame; throws with a readable message on garbage. */
export function parseServerMessage(data: unknown): ServerMessage {
  if (typeof data !== 'string') throw new Error('non-text frame');
  let msg: unknown;
  try {
    msg = JSON.parse(data);
  } catch {
    throw new Error('frame is not JSON');
  }
  if (typeof msg !== 'object' || msg === null || typeof (msg as { type?: unknown }).type !== 'string') {
    throw new Error('frame has no type');
  }
  const m = msg as ServerMessage;
  if ((m.type === 'snapshot' || m.type === 'update') && !Array.isArray(m.components)) {
    throw new Error(`${m.type} without components`);
  }
  return m;
}

// ---- staleness -------------------------------------------------------------

export const STALE_FACTOR = 3;

export function isActive(c: Pick<Component, 'state'>): boolean {
  return c.state === 'queued' || c.state === 'running';
}

/** Time (ms, server clock) of the last sign of life. */
export function lastBeat(c: Component): number | null {
  for (const t of [c.heartbeat_at, c.updated_at, c.started_at]) {
    if (t) {
      const ms = Date.parse(t);
      if (Number.isFinite(ms)) return ms;
    }
  }
  return null;
}

/**
 * A queued or running component is stale when its heartbeat is older than
 * 3 x heartbeat_interval at `nowMs` (server clock). The server's own flag is
 * kept as well: it may know of a heartbeat rule we do not.
 */
export function isStale(c: Component, nowMs: number): boolean {
  if (!isActive(c)) return false;
  if (c.stale) return true;
  const interval = c.heartbeat_interval;
  const beat = lastBeat(c);
  if (!interval || interval <= 0 || beat === null) return false;
  return nowMs - beat > STALE_FACTOR * interval * 1000;
}

/** Seconds since the last heartbeat at `nowMs` (server clock), or null. */
export function heartbeatAge(c: Component, nowMs: number): number | null {
  const beat = lastBeat(c);
  return beat === null ? null : Math.max(0, (nowMs - beat) / 1000);
}

/** The server-clock "now" for a local clock reading. */
export function serverNow(state: Pick<StatusState, 'skewMs'>, localNowMs: number): number {
  return localNowMs + state.skewMs;
}

// ---- reconnect backoff -------------------------------------------------------

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay that is randomised (0 = none, 0.5 = between 50% and 100%). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, factor: 2, jitter: 0.3 };

/** Delay before retry number `attempt` (0-based); `random` returns [0, 1). */
export function backoffDelay(attempt: number, random: () => number = Math.random, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const raw = Math.min(opts.maxMs, opts.baseMs * Math.pow(opts.factor, Math.max(0, attempt)));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(raw * (1 - opts.jitter * r));
}

// ---- views over the state ----------------------------------------------------

export interface ComponentFilter {
  kinds: ReadonlySet<string>; // empty = all
  states: ReadonlySet<string>; // empty = all; may contain 'stale'
  text: string;
}

export interface ComponentView {
  component: Component;
  stale: boolean;
  age: number | null;
}

const STATE_ORDER: Record<string, number> = { failed: 0, running: 2, queued: 3, stopped: 4, success: 5 };

/**
 * Components with their stale flag at `nowMs` (server clock), filtered and
 * sorted: failed and stale first, then running/queued, then the rest by most
 * recent update.
 */
export function selectComponents(
  components: Record<string, Component>,
  filter: ComponentFilter,
  nowMs: number,
): ComponentView[] {
  const text = filter.text.trim().toLowerCase();
  const out: ComponentView[] = [];
  for (const c of Object.values(components)) {
    const stale = isStale(c, nowMs);
    if (filter.kinds.size && !filter.kinds.has(c.kind)) continue;
    if (filter.states.size && !(filter.states.has(c.state) || (stale && filter.states.has('stale')))) continue;
    if (text && !`${c.name} ${c.message ?? ''} ${c.id}`.toLowerCase().includes(text)) continue;
    out.push({ component: c, stale, age: heartbeatAge(c, nowMs) });
  }
  const rank = (v: ComponentView) => (v.stale ? 1 : (STATE_ORDER[v.component.state] ?? 6));
  out.sort((a, b) => {
    const r = rank(a) - rank(b);
    if (r) return r;
    const ta = Date.parse(a.component.updated_at ?? '') || 0;
    const tb = Date.parse(b.component.updated_at ?? '') || 0;
    if (tb !== ta) return tb - ta;
    return a.component.name.localeCompare(b.component.name);
  });
  return out;
}

/** Counts by kind, by state and of stale components, for filter chips. */
export function countComponents(components: Record<string, Component>, nowMs: number) {
  const kinds: Record<string, number> = {};
  const states: Record<string, number> = {};
  let stale = 0;
  for (const c of Object.values(components)) {
    kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
    states[c.state] = (states[c.state] ?? 0) + 1;
    if (isStale(c, nowMs)) stale += 1;
  }
  return { kinds, states, stale, total: Object.keys(components).length };
}

/** Build the websocket URL from the page location (never with the token in it). */
export function statusSocketUrl(loc: { protocol: string; host: string; pathname: string }): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  // The dashboard is served at "/" by monitor_api; keep any prefix it is mounted under.
  const prefix = loc.pathname.replace(/[^/]*$/, '').replace(/\/$/, '');
  return `${scheme}//${loc.host}${prefix}/ws/status`;
}

/** The subprotocols that carry an optional token: 'easyquant' and 'bearer.<base64url(token)>'
 * (a header, so the token stays out of URLs and access logs). */
export function statusSocketProtocols(token: string | null): string[] {
  if (!token) return [];
  let bin = '';
  for (const b of new TextEncoder().encode(token)) bin += String.fromCharCode(b);
  const b64 = btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return ['easyquant', `bearer.${b64}`];
}
