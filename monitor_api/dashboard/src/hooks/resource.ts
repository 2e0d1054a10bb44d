// Load one REST resource: loading / ok / missing (404) / unauthorized / error,
// with optional polling that pauses while the page is hidden.

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api';
import { useToken, useVisible } from './misc';

export type Resource<T> =
  | { status: 'loading'; data: T | null }
  | { status: 'ok'; data: T }
  | { status: 'missing'; data: null; message: string }
  | { status: 'unauthorized'; data: T | null }
  | { status: 'error'; data: T | null; message: string };

export function useResource<T>(
  load: ((signal: AbortSignal) => Promise<T>) | null,
  deps: readonly unknown[],
  pollMs = 0,
): Resource<T> & { reload: () => void } {
  const [state, setState] = useState<Resource<T>>({ status: 'loading', data: null });
  const [tick, setTick] = useState(0);
  const token = useToken();
  const visible = useVisible();
  const dataRef = useRef<T | null>(null);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    dataRef.current = null;
    setState({ status: 'loading', data: null });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    if (!load) return;
    const ctl = new AbortController();
    load(ctl.signal).then(
      (data) => {
        if (ctl.signal.aborted) return;
        dataRef.current = data;
        setState({ status: 'ok', data });
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        const prev = dataRef.current;
        if (e instanceof ApiError && e.kind === 'not_found') setState({ status: 'missing', data: null, message: e.message });
        else if (e instanceof ApiError && e.kind === 'unauthorized') setState({ status: 'unauthorized', data: prev });
        else setState({ status: 'error', data: prev, message: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, token]);

  // No polling once the endpoint is known to be absent or the token refused:
  // a reload, a new token or a route change asks again.
  const enabled = load !== null && state.status !== 'missing' && state.status !== 'unauthorized';
  useEffect(() => {
    if (!pollMs || !visible || !enabled) return;
    const h = setInterval(reload, pollMs);
    return () => clearInterval(h);
  }, [pollMs, visible, reload, enabled]);

  return { ...state, reload } as Resource<T> & { reload: () => void };
}
