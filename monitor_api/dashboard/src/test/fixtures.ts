// Test helpers: component factory and a scriptable fake WebSocket.

import type { Component } from '../state/status';
import type { SocketLike } from '../state/statusClient';

export const T0 = Date.parse('2026-11-23T10:00:00Z');
export const iso = (ms: number) => new Date(ms).toISOString();

export function comp(over: Partial<Component> & { id: string }): Component {
  return {
    kind: 'cli',
    name: over.id,
    state: 'running',
    stale: false,
    progress: 0.5,
    message: null,
    metrics: {},
    attrs: {},
    url: null,
    parent_id: null,
    host: null,
    heartbeat_interval: 10,
    started_at: iso(T0),
    heartbeat_at: iso(T0),
    updated_at: iso(T0),
    finished_at: null,
    seq: 1,
    ...over,
  };
}

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readyState = 0;
  sent: string[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[] = [],
  ) {
    FakeSocket.all.push(this);
  }
  static last(): FakeSocket {
    const s = FakeSocket.all[FakeSocket.all.length - 1];
    if (!s) throw new Error('no socket was opened');
    return s;
  }
  static reset() {
    FakeSocket.all = [];
  }
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number, reason?: string) {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }
  // --- server side of the script ---
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(msg: unknown) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }
  snapshot(components: Component[], serverTime?: number) {
    this.message({ type: 'snapshot', components, server_time: iso(serverTime ?? Date.now()) });
  }
  update(components: Component[], serverTime?: number) {
    this.message({ type: 'update', components, server_time: iso(serverTime ?? Date.now()) });
  }
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
