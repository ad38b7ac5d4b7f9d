import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { FluxError } from './FluxError.js';
import type {
  AuthEndedPayload,
  ClientToServerEvents,
  ModelEventPayload,
  ServerToClientEvents,
  SubscriptionRefreshPayload,
  VirtualResponse,
} from './generated/protocol.js';
import { attributeKinds } from './generated/schema.js';
import { decodeToken, refreshDelay } from './jwt.js';
import {
  type LiveFeed,
  type LiveFeedHandlers,
  type LiveParams,
  LiveQueries,
  type LiveQuery,
} from './LiveQuery.js';
import type { CreateInput, FindParams, Input, Item, ModelName } from './models.js';
import { memoryStorage, type TokenStorage } from './storage.js';
import { EventStreamFeeds } from './streamFeeds.js';

/** The options of {@link createClient}. */
export interface ClientOptions {
  /** The server's base URL, e.g. `https://events.example.com`. */
  url: string;
  /** A tenant slug, sent as `x-tenant` (it only matters for anonymous requests such as login). */
  tenant?: string;
  /** Where the token is kept; {@link memoryStorage} by default. A token found there is used at once. */
  storage?: TokenStorage;
  /** `false`: HTTP only. Otherwise socket.io options merged over the client's (reconnection on). */
  socket?: false | Partial<ManagerOptions & SocketOptions>;
  /** How long before its expiry a token is refreshed, ms (default 60 s; at most a third of its life). */
  refreshMarginMs?: number;
  /** How long a socket request waits for its ack, ms (default 10 s). */
  timeoutMs?: number;
}

/** A reply, whichever the transport: `data` is the parsed JSON body, header names are lower-case. */
export interface FluxResponse<T = unknown> {
  statusCode: number;
  headers: Record<string, string>;
  data: T;
}

/** What changed in the client's session (the `auth` event). */
export type AuthEventType = 'login' | 'refresh' | 'revoked' | 'expired' | 'logout';

export interface AuthEvent {
  type: AuthEventType;
  /** The user of a `login`. */
  user?: Item<'user'>;
}

/** The reply of `/auth/login` and `/auth/ip`. */
export interface LoginReply {
  jwt: string;
  user: Item<'user'>;
  team: Item<'team'> | null;
}

/** CRUD on one model (docs/protocol.md §5), typed from the server's model. */
export interface Service<N extends ModelName> {
  find(params?: FindParams<Item<N>>): Promise<Item<N>[]>;
  get(id: number): Promise<Item<N>>;
  /** A body with the model's required attributes ({@link CreateInput}). */
  create(data: CreateInput<N>): Promise<Item<N>>;
  /** `PATCH`: a partial update. */
  patch(id: number, data: Input<N>): Promise<Item<N>>;
  /** `PUT`: also a partial update on Flux. */
  update(id: number, data: Input<N>): Promise<Item<N>>;
  remove(id: number): Promise<Item<N>>;
}

type FluxSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type AuthListener = (event: AuthEvent) => void;

const TOKEN_ERRORS: Record<string, 'revoked' | 'expired'> = {
  TokenRevoked: 'revoked',
  TokenExpired: 'expired',
  InvalidToken: 'expired',
};

/**
 * A connection to a Flux server: requests over the socket while it is connected, over HTTP otherwise, and
 * the session's token (login, refresh before expiry, end on revocation or expiry). Create it with
 * {@link createClient}.
 */
export class FluxClient {
  /** The socket.io connection (null with `socket: false`). Its `model:<name>` events are yours to hear. */
  readonly socket: FluxSocket | null;
  private readonly base: string;
  private readonly storage: TokenStorage;
  private readonly listeners = new Set<AuthListener>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private loggingOut = false;
  /**
   * The session this client last bound its socket to (by the handshake's token or by its own login):
   * a storage shared with another tab may hold another session's token by the time that session ends.
   */
  private boundSessionId: number | null = null;
  private liveQueries?: LiveQueries;
  private streams?: EventStreamFeeds;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.storage = options.storage ?? memoryStorage();
    const token = this.storage.get();
    if (token && !this.isUsable(token)) this.storage.set(null);
    else if (token) this.scheduleRefresh(token);
    this.socket = options.socket === false ? null : this.openSocket(options.socket ?? {});
  }

  /** The current token, or null when logged out. */
  get token(): string | null {
    return this.storage.get();
  }

  /** True while the socket is connected (requests then go over it). */
  get connected(): boolean {
    return !!this.socket?.connected;
  }

  /** Listens to session changes; returns the function that stops listening. */
  on(event: 'auth', listener: AuthListener): () => void {
    void event;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Sends a request over the socket when it is connected, else over HTTP (`?data=<JSON>` for GET).
   * @param options.headers headers of this request only, over the client's own: names are case-insensitive,
   *   so an `authorization` or `x-tenant` given here replaces the session's token or the client's tenant for
   *   this request (a refusal of a token given here does not end the client's session).
   * @throws {FluxError} for a reply ≥ 400 (same status, code and message on both transports; the reply in
   *   its `response`), or status 0 when no reply came.
   * @example const { data } = await client.request('GET', '/team', { sort: 'name' });
   * @example await client.request('GET', '/auth/me', undefined, { headers: { 'x-request-id': 'a1' } });
   */
  request<T = unknown>(
    method: string,
    url: string,
    data?: unknown,
    options?: { headers?: Record<string, string> },
  ): Promise<FluxResponse<T>> {
    return this.send<T>(method, url, data, this.storage.get(), options?.headers);
  }

  /**
   * Logs in with a login and password (`POST /auth/login`). It resolves once the socket, if connected, is
   * bound to the new session (it then receives `auth:*` events and what only bound sockets get, such as
   * `stats`).
   */
  async login(login: string, password: string): Promise<LoginReply> {
    // a login carries only its own credentials, never the previous session's token
    return this.logInWith('/auth/login', { login, password });
  }

  /** Logs in the user whose `ip` is this client's address (`POST /auth/ip`, kiosk PCs); binds as `login`. */
  async loginByIp(): Promise<LoginReply> {
    return this.logInWith('/auth/ip', undefined);
  }

  private async logInWith(url: string, data: unknown): Promise<LoginReply> {
    const overSocket = this.connected;
    const session = this.startSession(await this.send<LoginReply>('POST', url, data, null));
    // A login over the socket binds it. One over HTTP binds nothing, and a socket that connected while it
    // ran did so without a token: bind it (`POST /auth/jwt` over it). A socket that connects later
    // carries the token in its handshake.
    if (!overSocket && this.socket?.connected) {
      await this.socketRequest(this.socket, 'POST', '/auth/jwt', { jwt: session.jwt }, {}).catch(() => {
        // the socket dropped meanwhile: its reconnection's handshake binds it
      });
    }
    return session;
  }

  private async send<T>(
    method: string,
    url: string,
    data: unknown,
    token: string | null,
    extraHeaders?: Record<string, string>,
  ): Promise<FluxResponse<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (this.options.tenant) headers['x-tenant'] = this.options.tenant;
    for (const [name, value] of Object.entries(extraHeaders ?? {})) headers[name.toLowerCase()] = value;
    // the session's token, unless the caller's headers replaced it
    const sent = token && headers.authorization === `Bearer ${token}` ? token : null;
    const reply = this.socket?.connected
      ? await this.socketRequest(this.socket, method, url, data, headers)
      : await this.httpRequest(method, url, data, headers);
    if (reply.statusCode >= 400) {
      const error = FluxError.fromReply(reply.statusCode, reply.data, reply.headers);
      // the server refused the token we sent: the session is over (another device logged it out)
      if (sent && error.isTokenError && this.storage.get() === sent)
        this.endSession(TOKEN_ERRORS[error.code]!);
      throw error;
    }
    return reply as FluxResponse<T>;
  }

  /**
   * Ends the session on the server (`POST /auth/logout`: every token of it is revoked) and in the client.
   * The client forgets its token even when the server cannot be reached.
   */
  async logout(): Promise<void> {
    if (!this.storage.get()) return;
    // the server tells the socket `auth:revoked` before it answers: that revocation is this logout
    this.loggingOut = true;
    try {
      await this.request('POST', '/auth/logout');
    } finally {
      this.loggingOut = false;
      this.endSession('logout');
    }
  }

  /** Exchanges the token for a fresh one (`POST /auth/jwt`); done by itself before the token expires. */
  async refresh(): Promise<string> {
    const token = this.storage.get();
    if (!token) throw new FluxError(401, 'Unauthorized', 'Not logged in');
    const { data } = await this.request<{ jwt: string }>('POST', '/auth/jwt', { jwt: token });
    if (this.storage.get() !== token) return data.jwt; // logged out or in again meanwhile
    this.storage.set(data.jwt);
    this.scheduleRefresh(data.jwt);
    this.emit({ type: 'refresh' });
    return data.jwt;
  }

  /** CRUD on one model, typed from the server's model classes. */
  service<N extends ModelName>(name: N): Service<N> {
    const path = `/${name.toLowerCase()}`;
    const data = async <T>(method: string, url: string, body?: unknown) =>
      (await this.request<T>(method, url, body)).data;
    return {
      find: (params) => data<Item<N>[]>('GET', path, params),
      get: (id) => data<Item<N>>('GET', `${path}/${id}`),
      create: (body) => data<Item<N>>('POST', path, body),
      patch: (id, body) => data<Item<N>>('PATCH', `${path}/${id}`, body),
      update: (id, body) => data<Item<N>>('PUT', `${path}/${id}`, body),
      remove: (id) => data<Item<N>>('DELETE', `${path}/${id}`),
    };
  }

  /**
   * A list of `name`'s items that always equals what `find(params)` would return now for the session's
   * user (docs/client.md "Live queries"): events applied locally with the server's filter and sort rules,
   * permission changes and reconnections read again, only differences reported. The live queries of one
   * model share one subscription; `close()` of the last one leaves its rooms. Without a socket it reads
   * its events from `GET /events` (Server-Sent Events). Logging out empties every live query; logging in
   * fills them again.
   * @throws {TypeError} for an `offset` (a live list starts at the top).
   * @example
   * const serious = client.live('alert', { filters: { severity: 'serious' }, sort: '-createdAt', limit: 50 });
   * serious.subscribe((items, { added }) => render(items));
   */
  live<N extends ModelName>(name: N, params: LiveParams<Item<N>> = {}): LiveQuery<Item<N>> {
    this.liveQueries ??= new LiveQueries(
      (model, handlers) => this.openFeed(model, handlers),
      (model) => attributeKinds[model] ?? {},
    );
    return this.liveQueries.open(name, params);
  }

  /**
   * The feed of a model's live queries without a socket: the client's one `GET /events` stream, which
   * carries every model its live queries watch (client/src/streamFeeds.ts).
   */
  private streamFeed(model: string, handlers: LiveFeedHandlers): LiveFeed {
    this.streams ??= new EventStreamFeeds({
      url: this.base,
      token: () => this.token,
      sessionEnded: (token, reason) => {
        if (this.token === token) this.endSession(reason);
      },
    });
    const path = `/${model.toLowerCase()}`;
    return this.streams.feed(
      model,
      handlers,
      async (params) => (await this.request<unknown[]>('GET', path, params)).data,
    );
  }

  /** The feed of a model's live queries: the socket's events, or a Server-Sent Events stream. */
  private openFeed(model: string, handlers: LiveFeedHandlers): LiveFeed {
    const socket = this.socket;
    if (!socket) return this.streamFeed(model, handlers);
    // the server refused the socket for good (too many from this address): listen to a stream instead
    let fallback: LiveFeed | null = null;
    const path = `/${model.toLowerCase()}`;
    const onChange = (payload: ModelEventPayload) => handlers.change(payload);
    const onRefresh = ({ models }: SubscriptionRefreshPayload) => {
      if (models.includes(model)) handlers.refresh();
    };
    // a new connection starts with no rooms and may have missed events: read again (the first connection
    // is awaited by the first read itself)
    let lost = false;
    const onDisconnect = () => {
      lost = true;
    };
    const onConnect = () => {
      if (!lost) return;
      lost = false;
      handlers.reset();
    };
    socket.on(`model:${model}`, onChange);
    socket.on('subscription:refresh', onRefresh);
    socket.on('disconnect', onDisconnect);
    socket.on('connect', onConnect);
    return {
      find: async (params) => {
        if (!fallback) {
          try {
            // subscribing is socket only: wait for the connection rather than fall back to HTTP
            await this.connect();
          } catch (error) {
            if (!(error instanceof FluxError) || error.status === 0) throw error;
            fallback = this.streamFeed(model, handlers);
          }
        }
        if (fallback) return fallback.find(params);
        return (await this.request<unknown[]>('GET', path, { ...params, subscribe: true })).data;
      },
      close: () => {
        fallback?.close();
        socket.off(`model:${model}`, onChange);
        socket.off('subscription:refresh', onRefresh);
        socket.off('disconnect', onDisconnect);
        socket.off('connect', onConnect);
        if (socket.connected && this.token) this.request('POST', `${path}/unsubscribe`).catch(() => {}); // a lost socket left its rooms anyway
      },
    };
  }

  /** Closes the socket (requests go over HTTP until {@link connect}). */
  disconnect(): void {
    this.socket?.disconnect();
  }

  /**
   * Opens the socket (again after {@link disconnect}); resolves when it is connected.
   * @throws {FluxError} when the server refuses the connection for good (e.g. 429 too many sockets from
   *   this address); while the server is unreachable socket.io keeps retrying and this waits.
   */
  connect(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        socket.off('connect', onConnect);
        socket.off('connect_error', onError);
      };
      const onConnect = () => {
        done();
        resolve();
      };
      const onError = (error: Error & { data?: unknown }) => {
        // socket.io retries by itself (or a refused token was dropped), unless told not to reconnect
        if (socket.active && socket.io.reconnection()) return;
        done();
        reject(
          error.data ? FluxError.fromReply(0, error.data) : new FluxError(0, 'NetworkError', error.message),
        );
      };
      socket.on('connect', onConnect);
      socket.on('connect_error', onError);
      // an active socket is already connecting (or reconnecting): a second connect() would open it twice
      if (!socket.active) socket.connect();
    });
  }

  /**
   * Closes the socket and the event stream of live queries without a socket, and stops refreshing; the
   * token stays in its storage. Live queries stop following changes.
   */
  close(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.socket?.disconnect();
    this.streams?.close();
  }

  private openSocket(overrides: Partial<ManagerOptions & SocketOptions>): FluxSocket {
    const socket: FluxSocket = io(this.base, {
      transports: ['websocket'],
      // read at every (re)connection: a reconnected socket is bound to the current session again
      auth: (cb) => {
        const token = this.storage.get();
        this.boundSessionId = sessionIdOf(token);
        cb(token ? { token } : {});
      },
      ...overrides,
    });
    const ended = (payload: AuthEndedPayload) => {
      // the socket's session ended; the stored token may be another session's by now (another tab with the
      // same storage signed in meanwhile): that one goes on
      const stored = sessionIdOf(this.storage.get());
      if (stored !== null && this.boundSessionId !== null && stored !== this.boundSessionId) return;
      this.endSession(payload.reason);
    };
    socket.on('auth:revoked', ended);
    socket.on('auth:expired', ended);
    socket.on('connect_error', (error: Error & { data?: unknown }) => {
      // the handshake token was refused: drop it and connect anonymously (socket.io does not retry this)
      const code = (error.data as { _error?: { code?: string } } | undefined)?._error?.code;
      const reason = code ? TOKEN_ERRORS[code] : undefined;
      if (!reason) return;
      this.endSession(reason);
      socket.connect();
    });
    return socket;
  }

  private async socketRequest(
    socket: FluxSocket,
    method: string,
    url: string,
    data: unknown,
    headers: Record<string, string>,
  ): Promise<FluxResponse> {
    let reply: VirtualResponse;
    try {
      reply = await socket
        .timeout(this.options.timeoutMs ?? 10_000)
        .emitWithAck('request', { method, url, data, headers });
    } catch {
      throw new FluxError(0, 'Timeout', `No reply to ${method} ${url} over the socket`);
    }
    const replyHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(reply.headers ?? {})) {
      if (value !== undefined)
        replyHeaders[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { statusCode: reply.statusCode, headers: replyHeaders, data: reply.data };
  }

  private async httpRequest(
    method: string,
    url: string,
    data: unknown,
    headers: Record<string, string>,
  ): Promise<FluxResponse> {
    const upper = method.toUpperCase();
    let target = this.base + url;
    const init: RequestInit = { method: upper, headers };
    if (data !== undefined) {
      if (upper === 'GET' || upper === 'HEAD') {
        target += `${url.includes('?') ? '&' : '?'}data=${encodeURIComponent(JSON.stringify(data))}`;
      } else {
        init.body = JSON.stringify(data);
        headers['content-type'] = 'application/json';
      }
    }
    let response: Response;
    try {
      response = await fetch(target, init);
    } catch (error) {
      throw new FluxError(0, 'NetworkError', `${upper} ${url} failed: ${(error as Error).message}`);
    }
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    const replyHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      replyHeaders[name] = value;
    });
    return {
      statusCode: response.status,
      headers: replyHeaders,
      data: text && type.includes('json') ? JSON.parse(text) : text || null,
    };
  }

  private startSession(reply: FluxResponse<LoginReply>): LoginReply {
    this.storage.set(reply.data.jwt);
    this.boundSessionId = sessionIdOf(reply.data.jwt);
    this.scheduleRefresh(reply.data.jwt);
    this.emit({ type: 'login', user: reply.data.user });
    this.liveQueries?.refetchAll();
    return reply.data;
  }

  private endSession(type: 'revoked' | 'expired' | 'logout'): void {
    if (!this.storage.get()) return;
    this.storage.set(null);
    if (this.loggingOut) type = 'logout';
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.liveQueries?.clear();
    this.streams?.sessionEnded();
    this.emit({ type });
  }

  private isUsable(token: string): boolean {
    const exp = decodeToken(token)?.exp;
    return typeof exp !== 'number' || exp * 1000 > Date.now();
  }

  private scheduleRefresh(token: string): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const claims = decodeToken(token);
    const delay = claims && refreshDelay(claims, Date.now(), this.options.refreshMarginMs ?? 60_000);
    if (delay === null || delay === undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh().catch((error: unknown) => {
        // a refused token already ended the session (request); otherwise try again while it is valid
        if (error instanceof FluxError && error.status !== 0) {
          if (this.storage.get() === token) this.endSession('expired');
        } else if (this.storage.get() === token && this.isUsable(token)) {
          this.refreshTimer = setTimeout(() => this.scheduleRefresh(token), 1000);
          (this.refreshTimer as { unref?: () => void }).unref?.();
        }
      });
    }, delay);
    // a pending refresh must not keep a Node process alive
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  private emit(event: AuthEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/**
 * Creates a client and opens its socket.
 * @example
 * const client = createClient({ url: 'https://events.example.com', storage: webStorage(localStorage) });
 * await client.login('bar1', 'secret');
 * const alerts = await client.service('alert').find({ filters: { severity: 'serious' }, sort: '-createdAt' });
 */
export function createClient(options: ClientOptions): FluxClient {
  return new FluxClient(options);
}

/** The session a token belongs to (its `sessionId` claim), null without one. */
function sessionIdOf(token: string | null): number | null {
  return (token ? decodeToken(token)?.sessionId : null) ?? null;
}
