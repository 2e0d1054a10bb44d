// Live sessions: equity, positions, orders, fills, risk; halt and resume.

import { useMemo, useState } from 'react';
import { api, errorText, type LiveSession, type Position, type RiskEvent } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { AutoTable, DataState, KeyValues, Signed, SortTable, StateBadge, type Column } from '../components/ui';
import { useResource } from '../hooks/resource';
import { useStatus } from '../hooks/status';
import { useNow } from '../hooks/misc';
import { cell, duration, money, num, shortTime } from '../lib/format';
import { valueSeries } from '../lib/series';
import { heartbeatAge, isStale, serverNow } from '../state/status';
import { maybeT, t, useLocale } from '../i18n';

export function Live() {
  const res = useResource((signal) => api.liveSessions(signal), [], 5_000);
  return (
    <section className="view">
      <DataState res={res} what={t('live.what')}>
        {(d) =>
          d.sessions.length === 0 ? (
            <div className="empty">{t('live.none')}</div>
          ) : (
            <div className="sessions">
              {d.sessions.map((s) => (
                <SessionCard key={s.session} s={s} onChanged={res.reload} />
              ))}
            </div>
          )
        }
      </DataState>
    </section>
  );
}

const positionColumns = (): Column<Position>[] => [
  { key: 'symbol', label: t('col.symbol'), value: (p) => p.symbol },
  { key: 'quantity', label: t('col.qty'), value: (p) => p.quantity, render: (p) => num(p.quantity, 0), className: 'num' },
  { key: 'avg_price', label: t('live.avgPx'), value: (p) => p.avg_price, render: (p) => num(p.avg_price, 4), className: 'num' },
  { key: 'market_value', label: t('live.value'), value: (p) => p.market_value, render: (p) => money(p.market_value), className: 'num' },
  {
    key: 'upnl',
    label: t('live.upnl'),
    value: (p) => unrealised(p),
    render: (p) => <Signed value={unrealised(p)} text={money(unrealised(p))} />,
    className: 'num',
  },
];

// Orders and fills: the columns a trader reads first; long ids are left out of the table.
const ORDER_KEYS = ['bar_ts', 'symbol', 'side', 'quantity', 'kind', 'limit_price', 'state'];
const FILL_KEYS = ['bar_ts', 'symbol', 'quantity', 'price', 'fees'];
const labels = () => ({ bar_ts: t('live.bar'), price: t('live.px') });

function unrealised(p: Position): number | null {
  if (![p.market_value, p.quantity, p.avg_price].every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  return p.market_value - p.quantity * p.avg_price;
}

function SessionCard({ s, onChanged }: { s: LiveSession; onChanged: () => void }) {
  const status = useStatus();
  const now = serverNow(status, useNow(1000));
  const locale = useLocale();
  const comp = status.components[`live:${s.session}`];
  const stale = comp ? isStale(comp, now) : false;
  const age = comp ? heartbeatAge(comp, now) : null;
  const eq = useResource((signal) => api.liveEquity(s.session, signal), [s.session], 15_000);
  const series = useMemo<SeriesSpec[]>(
    () => [{ kind: 'area', name: t('run.equity'), data: valueSeries(eq.data?.points ?? [], (p) => p.time, (p) => p.equity) }],
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the series name follows the locale
    [eq.data, locale],
  );
  // eslint-disable-next-line react-hooks/exhaustive-deps -- labels follow the locale
  const columns = useMemo(positionColumns, [locale]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (what: 'halt' | 'resume') => {
    if (what === 'halt' && !window.confirm(t('live.confirmHalt', { session: s.session }))) return;
    setBusy(true);
    setError(null);
    try {
      await (what === 'halt' ? api.halt(s.session) : api.resume(s.session));
      onChanged();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const invested = s.positions.reduce((sum, p) => sum + (Number.isFinite(p.market_value) ? p.market_value : 0), 0);
  const events = s.risk?.breaches ?? [];
  // The list holds halts and resumes too: the card is red while halted or when the newest event is a breach.
  const newest = events[0];
  const breached = newest !== undefined && (typeof newest === 'string' || newest.kind === 'breach');
  return (
    <article className={`card session ${s.halted || breached ? 'card-failed' : ''} ${stale ? 'card-stale' : ''}`} data-session={s.session}>
      <header className="card-head">
        <strong>{s.session}</strong>
        <span className="muted">
          {s.strategy} · {s.symbols.join(', ')}
        </span>
        <StateBadge state={s.state} halted={s.halted} stale={stale} />
        {age !== null && <span className={`small ${stale ? 'stale-text' : 'muted'}`}>{t('live.heartbeat', { d: duration(age) })}</span>}
        <span className="spacer" />
        {s.halted ? (
          <button type="button" className="primary" disabled={busy} onClick={() => act('resume')}>
            {t('live.resume')}
          </button>
        ) : (
          <button type="button" className="danger" disabled={busy} onClick={() => act('halt')}>
            {t('live.halt')}
          </button>
        )}
      </header>
      {s.halted && <div className="notice bad">{s.halt_reason ? t('live.haltedReason', { reason: s.halt_reason }) : t('live.halted')}</div>}
      {error && <div className="notice bad">{error}</div>}
      {(s.market || s.feed || s.last_bar_time) && (
        <div className="muted small pad">
          {[
            s.market && t('live.market', { market: s.market }),
            s.feed && t('live.feed', { feed: s.feed }),
            s.broker && t('live.broker', { broker: s.broker }),
            s.bars !== undefined && t('live.bars', { n: s.bars }),
            s.bad_bars ? t('live.badBars', { n: s.bad_bars }) : '',
            s.last_bar_time && t('live.lastBar', { at: shortTime(s.last_bar_time) }),
          ]
            .filter(Boolean)
            .join(' · ')}
        </div>
      )}
      <div className="metrics">
        <Figure label={t('live.equity')} value={money(s.equity)} />
        <Figure label={t('live.cash')} value={money(s.cash)} />
        <Figure label={t('live.invested')} value={money(invested)} />
        <Figure label={t('live.positions')} value={String(s.positions.length)} />
        <Figure label={t('live.openOrders')} value={String(s.open_orders.length)} />
      </div>
      <div className="session-grid">
        <div className="pane-chart">
          <h4>{t('live.equity')}</h4>
          {eq.status === 'missing' ? (
            <div className="empty small">{t('live.equityMissing')}</div>
          ) : series[0].data.length ? (
            <Chart series={series} height={220} />
          ) : (
            <div className="empty small">{eq.status === 'loading' ? t('common.loading') : t('live.noEquity')}</div>
          )}
        </div>
        <div className="pane-risk">
          <h4>{t('live.risk')}</h4>
          {events.length > 0 && (
            <ul className="breaches">
              {events.map((b, i) => (
                <RiskEventItem key={i} e={b} />
              ))}
            </ul>
          )}
          <KeyValues rows={Object.entries(s.risk?.limits ?? {}).map(([k, v]) => [maybeT(`limit.${k}`) ?? k.replace(/_/g, ' '), <span className="num">{cell(v)}</span>])} />
          {!Object.keys(s.risk?.limits ?? {}).length && <div className="muted small">{t('live.noLimits')}</div>}
        </div>
      </div>
      <div className="session-tables">
        <div>
          <h4>{t('live.positions')}</h4>
          <SortTable rows={s.positions} columns={columns} rowKey={(p) => p.symbol} initialSort={{ key: 'market_value', dir: 'desc' }} empty={t('live.flat')} />
        </div>
        <div>
          <h4>{t('live.openOrders')}</h4>
          <AutoTable rows={s.open_orders} empty={t('live.noOrders')} format={cell} order={ORDER_KEYS} hide={['client_order_id', 'created_at']} labels={labels()} />
        </div>
        <div>
          <h4>{t('live.recentFills')}</h4>
          <AutoTable rows={s.recent_fills} empty={t('live.noFills')} format={cell} order={FILL_KEYS} hide={['fill_id', 'client_order_id', 'recorded_at']} labels={labels()} />
        </div>
      </div>
    </article>
  );
}

/** One breach, halt or resume: time, kind and message (breaches in red). */
export function RiskEventItem({ e }: { e: string | RiskEvent }) {
  if (typeof e === 'string') return <li className="bad">{e}</li>;
  return (
    <li className={e.kind === 'breach' ? 'bad' : 'muted'}>
      {e.at && <span className="num">{shortTime(e.at)} </span>}
      {e.kind && <strong>{maybeT(`risk.${e.kind}`) ?? e.kind}</strong>} {e.message ?? (e.detail === undefined ? '' : cell(e.detail))}
    </li>
  );
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div className="metric">
      <div className="metric-label">{label}</div>
      <div className="metric-value">{value}</div>
    </div>
  );
}

