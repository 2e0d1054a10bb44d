// The API token: entered once in settings, kept in localStorage.

const KEY = 'easyquant.token';
const listeners = new Set<() => void>();

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled
  }
}

let current: string = storage()?.getItem(KEY) ?? '';

export function getToken(): string {
  return current;
}

export function setToken(token: string): void {
  const t = token.trim();
  if (t === current) return;
  current = t;
  const s = storage();
  if (s) {
    if (t) s.setItem(KEY, t);
    else s.removeItem(KEY);
  }
  for (const l of listeners) l();
}

export function subscribeToken(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
