// Airflow DAG runs with their tasks, and a form to trigger a DAG.

import { useMemo, useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type TriggerResult } from '../api';
import { Progress, StateBadge, stateLabel } from '../components/ui';
import { useStatus } from '../hooks/status';
import { useNow } from '../hooks/misc';
import { duration, elapsed, shortTime } from '../lib/format';
import { groupDagRuns, type DagRunView, type TaskGroup } from '../lib/pipelines';
import { isStale, serverNow } from '../state/status';
import { t, type MessageKey } from '../i18n';

/** Starting conf for each DAG's trigger form; edit before sending. */
const DAGS: Record<string, { label: MessageKey; conf: Record<string, unknown> }> = {
  easyquant_etl: { label: 'pipelines.etl', conf: { symbols: ['AAA', 'BBB'], freq: '1d', start: '2024-01-01' } },
  easyquant_backtest: {
    label: 'pipelines.backtest',
    conf: { strategy: 'sma_cross', symbols: ['AAA'], market: 'us', params: { fast: 10, slow: 30 }, start: '2024-01-01' },
  },
};

export function Pipelines() {
  const status = useStatus();
  const now = serverNow(status, useNow(1000));
  const runs = useMemo(() => groupDagRuns(Object.values(status.components)), [status.components]);
  const [dagFilter, setDagFilter] = useState('');
  const dagIds = [...new Set(runs.map((r) => r.dagId))].sort();
  const shown = dagFilter ? runs.filter((r) => r.dagId === dagFilter) : runs;

  return (
    <section className="view">
      <TriggerForm />
      <div className="section-head">
        <h2>{t('pipelines.dagRuns')}</h2>
        <div className="chips">
          <button type="button" className={`chip ${dagFilter === '' ? 'on' : ''}`} onClick={() => setDagFilter('')}>
            {t('common.all')} <span className="count">{runs.length}</span>
          </button>
          {dagIds.map((d) => (
            <button key={d} type="button" className={`chip ${dagFilter === d ? 'on' : ''}`} onClick={() => setDagFilter(d)}>
              {d} <span className="count">{runs.filter((r) => r.dagId === d).length}</span>
            </button>
          ))}
        </div>
      </div>
      {!status.hasSnapshot ? (
        <div className="empty">{t('common.waitingSnapshot')}</div>
      ) : shown.length === 0 ? (
        <div className="empty">{t('pipelines.none')}</div>
      ) : (
        <div className="runs">
          {shown.map((r) => (
            <DagRunCard key={r.id} run={r} now={now} />
          ))}
        </div>
      )}
    </section>
  );
}

function DagRunCard({ run, now }: { run: DagRunView; now: number }) {
  const [collapsed, setCollapsed] = useState(run.state === 'success');
  const stale = run.run ? isStale(run.run, now) : false;
  const done = run.tasks.filter((x) => x.state === 'success').length;
  return (
    <article className={`card run ${run.state === 'failed' ? 'card-failed' : ''} ${stale ? 'card-stale' : ''}`}>
      <header className="card-head">
        <button type="button" className="twisty" aria-expanded={!collapsed} onClick={() => setCollapsed(!collapsed)}>
          {collapsed ? '▸' : '▾'}
        </button>
        <strong className="dag-id">{run.dagId}</strong>
        <span className="run-id" title={run.runId}>
          {run.runId}
        </span>
        <StateBadge state={run.state} stale={stale} />
        <span className="muted small">
          {t('pipelines.summary', { done, total: run.tasks.length, started: shortTime(run.started_at), duration: duration(elapsed(run.started_at, run.finished_at, now)) })}
        </span>
        {run.url && (
          <a className="ext" href={run.url} target="_blank" rel="noreferrer">
            {t('pipelines.airflow')}
          </a>
        )}
      </header>
      {run.run?.message && <div className="muted small pad">{run.run.message}</div>}
      {!collapsed && (
        <table className="grid compact tasks">
          <thead>
            <tr>
              <th>{t('col.task')}</th>
              <th>{t('col.state')}</th>
              <th>{t('col.worker')}</th>
              <th className="w-progress">{t('col.progress')}</th>
              <th>{t('col.message')}</th>
              <th className="num">{t('col.duration')}</th>
            </tr>
          </thead>
          <tbody>
            {run.tasks.length === 0 && (
              <tr>
                <td colSpan={6} className="muted center">
                  {t('pipelines.noTask')}
                </td>
              </tr>
            )}
            {run.tasks.map((x) => (
              <TaskRows key={x.taskId} t={x} now={now} />
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}

function TaskRows({ t: task, now }: { t: TaskGroup; now: number }) {
  const [open, setOpen] = useState(false);
  const single = !task.mapped ? task.instances[0] : null;
  const progress = single
    ? single.progress
    : task.instances.length
      ? task.instances.reduce((s, c) => s + (c.state === 'success' ? 1 : (c.progress ?? 0)), 0) / task.instances.length
      : null;
  const stale = task.instances.some((c) => isStale(c, now));
  return (
    <>
      <tr
        className={`${task.state === 'failed' ? 'row-failed' : ''} ${stale ? 'row-stale' : ''} ${task.mapped ? 'clickable' : ''}`}
        onClick={task.mapped ? () => setOpen(!open) : undefined}
      >
        <td data-label={t('col.task')}>
          {task.mapped && <span className="twisty-inline">{open ? '▾' : '▸'}</span>}
          {single?.url ? (
            <a href={single.url} target="_blank" rel="noreferrer">
              {task.taskId}
            </a>
          ) : (
            task.taskId
          )}
          {task.mapped && <span className="muted small"> {t('pipelines.mapped', { n: task.instances.length })}</span>}
          {task.maxTry > 1 && <span className="muted small"> {t('pipelines.try', { n: task.maxTry })}</span>}
        </td>
        <td data-label={t('col.state')}>
          {task.mapped ? (
            <span className="badges">
              {Object.entries(task.states).map(([s, n]) => (
                <span key={s} className={`badge s-${s}`}>
                  {n} {stateLabel(s)}
                </span>
              ))}
              {stale && <span className="badge s-stale">{stateLabel('stale')}</span>}
            </span>
          ) : (
            <StateBadge state={task.state} stale={stale} />
          )}
        </td>
        <td data-label={t('col.worker')} className="host">
          {task.mapped ? (
            task.hosts.length ? (
              <span className="hosts">
                {task.hosts.map(([host, n]) => (
                  <span key={host} title={host}>
                    {t('pipelines.hostCount', { host, n })}
                  </span>
                ))}
              </span>
            ) : (
              '–'
            )
          ) : (
            <span title={single?.host ?? undefined}>{single?.host ?? '–'}</span>
          )}
        </td>
        <td data-label={t('col.progress')}>
          <Progress value={progress} state={task.state} />
        </td>
        <td data-label={t('col.message')} className="msg">
          {single?.message ?? (task.mapped ? '' : '–')}
        </td>
        <td data-label={t('col.duration')} className="num">
          {duration(elapsed(task.started_at, task.finished_at, now))}
        </td>
      </tr>
      {open &&
        task.instances.map((c) => (
          <tr key={c.id} className={`sub ${c.state === 'failed' ? 'row-failed' : ''} ${isStale(c, now) ? 'row-stale' : ''}`}>
            <td data-label={t('col.task')} className="indent">
              {c.url ? (
                <a href={c.url} target="_blank" rel="noreferrer">
                  {c.name}
                </a>
              ) : (
                c.name
              )}
            </td>
            <td data-label={t('col.state')}>
              <StateBadge state={c.state} stale={isStale(c, now)} />
            </td>
            <td data-label={t('col.worker')} className="host" title={c.host ?? undefined}>
              {c.host ?? '–'}
            </td>
            <td data-label={t('col.progress')}>
              <Progress value={c.progress} state={c.state} />
            </td>
            <td data-label={t('col.message')} className="msg">
              {c.message}
            </td>
            <td data-label={t('col.duration')} className="num">
              {duration(elapsed(c.started_at, c.finished_at, now))}
            </td>
          </tr>
        ))}
    </>
  );
}

function TriggerForm() {
  const [dag, setDag] = useState('easyquant_etl');
  const [conf, setConf] = useState(() => JSON.stringify(DAGS.easyquant_etl.conf, null, 2));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: true; r: TriggerResult } | { ok: false; msg: string } | null>(null);
  let parseError: string | null = null;
  let parsed: Record<string, unknown> | null = null;
  try {
    const v: unknown = JSON.parse(conf || '{}');
    if (typeof v !== 'object' || v === null || Array.isArray(v)) parseError = t('pipelines.confObject');
    else parsed = v as Record<string, unknown>;
  } catch (e) {
    parseError = e instanceof Error ? e.message : t('pipelines.invalidJson');
  }
  const choose = (d: string) => {
    setDag(d);
    setConf(JSON.stringify(DAGS[d].conf, null, 2));
    setResult(null);
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!parsed) return;
    setBusy(true);
    setResult(null);
    try {
      setResult({ ok: true, r: await api.triggerDag(dag, parsed) });
    } catch (err) {
      const msg = err instanceof ApiError && err.kind === 'not_found' ? t('pipelines.triggerMissing', { message: err.message }) : errorText(err);
      setResult({ ok: false, msg });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card trigger" onSubmit={submit}>
      <div className="trigger-row">
        <h2>{t('pipelines.trigger')}</h2>
        <div className="seg" role="radiogroup" aria-label={t('pipelines.dag')}>
          {Object.entries(DAGS).map(([id, d]) => (
            <button key={id} type="button" role="radio" aria-checked={dag === id} className={dag === id ? 'on' : ''} onClick={() => choose(id)} title={t(d.label)}>
              {id}
            </button>
          ))}
        </div>
        <button type="submit" className="primary" disabled={busy || !parsed}>
          {busy ? t('pipelines.triggering') : t('pipelines.triggerButton')}
        </button>
        <span className="muted small">{t('pipelines.confNote', { dag: t(DAGS[dag].label) })}</span>
      </div>
      <label className="conf">
        <span className="muted small">{t('pipelines.conf')}</span>
        <textarea value={conf} onChange={(e) => setConf(e.target.value)} rows={5} spellCheck={false} aria-invalid={!!parseError} />
      </label>
      {parseError && <div className="notice bad small">{parseError}</div>}
      {result?.ok && (
        <div className="notice good">
          {t('pipelines.triggered')} <code>{result.r.dag_run_id}</code>{' '}
          {result.r.url && (
            <a href={result.r.url} target="_blank" rel="noreferrer">
              {t('pipelines.openAirflow')}
            </a>
          )}
        </div>
      )}
      {result && !result.ok && <div className="notice bad">{result.msg}</div>}
    </form>
  );
}
