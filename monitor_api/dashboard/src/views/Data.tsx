// The Data page: what the lake holds (catalog), how each ingest went (quality reports), a
// candlestick and volume chart of any stored symbol (raw, qfq or hfq), the instrument master.

import { useMemo, useState, type ReactNode } from 'react';
import { dataApi, type CatalogEntry, type Instrument, type Page, type Period, type QualityReport } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { DataState, KeyValues, SortTable, StateBadge, type Column, type KeyValue } from '../components/ui';
import { useResource } from '../hooks/resource';
import { maybeT, t, useLocale } from '../i18n';
import { ADJUSTMENTS, gapSummary, pageRange, parseSelection, rejectList, selectionHash, unitsList, volumeSeries, type DataSelection } from '../lib/data';
import { cell, count, num, shortDate, shortTime } from '../lib/format';
import { barSeries } from '../lib/series';
import { mergedNote } from './BacktestRun';

/** Rows asked for per page of each list. */
export const PAGE_SIZE = 50;
const PANES = [3, 1];

export function Data({ query }: { query: URLSearchParams }) {
  const sel = parseSelection(query);
  const go = (next: Partial<DataSelection>) => {
    window.location.hash = selectionHash({ ...sel, ...next });
  };
  const [firstEntry, setFirstEntry] = useState<CatalogEntry | null>(null);
  // Before a choice, the chart shows the catalog's first partition.
  const shown: DataSelection = sel.symbol ? sel : { ...sel, symbol: firstEntry?.symbol ?? null, freq: firstEntry?.freq ?? sel.freq };
  return (
    <section className="view data-page">
      <Catalog selected={shown} onPick={(e) => go({ symbol: e.symbol, freq: e.freq })} onFirst={setFirstEntry} />
      <BarsCard sel={shown} onAdjust={(adjust) => go({ ...shown, adjust })} />
      <Reports sel={shown} />
      <Instruments />
    </section>
  );
}

function Pager({ page, shown, onOffset }: { page: Page; shown: number; onOffset: (offset: number) => void }) {
  if (page.total <= page.limit && page.offset === 0) return null;
  const r = pageRange(page.offset, shown, page.total);
  return (
    <div className="pager">
      <button type="button" disabled={page.offset === 0} onClick={() => onOffset(Math.max(0, page.offset - page.limit))}>
        {t('common.prev')}
      </button>
      <span className="muted small">{t('common.pageOf', { from: count(r.from), to: count(r.to), total: count(r.total) })}</span>
      <button type="button" disabled={page.offset + page.limit >= page.total} onClick={() => onOffset(page.offset + page.limit)}>
        {t('common.next')}
      </button>
    </div>
  );
}

function Card({ title, note, children, extra }: { title: string; note?: string; children: ReactNode; extra?: ReactNode }) {
  return (
    <div className="card">
      <div className="card-title">
        <h3>{title}</h3>
        {extra}
        {note && <span className="muted small">{note}</span>}
      </div>
      {children}
    </div>
  );
}

function SearchBox({ label, value, onChange }: { label: string; value: string; onChange: (v: string) => void }) {
  return <input className="search" type="search" placeholder={label} aria-label={label} value={value} onChange={(e) => onChange(e.target.value)} />;
}

const entryKey = (e: { symbol: string; freq: string }) => `${e.freq}/${e.symbol}`;

function catalogColumns(): Column<CatalogEntry>[] {
  return [
    { key: 'symbol', label: t('col.symbol'), value: (e) => e.symbol, className: 'mono' },
    { key: 'freq', label: t('dataPage.freq'), value: (e) => e.freq },
    { key: 'calendar', label: t('dataPage.calendar'), value: (e) => e.calendar, render: (e) => e.calendar ?? '–' },
    { key: 'first_ts', label: t('dataPage.firstBar'), value: (e) => e.first_ts, render: (e) => shortTime(e.first_ts), className: 'num' },
    { key: 'last_ts', label: t('dataPage.lastBar'), value: (e) => e.last_ts, render: (e) => shortTime(e.last_ts), className: 'num' },
    { key: 'rows', label: t('dataPage.rows'), value: (e) => e.rows, render: (e) => count(e.rows), className: 'num' },
    { key: 'updated_at', label: t('dataPage.updated'), value: (e) => e.updated_at, render: (e) => shortTime(e.updated_at), className: 'num' },
  ];
}

function Catalog({ selected, onPick, onFirst }: { selected: DataSelection; onPick: (e: CatalogEntry) => void; onFirst: (e: CatalogEntry | null) => void }) {
  const locale = useLocale();
  const [search, setSearch] = useState('');
  const [offset, setOffset] = useState(0);
  const res = useResource(
    (signal) =>
      dataApi.catalog({ search: search.trim() || undefined, limit: PAGE_SIZE, offset }, signal).then((d) => {
        if (offset === 0 && !search.trim()) onFirst(d.entries[0] ?? null);
        return d;
      }),
    [search, offset],
    30_000,
  );
  // eslint-disable-next-line react-hooks/exhaustive-deps -- labels follow the locale
  const columns = useMemo(catalogColumns, [locale]);
  const current = selected.symbol ? entryKey({ symbol: selected.symbol, freq: selected.freq }) : null;
  return (
    <Card
      title={t('dataPage.catalog')}
      note={t('dataPage.catalogNote')}
      extra={
        <SearchBox label={t('dataPage.filter')} value={search} onChange={(v) => (setSearch(v), setOffset(0))} />
      }
    >
      <DataState res={res} what={t('dataPage.catalogWhat')}>
        {(d) => (
          <div className="catalog">
            <SortTable
              rows={d.entries}
              columns={columns}
              rowKey={entryKey}
              onRowClick={onPick}
              rowClass={(e) => (entryKey(e) === current ? 'row-current' : '')}
              empty={search ? t('overview.noMatch') : t('dataPage.catalogEmpty')}
            />
            <Pager page={d} shown={d.entries.length} onOffset={setOffset} />
          </div>
        )}
      </DataState>
    </Card>
  );
}

function BarsCard({ sel, onAdjust }: { sel: DataSelection; onAdjust: (a: DataSelection['adjust']) => void }) {
  const locale = useLocale();
  const symbol = sel.symbol;
  const res = useResource(symbol ? (signal) => dataApi.bars({ symbol, freq: sel.freq, adjust: sel.adjust }, signal) : null, [symbol, sel.freq, sel.adjust]);
  const series = useMemo<SeriesSpec[]>(() => {
    const bars = res.data?.bars ?? [];
    return [
      { kind: 'candles', name: t('dataPage.price'), data: barSeries(bars) },
      { kind: 'histogram', name: t('dataPage.volume'), data: volumeSeries(bars), pane: 1 },
    ];
    // eslint-disable-next-line react-hooks/exhaustive-deps -- series names follow the locale
  }, [res.data, locale]);
  const switcher = (
    <div className="seg adjust" role="radiogroup" aria-label={t('dataPage.adjust')}>
      {ADJUSTMENTS.map((a) => (
        <button key={a.value} type="button" role="radio" aria-checked={sel.adjust === a.value} className={sel.adjust === a.value ? 'on' : ''} title={t(a.label)} data-adjust={a.value} onClick={() => onAdjust(a.value)}>
          {t(a.short)}
        </button>
      ))}
    </div>
  );
  const title = symbol ? `${t('dataPage.chart')} · ${symbol} · ${sel.freq}` : t('dataPage.chart');
  return (
    <Card title={title} extra={switcher}>
      {!symbol ? (
        <div className="empty">{t('dataPage.pick')}</div>
      ) : (
        <DataState res={res} what={t('dataPage.chartWhat', { symbol })}>
          {(d) => (
            <>
              <div className="muted small bars-note">
                {t('dataPage.barsShown', { n: count(d.rows), from: shortTime(d.bars[0]?.time), to: shortTime(d.bars[d.bars.length - 1]?.time) })}
                {mergedNote(d.bars_freq)} · {t(ADJUSTMENTS.find((a) => a.value === d.adjust)?.label ?? 'dataPage.raw')} ·{' '}
                {d.actions ? t('dataPage.actions', { n: d.actions }) : t('dataPage.noActions')}
              </div>
              <Chart series={series} height={380} paneHeights={PANES} />
            </>
          )}
        </DataState>
      )}
    </Card>
  );
}

function reportColumns(): Column<QualityReport>[] {
  return [
    { key: 'created_at', label: t('dataPage.time'), value: (r) => r.created_at, render: (r) => shortTime(r.created_at), className: 'num' },
    { key: 'symbol', label: t('col.symbol'), value: (r) => r.symbol, render: (r) => `${r.symbol} ${r.freq}`, className: 'mono' },
    { key: 'source', label: t('dataPage.source'), value: (r) => r.source, render: (r) => <span title={`${r.ingest_id} ${r.origin}`}>{r.source}</span> },
    { key: 'status', label: t('dataPage.status'), value: (r) => r.status, render: (r) => <StateBadge state={r.status} /> },
    { key: 'rows_read', label: t('dataPage.read'), value: (r) => r.rows_read, render: (r) => count(r.rows_read), className: 'num' },
    { key: 'rows_stored', label: t('dataPage.stored'), value: (r) => r.rows_stored, render: (r) => count(r.rows_stored), className: 'num' },
    { key: 'rows_rejected', label: t('dataPage.rejected'), value: (r) => r.rows_rejected, render: (r) => <span className={r.rows_rejected ? 'bad' : ''}>{count(r.rows_rejected)}</span>, className: 'num' },
    {
      key: 'gaps',
      label: t('dataPage.gaps'),
      value: (r) => gapSummary(r.gaps)?.missing ?? null,
      render: (r) => {
        const g = gapSummary(r.gaps);
        if (!g) return '–';
        return g.missing ? <span className="warn-text">{t('dataPage.gapsValue', { missing: count(g.missing), expected: count(g.expected) })}</span> : t('dataPage.gapsNone');
      },
    },
    { key: 'units', label: t('dataPage.units'), value: (r) => unitsList(r.units).join('; '), render: (r) => unitsList(r.units).join('; ') || '–', className: 'small' },
    {
      key: 'rejects',
      label: t('dataPage.reasons'),
      value: (r) => rejectList(r.rejects).length,
      render: (r) => (
        <span className="reasons">
          {rejectList(r.rejects).map(([reason, n]) => (
            <span key={reason} className="chip small">
              {reason} <span className="count">{count(n)}</span>
            </span>
          ))}
          {r.error && <span className="bad small">{r.error}</span>}
        </span>
      ),
    },
  ];
}

function Reports({ sel }: { sel: DataSelection }) {
  const locale = useLocale();
  const [offset, setOffset] = useState(0);
  const [open, setOpen] = useState<number | null>(null);
  // every ingest's report by default; one click narrows them to the charted symbol
  const [only, setOnly] = useState(false);
  const symbol = only && sel.symbol ? sel.symbol : undefined;
  const freq = symbol ? sel.freq : undefined;
  const res = useResource((signal) => dataApi.reports({ symbol, freq, limit: PAGE_SIZE, offset }, signal), [symbol, freq, offset], 30_000);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- labels follow the locale
  const columns = useMemo(reportColumns, [locale]);
  const choose = (next: boolean) => (setOffset(0), setOnly(next));
  const extra = !sel.symbol ? undefined : symbol ? (
    <span className="chip on reports-only">
      {t('dataPage.reportsFor', { symbol })}{' '}
      <button type="button" className="link" onClick={() => choose(false)} aria-label={t('dataPage.reportsAll')}>
        ✕
      </button>
    </span>
  ) : (
    <button type="button" className="chip reports-only" onClick={() => choose(true)}>
      {t('dataPage.reportsOnly', { symbol: sel.symbol })}
    </button>
  );
  return (
    <Card title={t('dataPage.reports')} note={t('dataPage.reportsNote')} extra={extra}>
      <DataState res={res} what={t('dataPage.reportsWhat')}>
        {(d) => {
          const detail = d.reports.find((r) => r.id === open);
          return (
            <div className="reports">
              <SortTable
                rows={d.reports}
                columns={columns}
                rowKey={(r) => String(r.id)}
                onRowClick={(r) => setOpen(open === r.id ? null : r.id)}
                rowClass={(r) => `${r.status === 'rejected' ? 'row-failed' : ''} ${r.id === open ? 'row-current' : ''}`}
                empty={t('dataPage.reportsEmpty')}
              />
              <Pager page={d} shown={d.reports.length} onOffset={setOffset} />
              {detail && <ReportDetail r={detail} />}
            </div>
          );
        }}
      </DataState>
    </Card>
  );
}

function ReportDetail({ r }: { r: QualityReport }) {
  const gaps = gapSummary(r.gaps);
  // the layout and the units are notes on how the file was read, shown on their own
  const warnings = Object.entries(r.warnings ?? {}).filter(([k]) => k !== 'units_converted' && k !== 'layout');
  const layout = typeof r.warnings?.layout === 'string' ? r.warnings.layout : null;
  return (
    <div className="detail report-detail">
      <KeyValues
        rows={[
          [t('dataPage.ingest'), <code>{r.ingest_id}</code>],
          [
            t('dataPage.source'),
            <span>
              {r.source} {r.origin && <span className="muted">{r.origin}</span>}
            </span>,
          ],
          layout && [t('dataPage.layout'), layout],
          [t('dataPage.skipped'), <span className="num">{count(r.rows_skipped)}</span>],
          gaps && gaps.sessions.length > 0 && [t('dataPage.missingSessions'), gaps.sessions.map((s) => shortDate(s)).join(', ')],
          unitsList(r.units).length > 0 && [t('dataPage.units'), unitsList(r.units).join('; ')],
          ...warnings.map(([k, v]): KeyValue => [`${t('dataPage.warnings')}: ${k}`, typeof v === 'number' ? num(v, 0) : cell(v)]),
          r.quarantine_path && [t('dataPage.quarantine'), <code>{r.quarantine_path}</code>],
          r.error && [t('dataPage.error'), <span className="bad">{r.error}</span>],
        ]}
      />
      {r.samples?.length > 0 && (
        <div>
          <h4>{t('dataPage.samples')}</h4>
          <pre className="samples">{r.samples.map((s) => JSON.stringify(s)).join('\n')}</pre>
        </div>
      )}
    </div>
  );
}

function periods(ps: Period[] | undefined): string {
  return (ps ?? []).map((p) => `${shortDate(p.start)} → ${p.end ? shortDate(p.end) : '…'}`).join(', ');
}

function instrumentColumns(): Column<Instrument>[] {
  return [
    { key: 'symbol', label: t('col.symbol'), value: (i) => i.symbol, className: 'mono' },
    { key: 'name', label: t('col.name'), value: (i) => i.name },
    { key: 'exchange', label: t('instr.exchange'), value: (i) => i.exchange },
    { key: 'board', label: t('instr.board'), value: (i) => i.board, render: (i) => (i.board ? (maybeT(`board.${i.board.toLowerCase()}`) ?? i.board) : '–') },
    { key: 'currency', label: t('instr.currency'), value: (i) => i.currency },
    { key: 'lot', label: t('instr.lot'), value: (i) => i.lot, render: (i) => count(i.lot), className: 'num' },
    { key: 'tick', label: t('instr.tick'), value: (i) => i.tick, render: (i) => cell(i.tick), className: 'num' },
    { key: 'listed', label: t('instr.listed'), value: (i) => i.listed, render: (i) => shortDate(i.listed), className: 'num' },
    { key: 'delisted', label: t('instr.delisted'), value: (i) => i.delisted, render: (i) => (i.delisted ? shortDate(i.delisted) : '–'), className: 'num' },
    { key: 'st', label: t('instr.st'), value: (i) => periods(i.st), render: (i) => periods(i.st) || '–', className: 'small' },
    { key: 'suspended', label: t('instr.suspended'), value: (i) => (i.suspended ?? []).length, render: (i) => periods(i.suspended) || '–', className: 'small' },
  ];
}

/** The boards the instrument master knows (migration 0005). */
export const BOARDS = ['main', 'chinext', 'star', 'bse', 'etf', 'crypto'] as const;

function Instruments() {
  const locale = useLocale();
  const [search, setSearch] = useState('');
  const [board, setBoard] = useState('');
  const [offset, setOffset] = useState(0);
  const res = useResource(
    (signal) => dataApi.instruments({ search: search.trim() || undefined, board: board || undefined, limit: PAGE_SIZE, offset }, signal),
    [search, board, offset],
  );
  // eslint-disable-next-line react-hooks/exhaustive-deps -- labels follow the locale
  const columns = useMemo(instrumentColumns, [locale]);
  return (
    <Card
      title={t('dataPage.instruments')}
      extra={
        <>
          <SearchBox label={t('dataPage.instrumentsFilter')} value={search} onChange={(v) => (setSearch(v), setOffset(0))} />
          <select className="board" aria-label={t('instr.board')} value={board} onChange={(e) => (setBoard(e.target.value), setOffset(0))}>
            <option value="">{t('dataPage.allBoards')}</option>
            {BOARDS.map((b) => (
              <option key={b} value={b}>
                {t(`board.${b}`)}
              </option>
            ))}
          </select>
        </>
      }
    >
      <DataState res={res} what={t('dataPage.instrumentsWhat')}>
        {(d) => (
          <div className="instruments">
            <SortTable rows={d.instruments} columns={columns} rowKey={(i) => i.symbol} empty={search || board ? t('overview.noMatch') : t('dataPage.instrumentsEmpty')} />
            <Pager page={d} shown={d.instruments.length} onOffset={setOffset} />
          </div>
        )}
      </DataState>
    </Card>
  );
}
