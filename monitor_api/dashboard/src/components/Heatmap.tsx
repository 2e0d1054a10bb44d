// A CSS-grid heatmap of one metric over two sweep parameters.

import { useMemo } from 'react';
import type { SweepPoint } from '../api';
import { formatMetric, metricLabel } from '../lib/format';
import { buildHeatGrid, heatColor } from '../lib/heatmap';
import { t } from '../i18n';

export function Heatmap({ points, xParam, yParam, metric }: { points: SweepPoint[]; xParam: string; yParam: string; metric: string }) {
  const grid = useMemo(() => buildHeatGrid(points, xParam, yParam, metric), [points, xParam, yParam, metric]);
  const single = xParam === yParam;
  // Rows top to bottom from the largest y, like a chart axis.
  const rows = [...grid.rows].reverse();
  return (
    <div className="heatmap-wrap">
      <div className="heatmap" style={{ gridTemplateColumns: `auto repeat(${grid.xs.length}, minmax(2.6rem, 1fr))` }} role="table" aria-label={t('heatmap.label', { metric: metricLabel(metric), x: xParam, y: yParam })}>
        {rows.map((row, i) => (
          <div className="hm-row" role="row" key={i} style={{ display: 'contents' }}>
            <div className="hm-axis hm-y" role="rowheader">
              {single ? '' : String(row[0]?.y ?? '')}
            </div>
            {row.map((c) => {
              const link = c.point?.run_id ? `#/backtests/${encodeURIComponent(c.point.run_id)}` : null;
              const title = `${xParam}=${String(c.x)}${single ? '' : `, ${yParam}=${String(c.y)}`}: ${metricLabel(metric)} ${formatMetric(metric, c.value)}`;
              const best = grid.best === c;
              const content = <span className="hm-val">{c.value === null ? '' : formatMetric(metric, c.value)}</span>;
              return (
                <div key={String(c.x)} role="cell" className={`hm-cell ${best ? 'hm-best' : ''} ${c.value === null ? 'hm-empty' : ''}`} style={{ background: heatColor(c.score) }} title={title}>
                  {link ? <a href={link}>{content}</a> : content}
                </div>
              );
            })}
          </div>
        ))}
        <div className="hm-axis hm-corner">{single ? '' : `${yParam} ↑ / ${xParam} →`}</div>
        {grid.xs.map((x) => (
          <div key={String(x)} className="hm-axis hm-x">
            {String(x)}
          </div>
        ))}
      </div>
      <div className="hm-legend">
        <span>{t('heatmap.worst', { value: formatMetric(metric, worstValue(grid)) })}</span>
        <span className="hm-scale" />
        <span>{t('heatmap.best', { value: formatMetric(metric, grid.best?.value ?? null) })}</span>
      </div>
    </div>
  );
}

function worstValue(grid: ReturnType<typeof buildHeatGrid>): number | null {
  let worst: { v: number; s: number } | null = null;
  for (const row of grid.rows) for (const c of row) if (c.value !== null && c.score !== null && (!worst || c.score < worst.s)) worst = { v: c.value, s: c.score };
  return worst?.v ?? null;
}
