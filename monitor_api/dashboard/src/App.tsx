// Shell: header with navigation, connection indicator and settings; hash routes.

import { lazy, Suspense, useEffect, useState } from 'react';
import { api, type Health } from './api';
import { useStatus, useStatusClient } from './hooks/status';
import { useHashRoute, useNow, useToken } from './hooks/misc';
import { Overview } from './views/Overview';
import { Pipelines } from './views/Pipelines';
import { setToken } from './token';
import type { StatusState } from './state/status';

// Chart-heavy views load on demand so the overview starts fast.
const Backtests = lazy(() => import('./views/Backtests').then((m) => ({ default: m.Backtests })));
const BacktestRun = lazy(() => import('./views/BacktestRun').then((m) => ({ default: m.BacktestRun })));
const SweepView = lazy(() => import('./views/BacktestRun').then((m) => ({ default: m.SweepView })));
const Live = lazy(() => import('./views/Live').then((m) => ({ default: m.Live })));

const NAV = [
  { href: '#/', label: 'Overview', key: '' },
  { href: '#/pipelines', label: 'Pipelines', key: 'pipelines' },
  { href: '#/backtests', label: 'Backtests', key: 'backtests' },
  { href: '#/live', label: 'Live', key: 'live' },
];

export function App() {
  const route = useHashRoute();
  const [section, id] = route.path;
  const active = section === 'sweeps' ? 'backtests' : (section ?? '');
  useEffect(() => {
    const label = NAV.find((n) => n.key === active)?.label ?? 'EasyQuant';
    document.title = `${label} · EasyQuant`;
  }, [active]);

  let view;
  if (!section) view = <Overview />;
  else if (section === 'pipelines') view = <Pipelines />;
  else if (section === 'backtests' && id) view = <BacktestRun runId={id} />;
  else if (section === 'backtests') view = <Backtests />;
  else if (section === 'sweeps' && id) view = <SweepView sweepId={id} />;
  else if (section === 'live') view = <Live />;
  else
    view = (
      <div className="empty">
        No page here. <a href="#/">Back to the overview</a>.
      </div>
    );

  return (
    <div className="app">
      <header className="top">
        <a className="brand" href="#/">
          EasyQuant
        </a>
        <nav>
          {NAV.map((n) => (
            <a key={n.key} href={n.href} className={active === n.key ? 'on' : ''} aria-current={active === n.key ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <span className="spacer" />
        <ConnectionIndicator />
        <Settings />
      </header>
      <main>
        <Suspense fallback={<div className="empty">Loading…</div>}>{view}</Suspense>
      </main>
    </div>
  );
}

export function connectionLabel(s: StatusState, nowMs: number): { cls: string; text: string } {
  switch (s.connection) {
    case 'live':
      return { cls: 'ok', text: 'live' };
    case 'syncing':
      return { cls: 'warn', text: 'syncing…' };
    case 'connecting':
      return { cls: 'warn', text: 'connecting…' };
    case 'reconnecting': {
      const secs = s.retryAt === null ? null : Math.max(0, Math.ceil((s.retryAt - nowMs) / 1000));
      return { cls: 'bad', text: secs === null || secs === 0 ? 'reconnecting…' : `reconnecting in ${secs}s` };
    }
    case 'unauthorized':
      return { cls: 'bad', text: 'token refused' };
    default:
      return { cls: 'off', text: 'offline' };
  }
}

function ConnectionIndicator() {
  const status = useStatus();
  const client = useStatusClient();
  const now = useNow(1000);
  const [health, setHealth] = useState<Health | null>(null);
  const token = useToken();
  useEffect(() => {
    let live = true;
    const poll = () =>
      api.health().then(
        (h) => live && setHealth(h),
        () => live && setHealth(null),
      );
    poll();
    const h = setInterval(poll, 30_000);
    return () => {
      live = false;
      clearInterval(h);
    };
  }, [token]);
  const { cls, text } = connectionLabel(status, now);
  const degraded = health && health.status !== 'ok';
  const title = [
    `websocket: ${status.connection}`,
    status.lastClose ? `last close: ${status.lastClose.code} ${status.lastClose.reason}` : '',
    status.attempt ? `failed attempts: ${status.attempt}` : '',
    health ? `database: ${health.database ? 'up' : 'down'}, listener: ${health.listener}, clients: ${health.clients}` : '',
    status.lastError ? `last error: ${status.lastError}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return (
    <span className="conn" title={title} role="status" aria-live="polite">
      <span className={`dot ${cls}`} />
      <span className="conn-text">{text}</span>
      {degraded && <span className="badge s-stale">{health.listener === 'polling' ? 'polling' : 'degraded'}</span>}
      {(status.connection === 'reconnecting' || status.connection === 'unauthorized' || status.connection === 'idle') && client && (
        <button type="button" className="link" onClick={() => client.restart()}>
          retry
        </button>
      )}
    </span>
  );
}

function Settings() {
  const token = useToken();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(token);
  return (
    <div className="settings">
      <button type="button" className="icon" aria-label="Settings" aria-expanded={open} onClick={() => (setDraft(token), setOpen(!open))}>
        ⚙
      </button>
      {open && (
        <form
          className="popover"
          onSubmit={(e) => {
            e.preventDefault();
            setToken(draft);
            setOpen(false);
          }}
        >
          <label>
            <span className="small muted">API token (EASYQUANT_API_TOKEN), kept in this browser</span>
            <input type="password" autoComplete="off" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="none" />
          </label>
          <div className="row">
            <button type="submit" className="primary">
              Save
            </button>
            {token && (
              <button
                type="button"
                onClick={() => {
                  setToken('');
                  setOpen(false);
                }}
              >
                Forget
              </button>
            )}
          </div>
        </form>
      )}
    </div>
  );
}
