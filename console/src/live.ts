import type { FluxClient, Item, LiveParams, ModelName } from '@flux/client';
import { useEffect, useState } from 'preact/hooks';
import { session } from './state';

/** A live list's state in a component: the items, whether the first read is in, its last failure. */
export interface LiveState<T> {
  items: readonly T[];
  ready: boolean;
  error: unknown;
}

/**
 * `client.live(model, params)` as a hook (docs/client.md "Live queries"): the component re-renders with
 * every change, and the query closes when the component goes or `params` change (compared as JSON).
 * `params` null: no query (e.g. while a filter is incomplete).
 */
export function useLive<N extends ModelName>(
  model: N,
  params: LiveParams<Item<N>> | null,
): LiveState<Item<N>> {
  const client: FluxClient = session.client.value;
  const [state, setState] = useState<LiveState<Item<N>>>({ items: [], ready: false, error: null });
  // params are compared through their JSON: a new object with the same content keeps the query
  const key = JSON.stringify(params);
  useEffect(() => {
    if (!params) return;
    const live = client.live(model, params);
    setState({ items: live.items, ready: false, error: null });
    const stop = live.subscribe((items) => setState({ items, ready: true, error: live.error }));
    live.ready.then(
      () => setState({ items: live.items, ready: true, error: null }),
      (error: unknown) => setState({ items: live.items, ready: true, error }),
    );
    return () => {
      stop();
      live.close();
    };
  }, [client, model, key]);
  return state;
}
