// Turn API time series into what lightweight-charts accepts: UTC seconds,
// strictly ascending, no duplicates (it throws on anything else).

import type { Bar, Trade } from '../api';

export function toSeconds(iso: string | number): number | null {
  if (typeof iso === 'number') return Number.isFinite(iso) ? Math.floor(iso > 1e11 ? iso / 1000 : iso) : null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** Map rows to {time, ...}, sorted, keeping the last row for a repeated time; drops bad rows. */
export function toSeries<T, P extends object>(rows: readonly T[], time: (r: T) => string | number, map: (r: T) => P | null): (P & { time: number })[] {
  const byTime = new Map<number, P & { time: number }>();
  for (const r of rows) {
    const t = toSeconds(time(r));
    if (t === null) continue;
    const p = map(r);
    if (p === null) continue;
    byTime.set(t, { ...p, time: t });
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

const finite = (...xs: unknown[]) => xs.every((x) => typeof x === 'number' && Number.isFinite(x));

export function barSeries(bars: readonly Bar[]) {
  return toSeries(bars, (b) => b.time, (b) => (finite(b.open, b.high, b.low, b.close) ? { open: b.open, high: b.high, low: b.low, close: b.close } : null));
}

export function valueSeries<T>(rows: readonly T[], time: (r: T) => string, value: (r: T) => unknown) {
  return toSeries(rows, time, (r) => {
    const v = value(r);
    return typeof v === 'number' && Number.isFinite(v) ? { value: v } : null;
  });
}

/** The bar time at or just before `t` (markers must sit on an existing bar). */
export function snapToBar(times: readonly number[], t: number): number | null {
  if (!times.length) return null;
  let lo = 0;
  let hi = times.length - 1;
  if (t < times[0]) return times[0];
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return times[lo];
}

export interface TradeMarker {
  time: number;
  position: 'belowBar' | 'aboveBar';
  shape: 'arrowUp' | 'arrowDown';
  kind: 'buy' | 'sell';
  text: string;
  detail: string;
}

/** Entry and exit markers for one symbol's trades, snapped to bars and sorted. */
export function tradeMarkers(trades: readonly Trade[], symbol: string, barTimes: readonly number[]): TradeMarker[] {
  const out: TradeMarker[] = [];
  const mk = (iso: string | null, buy: boolean, qty: number, price: number | null) => {
    if (!iso) return;
    const t = toSeconds(iso);
    const at = t === null ? null : snapToBar(barTimes, t);
    if (at === null) return;
    out.push({
      time: at,
      position: buy ? 'belowBar' : 'aboveBar',
      shape: buy ? 'arrowUp' : 'arrowDown',
      kind: buy ? 'buy' : 'sell',
      // Short labels: dozens of trades on a phone-width chart must stay readable;
      // prices and quantities are in the trades table below the chart.
      text: buy ? 'B' : 'S',
      detail: `${buy ? 'buy' : 'sell'} ${Math.abs(qty)}${price !== null && Number.isFinite(price) ? ` @ ${price}` : ''}`,
    });
  };
  for (const tr of trades) {
    if (tr.symbol !== symbol) continue;
    const long = tr.quantity >= 0;
    mk(tr.entry_time, long, tr.quantity, tr.entry_price);
    mk(tr.exit_time, !long, tr.quantity, tr.exit_price);
  }
  return out.sort((a, b) => a.time - b.time);
}

/** Drawdown as a non-positive fraction whatever sign convention the back end uses. */
export function drawdownValue(d: unknown): number | null {
  return typeof d === 'number' && Number.isFinite(d) ? -Math.abs(d) : null;
}
