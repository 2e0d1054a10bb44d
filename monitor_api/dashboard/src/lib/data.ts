// Pure helpers of the Data page: its hash route, adjustment choices, volume bars, report cells.

import type { Adjustment, QualityReport, StoredBars } from '../api';
import type { MessageKey } from '../i18n';
import { toSeries } from './series';

export const ADJUSTMENTS: readonly { value: Adjustment; label: MessageKey; short: MessageKey }[] = [
  { value: 'raw', label: 'dataPage.raw', short: 'dataPage.rawShort' },
  { value: 'forward', label: 'dataPage.forward', short: 'dataPage.forwardShort' },
  { value: 'backward', label: 'dataPage.backward', short: 'dataPage.backwardShort' },
];

export interface DataSelection {
  symbol: string | null;
  freq: string;
  adjust: Adjustment;
}

/** Read the chosen symbol, frequency and adjustment from the page's query (`#/data?symbol=…`). */
export function parseSelection(query: URLSearchParams): DataSelection {
  const adjust = query.get('adjust');
  return {
    symbol: query.get('symbol') || null,
    freq: query.get('freq') || '1d',
    adjust: adjust === 'forward' || adjust === 'backward' ? adjust : 'raw',
  };
}

/** The hash that shows `sel` (raw and 1d are the defaults and left out). */
export function selectionHash(sel: DataSelection): string {
  const q = new URLSearchParams();
  if (sel.symbol) q.set('symbol', sel.symbol);
  if (sel.symbol && sel.freq !== '1d') q.set('freq', sel.freq);
  if (sel.adjust !== 'raw') q.set('adjust', sel.adjust);
  const s = q.toString();
  return s ? `#/data?${s}` : '#/data';
}

export interface VolumePoint {
  time: number;
  value: number;
  up: boolean;
}

/** One volume bar per price bar, marked up when the bar closed at or above its open. */
export function volumeSeries(bars: StoredBars['bars']): VolumePoint[] {
  return toSeries(bars, (b) => b.time, (b) =>
    typeof b.volume === 'number' && Number.isFinite(b.volume) && b.volume >= 0 ? { value: b.volume, up: b.close >= b.open } : null,
  );
}

/** Rejection reasons, most frequent first. */
export function rejectList(rejects: QualityReport['rejects'] | null | undefined): [string, number][] {
  return Object.entries(rejects ?? {})
    .filter(([, n]) => typeof n === 'number' && n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export interface GapSummary {
  missing: number;
  expected: number;
  sessions: string[];
}

/** The gap report's numbers, or null when the ingest could not check gaps (no calendar). */
export function gapSummary(gaps: QualityReport['gaps'] | null | undefined): GapSummary | null {
  const missing = gaps?.missing_bars;
  const expected = gaps?.expected_bars;
  if (typeof missing !== 'number' || typeof expected !== 'number') return null;
  const sessions = Array.isArray(gaps?.first_missing_sessions) ? gaps.first_missing_sessions.map(String) : [];
  return { missing, expected, sessions };
}

/** "volume: lots (100) -> shares" for each converted field. */
export function unitsList(units: QualityReport['units'] | null | undefined): string[] {
  return Object.entries(units ?? {}).map(([field, how]) => `${field}: ${typeof how === 'string' ? how : JSON.stringify(how)}`);
}

/** 1-based first and last row numbers shown, for "21–40 of 95". */
export function pageRange(offset: number, shown: number, total: number): { from: number; to: number; total: number } {
  return { from: shown ? offset + 1 : 0, to: offset + shown, total };
}
