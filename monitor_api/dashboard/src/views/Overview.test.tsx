// @vitest-environment jsdom
// Component tests: the app over a scripted websocket, in jsdom with fake timers.

import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../App';
import { StatusProvider } from '../hooks/status';
import { StatusClient } from '../state/statusClient';
import { comp, FakeSocket, iso, T0 } from '../test/fixtures';
import { setToken } from '../token';
import { setLocale } from '../i18n';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root;
let host: HTMLElement;
let client: StatusClient;

function mount() {
  client = new StatusClient({
    url: () => `ws://test/ws/status`,
    createSocket: (u) => new FakeSocket(u),
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    random: () => 0,
  });
  host = document.createElement('div');
  document.body.appendChild(host);
  root = createRoot(host);
  act(() => {
    root.render(
      <StatusProvider client={client}>
        <App />
      </StatusProvider>,
    );
  });
}

const server = (fn: () => void) => act(fn);
const tick = (ms: number) => act(() => vi.advanceTimersByTime(ms));
const rows = () => [...host.querySelectorAll<HTMLTableRowElement>('table.components tbody tr[data-id]')];
const row = (id: string) => host.querySelector<HTMLTableRowElement>(`tr[data-id="${id}"]`);
const conn = () => host.querySelector('.conn-text')?.textContent;
const click = (el: Element | null) => act(() => (el as HTMLElement).click());
const chip = (text: string) => [...host.querySelectorAll('.chip')].find((c) => c.textContent?.startsWith(text)) ?? null;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  FakeSocket.reset();
  setLocale('en'); // the assertions read English labels
  window.location.hash = '#/';
  // REST is not under test here: every request 404s.
  vi.spyOn(console, 'error');
  vi.spyOn(console, 'warn');
  vi.stubGlobal('fetch', vi.fn(async () => new Response('{"detail":"Not Found"}', { status: 404, headers: { 'Content-Type': 'application/json' } })));
});
afterEach(() => {
  act(() => root.unmount());
  // No React warnings (act, keys, controlled inputs) and no errors logged.
  expect(console.error).not.toHaveBeenCalled();
  expect(console.warn).not.toHaveBeenCalled();
  vi.restoreAllMocks();
  host.remove();
  vi.unstubAllGlobals();
  vi.useRealTimers();
  setToken('');
});

describe('Overview over /ws/status', () => {
  it('waits for the snapshot, renders it, then applies updates', () => {
    mount();
    expect(conn()).toBe('connecting…');
    expect(host.textContent).toContain('Waiting for the first snapshot');

    const ws = FakeSocket.last();
    server(() => ws.open());
    expect(conn()).toBe('syncing…');
    server(() =>
      ws.snapshot([
        comp({ id: 'cli:1', kind: 'cli', name: 'ingest AAA', progress: 0.25, message: 'AAA 300 rows' }),
        comp({ id: 'backtest:r1', kind: 'backtest', name: 'sma_cross AAA', state: 'success', progress: 1, finished_at: iso(T0) }),
      ]),
    );
    expect(conn()).toBe('live');
    expect(rows()).toHaveLength(2);
    expect(row('cli:1')!.textContent).toContain('AAA 300 rows');
    expect(row('cli:1')!.querySelector('[role=progressbar]')!.getAttribute('aria-valuenow')).toBe('25');

    server(() => ws.update([comp({ id: 'cli:1', kind: 'cli', name: 'ingest AAA', seq: 2, progress: 0.75, message: 'AAA 900 rows' })]));
    expect(row('cli:1')!.textContent).toContain('AAA 900 rows');
    expect(row('cli:1')!.querySelector('[role=progressbar]')!.getAttribute('aria-valuenow')).toBe('75');

    server(() => ws.update([comp({ id: 'cli:1', kind: 'cli', name: 'ingest AAA', seq: 3, state: 'failed', message: 'disk full' })]));
    expect(row('cli:1')!.classList.contains('row-failed')).toBe(true);
    expect(rows()[0].dataset.id).toBe('cli:1'); // failures sort to the top
  });

  it('marks a running component stale once its heartbeat is 3 intervals old, and clears it on a new heartbeat', () => {
    mount();
    const ws = FakeSocket.last();
    server(() => ws.open());
    server(() => ws.snapshot([comp({ id: 'live:paper', kind: 'live', name: 'paper', heartbeat_interval: 5, heartbeat_at: iso(T0) })]));
    expect(row('live:paper')!.classList.contains('row-stale')).toBe(false);
    expect(row('live:paper')!.textContent).toContain('0s ago');

    tick(14_000);
    expect(row('live:paper')!.classList.contains('row-stale')).toBe(false);
    expect(row('live:paper')!.textContent).toContain('14s ago');
    tick(2_000); // 16 s > 3 x 5 s
    expect(row('live:paper')!.classList.contains('row-stale')).toBe(true);
    expect(row('live:paper')!.querySelector('.badge.s-stale')).not.toBeNull();
    expect(chip('stale')!.textContent).toContain('1');

    server(() => ws.update([comp({ id: 'live:paper', kind: 'live', name: 'paper', seq: 2, heartbeat_interval: 5, heartbeat_at: iso(Date.now()) })]));
    expect(row('live:paper')!.classList.contains('row-stale')).toBe(false);
  });

  it('shows reconnecting, keeps the old rows dimmed, and refreshes from the new snapshot', () => {
    mount();
    let ws = FakeSocket.last();
    server(() => ws.open());
    server(() => ws.snapshot([comp({ id: 'a', name: 'job a' }), comp({ id: 'b', name: 'job b' })]));
    expect(rows()).toHaveLength(2);

    server(() => ws.drop(1006));
    expect(conn()).toBe('reconnecting in 1s');
    expect(host.querySelector('.table-wrap.outdated')).not.toBeNull();
    expect(rows()).toHaveLength(2);

    tick(500);
    expect(FakeSocket.all).toHaveLength(2);
    ws = FakeSocket.last();
    server(() => ws.open());
    server(() => ws.snapshot([comp({ id: 'b', name: 'job b', state: 'success' }), comp({ id: 'c', name: 'job c' })]));
    expect(conn()).toBe('live');
    expect(host.querySelector('.table-wrap.outdated')).toBeNull();
    expect(rows().map((r) => r.dataset.id).sort()).toEqual(['b', 'c']);
  });

  it('shows "token refused" on close code 1008 and reconnects when a token is saved', () => {
    mount();
    server(() => FakeSocket.last().drop(1008, 'bad token'));
    expect(conn()).toBe('token refused');
    expect(host.textContent).toContain('Token refused');
    tick(60_000);
    expect(FakeSocket.all).toHaveLength(1);

    act(() => setToken('s3cret'));
    expect(FakeSocket.all).toHaveLength(2);
    expect(localStorage.getItem('easyquant.token')).toBe('s3cret');
  });

  it('opens a component on its row: id, times, heartbeat, then its metrics', () => {
    mount();
    const ws = FakeSocket.last();
    server(() => ws.open());
    const finished = { id: 'backtest:r1', kind: 'backtest', state: 'success', heartbeat_interval: 30, finished_at: iso(T0 + 60_000) } as const;
    server(() => ws.snapshot([comp({ ...finished, metrics: { sharpe: 1.25, trades: 7 } }), comp({ id: 'cli:2', heartbeat_interval: 0 })]));
    click(row('backtest:r1'));
    const cells = () => [...host.querySelectorAll('.detail .kv > *')].map((c) => c.textContent);
    const pairs = (all: (string | null)[]) => all.flatMap((v, i) => (i % 2 ? [] : [[v, all[i + 1]]]));
    const first = pairs(cells());
    expect(first.map(([k]) => k)).toEqual(['id', 'started', 'heartbeat every', 'finished', 'sharpe', 'trades']);
    expect(first[0][1]).toBe('backtest:r1');
    expect(host.querySelector('.detail .kv code')?.textContent).toBe('backtest:r1');
    expect(first[2][1]).toBe('30s');
    expect(first.slice(4)).toEqual([
      ['sharpe', '1.25'],
      ['trades', '7'],
    ]);
    click(row('backtest:r1')); // closes it
    click(row('cli:2'));
    expect(pairs(cells()).map(([k, v]) => `${k}=${v}`)).toContain('heartbeat every=–'); // no heartbeat, not finished
    expect(pairs(cells()).map(([k]) => k)).toEqual(['id', 'started', 'heartbeat every']);
  });

  it('filters by kind and state', () => {
    mount();
    const ws = FakeSocket.last();
    server(() => ws.open());
    server(() =>
      ws.snapshot([
        comp({ id: 't1', kind: 'task', state: 'success' }),
        comp({ id: 't2', kind: 'task', state: 'failed' }),
        comp({ id: 'l1', kind: 'live', state: 'running' }),
      ]),
    );
    click(chip('task'));
    expect(rows().map((r) => r.dataset.id).sort()).toEqual(['t1', 't2']);
    click(chip('failed'));
    expect(rows().map((r) => r.dataset.id)).toEqual(['t2']);
    click(chip('task'));
    click(chip('failed'));
    expect(rows()).toHaveLength(3);
  });
});
