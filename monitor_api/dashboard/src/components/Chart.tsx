// A thin wrapper over lightweight-charts: series in, chart out, colours from the theme.

import { useEffect, useRef } from 'react';
import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  CrosshairMode,
  HistogramSeries,
  LineSeries,
  type IChartApi,
  type ISeriesApi,
  type SeriesType,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { useTheme, type Theme } from '../hooks/misc';
import type { TradeMarker } from '../lib/series';
import { intlTag, useLocale } from '../i18n';

export type SeriesSpec =
  | { kind: 'area' | 'line'; name: string; data: { time: number; value: number }[]; color?: string; pane?: number; percent?: boolean; negative?: boolean }
  | { kind: 'candles'; name: string; data: { time: number; open: number; high: number; low: number; close: number }[]; pane?: number; markers?: TradeMarker[] }
  | { kind: 'histogram'; name: string; data: { time: number; value: number; up?: boolean }[]; pane?: number };

export const PALETTE: Record<Theme, { bg: string; text: string; grid: string; border: string; up: string; down: string; accent: string; accent2: string }> = {
  dark: { bg: '#12161c', text: '#a9b4c2', grid: '#1f2630', border: '#2a3340', up: '#26a69a', down: '#ef5350', accent: '#4c9aff', accent2: '#f0b429' },
  light: { bg: '#ffffff', text: '#3d4753', grid: '#eef1f5', border: '#d8dee6', up: '#0f9d58', down: '#d93025', accent: '#1f6fd1', accent2: '#b7791f' },
};

export function Chart({ series, height = 260, paneHeights }: { series: SeriesSpec[]; height?: number; paneHeights?: number[] }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const theme = useTheme();
  const colors = PALETTE[theme];
  const locale = useLocale();

  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      autoSize: true,
      crosshair: { mode: CrosshairMode.Normal },
      timeScale: { timeVisible: true, secondsVisible: false, borderVisible: false },
      rightPriceScale: { borderVisible: false },
      localization: { locale: intlTag() },
    });
    chart.current = c;
    return () => {
      chart.current = null;
      c.remove();
    };
  }, []);

  useEffect(() => {
    chart.current?.applyOptions({ localization: { locale: intlTag(locale) } });
  }, [locale]);

  useEffect(() => {
    chart.current?.applyOptions({
      layout: { background: { type: ColorType.Solid, color: colors.bg }, textColor: colors.text, fontSize: 11, panes: { separatorColor: colors.border } },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    });
  }, [colors]);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const made: ISeriesApi<SeriesType>[] = [];
    for (const s of series) {
      const pane = s.pane ?? 0;
      if (s.kind === 'candles') {
        const api = c.addSeries(
          CandlestickSeries,
          { upColor: colors.up, downColor: colors.down, wickUpColor: colors.up, wickDownColor: colors.down, borderVisible: false, title: s.name },
          pane,
        );
        api.setData(s.data.map((d) => ({ ...d, time: d.time as UTCTimestamp })));
        if (s.markers?.length) {
          createSeriesMarkers(
            api,
            s.markers.map((m) => ({
              time: m.time as Time,
              position: m.position,
              shape: m.shape,
              color: m.kind === 'buy' ? colors.up : colors.down,
              text: m.text,
            })),
          );
        }
        made.push(api);
      } else if (s.kind === 'histogram') {
        const api = c.addSeries(HistogramSeries, { title: s.name, priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: false }, pane);
        api.setData(s.data.map((d) => ({ time: d.time as UTCTimestamp, value: d.value, color: `${d.up === false ? colors.down : colors.up}99` })));
        made.push(api);
      } else {
        const color = s.color ?? (s.negative ? colors.down : colors.accent);
        const priceFormat = s.percent ? { type: 'custom' as const, formatter: (v: number) => `${(v * 100).toFixed(1)}%`, minMove: 0.0001 } : undefined;
        const api =
          s.kind === 'area'
            ? c.addSeries(
                AreaSeries,
                {
                  lineColor: color,
                  topColor: s.negative ? `${color}10` : `${color}55`,
                  bottomColor: s.negative ? `${color}55` : `${color}05`,
                  invertFilledArea: !!s.negative,
                  lineWidth: 2,
                  title: s.name,
                  priceFormat,
                },
                pane,
              )
            : c.addSeries(LineSeries, { color, lineWidth: 2, title: s.name, priceFormat }, pane);
        api.setData(s.data.map((d) => ({ ...d, time: d.time as UTCTimestamp })));
        made.push(api);
      }
    }
    if (paneHeights) {
      c.panes().forEach((p, i) => {
        if (paneHeights[i] !== undefined) p.setStretchFactor(paneHeights[i]);
      });
    }
    c.timeScale().fitContent();
    return () => {
      for (const s of made) {
        try {
          c.removeSeries(s);
        } catch {
          /* chart already removed */
        }
      }
    };
  }, [series, colors, paneHeights]);

  return <div className="chart" ref={box} style={{ height }} />;
}
