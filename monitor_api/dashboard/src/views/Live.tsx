// Live sessions: equity, positions, orders, fills, risk; halt and resume.

import { useMemo, useState } from 'react';
import { api, errorText, type LiveSession, type Position, type RiskEvent } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { AutoTable, DataState, Signed, SortTable, StateBadge, type Column } from '../components/ui';
import { useResource } from '../hooks/resource';
import { useStatus } from '../hooks/status';
import { useNow } from '../hooks/misc';
import { cell, duration, money, num, shortTime } from '../lib/format';
import { valueSeries } from '../lib/series';
import { heartbeatAge, isStale, serverNow } from '../state/status';

export function Live() {
  const res = useResource((signal) => api.liveSessions(signal), [], 5_000);
  return (
    <section className="view">
      <DataState res={res} what="live sessions">
        {(d) =>
          d.sessions.length === 0 ? (
            <div className="empty">No live session is running. Start one with `easyquant live` or `make up`.</div>
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

const POSITION_COLUMNS: Column<Position>[] = [
  { key: 'symbol', label: 'Symbol', value: (p) => p.symbol },
  { key: 'quantity', label: 'Qty', value: (p) => p.quantity, render: (p) => num(p.quantity, 0), className: 'num' },
  { key: 'avg_price', label: 'Avg px', value: (p) => p.avg_price, render: (p) => num(p.avg_price, 4), className: 'num' },
  { key: 'market_value', label: 'Value', value: (p) => p.market_value, render: (p) => money(p.market_value), className: 'num' },
  {
    key: 'upnl',
    label: 'Unreal. P&L',
    value: (p) => unrealised(p),
    render: (p) => <Signed value={unrealised(p)} text={money(unrealised(p))} />,
    className: 'num',
  },
];

// Orders and fills: the columns a trader reads first; long ids are left out of the table.
const ORDER_KEYS = ['bar_ts', 'symbol', 'side', 'quantity', 'kind', 'limit_price', 'state'];
const FILL_KEYS = ['bar_ts', 'symbol', 'quantity', 'price', 'fees'];
const LABELS = { bar_ts: 'bar', price: 'px' };

function unrealised(p: Position): number | null {
  if (![p.market_value, p.quantity, p.avg_price].every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  return p.market_value - p.quantity * p.avg_price;
}

function SessionCard({ s, onChanged }: { s: LiveSession; onChanged: () => void }) {
  const status = useStatus();
  const now = serverNow(status, useNow(1000));
  const comp = status.components[`live:${s.session}`];
  const stale = comp ? isStale(comp, now) : false;
  const age = comp ? heartbeatAge(comp, now) : null;
  const eq = useResource((signal) => api.liveEquity(s.session, signal), [s.session], 15_000);
  const series = useMemo<SeriesSpec[]>(() => [{ kind: 'area', name: 'equity', data: valueSeries(eq.data?.points ?? [], (p) => p.time, (p) => p.equity) }], [eq.data]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (what: 'halt' | 'resume') => {
    if (what === 'halt' && !window.confirm(`Halt session ${s.session}? New orders stop until it is resumed.`)) return;
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
        {age !== null && <span className={`small ${stale ? 'stale-text' : 'muted'}`}>heartbeat {duration(age)} ago</span>}
        <span className="spacer" />
        {s.halted ? (
          <button type="button" className="primary" disabled={busy} onClick={() => act('resume')}>
            Resume
          </button>
        ) : (
          <button type="button" className="danger" disabled={busy} onClick={() => act('halt')}>
            Halt
          </button>
        )}
      </header>
      {s.halted && <div className="notice bad">Halted{s.halt_reason ? `: ${s.halt_reason}` : ''}. No new orders until resumed.</div>}
      {error && <div className="notice bad">{error}</div>}
      {(s.market || s.feed || s.last_bar_time) && (
        <div className="muted small pad">
          {[s.market && `market ${s.market}`, s.feed && `feed ${s.feed}`, s.broker && `broker ${s.broker}`, s.bars !== undefined && `${s.bars} bars`, s.bad_bars ? `${s.bad_bars} bad bars refused` : '', s.last_bar_time && `last bar ${shortTime(s.last_bar_time)}`]
            .filter(Boolean)
            .join(' · ')}
        </div>
      )}
      <div className="metrics">
        <Figure label="Equity" value={money(s.equity)} />
        <Figure label="Cash" value={money(s.cash)} />
        <Figure label="Invested" value={money(invested)} />
        <Figure label="Positions" value={String(s.positions.length)} />
        <Figure label="Open orders" value={String(s.open_orders.length)} />
      </div>
      <div className="session-grid">
        <div className="pane-chart">
          <h4>Equity</h4>
          {eq.status === 'missing' ? (
            <div className="empty small">Equity history: not available yet.</div>
          ) : series[0].data.length ? (
            <Chart series={series} height={220} />
          ) : (
            <div className="empty small">{eq.status === 'loading' ? 'Loading…' : 'No equity points yet.'}</div>
          )}
        </div>
        <div className="pane-risk">
          <h4>Risk</h4>
          {events.length > 0 && (
            <ul className="breaches">
              {events.map((b, i) => (
                <RiskEventItem key={i} e={b} />
              ))}
            </ul>
          )}
          <div className="kv">
            {Object.entries(s.risk?.limits ?? {}).map(([k, v]) => (
              <Limit key={k} k={k} v={v} />
            ))}
          </div>
          {!Object.keys(s.risk?.limits ?? {}).length && <div className="muted small">No limits reported.</div>}
        </div>
      </div>
      <div className="session-tables">
        <div>
          <h4>Positions</h4>
          <SortTable rows={s.positions} columns={POSITION_COLUMNS} rowKey={(p) => p.symbol} initialSort={{ key: 'market_value', dir: 'desc' }} empty="Flat." />
        </div>
        <div>
          <h4>Open orders</h4>
          <AutoTable rows={s.open_orders} empty="No open orders." format={cell} order={ORDER_KEYS} hide={['client_order_id', 'created_at']} labels={LABELS} />
        </div>
        <div>
          <h4>Recent fills</h4>
          <AutoTable rows={s.recent_fills} empty="No fills yet." format={cell} order={FILL_KEYS} hide={['fill_id', 'client_order_id', 'recorded_at']} labels={LABELS} />
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
      {e.kind && <strong>{e.kind}</strong>} {e.message ?? (e.detail === undefined ? '' : cell(e.detail))}
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

function Limit({ k, v }: { k: string; v: unknown }) {
  return (
    <>
      <span>{k.replace(/_/g, ' ')}</span>
      <span className="num">{cell(v)}</span>
    </>
  );
}
