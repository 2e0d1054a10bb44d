// The whole app mounted in jsdom over a stubbed monitor_api (REST answers from `routes`, a
// scripted websocket), with fake timers; each test starts in the given locale.

import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, expect, vi, type Mock } from 'vitest';
import { App } from '../App';
import { StatusProvider } from '../hooks/status';
import { setLocale, type Locale } from '../i18n';
import { StatusClient } from '../state/statusClient';
import { setToken } from '../token';
import { FakeSocket, T0 } from './fixtures';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Harness {
  routes: Record<string, { status: number; body: unknown }>;
  fetchMock: Mock;
  host: HTMLElement;
  mount: (hash: string) => void;
  /** Let lazy imports and fetches settle. */
  settle: () => Promise<void>;
  text: () => string;
  button: (label: string) => HTMLButtonElement;
  /** The query of the last request to `path`, as an object. */
  lastQuery: (path: string) => Record<string, string> | null;
}

export function appHarness(locale: Locale = 'en'): Harness {
  let root: Root | null = null;
  const h: Harness = {
    routes: {},
    fetchMock: vi.fn(),
    host: document.createElement('div'),
    mount(hash) {
      window.location.hash = hash;
      const client = new StatusClient({
        url: () => 'ws://test/ws/status',
        createSocket: (u) => new FakeSocket(u),
        now: () => Date.now(),
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (x) => clearTimeout(x as ReturnType<typeof setTimeout>),
        random: () => 0,
      });
      document.body.appendChild(h.host);
      root = createRoot(h.host);
      act(() => root!.render(<StatusProvider client={client}>{<App />}</StatusProvider>));
    },
    async settle() {
      for (let i = 0; i < 10; i++) await act(async () => vi.advanceTimersByTimeAsync(5));
    },
    text: () => h.host.textContent ?? '',
    button: (label) => [...h.host.querySelectorAll('button')].find((b) => b.textContent?.trim().startsWith(label)) as HTMLButtonElement,
    lastQuery(path) {
      const calls = h.fetchMock.mock.calls.map(([u]) => String(u)).filter((u) => u.split('?')[0] === path);
      if (!calls.length) return null;
      return Object.fromEntries(new URLSearchParams(calls[calls.length - 1].split('?')[1] ?? ''));
    },
  };
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(T0 + 60_000);
    FakeSocket.reset();
    setLocale(locale);
    vi.spyOn(console, 'error');
    h.routes = {};
    h.host = document.createElement('div');
    h.fetchMock = vi.fn(async (url: string) => {
      const path = url.split('?')[0];
      const r = h.routes[path] ?? { status: 404, body: { detail: 'Not Found' } };
      return new Response(JSON.stringify(r.body), { status: r.status, headers: { 'Content-Type': 'application/json' } });
    });
    vi.stubGlobal('fetch', h.fetchMock);
  });
  afterEach(() => {
    act(() => root?.unmount());
    root = null;
    h.host.remove();
    expect(console.error).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    vi.useRealTimers();
    setToken('');
    localStorage.clear();
  });
  return h;
}
