// Drives one /ws/status connection through the pure reducer in ./status.
// The socket constructor, timers, clock and randomness are injected so tests
// can run the whole reconnect cycle without a browser or real time.

import {
  backoffDelay,
  DEFAULT_BACKOFF,
  initialStatusState,
  parseServerMessage,
  POLICY_VIOLATION,
  statusReducer,
  type BackoffOptions,
  type StatusEvent,
  type StatusState,
} from './status';

/** The part of the browser WebSocket this client uses. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface StatusClientDeps {
  /** The URL to connect to; called on every attempt. */
  url: () => string;
  /** Subprotocols to offer (they carry the token, which never goes in the URL); called on
   * every attempt so a new token is picked up. */
  protocols?: () => string[];
  createSocket: (url: string, protocols: string[]) => SocketLike;
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  random: () => number;
  backoff?: BackoffOptions;
  /** Send a ping this often while open (ms); 0 disables. */
  pingEveryMs?: number;
  /** Drop and reopen the socket when nothing arrived for this long (ms); 0 disables. */
  silenceTimeoutMs?: number;
}

type Listener = (state: StatusState) => void;

const OPEN = 1;

export class StatusClient {
  private state: StatusState = initialStatusState;
  private readonly listeners = new Set<Listener>();
  private socket: SocketLike | null = null;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private running = false;

  constructor(private readonly deps: StatusClientDeps) {}

  getState = (): StatusState => this.state;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Open the connection; reconnects with backoff until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Close the socket and cancel retries; keeps the last components. */
  stop(): void {
    this.running = false;
    this.clearTimers();
    this.dropSocket();
    this.dispatch({ type: 'stop' });
  }

  /** Reconnect at once (after a token change, or the user pressing "retry"). */
  restart(): void {
    this.stop();
    this.state = { ...this.state, attempt: 0 };
    this.start();
  }

  private dispatch(event: StatusEvent): void {
    const next = statusReducer(this.state, event);
    if (next === this.state) return;
    this.state = next;
    for (const l of this.listeners) l(next);
  }

  private connect(): void {
    this.retryTimer = null;
    if (!this.running) return;
    this.dispatch({ type: 'connect', at: this.deps.now() });
    let socket: SocketLike;
    try {
      socket = this.deps.createSocket(this.deps.url(), this.deps.protocols?.() ?? []);
    } catch (e) {
      this.onClosed(1006, e instanceof Error ? e.message : 'cannot open socket');
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.dispatch({ type: 'open', at: this.deps.now() });
      this.armPing();
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      const at = this.deps.now();
      try {
        this.dispatch({ type: 'message', message: parseServerMessage(ev.data), at });
      } catch (e) {
        this.dispatch({ type: 'bad_message', error: e instanceof Error ? e.message : String(e), at });
      }
    };
    socket.onerror = () => {
      // Browsers always follow an error with a close event; handle it there.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onClosed(ev.code, ev.reason);
    };
  }

  private onClosed(code: number, reason: string): void {
    this.clearTimers();
    const at = this.deps.now();
    if (!this.running || code === POLICY_VIOLATION) {
      this.dispatch({ type: 'close', code, reason, at, retryInMs: null });
      return;
    }
    const delay = backoffDelay(this.state.attempt, this.deps.random, this.deps.backoff ?? DEFAULT_BACKOFF);
    this.dispatch({ type: 'close', code, reason, at, retryInMs: delay });
    this.retryTimer = this.deps.setTimeout(() => this.connect(), delay);
  }

  private armPing(): void {
    const every = this.deps.pingEveryMs ?? 0;
    if (!every) return;
    this.pingTimer = this.deps.setTimeout(() => {
      this.pingTimer = null;
      const socket = this.socket;
      if (!socket) return;
      const silence = this.deps.silenceTimeoutMs ?? 0;
      const last = this.state.lastMessageAt;
      if (silence && last !== null && this.deps.now() - last > silence) {
        // A half-open connection: nothing came back, not even a pong.
        this.dropSocket();
        this.onClosed(4000, 'no messages from server');
        return;
      }
      if (socket.readyState === OPEN) socket.send(JSON.stringify({ type: 'ping' }));
      this.armPing();
    }, every);
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000, 'client closing');
      } catch {
        /* already closed */
      }
    }
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.deps.clearTimeout(this.retryTimer);
    if (this.pingTimer !== null) this.deps.clearTimeout(this.pingTimer);
    this.retryTimer = this.pingTimer = null;
  }
}

/** A client wired to the browser's WebSocket, timers and clock. */
export function browserStatusClient(url: () => string, protocols?: () => string[]): StatusClient {
  return new StatusClient({
    url,
    protocols,
    createSocket: (u, p) => new WebSocket(u, p) as unknown as SocketLike,
    now: () => Date.now(),
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number),
    random: Math.random,
    pingEveryMs: 20_000,
    silenceTimeoutMs: 50_000,
  });
}
