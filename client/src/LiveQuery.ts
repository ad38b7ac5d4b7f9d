import type { ModelEventPayload, SubscriptionRefreshPayload } from '../../lib/protocol.js';
import type { FindParams } from './models.js';

/** What a live query needs of its client: requests and the socket's events. */
export interface LiveSource {
  /** `find` with `subscribe: true` over the socket. */
  find(params: FindParams<unknown> & { subscribe: true }): Promise<unknown[]>;
  on(event: string, listener: (payload: never) => void): void;
  off(event: string, listener: (payload: never) => void): void;
}

/** A listener of a live query: the whole list after each change. */
export type LiveListener<T> = (items: readonly T[]) => void;

/**
 * A list kept up to date by the model's events (SCAFFOLDING, docs/client.md "Not done yet"): it fetches
 * with `find` + `subscribe: true` (rooms joined before the query, so no change is missed) and applies
 * `created` / `updated` / `destroyed` naively — by id, appending new items, with **no local evaluation of
 * the filter, sort or limit**: an item created or updated so that it no longer matches the filter stays
 * (or enters) the list, and new items are not placed in sort order. It refetches everything on
 * `subscription:refresh` for its model and after a reconnection.
 */
export class LiveQuery<T> {
  private list: T[] = [];
  private readonly listeners = new Set<LiveListener<T>>();
  private closed = false;
  private fetches = 0;
  /** Events received while a fetch is in flight, applied over its result. */
  private pending: ModelEventPayload[] | null = null;
  private readonly onChange = (change: ModelEventPayload) => {
    if (this.pending) this.pending.push(change);
    else if (this.apply(change)) this.notify();
  };
  private readonly onRefresh = (payload: SubscriptionRefreshPayload) => {
    if (payload.models.includes(this.model)) this.refetch().catch(() => {});
  };
  // a failed refetch keeps the last list; the next event, refresh or reconnection tries again
  private readonly onReconnect = () => void this.refetch().catch(() => {});
  /** Resolves once the first fetch is in; rejects with its FluxError. */
  readonly ready: Promise<void>;

  constructor(
    private readonly source: LiveSource,
    private readonly model: string,
    private readonly params: FindParams<T>,
  ) {
    source.on(`model:${model}`, this.onChange as (payload: never) => void);
    source.on('subscription:refresh', this.onRefresh as (payload: never) => void);
    source.on('connect', this.onReconnect);
    this.ready = this.refetch();
  }

  /** The current items. */
  get items(): readonly T[] {
    return this.list;
  }

  /** Calls `listener` after each change of the items; returns the function that stops it. */
  subscribe(listener: LiveListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening to the model's events (the socket stays subscribed to the model's rooms). */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.source.off(`model:${this.model}`, this.onChange as (payload: never) => void);
    this.source.off('subscription:refresh', this.onRefresh as (payload: never) => void);
    this.source.off('connect', this.onReconnect);
  }

  private async refetch(): Promise<void> {
    // overlapping fetches (a reconnect during the first one): only the last one's result is kept
    const fetch = ++this.fetches;
    this.pending ??= [];
    let items: T[];
    try {
      items = (await this.source.find({ ...(this.params as FindParams<unknown>), subscribe: true })) as T[];
    } catch (error) {
      if (fetch === this.fetches) this.pending = null;
      throw error;
    }
    if (fetch !== this.fetches || this.closed) return;
    this.list = items;
    for (const change of this.pending ?? []) this.apply(change);
    this.pending = null;
    this.notify();
  }

  /** Applies one event; true when the list changed. */
  private apply({ verb, id, data }: ModelEventPayload): boolean {
    const index = this.list.findIndex((item) => (item as { id?: unknown }).id === id);
    if (verb === 'destroyed') {
      if (index < 0) return false;
      this.list = this.list.filter((_, i) => i !== index);
    } else if (index < 0) {
      this.list = [...this.list, data as T];
    } else {
      this.list = this.list.map((item, i) => (i === index ? (data as T) : item));
    }
    return true;
  }

  private notify(): void {
    for (const listener of this.listeners) listener(this.list);
  }
}
