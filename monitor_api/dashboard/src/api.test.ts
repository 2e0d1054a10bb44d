import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api } from './api';
import { setToken } from './token';

function stubFetch(status: number, body: unknown) {
  const f = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
  vi.stubGlobal('fetch', f);
  return f;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setToken('');
});

describe('api', () => {
  it('sends the token as a bearer header and the conf as JSON', async () => {
    setToken('tok');
    const f = stubFetch(200, { dag_run_id: 'manual__1', url: 'http://airflow/x' });
    const r = await api.triggerDag('easyquant_etl', { symbols: ['AAA'] });
    expect(r.dag_run_id).toBe('manual__1');
    const [url, init] = f.mock.calls[0];
    expect(url).toBe('api/pipelines/easyquant_etl/trigger');
    expect(init?.method).toBe('POST');
    expect((init?.headers as Record<string, string>).Authorization).toBe('Bearer tok');
    expect(JSON.parse(String(init?.body))).toEqual({ conf: { symbols: ['AAA'] } });
  });

  it('sends no Authorization header without a token', async () => {
    const f = stubFetch(200, { runs: [] });
    await api.backtests({ sort: '-sharpe', limit: 10 });
    expect(f.mock.calls[0][0]).toBe('api/backtests?sort=-sharpe&limit=10');
    expect((f.mock.calls[0][1]?.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('maps 404 to "not available", 401/403 to "token refused"', async () => {
    stubFetch(404, { detail: 'Not Found' });
    await expect(api.liveSessions()).rejects.toMatchObject({ kind: 'not_found' });
    for (const status of [401, 403]) {
      stubFetch(status, { detail: 'no' });
      const e = await api.halt('paper').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).kind).toBe('unauthorized');
      expect((e as ApiError).message).toBe('token refused');
    }
    stubFetch(500, { detail: 'boom' });
    await expect(api.sweep('s1')).rejects.toMatchObject({ kind: 'http', status: 500, message: 'boom' });
  });

  it('escapes ids in paths', async () => {
    const f = stubFetch(200, {});
    await api.componentEvents('task:dag:manual__2026-01-01T00:00:00+00:00:t:0:1', 5);
    expect(f.mock.calls[0][0]).toBe('api/components/task%3Adag%3Amanual__2026-01-01T00%3A00%3A00%2B00%3A00%3At%3A0%3A1/events?limit=5');
  });
});
