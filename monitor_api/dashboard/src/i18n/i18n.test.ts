// @vitest-environment jsdom
// Both dictionaries hold the same keys and placeholders; the locale follows the browser until
// chosen, is remembered, and numbers and dates follow it.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { count, duration, metricLabel, money, num, pct, shortDate } from '../lib/format';
import { DICTIONARIES, detectLocale, getLocale, initialLocale, resetLocale, setLocale, subscribeLocale, t, translate } from '.';
import { en } from './en';
import { zh } from './zh';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

afterEach(() => {
  vi.unstubAllGlobals();
  setLocale('en');
  localStorage.clear();
});

describe('dictionaries', () => {
  it('have exactly the same keys in English and Chinese', () => {
    const enKeys = Object.keys(en).sort();
    const zhKeys = Object.keys(zh).sort();
    expect(zhKeys.filter((k) => !(k in en))).toEqual([]);
    expect(enKeys.filter((k) => !(k in zh))).toEqual([]);
    expect(zhKeys).toEqual(enKeys);
    expect(enKeys.length).toBeGreaterThan(250);
  });

  it('fill the same placeholders in both languages, with no empty message', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(zh[key]), key).toEqual(placeholders(en[key]));
      expect(en[key].trim(), key).not.toBe('');
      expect(zh[key].trim(), key).not.toBe('');
    }
  });

  it('are really translated: Chinese text in most Chinese messages', () => {
    const keys = Object.keys(en) as (keyof typeof en)[];
    const han = keys.filter((k) => /\p{Script=Han}/u.test(zh[k]));
    // identifiers (DAG, ETL, Alpha, Beta, IS...) may stay as they are; prose may not
    expect(han.length / keys.length).toBeGreaterThan(0.9);
    for (const k of ['nav.overview', 'nav.data', 'dataPage.forward', 'dataPage.backward', 'col.state', 'common.loading'] as const) expect(zh[k]).not.toBe(en[k]);
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('en', 'common.pageOf', { from: 1, to: 50, total: 120 })).toBe('1–50 of 120');
    expect(translate('zh', 'common.pageOf', { from: 1, to: 50, total: 120 })).toBe('第 1–50 条，共 120 条');
    expect(translate('en', 'run.merged', { n: 3 })).toBe('1 bar = 3 × {freq}');
    expect(DICTIONARIES.zh['dataPage.forward']).toBe('前复权');
  });
});

describe('locale choice', () => {
  it('maps browser languages: any zh* to Chinese, everything else to English', () => {
    for (const l of ['zh', 'zh-CN', 'zh-TW', 'zh-Hans-CN', 'ZH-cn']) expect(detectLocale(l), l).toBe('zh');
    for (const l of ['en', 'en-US', 'fr-FR', 'ja', '', null, undefined, 'zhx']) expect(detectLocale(l), String(l)).toBe('en');
  });

  it('follows navigator.language until a choice is saved, then keeps the choice', () => {
    vi.stubGlobal('navigator', { language: 'zh-CN' });
    expect(initialLocale()).toBe('zh');
    resetLocale();
    expect(getLocale()).toBe('zh');
    expect(t('nav.overview')).toBe('总览');
    setLocale('en');
    expect(localStorage.getItem('easyquant.locale')).toBe('en');
    expect(initialLocale()).toBe('en'); // a reload keeps English on a Chinese browser
    vi.stubGlobal('navigator', { language: 'en-GB' });
    setLocale('zh');
    expect(initialLocale()).toBe('zh');
    expect(document.documentElement.lang).toBe('zh-CN');
  });

  it('ignores a saved value that is no locale', () => {
    vi.stubGlobal('navigator', { language: 'en-US' });
    localStorage.setItem('easyquant.locale', 'klingon');
    expect(initialLocale()).toBe('en');
  });

  it('tells subscribers when the locale changes, and only then', () => {
    const seen: string[] = [];
    const off = subscribeLocale(() => seen.push(getLocale()));
    setLocale('zh');
    setLocale('zh');
    setLocale('en');
    off();
    setLocale('zh');
    expect(seen).toEqual(['zh', 'en']);
  });
});

describe('formatting follows the locale', () => {
  it('formats numbers, money and percentages with Intl', () => {
    setLocale('en');
    expect(num(1234567.891)).toBe('1,234,567.89');
    expect(pct(0.1234)).toBe('12.34%');
    expect(money(123_000_000)).toBe('123M');
    expect(count(2_500_000)).toBe('2.5M');
    setLocale('zh');
    expect(num(1234567.891)).toBe('1,234,567.89');
    expect(money(123_000_000)).toBe('1.23亿');
    expect(count(2_500_000)).toBe('250万');
  });

  it('writes dates and durations in the chosen language', () => {
    setLocale('en');
    expect(shortDate('2021-08-05')).toBe('Aug 5, 2021');
    expect(shortDate('2021-08-05T00:00:00+00:00')).toBe('Aug 5, 2021');
    expect(duration(185)).toBe('3m 05s');
    expect(metricLabel('sharpe')).toBe('Sharpe');
    expect(metricLabel('some_new_metric')).toBe('Some new metric');
    setLocale('zh');
    expect(shortDate('2021-08-05')).toBe('2021年8月5日');
    expect(duration(185)).toBe('3分05秒');
    expect(duration(3 * 86400 + 4 * 3600)).toBe('3天4小时');
    expect(metricLabel('sharpe')).toBe('夏普比率');
    expect(metricLabel('max_drawdown')).toBe('最大回撤');
  });
});
