// Shell: header with navigation, connection indicator and settings; hash routes.

import { lazy, Suspense, useEffect, useState } from 'react';
import { api, type Health } from './api';
import { useStatus, useStatusClient } from './hooks/status';
import { useHashRoute, useNow, useToken } from './hooks/misc';
import { Overview } from './views/Overview';
import { Pipelines } from './views/Pipelines';
import { setToken } from './token';
import type { StatusState } from './state/status';
import { LOCALE_NAMES, LOCALES, setLocale, t, useLocale, type Locale, type MessageKey } from './i18n';

// Chart-heavy views load on demand so the overview starts fast.
const Backtests = lazy(() => import('./views/Backtests').then((m) => ({ default: m.Backtests })));
const BacktestRun = lazy(() => import('./views/BacktestRun').then((m) => ({ default: m.BacktestRun })));
const SweepView = lazy(() => import('./views/BacktestRun').then((m) => ({ default: m.SweepView })));
const Live = lazy(() => import('./views/Live').then((m) => ({ default: m.Live })));
const Data = lazy(() => import('./views/Data').then((m) => ({ default: m.Data })));

const NAV: { href: string; label: MessageKey; key: string }[] = [
  { href: '#/', label: 'nav.overview', key: '' },
  { href: '#/pipelines', label: 'nav.pipelines', key: 'pipelines' },
  { href: '#/backtests', label: 'nav.backtests', key: 'backtests' },
  { href: '#/live', label: 'nav.live', key: 'live' },
  { href: '#/data', label: 'nav.data', key: 'data' },
];

export function App() {
  const route = useHashRoute();
  const locale = useLocale();
  const [section, id] = route.path;
  const active = section === 'sweeps' ? 'backtests' : (section ?? '');
  useEffect(() => {
    const label = NAV.find((n) => n.key === active)?.label;
    document.title = `${label ? t(label) : 'EasyQuant'} · EasyQuant`;
  }, [active, locale]);

  let view;
  if (!section) view = <Overview />;
  else if (section === 'pipelines') view = <Pipelines />;
  else if (section === 'backtests' && id) view = <BacktestRun runId={id} />;
  else if (section === 'backtests') view = <Backtests />;
  else if (section === 'sweeps' && id) view = <SweepView sweepId={id} />;
  else if (section === 'live') view = <Live />;
  else if (section === 'data') view = <Data query={route.query} />;
  else
    view = (
      <div className="empty">
        {t('app.noPage')} <a href="#/">{t('app.backToOverview')}</a>
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
              {t(n.label)}
            </a>
          ))}
        </nav>
        <span className="spacer" />
        <ConnectionIndicator />
        <LanguageSwitch locale={locale} />
        <Settings />
      </header>
      <main>
        <Suspense fallback={<div className="empty">{t('common.loading')}</div>}>{view}</Suspense>
      </main>
    </div>
  );
}

export function connectionLabel(s: StatusState, nowMs: number): { cls: string; text: string } {
  switch (s.connection) {
    case 'live':
      return { cls: 'ok', text: t('conn.live') };
    case 'syncing':
      return { cls: 'warn', text: t('conn.syncing') };
    case 'connecting':
      return { cls: 'warn', text: t('conn.connecting') };
    case 'reconnecting': {
      const secs = s.retryAt === null ? null : Math.max(0, Math.ceil((s.retryAt - nowMs) / 1000));
      return { cls: 'bad', text: secs === null || secs === 0 ? t('conn.reconnecting') : t('conn.reconnectingIn', { s: secs }) };
    }
    case 'unauthorized':
      return { cls: 'bad', text: t('conn.tokenRefused') };
    default:
      return { cls: 'off', text: t('conn.offline') };
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
    t('conn.tipSocket', { state: status.connection }),
    status.lastClose ? t('conn.tipLastClose', { code: status.lastClose.code, reason: status.lastClose.reason }) : '',
    status.attempt ? t('conn.tipAttempts', { n: status.attempt }) : '',
    health
      ? t('conn.tipHealth', { database: health.database ? t('conn.up') : t('conn.down'), listener: health.listener, clients: health.clients })
      : '',
    status.lastError ? t('conn.tipLastError', { error: status.lastError }) : '',
  ]
    .filter(Boolean)
    .join('\n');
  return (
    <span className="conn" title={title} role="status" aria-live="polite">
      <span className={`dot ${cls}`} />
      <span className="conn-text">{text}</span>
      {degraded && <span className="badge s-stale">{health.listener === 'polling' ? t('conn.polling') : t('conn.degraded')}</span>}
      {(status.connection === 'reconnecting' || status.connection === 'unauthorized' || status.connection === 'idle') && client && (
        <button type="button" className="link" onClick={() => client.restart()}>
          {t('common.retry')}
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
      <button type="button" className="icon" aria-label={t('settings.title')} title={t('settings.title')} aria-expanded={open} onClick={() => (setDraft(token), setOpen(!open))}>
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
            <span className="small muted">{t('settings.token')}</span>
            <input type="password" autoComplete="off" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder={t('settings.none')} />
          </label>
          <div className="row">
            <button type="submit" className="primary">
              {t('settings.save')}
            </button>
            {token && (
              <button
                type="button"
                onClick={() => {
                  setToken('');
                  setOpen(false);
                }}
              >
                {t('settings.forget')}
              </button>
            )}
          </div>
        </form>
      )}
    </div>
  );
}

/** The language switch: the choice is kept in this browser (localStorage). */
function LanguageSwitch({ locale }: { locale: Locale }) {
  return (
    <label className="lang" title={t('lang.title')}>
      <span className="sr-only">{t('lang.title')}</span>
      <select value={locale} onChange={(e) => setLocale(e.target.value as Locale)} aria-label={t('lang.title')}>
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l === 'zh' ? 'zh-CN' : 'en'}>
            {LOCALE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
