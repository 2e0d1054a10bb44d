// The dashboard's two languages: English and 简体中文. The locale follows the browser
// (navigator.language zh* -> 中文) until the header's switch picks one, which is kept in
// localStorage. Messages are looked up by key; numbers and dates use Intl for the locale.

import { useSyncExternalStore } from 'react';
import { en, type MessageKey } from './en';
import { zh } from './zh';

export type { MessageKey } from './en';
export type Locale = 'en' | 'zh';
export const LOCALES: readonly Locale[] = ['en', 'zh'];
/** Each locale's name in its own language, for the switch. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', zh: '简体中文' };
export const DICTIONARIES: Record<Locale, Record<MessageKey, string>> = { en, zh };

const STORAGE_KEY = 'easyquant.locale';

/** The locale for a browser language tag: any zh* is Chinese, everything else English. */
export function detectLocale(language: string | null | undefined): Locale {
  return /^zh\b/i.test((language ?? '').trim()) ? 'zh' : 'en';
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

/** The chosen locale if one was saved, else the browser's. */
export function initialLocale(): Locale {
  const saved = storage()?.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  return detectLocale(typeof navigator === 'undefined' ? null : navigator.language);
}

let current: Locale = initialLocale();
const listeners = new Set<() => void>();

export function getLocale(): Locale {
  return current;
}

/** Choose a locale, remember it in this browser, and re-render everything that reads it. */
export function setLocale(locale: Locale): void {
  storage()?.setItem(STORAGE_KEY, locale);
  if (locale === current) return;
  current = locale;
  if (typeof document !== 'undefined') document.documentElement.lang = intlTag(locale);
  for (const cb of [...listeners]) cb();
}

/** Forget the saved choice and follow the browser again. */
export function resetLocale(): void {
  storage()?.removeItem(STORAGE_KEY);
  const next = initialLocale();
  if (next !== current) setLocale(next);
  storage()?.removeItem(STORAGE_KEY);
}

export function subscribeLocale(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The BCP 47 tag Intl formats with. */
export function intlTag(locale: Locale = current): string {
  return locale === 'zh' ? 'zh-CN' : 'en-US';
}

export type Params = Record<string, string | number>;

/** The message for `key` in `locale`, with `{name}` placeholders filled from `params`. */
export function translate(locale: Locale, key: MessageKey, params?: Params): string {
  const text = DICTIONARIES[locale][key] ?? en[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** The message for `key` in the current locale. */
export function t(key: MessageKey, params?: Params): string {
  return translate(current, key, params);
}

/** The message for `key` when there is one (labels of values the API sends), else null. */
export function maybeT(key: string, params?: Params): string | null {
  return key in en ? translate(current, key as MessageKey, params) : null;
}

/** The current locale; the component re-renders when it changes. */
export function useLocale(): Locale {
  return useSyncExternalStore(subscribeLocale, getLocale, getLocale);
}

if (typeof document !== 'undefined') document.documentElement.lang = intlTag(current);
