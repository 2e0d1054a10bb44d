import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { comp, FakeSocket, T0 } from '../test/fixtures';
import { StatusClient } from './statusClient';

let token = '';

function makeClient(extra: Partial<ConstructorParameters<typeof StatusClient>[0]> = {}) {
  return new StatusClient({
    url: () => 'ws://test/ws/status',
    protocols: () => (token ? ['easyquant', `bearer.${token}`] : []),
    createSocket: (u, p) => new FakeSocket(u, p),
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    random: () => 0, // no jitter: delays are 500, 1000, 2000, ...
    ...extra,
  });
}

/** A started client (``extra`` as for ``makeClient``) whose socket opened and sent
 * ``components`` as its snapshot. */
function liveClient(components: ReturnType<typeof comp>[], extra: Parameters<typeof makeClient>[0] = {}) {
  const client = makeClient(extra);
  client.start();
  const ws = FakeSocket.last();
  ws.open();
  ws.snapshot(components);
  return { client, ws };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  FakeSocket.reset();
  token = '';
});
afterEach(() => {
  vi.useRealTimers();
});

describe('StatusClient', () => {
  it('applies a snapshot and then updates from the socket', () => {
    const client = makeClient();
    const seen: string[] = [];
    client.subscribe((s) => seen.push(s.connection));
    client.start();
    const ws = FakeSocket.last();
    ws.open();
    ws.snapshot([comp({ id: 'a' }), comp({ id: 'b' })]);
    ws.update([comp({ id: 'a', seq: 2, state: 'success', progress: 1 })]);
    const s = client.getState();
    expect(s.connection).toBe('live');
    expect(s.components.a.state).toBe('success');
    expect(s.components.b.state).toBe('running');
    expect(seen.slice(0, 3)).toEqual(['connecting', 'syncing', 'live']);
  });

  it('reconnects with growing backoff and refreshes from the new snapshot', () => {
    const { client, ws: first } = liveClient([comp({ id: 'gone' }), comp({ id: 'kept', message: 'old' })]);

    first.drop(1006);
    expect(client.getState().connection).toBe('reconnecting');
    expect(client.getState().retryAt).toBe(T0 + 500);
    // Old rows stay visible while disconnected.
    expect(Object.keys(client.getState().components).sort()).toEqual(['gone', 'kept']);

    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);

    // The second attempt fails before opening: the next wait doubles.
    FakeSocket.last().drop(1006);
    expect(client.getState().attempt).toBe(2);
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);

    const ws = FakeSocket.last();
    ws.open();
    expect(client.getState().connection).toBe('syncing');
    ws.snapshot([comp({ id: 'kept', message: 'new', seq: 1 })]);
    const s = client.getState();
    expect(s.connection).toBe('live');
    expect(Object.keys(s.components)).toEqual(['kept']);
    expect(s.components.kept.message).toBe('new');
    expect(s.attempt).toBe(0);

    // After a good snapshot the schedule starts again from the base delay.
    ws.drop(1011);
    expect(client.getState().retryAt).toBe(Date.now() + 500);
  });

  it('caps the backoff', () => {
    const client = makeClient({ backoff: { baseMs: 100, maxMs: 1000, factor: 2, jitter: 0 } });
    client.start();
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      FakeSocket.last().drop(1006);
      const s = client.getState();
      waits.push(s.retryAt! - Date.now());
      vi.advanceTimersByTime(s.retryAt! - Date.now());
    }
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('stops retrying when the server refuses the token (1008), and retries with a new one on restart', () => {
    const client = makeClient();
    client.start();
    FakeSocket.last().drop(1008, 'invalid token');
    expect(client.getState().connection).toBe('unauthorized');
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1);

    token = 'secret';
    client.restart();
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.last().url).toBe('ws://test/ws/status');
    expect(FakeSocket.last().protocols).toEqual(['easyquant', 'bearer.secret']);
  });

  it('ignores events from a socket it has replaced', () => {
    const { client, ws: first } = liveClient([comp({ id: 'a' })]);
    client.restart();
    expect(first.closedByClient).not.toBeNull();
    first.update([comp({ id: 'zombie' })]);
    first.drop(1006);
    expect(client.getState().components.zombie).toBeUndefined();
    expect(client.getState().connection).toBe('reconnecting'); // waiting on the new socket, not a retry timer
    expect(client.getState().retryAt).toBeNull();
  });

  it('pings while open and drops a silent connection', () => {
    const { client, ws } = liveClient([], { pingEveryMs: 1000, silenceTimeoutMs: 2500 });
    vi.advanceTimersByTime(1000);
    expect(ws.sent).toEqual(['{"type":"ping"}']);
    ws.message({ type: 'pong' });
    vi.advanceTimersByTime(2000);
    expect(ws.sent).toHaveLength(3);
    // No reply for > 2.5 s: the client gives up on this socket and schedules a retry.
    vi.advanceTimersByTime(1000);
    expect(ws.closedByClient).not.toBeNull();
    expect(client.getState().connection).toBe('reconnecting');
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('counts a malformed frame as an error without losing state', () => {
    const { client, ws } = liveClient([comp({ id: 'a' })]);
    ws.message('{not json');
    expect(client.getState().lastError).toMatch(/not JSON/);
    expect(client.getState().components.a).toBeDefined();
    expect(client.getState().connection).toBe('live');
  });

  it('stop() closes the socket and cancels the pending retry', () => {
    const client = makeClient();
    client.start();
    FakeSocket.last().drop(1006);
    client.stop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(client.getState().connection).toBe('idle');
  });
});
