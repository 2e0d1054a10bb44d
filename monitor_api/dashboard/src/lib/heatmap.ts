// A parameter-sweep grid: two parameters on the axes, one metric as colour.

import type { SweepPoint } from '../api';
import { metricScore } from './format';

export interface HeatCell {
  x: number | string;
  y: number | string;
  value: number | null;
  /** 0 = worst, 1 = best within the grid; null when the value is missing. */
  score: number | null;
  point: SweepPoint | null;
}

export interface HeatGrid {
  xs: (number | string)[];
  ys: (number | string)[];
  /** rows[yi][xi] */
  rows: HeatCell[][];
  best: HeatCell | null;
  min: number | null;
  max: number | null;
}

function axisValues(points: SweepPoint[], param: string): (number | string)[] {
  const seen = new Map<string, number | string>();
  for (const p of points) {
    const v = p.params[param];
    if (v !== undefined && v !== null) seen.set(String(v), v);
  }
  const vals = [...seen.values()];
  const allNum = vals.every((v) => typeof v === 'number');
  return allNum ? (vals as number[]).sort((a, b) => a - b) : vals.sort((a, b) => String(a).localeCompare(String(b), undefined, { numeric: true }));
}

/**
 * Lay the points on an x/y grid. When the sweep has more parameters than the
 * two axes, each cell shows the best point among those sharing its x and y.
 */
export function buildHeatGrid(points: SweepPoint[], xParam: string, yParam: string, metric: string): HeatGrid {
  const xs = axisValues(points, xParam);
  const ys = yParam === xParam ? [''] : axisValues(points, yParam);
  const index = new Map<string, SweepPoint>();
  for (const p of points) {
    const v = p.metrics[metric];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      const key = `${String(p.params[xParam])}|${yParam === xParam ? '' : String(p.params[yParam])}`;
      if (!index.has(key)) index.set(key, p);
      continue;
    }
    const key = `${String(p.params[xParam])}|${yParam === xParam ? '' : String(p.params[yParam])}`;
    const prev = index.get(key);
    const pv = prev?.metrics[metric];
    if (!prev || typeof pv !== 'number' || !Number.isFinite(pv) || metricScore(metric, v) > metricScore(metric, pv)) index.set(key, p);
  }
  let lo = Infinity;
  let hi = -Infinity;
  let min: number | null = null;
  let max: number | null = null;
  for (const p of index.values()) {
    const v = p.metrics[metric];
    if (typeof v === 'number' && Number.isFinite(v)) {
      const s = metricScore(metric, v);
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
      min = min === null ? v : Math.min(min, v);
      max = max === null ? v : Math.max(max, v);
    }
  }
  let best: HeatCell | null = null;
  const rows = ys.map((y) =>
    xs.map((x): HeatCell => {
      const p = index.get(`${String(x)}|${String(y)}`) ?? null;
      const v = p?.metrics[metric];
      const value = typeof v === 'number' && Number.isFinite(v) ? v : null;
      const score = value === null ? null : hi > lo ? (metricScore(metric, value) - lo) / (hi - lo) : 1;
      const cell = { x, y, value, score, point: p };
      if (score !== null && (best === null || (best.score ?? -1) < score)) best = cell;
      return cell;
    }),
  );
  return { xs, ys, rows, best, min, max };
}

/** A red (worst) to amber to green (best) colour for a 0..1 score. */
export function heatColor(score: number | null): string {
  if (score === null) return 'transparent';
  const s = Math.min(1, Math.max(0, score));
  const hue = Math.round(s * 130); // 0 red .. 130 green
  return `hsl(${hue} 62% 45%)`;
}
