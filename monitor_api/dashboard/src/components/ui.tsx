// Small shared pieces: state badge, progress bar, empty/error states, sortable table.

import { Fragment, isValidElement, useMemo, useState, type ReactNode } from 'react';
import type { Resource } from '../hooks/resource';
import { sortRows } from '../lib/format';
import { maybeT, t, useLocale } from '../i18n';

/** A state or kind as the API names it, in the chosen language (unknown values as they are). */
export function stateLabel(state: string): string {
  return maybeT(`state.${state}`) ?? state;
}

export function StateBadge({ state, stale, halted }: { state: string; stale?: boolean; halted?: boolean }) {
  return (
    <span className="badges">
      <span className={`badge s-${state}`}>{stateLabel(state)}</span>
      {stale && (
        <span className="badge s-stale" title={t('state.staleTip')}>
          {stateLabel('stale')}
        </span>
      )}
      {halted && <span className="badge s-failed">{stateLabel('halted')}</span>}
    </span>
  );
}

export function Progress({ value, state }: { value: number | null | undefined; state?: string }) {
  if (value === null || value === undefined || !Number.isFinite(value)) return <span className="muted">–</span>;
  const p = Math.min(1, Math.max(0, value));
  return (
    <span className={`progress s-${state ?? ''}`} role="progressbar" aria-valuenow={Math.round(p * 100)} aria-valuemin={0} aria-valuemax={100}>
      <span className="progress-fill" style={{ width: `${p * 100}%` }} />
      <span className="progress-text">{Math.round(p * 100)}%</span>
    </span>
  );
}

/** What to show instead of data: loading, a 404 ("not available yet"), a refused token, an error. `what` is already translated. */
export function DataState<T>({ res, what, children }: { res: Resource<T> & { reload?: () => void }; what: string; children: (data: T) => ReactNode }) {
  if (res.data !== null && res.status !== 'missing') {
    return (
      <>
        {res.status === 'unauthorized' && <div className="notice bad">{t('data.staleToken')}</div>}
        {res.status === 'error' && <div className="notice bad">{t('data.staleError', { error: res.message })}</div>}
        {children(res.data as T)}
      </>
    );
  }
  switch (res.status) {
    case 'loading':
      return <div className="empty">{t('data.loading', { what })}</div>;
    case 'missing':
      return (
        <div className="empty">
          <strong>{t('data.missing', { what: what[0].toUpperCase() + what.slice(1) })}</strong>
          <div className="muted">{t('data.missing404', { message: res.message })}</div>
        </div>
      );
    case 'unauthorized':
      return (
        <div className="empty bad">
          <strong>{t('data.tokenRefused')}</strong> <span className="muted">{t('data.tokenHint')}</span>
        </div>
      );
    case 'error':
      return (
        <div className="empty bad">
          <strong>{t('data.couldNotLoad', { what })}</strong> {res.message}{' '}
          {res.reload && (
            <button type="button" onClick={res.reload}>
              {t('common.retry')}
            </button>
          )}
        </div>
      );
    default:
      return null;
  }
}

export interface Column<T> {
  key: string;
  label: ReactNode;
  value: (row: T) => unknown;
  render?: (row: T) => ReactNode;
  className?: string;
  title?: string;
}

/** A dense table sortable by any column (click a header; click again to flip). */
export function SortTable<T>({
  rows,
  columns,
  rowKey,
  initialSort,
  rowClass,
  onRowClick,
  empty,
  onSortChange,
}: {
  rows: readonly T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  initialSort?: { key: string; dir: 'asc' | 'desc' };
  rowClass?: (row: T) => string;
  onRowClick?: (row: T) => void;
  empty?: string;
  onSortChange?: (sort: { key: string; dir: 'asc' | 'desc' }) => void;
}) {
  const [sort, setSort] = useState(initialSort ?? null);
  const sorted = useMemo(() => {
    if (!sort) return rows;
    const col = columns.find((c) => c.key === sort.key);
    return col ? sortRows(rows, col.value, sort.dir) : rows;
  }, [rows, columns, sort]);
  const click = (key: string) => {
    const next = sort?.key === key ? { key, dir: sort.dir === 'asc' ? ('desc' as const) : ('asc' as const) } : { key, dir: 'desc' as const };
    setSort(next);
    onSortChange?.(next);
  };
  return (
    <div className="table-wrap">
      <table className="grid">
        <thead>
          <tr>
            {columns.map((c) => (
              <th
                key={c.key}
                className={c.className?.split(' ').includes('num') ? 'num' : undefined}
                title={c.title}
                aria-sort={sort?.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}
              >
                <button type="button" className="th-btn" onClick={() => click(c.key)}>
                  {c.label}
                  <span className="sort-mark">{sort?.key === c.key ? (sort.dir === 'asc' ? '▲' : '▼') : ''}</span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sorted.length === 0 ? (
            <tr>
              <td colSpan={columns.length} className="muted center">
                {empty ?? t('common.nothingYet')}
              </td>
            </tr>
          ) : (
            sorted.map((r) => (
              <tr key={rowKey(r)} data-id={rowKey(r)} className={`${rowClass?.(r) ?? ''} ${onRowClick ? 'clickable' : ''}`} onClick={onRowClick ? () => onRowClick(r) : undefined}>
                {columns.map((c) => (
                  <td key={c.key} className={c.className} data-label={typeof c.label === 'string' ? c.label : c.key}>
                    {c.render ? c.render(r) : String(c.value(r) ?? '–')}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** A table of arbitrary rows (orders, fills) whose fields we do not fix in advance. */
export function AutoTable({
  rows,
  empty,
  format,
  order = [],
  hide = [],
  labels = {},
}: {
  rows: Record<string, unknown>[];
  empty: string;
  format: (v: unknown) => string;
  /** Keys shown first, in this order; the others follow as they come. */
  order?: string[];
  /** Keys not shown (ids too long for a column). */
  hide?: string[];
  labels?: Record<string, string>;
}) {
  type Indexed = { row: Record<string, unknown>; i: number };
  const indexed = useMemo<Indexed[]>(() => rows.map((row, i) => ({ row, i })), [rows]);
  const orderKey = order.join(',');
  const hideKey = hide.join(',');
  const labelKey = JSON.stringify(labels);
  const locale = useLocale();
  const columns = useMemo<Column<Indexed>[]>(() => {
    const found = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r)) found.add(k);
    const hidden = new Set(hideKey ? hideKey.split(',') : []);
    const first = (orderKey ? orderKey.split(',') : []).filter((k) => found.has(k));
    const keys = [...first, ...[...found].filter((k) => !first.includes(k))].filter((k) => !hidden.has(k));
    const names = JSON.parse(labelKey) as Record<string, string>;
    return keys.map((k) => ({
      key: k,
      label: names[k] ?? maybeT(`field.${k}`) ?? k.replace(/_/g, ' '),
      value: (x: Indexed) => x.row[k],
      render: (x: Indexed) => format(x.row[k]),
      className: rows.some((r) => typeof r[k] === 'number') ? 'num' : undefined,
    }));
  }, [rows, format, orderKey, hideKey, labelKey, locale]);
  if (!rows.length) return <div className="muted small">{empty}</div>;
  return <SortTable rows={indexed} columns={columns} rowKey={(x) => String(x.i)} />;
}

/** A signed number coloured green/red. */
/** One row of ``KeyValues``: a label and its value; a falsy row is left out. */
export type KeyValue = readonly [ReactNode, ReactNode] | false | null | undefined | '' | 0;

/** Label / value pairs in two columns (``.kv``, labels muted); a value that is not an element
 * is shown as text. */
export function KeyValues({ rows }: { rows: KeyValue[] }) {
  return (
    <div className="kv">
      {rows.map((row, i) =>
        row ? (
          <Fragment key={i}>
            <span>{row[0]}</span>
            {isValidElement(row[1]) ? row[1] : <span>{row[1]}</span>}
          </Fragment>
        ) : null,
      )}
    </div>
  );
}

export function Signed({ value, text }: { value: number | null | undefined; text: string }) {
  const cls = value === null || value === undefined || !Number.isFinite(value) || value === 0 ? '' : value > 0 ? 'pos' : 'neg';
  return <span className={cls}>{text}</span>;
}
