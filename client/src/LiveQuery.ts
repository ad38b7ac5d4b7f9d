import type { ModelEventPayload } from './generated/protocol.js';
import type { FindParams } from './models.js';
import { type AttributeKinds, compileFilter, compileSort } from './query.js';

/** The parameters of a live query: `find`'s, without `offset` (a live list always starts at the top). */
export type LiveParams<T> = Omit<FindParams<T>, 'offset'>;

/** What changed in a live query's list, by item. */
export interface LiveChange<T> {
  /** Items that entered the list. */
  added: T[];
  /** Items whose data changed (the new version). */
  updated: T[];
  /** Items that left the list (their last version). */
  removed: T[];
}

/** A listener of a live query: the whole list after each change, and what changed. */
export type LiveListener<T> = (items: readonly T[], change: LiveChange<T>) => void;

/**
 * Where the events of one model come from — the socket, or a Server-Sent Events stream when there is no
 * socket. A feed is shared by every live query of its model.
 */
export interface LiveFeed {
  /**
   * Reads the items with the feed's subscription in place: every change committed after the read arrives
   * as an event (`find` with `subscribe: true` over the socket; the stream's `ready` before an HTTP `find`).
   */
  find(params: LiveParams<unknown>): Promise<unknown[]>;
  /** The model's last live query closed: stop its events (leave its rooms, close its stream). */
  close(): void;
}

/** What a feed tells the live queries of its model. */
export interface LiveFeedHandlers {
  /** A `model:<name>` event. */
  change(payload: ModelEventPayload): void;
  /** What the user may read changed without a change to the items (`subscription:refresh`). */
  refresh(): void;
  /** Events may have been missed (the socket or the stream reconnected): read everything again. */
  reset(): void;
}

/** Opens the feed of `model`; `handlers` receive its events. */
export type LiveFeedFactory = (model: string, handlers: LiveFeedHandlers) => LiveFeed;

type Row = Readonly<Record<string, unknown>>;
type Id = unknown;

/** Limit `find` applies when none is given (docs/protocol.md). */
const DEFAULT_LIMIT = 100;
/** Live query reads one client runs at once. */
const MAX_READS = 1;
/** First and longest wait before reading again after the server said it was busy or unreachable, ms. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
/** Wait before reading again after the window lost items, ms: the removals meanwhile share one read. */
const READ_AGAIN_MS = 100;
/** Items left out of a live query whose last version it keeps, against late events (see `LiveQuery.gone`). */
const MAX_GONE = 1_000;

/**
 * The live queries of one client, grouped by model so that all the queries of a model share one feed:
 * one subscription, one event listener, one `unsubscribe` when the last of them closes.
 */
export class LiveQueries {
  private readonly models = new Map<string, { feed: LiveFeed; queries: Set<LiveQuery<unknown>> }>();
  /** Reads under way, and those waiting for their turn: one client reads one live query at a time. */
  private reading = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly openFeed: LiveFeedFactory,
    private readonly kinds: (model: string) => AttributeKinds,
  ) {}

  /** A live query of `model` (see {@link LiveQuery}). */
  open<T>(model: string, params: LiveParams<T>): LiveQuery<T> {
    if ((params as { offset?: unknown }).offset !== undefined)
      throw new TypeError('A live query has no offset');
    let entry = this.models.get(model);
    if (!entry) {
      const queries = new Set<LiveQuery<unknown>>();
      const each = (action: (query: LiveQuery<unknown>) => void) => () => {
        for (const query of queries) action(query);
      };
      const feed = this.openFeed(model, {
        change: (payload) => {
          for (const query of queries) query.receive(payload);
        },
        refresh: each((query) => query.refetch()),
        reset: each((query) => query.refetch()),
      });
      entry = { feed, queries };
      this.models.set(model, entry);
    }
    const { feed, queries } = entry;
    const query: LiveQuery<T> = new LiveQuery<T>(params, this.kinds(model), {
      find: (find) => this.inTurn(() => feed.find(find)),
      close: () => {
        queries.delete(query as LiveQuery<unknown>);
        if (queries.size > 0) return;
        this.models.delete(model);
        feed.close();
      },
    });
    queries.add(query as LiveQuery<unknown>);
    query.refetch();
    return query;
  }

  /**
   * Runs the reads of all live queries one after another: the server admits a client's expensive reads
   * (searches, sorted pages) one at a time and refuses a crowd of them with 429, and a burst of reads
   * after a reconnection should not stampede it.
   */
  private async inTurn<R>(read: () => Promise<R>): Promise<R> {
    if (this.reading >= MAX_READS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.reading++;
    try {
      return await read();
    } finally {
      this.reading--;
      this.waiting.shift()?.();
    }
  }

  /** The session ended: nothing is readable, every list empties (and fills again after a login). */
  clear(): void {
    for (const { queries } of this.models.values()) for (const query of queries) query.clear();
  }

  /** A session started: every query reads again. */
  refetchAll(): void {
    for (const { queries } of this.models.values()) for (const query of queries) query.refetch();
  }
}

/**
 * A list that always equals what a fresh `find` with the same parameters would return for the user: it
 * reads with its feed's subscription in place, then applies each `created` / `updated` / `destroyed`
 * event itself — evaluating the filter and the sort as the server does (client/src/query.ts), keeping the
 * first `limit` items — and reads again only when it cannot know the answer: an item left a full window
 * (the next one is on the server), the user's permissions changed (`subscription:refresh`), or events
 * may have been missed (a reconnection). A read again reports only what differs, and unchanged items keep
 * their identity. Create it with `client.live(model, params)`.
 */
export class LiveQuery<T> {
  private list: T[] = [];
  private readonly byId = new Map<Id, T>();
  /**
   * The last version (`updatedAt`) of each item an event left out of the list — destroyed, no longer
   * matching, past a full window — by id, oldest first, at most {@link MAX_GONE}: a late event of a version
   * not newer is ignored.
   */
  private readonly gone = new Map<Id, string>();
  /** True when the list holds every matching item (the server has no more). */
  private complete = true;
  private readonly listeners = new Set<LiveListener<T>>();
  private closed = false;
  /** Events received while a read is in flight, applied over its result. */
  private pending: ModelEventPayload[] | null = null;
  /** The read in flight, and whether another must follow it (something changed during it). */
  private fetching: Promise<void> | null = null;
  private fetchAgain = false;
  private generation = 0;
  /** The wait before the next retry of a refused read, ms (0: none failed). */
  private retryMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private soonTimer: ReturnType<typeof setTimeout> | null = null;
  private resolveReady!: () => void;
  private rejectReady!: (error: unknown) => void;
  private readonly matches: (item: Row) => boolean;
  private readonly compare: (a: Row, b: Row) => number;
  private readonly limit: number;
  /** The last read's error, if it failed (the list then stays as it was). */
  error: unknown = null;
  /** Resolves once the first read is in; rejects with its FluxError (the query keeps trying after). */
  readonly ready: Promise<void>;

  /** @internal use `client.live` */
  constructor(
    private readonly params: LiveParams<T>,
    kinds: AttributeKinds,
    private readonly feed: { find(params: LiveParams<unknown>): Promise<unknown[]>; close(): void },
  ) {
    this.matches = compileFilter(params.filters, kinds);
    this.compare = compileSort(params.sort as string | string[] | undefined, kinds);
    this.limit = params.limit ?? DEFAULT_LIMIT;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
  }

  /** The current items, in the query's order. */
  get items(): readonly T[] {
    return this.list;
  }

  /** Calls `listener` after each change of the items; returns the function that stops it. */
  subscribe(listener: LiveListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the query; the last query of a model also ends the model's subscription. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.listeners.clear();
    this.feed.close();
  }

  /** @internal An event of the model. */
  receive(change: ModelEventPayload): void {
    if (this.closed) return;
    if (this.pending) {
      this.pending.push(change);
      return;
    }
    const diff = emptyChange<T>();
    this.apply(change, diff);
    this.notify(diff);
  }

  /**
   * Reads again in {@link READ_AGAIN_MS}: the window lost items whose successors only the server knows.
   * Meanwhile the list is the answer's first items, short of `limit`; the removals until the read share it
   * (at 1,000 events/s on a full window of 1,000, a read per removal was 180 reads of the whole window a
   * second — docs/performance.md "Client").
   */
  private refetchSoon(): void {
    if (this.soonTimer || this.closed) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      this.refetch();
    }, READ_AGAIN_MS);
    (this.soonTimer as { unref?: () => void }).unref?.();
  }

  /** @internal Reads the items again (coalesced: one read at a time, one more if asked meanwhile). */
  refetch(): void {
    if (this.closed) return;
    if (this.soonTimer) {
      clearTimeout(this.soonTimer);
      this.soonTimer = null;
    }
    // a read now replaces the one planned after a failure
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    const generation = this.generation;
    this.pending ??= [];
    this.fetching = this.read(generation).finally(() => {
      this.fetching = null;
      if (this.fetchAgain && !this.closed) {
        this.fetchAgain = false;
        this.refetch();
      }
    });
  }

  /** @internal The session ended: nothing is readable. */
  clear(): void {
    this.generation++;
    this.pending = null;
    this.fetchAgain = false;
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.soonTimer = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryMs = 0;
    this.gone.clear();
    this.replace([]);
    this.complete = true;
  }

  private async read(generation: number): Promise<void> {
    let items: T[];
    try {
      items = (await this.feed.find(this.params as LiveParams<unknown>)) as T[];
    } catch (error) {
      if (generation !== this.generation) return;
      this.pending = null;
      this.error = error;
      if (retryable(error)) this.retryLater(error);
      else this.rejectReady(error);
      return;
    }
    this.retryMs = 0;
    if (this.closed || generation !== this.generation) return;
    this.error = null;
    const pending = this.pending ?? [];
    this.pending = null;
    const diff = this.replace(items, false);
    this.complete = items.length < this.limit;
    for (const change of pending) this.apply(change, diff);
    this.notify(diff);
    this.resolveReady();
  }

  /**
   * Replaces the list with `items`, keeping the identity of unchanged items; returns what changed.
   * Notifies unless `notify` is false.
   */
  private replace(items: T[], notify = true): LiveChange<T> {
    const diff = emptyChange<T>();
    const next = new Map<Id, T>();
    const list = items.map((item) => {
      const id = idOf(item);
      const old = this.byId.get(id);
      if (old === undefined) diff.added.push(item);
      else if (!sameJson(old, item)) diff.updated.push(item);
      else item = old;
      next.set(id, item);
      return item;
    });
    for (const [id, old] of this.byId) if (!next.has(id)) diff.removed.push(old);
    this.list = list;
    this.byId.clear();
    for (const [id, item] of next) this.byId.set(id, item);
    if (notify) this.notify(diff);
    return diff;
  }

  /** Applies one event to the list, recording what changed in `diff`. */
  private apply({ verb, id, data }: ModelEventPayload, diff: LiveChange<T>): void {
    const old = this.byId.get(id);
    const item = data as T;
    // A late event (writes on two instances can reach a subscriber out of order): a version older than the
    // one held — a `destroyed` too, whose data is the version it removes (a permission transition out of
    // view that arrives after the one back in) — or not newer than the last one seen to leave the list: a
    // late update or create must not bring back an item destroyed or moved out since.
    if (old !== undefined ? olderThan(item, old) : notNewer(item, this.gone.get(id))) return;
    if (verb === 'destroyed' || !this.matches(item as Row)) {
      this.left(id, item);
      if (old === undefined) return;
      this.remove(old);
      diff.removed.push(old);
      // the window lost an item: the next one is on the server
      if (!this.complete) this.refetchSoon();
      return;
    }
    if (old !== undefined) this.remove(old);
    const at = this.position(item);
    // the same sort keys: the same place, the last of a full window included
    const stays = old !== undefined && this.compare(old as Row, item as Row) === 0;
    if (!this.complete && at === this.list.length && !stays) {
      // past every item of a full window: not in it (and if it was, the item that now follows is unknown)
      this.left(id, item);
      if (old !== undefined) {
        diff.removed.push(old);
        this.refetchSoon();
      }
      return;
    }
    this.list = [...this.list.slice(0, at), item, ...this.list.slice(at)];
    this.byId.set(id, item);
    this.gone.delete(id);
    (old === undefined ? diff.added : diff.updated).push(item);
    if (this.list.length > this.limit) {
      const dropped = this.list[this.list.length - 1]!;
      this.list = this.list.slice(0, -1);
      this.byId.delete(idOf(dropped));
      this.left(idOf(dropped), dropped);
      this.complete = false;
      diff.removed.push(dropped);
    }
  }

  /** Notes the version of an item an event left out of the list (see {@link gone}). */
  private left(id: Id, item: T): void {
    const version = (item as { updatedAt?: unknown }).updatedAt;
    if (typeof version !== 'string') return;
    this.gone.delete(id);
    this.gone.set(id, version);
    if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.keys().next().value);
  }

  /** Reads again after the server's `Retry-After`, or an exponential wait (0.5 s doubling to 10 s). */
  private retryLater(error: unknown): void {
    const after = Number(
      (error as { response?: { headers?: Record<string, string> } }).response?.headers?.['retry-after'],
    );
    this.retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.retryMs * 2));
    const delay = Number.isFinite(after) && after > 0 ? Math.max(after * 1000, this.retryMs) : this.retryMs;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.refetch();
    }, delay);
    (this.retryTimer as { unref?: () => void }).unref?.();
  }

  private remove(item: T): void {
    this.byId.delete(idOf(item));
    this.list = this.list.filter((other) => other !== item);
  }

  /** Where `item` goes in the sorted list (binary search: ids make the order total). */
  private position(item: T): number {
    let low = 0;
    let high = this.list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compare(this.list[middle] as Row, item as Row) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private notify(diff: LiveChange<T>): void {
    if (!diff.added.length && !diff.updated.length && !diff.removed.length) return;
    for (const listener of this.listeners) listener(this.list, diff);
  }
}

/**
 * True for a refusal that passes: 429 (too many reads at once), 503 (busy, database unavailable, shutting
 * down) and no reply at all (status 0). Anything else (400 for a bad filter, 401, 403) is final.
 */
function retryable(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return status === 0 || status === 429 || status === 503;
}

function emptyChange<T>(): LiveChange<T> {
  return { added: [], updated: [], removed: [] };
}

function idOf(item: unknown): Id {
  return (item as { id?: unknown }).id;
}

/** True when `item` is no newer than the `version` (an `updatedAt`) of an item that left the list. */
function notNewer(item: unknown, version: string | undefined): boolean {
  const a = (item as { updatedAt?: unknown }).updatedAt;
  if (version === undefined || typeof a !== 'string') return false;
  return Date.parse(a) <= Date.parse(version);
}

/** True when `item` is an older version than `current` (by `updatedAt`, when both have one). */
function olderThan(item: unknown, current: unknown): boolean {
  const a = (item as { updatedAt?: unknown }).updatedAt;
  const b = (current as { updatedAt?: unknown }).updatedAt;
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  return Date.parse(a) < Date.parse(b);
}

/**
 * True when two items hold the same values, compared attribute by attribute and JSON values as JSON
 * (stringifying whole items was most of a read's cost).
 */
function sameJson(a: unknown, b: unknown): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const key in x) {
    count++;
    const value = x[key];
    const other = y[key];
    if (value === other) continue;
    if (typeof value !== 'object' || typeof other !== 'object' || value === null || other === null)
      return false;
    if (JSON.stringify(value) !== JSON.stringify(other)) return false;
  }
  for (const _ in y) count--;
  return count === 0;
}
