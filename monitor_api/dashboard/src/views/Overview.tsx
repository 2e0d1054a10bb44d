// Every component from /ws/status: filters, state, progress, heartbeat age.

import { Fragment, useMemo, useState } from 'react';
import { api } from '../api';
import { StateBadge, Progress, DataState, KeyValues, stateLabel, type KeyValue } from '../components/ui';
import { useStatus } from '../hooks/status';
import { useNow } from '../hooks/misc';
import { useResource } from '../hooks/resource';
import { cell, duration, elapsed, shortTime } from '../lib/format';
import { countComponents, isActive, KINDS, selectComponents, serverNow, STATES, type Component } from '../state/status';
import { maybeT, t } from '../i18n';

/** A component or run kind in the chosen language. */
export function kindLabel(kind: string): string {
  return maybeT(`kind.${kind}`) ?? kind;
}

function toggle(set: ReadonlySet<string>, v: string): Set<string> {
  const next = new Set(set);
  if (next.has(v)) next.delete(v);
  else next.add(v);
  return next;
}

export function Overview({ clock }: { clock?: () => number }) {
  const status = useStatus();
  const localNow = useNow(1000, clock);
  const now = serverNow(status, localNow);
  const [kinds, setKinds] = useState<ReadonlySet<string>>(new Set());
  const [states, setStates] = useState<ReadonlySet<string>>(new Set());
  const [text, setText] = useState('');
  const [open, setOpen] = useState<string | null>(null);

  const rows = useMemo(() => selectComponents(status.components, { kinds, states, text }, now), [status.components, kinds, states, text, now]);
  const counts = useMemo(() => countComponents(status.components, now), [status.components, now]);
  const kindList = [...new Set([...KINDS, ...Object.keys(counts.kinds)])].filter((k) => counts.kinds[k]);
  const stateList = [...new Set([...STATES, ...Object.keys(counts.states)])];

  return (
    <section className="view">
      <div className="summary">
        <Stat label={t('overview.total')} value={counts.total} />
        <Stat label={stateLabel('running')} value={counts.states.running ?? 0} cls="s-running" />
        <Stat label={stateLabel('queued')} value={counts.states.queued ?? 0} />
        <Stat label={stateLabel('failed')} value={counts.states.failed ?? 0} cls={counts.states.failed ? 's-failed' : ''} />
        <Stat label={stateLabel('stale')} value={counts.stale} cls={counts.stale ? 's-stale' : ''} />
      </div>

      <div className="filters" role="toolbar" aria-label={t('overview.filters')}>
        <div className="chips" aria-label={t('col.kind')}>
          {kindList.map((k) => (
            <button key={k} type="button" className={`chip ${kinds.has(k) ? 'on' : ''}`} aria-pressed={kinds.has(k)} onClick={() => setKinds(toggle(kinds, k))}>
              {kindLabel(k)} <span className="count">{counts.kinds[k] ?? 0}</span>
            </button>
          ))}
        </div>
        <div className="chips" aria-label={t('col.state')}>
          {stateList.map((s) => (
            <button key={s} type="button" className={`chip st s-${s} ${states.has(s) ? 'on' : ''}`} aria-pressed={states.has(s)} onClick={() => setStates(toggle(states, s))}>
              {stateLabel(s)} <span className="count">{counts.states[s] ?? 0}</span>
            </button>
          ))}
          <button type="button" className={`chip st s-stale ${states.has('stale') ? 'on' : ''}`} aria-pressed={states.has('stale')} onClick={() => setStates(toggle(states, 'stale'))}>
            {stateLabel('stale')} <span className="count">{counts.stale}</span>
          </button>
        </div>
        <input className="search" type="search" placeholder={t('overview.filter')} value={text} onChange={(e) => setText(e.target.value)} aria-label={t('overview.filter')} />
        {(kinds.size > 0 || states.size > 0 || text) && (
          <button type="button" className="link" onClick={() => (setKinds(new Set()), setStates(new Set()), setText(''))}>
            {t('common.clear')}
          </button>
        )}
      </div>

      {!status.hasSnapshot ? (
        <div className="empty">{status.connection === 'unauthorized' ? t('common.tokenRefused') : t('common.waitingSnapshot')}</div>
      ) : (
        <div className={`table-wrap ${status.connection === 'live' ? '' : 'outdated'}`}>
          <table className="grid components">
            <thead>
              <tr>
                <th>{t('col.kind')}</th>
                <th>{t('col.name')}</th>
                <th>{t('col.state')}</th>
                <th className="w-progress">{t('col.progress')}</th>
                <th>{t('col.message')}</th>
                <th className="num" title={t('overview.heartbeatTip')}>
                  {t('col.heartbeat')}
                </th>
                <th className="num">{t('col.duration')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && (
                <tr>
                  <td colSpan={7} className="muted center">
                    {counts.total ? t('overview.noMatch') : t('overview.none')}
                  </td>
                </tr>
              )}
              {rows.map(({ component: c, stale, age }) => (
                <Fragment key={c.id}>
                  <tr
                    className={`clickable ${stale ? 'row-stale' : ''} ${c.state === 'failed' ? 'row-failed' : ''}`}
                    data-id={c.id}
                    onClick={() => setOpen(open === c.id ? null : c.id)}
                  >
                    <td data-label={t('col.kind')} className="kind">
                      {kindLabel(c.kind)}
                    </td>
                    <td data-label={t('col.name')} className="name">
                      {c.url ? (
                        <a href={c.url} target="_blank" rel="noreferrer" onClick={(e) => e.stopPropagation()}>
                          {c.name}
                        </a>
                      ) : (
                        c.name
                      )}
                    </td>
                    <td data-label={t('col.state')}>
                      <StateBadge state={c.state} stale={stale} />
                    </td>
                    <td data-label={t('col.progress')}>
                      <Progress value={c.progress} state={c.state} />
                    </td>
                    <td data-label={t('col.message')} className="msg" title={c.message ?? ''}>
                      {c.message || <span className="muted">–</span>}
                    </td>
                    {isActive(c) ? (
                      <td data-label={t('col.heartbeat')} className={`num age ${stale ? 'stale-text' : ''}`} title={t('overview.lastHeartbeat', { at: c.heartbeat_at ?? '–' })}>
                        {age === null ? '–' : t('common.ago', { d: duration(age) })}
                      </td>
                    ) : (
                      <td data-label={t('col.ended')} className="num muted" title={c.finished_at ?? c.updated_at ?? ''}>
                        {shortTime(c.finished_at ?? c.updated_at)}
                      </td>
                    )}
                    <td data-label={t('col.duration')} className="num">
                      {duration(elapsed(c.started_at, c.finished_at, now))}
                    </td>
                  </tr>
                  {open === c.id && (
                    <tr className="detail-row">
                      <td colSpan={7}>
                        <ComponentDetail c={c} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Stat({ label, value, cls = '' }: { label: string; value: number; cls?: string }) {
  return (
    <div className={`stat ${cls}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

function ComponentDetail({ c }: { c: Component }) {
  const events = useResource((signal) => api.componentEvents(c.id, 20, signal), [c.id, c.seq]);
  const metrics = Object.entries(c.metrics ?? {});
  return (
    <div className="detail">
      <KeyValues
        rows={[
          [t('overview.id'), <code>{c.id}</code>],
          [t('overview.started'), shortTime(c.started_at)],
          [t('overview.heartbeatEvery'), c.heartbeat_interval ? duration(c.heartbeat_interval) : '–'],
          c.finished_at && [t('overview.finished'), shortTime(c.finished_at)],
          ...metrics.map(([k, v]): KeyValue => [k, cell(v)]),
        ]}
      />
      <DataState res={events} what={t('overview.events')}>
        {(d) => (
          <table className="grid compact">
            <tbody>
              {d.events.map((e) => (
                <tr key={String(e.id)}>
                  <td className="num">{shortTime(e.at)}</td>
                  <td>
                    <StateBadge state={e.state} />
                  </td>
                  <td className="num">{e.progress === null ? '' : `${Math.round(e.progress * 100)}%`}</td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </DataState>
    </div>
  );
}
