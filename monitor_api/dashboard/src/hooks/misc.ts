// Small hooks: a ticking clock, hash routing, the system theme, the token.

import { useEffect, useState, useSyncExternalStore } from 'react';
import { getToken, subscribeToken } from '../token';

/** The local clock, re-read every `everyMs` so ages and durations move. */
export function useNow(everyMs = 1000, clock: () => number = Date.now): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    const h = setInterval(() => setNow(clock()), everyMs);
    return () => clearInterval(h);
  }, [everyMs, clock]);
  return now;
}

export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [p, qs] = raw.split('?', 2);
  const path = (p ?? '')
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { path, query: new URLSearchParams(qs ?? '') };
}

function subscribeHash(cb: () => void) {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

export function useHashRoute(): Route {
  const hash = useSyncExternalStore(subscribeHash, () => window.location.hash, () => '');
  // Route objects are cheap; parse per render of the hash string.
  return parseHash(hash);
}

export type Theme = 'dark' | 'light';

function subscribeTheme(cb: () => void) {
  const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
  mq?.addEventListener?.('change', cb);
  return () => mq?.removeEventListener?.('change', cb);
}

export function useTheme(): Theme {
  return useSyncExternalStore(
    subscribeTheme,
    () => (window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'),
    () => 'light',
  );
}

export function useToken(): string {
  return useSyncExternalStore(subscribeToken, getToken, getToken);
}

/** True while the page is visible, for pausing polls. */
export function useVisible(): boolean {
  return useSyncExternalStore(
    (cb) => {
      document.addEventListener('visibilitychange', cb);
      return () => document.removeEventListener('visibilitychange', cb);
    },
    () => document.visibilityState !== 'hidden',
    () => true,
  );
}
