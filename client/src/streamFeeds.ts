import { type EventStreamHandle, openEventStream } from './eventStream.js';
import { FluxError } from './FluxError.js';
import type { ModelEventPayload, SubscriptionRefreshPayload } from './generated/protocol.js';
import type { LiveFeed, LiveFeedHandlers, LiveParams } from './LiveQuery.js';

/**
 * How long an event stream must have served (since its `ready`) for the next one to open at once when it
 * ends; one that ends sooner is opened again after a growing wait, ms.
 */
const STREAM_SERVED_MS = 1_000;
/** First and longest wait before opening a stream again after a failure, ms. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
/** Idle timeout when the server does not say its heartbeat: three times its default of 15 s, ms. */
const DEFAULT_IDLE_MS = 45_000;

/** What the feeds need of their client. */
export interface StreamFeedsClient {
  /** The server's base URL. */
  readonly url: string;
  /** The session's current token (null when logged out). */
  token(): string | null;
  /** The stream of `token` was told its session ended. */
  sessionEnded(token: string, reason: 'revoked' | 'expired'): void;
}

/**
 * The live query feeds of a client without a socket: ONE `GET /events` stream (Server-Sent Events,
 * docs/protocol.md) for every model its live queries watch, so that a client holds one of the user's
 * `events.maxStreamsPerUser` places however many models it shows.
 *
 * - A read waits for the stream's `ready` (its rooms joined), then runs `find` over HTTP: no change after
 *   the read is missed. The stream starts at the end of the turn that asked for it, with every model
 *   registered by then: the lists a page opens together share one stream and read once each.
 * - A read waiting for a stream that is replaced before its `ready` waits for the replacement; one waiting
 *   for a stream that is closed (logout, `close`) fails with a `NetworkError` (never left hanging: the
 *   live queries read one at a time, and a hanging read would stop them all).
 * - A model that the open stream does not carry yet, or a new token (a login, a refresh: the stream of the
 *   previous token ends at its expiry), opens a new stream with every model; once it is ready, the models
 *   of the previous stream read again (events may have been missed in between).
 * - A stream that ends is opened again — at once after one that served {@link STREAM_SERVED_MS}, after a
 *   growing wait (0.5 s doubling to 10 s) when it failed or ended before or soon after `ready`, so a server
 *   or proxy ending every stream is not asked again in a loop — and its models read again. A refusal (401,
 *   403) waits for the next read — after a login.
 * - The idle timeout is three heartbeats, as the server announces them in `ready` (`heartbeatMs`).
 */
export class EventStreamFeeds {
  private readonly models = new Map<string, LiveFeedHandlers>();
  private stream: EventStreamHandle | null = null;
  /** The models and token the open stream carries. */
  private streamModels = new Set<string>();
  private streamToken: string | null = null;
  private ready: Promise<void> | null = null;
  /** Settles {@link ready} while the stream has not said `ready` yet (null once it has, or failed). */
  private pending: {
    resolve(value: Promise<void> | undefined): void;
    reject(error: FluxError): void;
  } | null = null;
  /** The stream is asked for but starts at the end of this turn: models registered meanwhile join it. */
  private starting = false;
  /** Models whose queries read again once the next stream is ready. */
  private stale = new Set<string>();
  private retryMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleMs = DEFAULT_IDLE_MS;
  private closed = false;

  constructor(private readonly client: StreamFeedsClient) {}

  /** The feed of `model`: its events reach `handlers`; `find` reads through `read` once the stream is in. */
  feed(
    model: string,
    handlers: LiveFeedHandlers,
    read: (params: LiveParams<unknown>) => Promise<unknown[]>,
  ): LiveFeed {
    this.models.set(model, handlers);
    return {
      find: async (params) => {
        await this.open();
        return read(params);
      },
      close: () => {
        if (this.models.get(model) !== handlers) return;
        this.models.delete(model);
        // the stream goes on carrying the model (its events are dropped) until it is opened again
        if (this.models.size === 0) this.end();
      },
    };
  }

  /** Closes the stream for good (the client closed): reads fail, nothing is opened again. */
  close(): void {
    this.closed = true;
    this.end();
  }

  /**
   * The session ended and every list emptied: the stream goes, and its models need no read again when the
   * next session's stream is ready (the login reads every list anyway).
   */
  sessionEnded(): void {
    this.end();
    this.streamModels = new Set();
    this.stale.clear();
  }

  /** Resolves when a stream carrying every registered model with the current token is ready. */
  private open(): Promise<void> {
    if (this.closed) return Promise.reject(new FluxError(0, 'NetworkError', 'The client is closed'));
    const token = this.client.token();
    if (this.ready && this.starting && this.streamToken === token) {
      for (const model of this.models.keys()) this.streamModels.add(model);
      return this.ready;
    }
    const covered = [...this.models.keys()].every((model) => this.streamModels.has(model));
    if (this.ready && covered && this.streamToken === token) return this.ready;
    if (!token) return Promise.reject(new FluxError(401, 'Unauthorized', 'Live queries need a session'));
    // the models of the stream being replaced may miss events until the new one is ready
    for (const model of this.streamModels) this.stale.add(model);
    const replaced = this.pending;
    this.pending = null;
    this.end();
    this.streamModels = new Set(this.models.keys());
    this.streamToken = token;
    const opened = new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.starting = true;
      queueMicrotask(() => {
        if (this.ready !== opened) return; // closed or replaced in the same turn: settled by then
        this.starting = false;
        this.start(opened, token);
      });
    });
    // the reads that waited for the replaced stream wait for this one
    replaced?.resolve(opened);
    opened.catch(() => {}); // reported to the reads that wait for it, if any
    this.ready = opened;
    return opened;
  }

  /** Opens the stream of `opened` with every registered model; settles `opened` at its `ready` or end. */
  private start(opened: Promise<void>, token: string): void {
    const models = [...this.models.keys()];
    this.streamModels = new Set(models);
    let readyAt: number | undefined;
    const settle = (error?: FluxError) => {
      const pending = this.pending;
      if (this.ready !== opened || !pending) return;
      this.pending = null;
      if (error) pending.reject(error);
      else pending.resolve(undefined);
    };
    this.stream = openEventStream({
      url: this.client.url,
      token,
      models,
      idleTimeoutMs: this.idleMs,
      onReady: (info) => {
        readyAt = Date.now();
        const heartbeatMs = (info as { heartbeatMs?: unknown } | undefined)?.heartbeatMs;
        if (typeof heartbeatMs === 'number' && heartbeatMs > 0) this.idleMs = heartbeatMs * 3;
        settle();
        const stale = [...this.stale].filter((model) => this.streamModels.has(model));
        this.stale.clear();
        for (const model of stale) this.models.get(model)?.reset();
      },
      onEvent: (name, payload) => {
        if (name.startsWith('model:')) this.models.get(name.slice(6))?.change(payload as ModelEventPayload);
        else if (name === 'subscription:refresh') {
          for (const model of (payload as SubscriptionRefreshPayload).models ?? [])
            this.models.get(model)?.refresh();
        } else if ((name === 'auth:revoked' || name === 'auth:expired') && this.client.token() === token) {
          this.client.sessionEnded(token, name === 'auth:revoked' ? 'revoked' : 'expired');
        }
      },
      onEnd: (error) => {
        if (this.ready !== opened) return; // replaced or closed meanwhile: settled then
        settle(error ?? new FluxError(0, 'NetworkError', 'The event stream ended'));
        this.stream = null;
        this.ready = null;
        for (const model of this.streamModels) this.stale.add(model);
        this.streamModels = new Set();
        // logged out: nothing to follow until a login; a refreshed token follows on at once
        if (this.closed || this.models.size === 0 || !this.client.token()) return;
        if (error && error.status !== 0 && error.status !== 429 && error.status !== 503) return;
        const served = readyAt !== undefined && Date.now() - readyAt >= STREAM_SERVED_MS;
        this.retryMs =
          served && !error
            ? 0
            : Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, (served ? 0 : this.retryMs) * 2));
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.open().catch(() => {}); // a failure schedules the next try
        }, this.retryMs);
        (this.timer as { unref?: () => void }).unref?.();
      },
    });
  }

  /** Closes the stream, if any; the reads still waiting for its `ready` fail. */
  private end(): void {
    clearTimeout(this.timer);
    this.stream?.close();
    this.stream = null;
    this.ready = null;
    this.starting = false;
    const pending = this.pending;
    this.pending = null;
    pending?.reject(new FluxError(0, 'NetworkError', 'The event stream was closed'));
  }
}
