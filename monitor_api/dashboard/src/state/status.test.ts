import { describe, expect, it } from 'vitest';
import { comp, iso, T0 } from '../test/fixtures';
import {
  backoffDelay,
  countComponents,
  heartbeatAge,
  initialStatusState,
  isStale,
  parseServerMessage,
  selectComponents,
  serverNow,
  statusReducer,
  statusSocketProtocols,
  statusSocketUrl,
  type ServerMessage,
  type StatusState,
} from './status';

const msg = (m: ServerMessage, at = T0) => ({ type: 'message' as const, message: m, at });
const noFilter = { kinds: new Set<string>(), states: new Set<string>(), text: '' };

function live(components = [comp({ id: 'a' }), comp({ id: 'b' })]): StatusState {
  let s = statusReducer(initialStatusState, { type: 'connect', at: T0 });
  s = statusReducer(s, { type: 'open', at: T0 });
  return statusReducer(s, msg({ type: 'snapshot', components, server_time: iso(T0) }));
}

describe('statusReducer: snapshot then updates', () => {
  it('goes connecting -> syncing -> live, holding every snapshot component', () => {
    let s = statusReducer(initialStatusState, { type: 'connect', at: T0 });
    expect(s.connection).toBe('connecting');
    s = statusReducer(s, { type: 'open', at: T0 });
    expect(s.connection).toBe('syncing');
    expect(s.hasSnapshot).toBe(false);
    s = statusReducer(s, msg({ type: 'snapshot', components: [comp({ id: 'a' }), comp({ id: 'b' })], server_time: iso(T0) }));
    expect(s.connection).toBe('live');
    expect(s.hasSnapshot).toBe(true);
    expect(Object.keys(s.components).sort()).toEqual(['a', 'b']);
  });

  it('merges updates by id and keeps untouched rows as they were', () => {
    const s0 = live();
    const b = s0.components.b;
    const s1 = statusReducer(s0, msg({ type: 'update', components: [comp({ id: 'a', seq: 2, progress: 0.9, message: 'almost' })] }));
    expect(s1.components.a.progress).toBe(0.9);
    expect(s1.components.a.message).toBe('almost');
    expect(s1.components.b).toBe(b);
    expect(s0.components.a.progress).toBe(0.5); // the old state is not mutated
  });

  it('adds components first seen in an update', () => {
    const s = statusReducer(live(), msg({ type: 'update', components: [comp({ id: 'c', kind: 'backtest' })] }));
    expect(Object.keys(s.components).sort()).toEqual(['a', 'b', 'c']);
  });

  it('ignores an update older than the row it holds (seq goes backwards)', () => {
    let s = statusReducer(live(), msg({ type: 'update', components: [comp({ id: 'a', seq: 5, state: 'success' })] }));
    s = statusReducer(s, msg({ type: 'update', components: [comp({ id: 'a', seq: 4, state: 'running' })] }));
    expect(s.components.a.state).toBe('success');
    expect(s.components.a.seq).toBe(5);
  });

  it('replaces everything on a new snapshot: rows missing from it disappear', () => {
    const s0 = statusReducer(live(), msg({ type: 'update', components: [comp({ id: 'c' })] }));
    const s1 = statusReducer(s0, msg({ type: 'snapshot', components: [comp({ id: 'b', seq: 9, state: 'failed' })] }));
    expect(Object.keys(s1.components)).toEqual(['b']);
    expect(s1.components.b.state).toBe('failed');
  });

  it('accepts a snapshot with a lower seq (the server resynchronised)', () => {
    const s0 = statusReducer(live(), msg({ type: 'update', components: [comp({ id: 'a', seq: 50 })] }));
    const s1 = statusReducer(s0, msg({ type: 'snapshot', components: [comp({ id: 'a', seq: 3, message: 'fresh' })] }));
    expect(s1.components.a.message).toBe('fresh');
  });

  it('records server errors without touching the components', () => {
    const s0 = live();
    const s1 = statusReducer(s0, msg({ type: 'error', error: 'bad request' }));
    expect(s1.lastError).toBe('bad request');
    expect(s1.components).toBe(s0.components);
  });

  it('measures clock skew from server_time', () => {
    const s = statusReducer(live(), msg({ type: 'update', components: [], server_time: iso(T0 + 5000) }, T0 + 1000));
    expect(s.skewMs).toBe(4000);
    expect(serverNow(s, T0 + 2000)).toBe(T0 + 6000);
  });
});

describe('statusReducer: connection loss and reconnect', () => {
  it('keeps the last components while reconnecting and counts attempts', () => {
    const s0 = live();
    const s1 = statusReducer(s0, { type: 'close', code: 1006, reason: '', at: T0 + 1000, retryInMs: 500 });
    expect(s1.connection).toBe('reconnecting');
    expect(s1.attempt).toBe(1);
    expect(s1.retryAt).toBe(T0 + 1500);
    expect(s1.components).toBe(s0.components);
    const s2 = statusReducer(s1, { type: 'connect', at: T0 + 1500 });
    expect(s2.connection).toBe('reconnecting');
    const s3 = statusReducer(s2, { type: 'close', code: 1006, reason: '', at: T0 + 1600, retryInMs: 1000 });
    expect(s3.attempt).toBe(2);
  });

  it('resets the attempt count once a fresh snapshot arrives', () => {
    let s = statusReducer(live(), { type: 'close', code: 1006, reason: '', at: T0, retryInMs: 500 });
    s = statusReducer(s, { type: 'close', code: 1006, reason: '', at: T0, retryInMs: 1000 });
    expect(s.attempt).toBe(2);
    s = statusReducer(s, { type: 'open', at: T0 });
    expect(s.attempt).toBe(2); // an open socket alone is not proof the server is healthy
    s = statusReducer(s, msg({ type: 'snapshot', components: [] }));
    expect(s.attempt).toBe(0);
    expect(s.connection).toBe('live');
  });

  it('marks close code 1008 as token refused, with no retry', () => {
    const s = statusReducer(live(), { type: 'close', code: 1008, reason: 'bad token', at: T0, retryInMs: 500 });
    expect(s.connection).toBe('unauthorized');
    expect(s.retryAt).toBeNull();
    expect(s.lastError).toBe('token refused');
  });
});

describe('stale marking', () => {
  const running = comp({ id: 'x', heartbeat_interval: 10, heartbeat_at: iso(T0) });

  it('is fresh up to 3 x heartbeat_interval and stale after', () => {
    expect(isStale(running, T0 + 29_000)).toBe(false);
    expect(isStale(running, T0 + 30_000)).toBe(false);
    expect(isStale(running, T0 + 30_001)).toBe(true);
  });

  it('only applies to queued and running components', () => {
    for (const state of ['success', 'failed', 'stopped']) expect(isStale({ ...running, state }, T0 + 999_000)).toBe(false);
    expect(isStale({ ...running, state: 'queued' }, T0 + 999_000)).toBe(true);
  });

  it('honours the server flag, and falls back to updated_at without a heartbeat', () => {
    expect(isStale({ ...running, stale: true }, T0)).toBe(true);
    const noBeat = { ...running, heartbeat_at: null, updated_at: iso(T0 - 60_000) };
    expect(isStale(noBeat, T0)).toBe(true);
    expect(isStale({ ...running, heartbeat_interval: null }, T0 + 999_000)).toBe(false);
  });

  it('reports the heartbeat age in seconds', () => {
    expect(heartbeatAge(running, T0 + 12_500)).toBe(12.5);
    expect(heartbeatAge({ ...running, heartbeat_at: null, updated_at: null, started_at: null }, T0)).toBeNull();
  });

  it('uses the server clock: a slow local clock still sees staleness', () => {
    let s = live([running]);
    // Local clock 60 s behind the server.
    s = statusReducer(s, msg({ type: 'pong' }, T0));
    s = statusReducer(s, msg({ type: 'update', components: [], server_time: iso(T0 + 60_000) }, T0));
    const view = selectComponents(s.components, noFilter, serverNow(s, T0 + 1000));
    expect(view[0].stale).toBe(true);
  });
});

describe('selectComponents and counts', () => {
  const comps = Object.fromEntries(
    [
      comp({ id: 'ok', kind: 'task', state: 'success', updated_at: iso(T0 + 5000) }),
      comp({ id: 'run', kind: 'live', state: 'running', heartbeat_at: iso(T0 + 100_000) }),
      comp({ id: 'old', kind: 'cli', state: 'running', heartbeat_at: iso(T0) }),
      comp({ id: 'bad', kind: 'task', state: 'failed', message: 'division by zero' }),
    ].map((c) => [c.id, c]),
  );
  const now = T0 + 100_000;

  it('puts failed first, then stale, then running, then finished', () => {
    expect(selectComponents(comps, noFilter, now).map((v) => v.component.id)).toEqual(['bad', 'old', 'run', 'ok']);
  });

  it('filters by kind, by state (including "stale") and by text', () => {
    const ids = (f: Partial<typeof noFilter>) => selectComponents(comps, { ...noFilter, ...f }, now).map((v) => v.component.id);
    expect(ids({ kinds: new Set(['task']) })).toEqual(['bad', 'ok']);
    expect(ids({ states: new Set(['stale']) })).toEqual(['old']);
    expect(ids({ states: new Set(['running']) })).toEqual(['old', 'run']);
    expect(ids({ text: 'division' })).toEqual(['bad']);
  });

  it('counts kinds, states and stale components', () => {
    const c = countComponents(comps, now);
    expect(c.total).toBe(4);
    expect(c.kinds).toEqual({ task: 2, live: 1, cli: 1 });
    expect(c.states.running).toBe(2);
    expect(c.stale).toBe(1);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the cap', () => {
    const noJitter = () => 0;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, noJitter))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('jitters downward by at most the jitter fraction', () => {
    expect(backoffDelay(3, () => 0.999999)).toBe(Math.round(4000 * (1 - 0.3 * 0.999999)));
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(4, Math.random);
      expect(d).toBeGreaterThanOrEqual(8000 * 0.7);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

describe('parseServerMessage', () => {
  it('accepts the contract messages', () => {
    expect(parseServerMessage('{"type":"pong"}')).toEqual({ type: 'pong' });
    expect(parseServerMessage('{"type":"update","components":[]}').type).toBe('update');
  });

  it('rejects malformed frames with a reason', () => {
    expect(() => parseServerMessage('nope')).toThrow(/not JSON/);
    expect(() => parseServerMessage('{"components":[]}')).toThrow(/no type/);
    expect(() => parseServerMessage('{"type":"snapshot"}')).toThrow(/without components/);
  });
});

describe('statusSocketUrl', () => {
  it('matches the page scheme and never carries the token', () => {
    expect(statusSocketUrl({ protocol: 'http:', host: 'h:8000', pathname: '/' })).toBe('ws://h:8000/ws/status');
    expect(statusSocketUrl({ protocol: 'https:', host: 'h', pathname: '/index.html' })).toBe('wss://h/ws/status');
  });
  it('puts the token in a base64url subprotocol, UTF-8 and all', () => {
    expect(statusSocketProtocols(null)).toEqual([]);
    expect(statusSocketProtocols('a b&c')).toEqual(['easyquant', 'bearer.YSBiJmM']);
    expect(statusSocketProtocols('é?>')).toEqual(['easyquant', 'bearer.w6k_Pg']);
  });
});
