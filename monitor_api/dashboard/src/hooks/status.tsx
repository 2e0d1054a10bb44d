// React layer over StatusClient: one client per app, shared through context.

import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { initialStatusState, statusSocketProtocols, statusSocketUrl, type StatusState } from '../state/status';
import { browserStatusClient, type StatusClient } from '../state/statusClient';
import { getToken, subscribeToken } from '../token';

const StatusContext = createContext<StatusClient | null>(null);

/** Provide a status client; pass one in tests, or let it build the browser one. */
export function StatusProvider({ client, children }: { client?: StatusClient; children: ReactNode }) {
  const [own] = useState(
    () =>
      client ??
      browserStatusClient(
        () => statusSocketUrl(window.location),
        () => statusSocketProtocols(getToken() || null),
      ),
  );
  useEffect(() => {
    own.start();
    // A new token means a new connection (and a fresh snapshot).
    const off = subscribeToken(() => own.restart());
    return () => {
      off();
      own.stop();
    };
  }, [own]);
  return <StatusContext.Provider value={own}>{children}</StatusContext.Provider>;
}

export function useStatusClient(): StatusClient | null {
  return useContext(StatusContext);
}

export function useStatus(): StatusState {
  const client = useContext(StatusContext);
  return useSyncExternalStore(
    client ? client.subscribe : noopSubscribe,
    client ? client.getState : initialGetter,
    client ? client.getState : initialGetter,
  );
}

const noopSubscribe = () => () => {};
const initialGetter = () => initialStatusState;
