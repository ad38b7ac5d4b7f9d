import type { ServerResponse } from 'node:http';
import { addTo, type Expiry, expireAt, removeFrom } from './bindingIndex.js';
import {
  BadRequestError,
  ExpectedError,
  ForbiddenError,
  TokenError,
  TooManyRequestsError,
  UnauthorizedError,
} from './errors.js';
import type { FluxModelClass } from './FluxModel.js';
import type { FluxRequest } from './http.js';
import type { Logger } from './log.js';
import { ModelController } from './ModelController.js';
import { type Group, noTeam, type PermissionTeam, type PermissionUser } from './permissions.js';
import type { UnbindReason } from './protocol.js';
import type { PubSub, StreamSubscriber } from './pubsub.js';
import { RecentRevocations } from './revocation.js';
import type { RouteRecord } from './routes.js';

/**
 * One-way clients (docs/protocol.md#8-server-sent-events): `GET /events?models=alert,message` streams, as
 * Server-Sent Events, the model events a socket of the same user subscribed to those models would get.
 * A stream is a {@link StreamSubscriber} of the pub/sub (lib/pubsub.ts): same rooms, same deliveries, same
 * transitions, same `subscription:refresh`. It is tied to the session of its token like a bound socket:
 * it ends on the session's revocation (on every instance, through the same bus announcement) and at the
 * token's expiry, and the graceful stop ends it. Wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 *
 * ```
 * event: ready            ← once the stream is in its rooms: run `find` now, nothing is missed
 * data: {"heartbeatMs":15000}
 *
 * event: model:alert
 * data: {"verb":"created","id":5,"data":{…}}
 *
 * : ping                  ← every `events.heartbeatMs`
 *
 * event: auth:revoked     ← the last event, then the response ends
 * data: {"reason":"revoked"}
 * ```
 */

/** Who a stream belongs to: the session of the token that opened it. */
export interface StreamAuth {
  /** Undefined when the request was authenticated without a session: then no revocation ends it. */
  sessionId?: number;
  userId: number;
  tenantId: number;
  /** When the token expires (ms since epoch): the stream ends then. Undefined: never. */
  expiresAt?: number;
}

/** One model of a stream and the read groups of its user for it (the rooms it joins). */
export interface StreamSubscription {
  /** Public model name, as in `model:<name>` events (`alertButton`). */
  model: string;
  groups: readonly Group[];
}

/** Why a stream was ended by the server, each told by its last event (see {@link EventStreams}). */
export type StreamEndReason = UnbindReason | 'shutdown';

export interface EventStreamsOptions {
  pubsub: PubSub;
  log: Pick<Logger, 'warn'>;
  /** Interval of the `: ping` comment lines, ms (`events.heartbeatMs`). */
  heartbeatMs: number;
  /** Streams one user may hold open at once on this instance; more are refused with 429. 0: no cap. */
  maxStreamsPerUser: number;
  /**
   * The models a stream may name, by public name: those a socket may subscribe to (see
   * {@link subscribableModels}).
   */
  models: ReadonlyMap<string, FluxModelClass>;
  /**
   * Bytes a stream may have waiting to be sent (a client that does not read) before it is cut off, so
   * that one slow client cannot hold an unbounded buffer. Default {@link MAX_BUFFERED_BYTES}.
   */
  maxBufferedBytes?: number;
}

/** Default of {@link EventStreamsOptions.maxBufferedBytes}: 1 MiB. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The response headers of a stream: no caching, no proxy buffering (nginx), no compression. */
export const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/**
 * One Server-Sent Events frame: `event: <name>` and one `data:` line per line of `data` (JSON has none,
 * but the format allows several), then the blank line that dispatches it.
 */
export function sseFrame(event: string, data: string): string {
  return `event: ${event}\n${data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('')}\n`;
}

/**
 * The models a socket may subscribe to — those with a `subscribe` action of a {@link ModelController} in
 * the route table (`POST /<model>/subscribe`) — by public name. These are the models a stream may name.
 */
export function subscribableModels(
  routes: readonly RouteRecord[],
  controllers: Readonly<Record<string, object>>,
): Map<string, FluxModelClass> {
  const models = new Map<string, FluxModelClass>();
  for (const route of routes) {
    const controller = controllers[route.controller];
    if (route.action !== 'subscribe' || !(controller instanceof ModelController)) continue;
    const model = (controller as unknown as { model: FluxModelClass }).model;
    models.set(model.publicName, model);
  }
  return models;
}

/** An open stream: a pub/sub subscriber writing to one HTTP response. */
class EventStream implements StreamSubscriber {
  readonly kind = 'stream';
  readonly subscriptions = new Map<string, string[]>();
  heartbeat?: NodeJS.Timeout;
  expiry?: Expiry;
  /** Set once the stream is over (ended by the server, or its connection closed). */
  over = false;

  constructor(
    readonly id: string,
    readonly auth: StreamAuth,
    private readonly res: ServerResponse,
    private readonly owner: EventStreams,
  ) {}

  send(event: string, payload: unknown): void {
    this.write(sseFrame(event, this.owner.serialize(payload)));
  }

  /** A comment line (`: <text>`), which clients ignore: keeps proxies from closing an idle stream. */
  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  /** Sends `event` (the reason), then ends the response. */
  end(event?: string, payload?: unknown): void {
    if (this.over) return;
    if (event) this.send(event, payload);
    this.owner.forget(this);
    this.res.end();
  }

  private write(text: string): void {
    if (this.over) return;
    if (this.res.writableLength > this.owner.maxBufferedBytes) {
      // the client does not read: cut it off rather than buffer without bound (it re-syncs on reconnect)
      this.owner.slowClient(this);
      this.owner.forget(this);
      this.res.destroy();
      return;
    }
    this.res.write(text);
  }
}

/**
 * The Server-Sent Events streams of this instance (`GET /events`): opens them (auth, models, limits),
 * joins them to the rooms of their user's read groups, keeps them alive with `: ping` comments, and ends
 * them — the session revoked ({@link endSession}), the token expired, the server stopping
 * ({@link closeAll}) — each with a last event naming the reason: `auth:revoked` / `auth:expired`
 * `{"reason"}` as sockets get them, `server:shutdown` `{"reason": "Server shutting down"}`. A stream whose
 * client disconnects leaves its rooms and gives its place back at once.
 */
export class EventStreams {
  readonly maxBufferedBytes: number;
  private readonly streams = new Set<EventStream>();
  private readonly bySession = new Map<number, Set<EventStream>>();
  private readonly byUser = new Map<number, Set<EventStream>>();
  /** Sessions revoked lately: a stream authenticated just before the revocation may not open after it. */
  private readonly revoked = new RecentRevocations();
  /** Model names as a request may write them (lower-case) → public name. */
  private readonly names = new Map<string, string>();
  private closed = false;
  private nextId = 1;
  private lastPayload?: unknown;
  private lastJson = '';

  constructor(private readonly options: EventStreamsOptions) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
    for (const name of options.models.keys()) this.names.set(name.toLowerCase(), name);
  }

  /** Streams open on this instance. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Serves `GET /events` (HTTP only): reads the models of `?models=a,b` (or a `models` list in `?data=`),
   * checks the request's user may read each, then opens the stream ({@link open}). Names are
   * case-insensitive (`alertbutton` is `alertButton`); events use the public name.
   * @throws UnauthorizedError 401 without an authenticated user; BadRequestError 400 when no model is
   *   named or one is unknown (not a model a socket may subscribe to); ForbiddenError 403 for a model the
   *   user has no read group for; and what {@link open} throws. Nothing is written before they are thrown.
   */
  serve(req: FluxRequest, res: ServerResponse): void {
    if (!req.user || !req.tenant) throw new UnauthorizedError();
    const subscriptions = this.subscriptions(req.data.models, req.team ?? noTeam, req.user);
    this.open(
      res,
      {
        sessionId: req.session?.id,
        userId: req.user.id,
        tenantId: req.tenant.id,
        expiresAt: req.authExpiresAt,
      },
      subscriptions,
    );
  }

  /**
   * The models named by `models` (a comma-separated string, or a list of them) with `user`'s read groups.
   * @throws BadRequestError 400 for no model or an unknown one; ForbiddenError 403 for a model `user` may
   *   not read.
   */
  subscriptions(models: unknown, team: PermissionTeam, user: PermissionUser): StreamSubscription[] {
    const list = (Array.isArray(models) ? models : [models]).flatMap((value) =>
      typeof value === 'string' ? value.split(',') : value === undefined ? [] : [null],
    );
    if (list.includes(null))
      throw new BadRequestError('models must be model names separated by commas: ?models=alert,message');
    const names = [...new Set((list as string[]).map((name) => name.trim()).filter(Boolean))];
    if (names.length === 0) throw new BadRequestError('Name the models to stream: ?models=alert,message');
    const subscriptions = new Map<string, StreamSubscription>();
    for (const name of names) {
      const publicName = this.names.get(name.toLowerCase());
      if (!publicName) {
        throw new BadRequestError(
          `Unknown model "${name.slice(0, 50)}": one of ${[...this.options.models.keys()].join(', ')}`,
        );
      }
      const groups = this.options.models.get(publicName)!.getUserReadGroups(team, user);
      if (groups.length === 0) throw new ForbiddenError(`Not allowed to read ${publicName}`);
      subscriptions.set(publicName, { model: publicName, groups });
    }
    return [...subscriptions.values()];
  }

  /**
   * Opens a stream on `res`: checks it may open, sends the headers ({@link STREAM_HEADERS}), joins the rooms of
   * `subscriptions` in `auth.tenantId`, then sends `event: ready` `data: {heartbeatMs}` — every change delivered from
   * then on reaches the stream, so a client may `find` once it has `ready` without missing one. Then a
   * `: ping` comment every `heartbeatMs`, until the stream ends. All in one turn of the event loop.
   * @returns the stream, or undefined when the client had already gone (nothing to send)
   * @throws ExpectedError 503 `ShuttingDown` once {@link closeAll} ran; TokenError 403 `TokenRevoked`
   *   when the session was revoked since the request was authenticated; TooManyRequestsError 429 when the
   *   user holds `maxStreamsPerUser` streams on this instance. Nothing is written before they are thrown.
   */
  open(
    res: ServerResponse,
    auth: StreamAuth,
    subscriptions: readonly StreamSubscription[],
  ): StreamSubscriber | undefined {
    if (this.closed) throw new ExpectedError(503, 'ShuttingDown', 'The server is shutting down: reconnect');
    if (auth.sessionId !== undefined && this.revoked.has(auth.sessionId))
      throw new TokenError('TokenRevoked', 'Token revoked');
    const max = this.options.maxStreamsPerUser;
    if (max > 0 && (this.byUser.get(auth.userId)?.size ?? 0) >= max)
      throw new TooManyRequestsError(1, `At most ${max} event streams at once per user`);
    // gone while it was authenticated: its `close` has passed, and would never free the stream
    if (res.destroyed || !res.socket || res.socket.destroyed) return undefined;

    const stream = new EventStream(`stream:${this.nextId++}`, auth, res, this);
    this.streams.add(stream);
    if (auth.sessionId !== undefined) addTo(this.bySession, auth.sessionId, stream);
    addTo(this.byUser, auth.userId, stream);
    res.once('close', () => this.forget(stream));

    res.writeHead(200, STREAM_HEADERS);
    res.socket.setNoDelay(true);
    for (const { model, groups } of subscriptions)
      this.options.pubsub.subscribe(stream, auth.tenantId, model, groups);
    stream.send('ready', { heartbeatMs: this.options.heartbeatMs });
    stream.heartbeat = setInterval(() => stream.comment('ping'), this.options.heartbeatMs);
    stream.heartbeat.unref();
    this.armExpiry(stream);
    return stream;
  }

  /**
   * Ends every stream of a session on this instance, with `auth:<reason>` `{reason}` as their last event
   * (`revoked`: a logout or revocation; `expired`). A revoked session is remembered (as
   * `SessionBindings.unbindSession` does for sockets) so that no stream of it opens afterwards, however
   * late its request was authenticated. Call it wherever sockets of the session are unbound.
   * @returns how many streams were ended
   */
  endSession(sessionId: number, reason: UnbindReason): number {
    if (reason === 'revoked') this.revoked.remember(sessionId);
    const streams = [...(this.bySession.get(sessionId) ?? [])];
    for (const stream of streams) stream.end(`auth:${reason}`, { reason });
    return streams.length;
  }

  /** The open streams of `userId` on this instance (to recompute their rooms after a permission change). */
  streamsOfUser(userId: number): StreamSubscriber[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /**
   * Ends every stream with `server:shutdown` `{"reason": "Server shutting down"}` and refuses new ones
   * (503): the graceful stop. The clients reconnect (to another instance) and `find` again.
   * @returns how many streams were ended
   */
  closeAll(): number {
    this.closed = true;
    const streams = [...this.streams];
    for (const stream of streams) stream.end('server:shutdown', { reason: 'Server shutting down' });
    return streams.length;
  }

  /** `payload` as JSON, serialized once for all the streams of one delivery (they get the same object). */
  serialize(payload: unknown): string {
    if (payload === undefined) return '{}';
    if (payload !== this.lastPayload) {
      this.lastJson = JSON.stringify(payload);
      this.lastPayload = payload;
    }
    return this.lastJson;
  }

  /** Forgets `stream`: it leaves its rooms, its timers stop, its place is given back. Idempotent. */
  forget(stream: EventStream): void {
    if (stream.over) return;
    stream.over = true;
    clearInterval(stream.heartbeat);
    stream.expiry?.cancel();
    this.options.pubsub.unsubscribeAll(stream);
    this.streams.delete(stream);
    if (stream.auth.sessionId !== undefined) removeFrom(this.bySession, stream.auth.sessionId, stream);
    removeFrom(this.byUser, stream.auth.userId, stream);
    if (this.streams.size === 0) this.lastPayload = undefined;
  }

  /** Reports a stream cut off because its client did not read. */
  slowClient(stream: EventStream): void {
    this.options.log.warn(
      `event stream ${stream.id} of user ${stream.auth.userId} closed: over ${this.maxBufferedBytes} bytes unsent`,
    );
  }

  private armExpiry(stream: EventStream): void {
    const { expiresAt } = stream.auth;
    if (expiresAt === undefined || stream.over) return;
    stream.expiry = expireAt(expiresAt, () => stream.end('auth:expired', { reason: 'expired' }));
  }
}
