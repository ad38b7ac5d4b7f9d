import type { FluxClient, StatsPayload } from '@flux/client';
import { useEffect, useState } from 'preact/hooks';
import { session } from '../state';
import { StatsHistory } from './history';

/** The dashboard's feed: the snapshots received so far, and why `GET /stats` failed, if it did. */
export interface StatsFeed {
  history: StatsHistory;
  /** Bumped at every snapshot, so that the component re-renders. */
  version: number;
  error: unknown;
}

/**
 * The `stats` events of the console's socket (docs/stats.md), kept in a {@link StatsHistory}. The socket
 * receives them once a login over it, or its handshake token, bound it to the session; `GET /stats` gives
 * the first figures at once, so the page is not empty until the next event. For users with `stats/read`.
 */
export function useStats(): StatsFeed {
  const client: FluxClient = session.client.value;
  const [history, setHistory] = useState(() => new StatsHistory());
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const socket = client.socket;
    // another client (another tenant): another history
    const kept = new StatsHistory();
    setHistory(kept);
    let gone = false;
    const add = (stats: StatsPayload) => {
      if (gone) return;
      kept.push(stats, Date.now());
      setError(null);
      setVersion((v) => v + 1);
    };
    socket?.on('stats', add);
    client.request<StatsPayload>('GET', '/stats').then(
      // an event may have come first: it is as fresh
      ({ data }) => kept.length === 0 && add(data),
      (failure: unknown) => !gone && setError(failure),
    );
    return () => {
      gone = true;
      socket?.off('stats', add);
    };
  }, [client]);

  return { history, version, error };
}
