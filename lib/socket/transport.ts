import { EventEmitter } from 'node:events';
import { Socket as TcpSocket } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { Server, Socket } from 'socket.io';
import {
  BadRequestError,
  type ErrorBody,
  ExpectedError,
  TokenError,
  TooManyRequestsError,
  toErrorReply,
} from '../errors.js';
import type { Logger } from '../log.js';
import type { FluxSocketData, PubSub } from '../pubsub.js';
import {
  type Dispatch,
  injectVirtualRequest,
  parseVirtualRequest,
  type VirtualRequestInput,
  type VirtualRequestOrigin,
  type VirtualResponse,
} from './virtualRequest.js';

/**
 * The socket.io side of Flux (SPEC §8, §9): `request` messages become virtual requests through the
 * Express app; sockets can be bound to a session (login over the socket, or handshake `auth.token`), and
 * are unbound — anonymous again, out of every subscription room, told by `auth:<reason>` — on logout,
 * revocation or token expiry, while staying connected.
 */

/** The session a socket is bound to. */
export interface SocketAuth {
  sessionId: number;
  userId: number;
  tenantId: number;
  /** Token expiry, ms since epoch; the socket is unbound at that moment. */
  expiresAt?: number;
}

export interface AuthSocketData extends FluxSocketData {
  auth?: SocketAuth;
  expiryTimer?: NodeJS.Timeout;
  /** The client's address, computed once from the handshake (see `trustProxy`). */
  address: string;
  /** Virtual requests of this socket not answered yet. */
  inFlight: number;
  /** Where this socket's virtual requests come from (one object per connection, reused). */
  origin: VirtualRequestOrigin;
  /** Unbinds the socket when its engine.io connection closes during the handshake. */
  detachOnClose?: () => void;
  /** Gives back this socket's place in the count of its address's connections (idempotent). */
  releaseConnection?: () => void;
  /** Set when the socket disconnected (see {@link SocketTransport.isGone}). */
  gone?: true;
}

/** An engine.io connection (what `socket.conn` is). */
type EngineSocket = Socket['conn'];

export type UnbindReason = 'revoked' | 'expired';

/**
 * How long a revoked session stays refused by `bind` without asking the revocation list: longer than any
 * request can take between its authentication and the binding of its socket.
 */
export const REVOKED_MEMORY_MS = 10 * 60_000;
/** Most revoked sessions remembered at once (a mass revocation forgets its oldest first). */
const MAX_REVOKED_REMEMBERED = 100_000;

/** Longest delay `setTimeout` accepts (about 24.8 days); later expiries re-arm. */
const MAX_TIMER = 2 ** 31 - 1;

export interface SocketTransportOptions {
  io: Server;
  dispatch: Dispatch;
  pubsub: PubSub;
  log: Logger;
  /**
   * Where a handshake `auth.token` is replayed to bind the socket: `POST <url> {[tokenField]: token,
   * refresh: false}` (the binding keeps the presented token's expiry).
   */
  handshakeAuth?: { url: string; tokenField: string };
  /**
   * Express's `trust proxy` value: the socket's address is the handshake's TCP peer, or the forwarded
   * address when the peer is a trusted proxy (same rule as `req.ip` over HTTP).
   */
  trustProxy: boolean | string | string[];
  /** Largest `data` of a virtual request, in bytes of JSON (413 above). */
  maxBodyBytes: number;
  /** Deepest nesting of `data` (400 above). */
  maxDepth: number;
  /** Requests one socket may have in flight; more are answered 429 at once. */
  maxInFlight: number;
  /**
   * Connections one client address (`data.address`) may hold at once on this instance; more are refused
   * at the handshake with a `connect_error` whose `data` is the 429 `TooManyRequests` body. 0 or
   * undefined: no cap.
   */
  maxConnectionsPerAddress?: number;
}

/**
 * Events: `disconnect` `(socketId, sessionId)` when a session leaves a socket: the socket bound to it
 * disconnects, {@link SocketTransport.bind} is asked to bind a socket that is already gone, or binds the
 * socket to another session.
 */
export class SocketTransport extends EventEmitter {
  /** Local sockets by bound session id. */
  private readonly bySession = new Map<number, Set<Socket>>();
  /** Local sockets by the user of their bound session. */
  private readonly byUser = new Map<number, Set<Socket>>();
  /** Sessions revoked in the last {@link REVOKED_MEMORY_MS}: id → when (ms since epoch), oldest first. */
  private readonly revokedSessions = new Map<number, number>();

  private readonly trust: (address: string, hop: number) => boolean;
  private draining = false;
  /** Requests in flight not answered yet (see {@link abandonInFlight}). */
  private readonly unanswered = new Set<{ socket: Socket; reply: (response: VirtualResponse) => void }>();
  /** Connections of this instance by client address: handshaking or connected (see `takeConnection`). */
  private readonly connectionsByAddress = new Map<string, number>();

  /** From now on new requests are answered 503 `ShuttingDown`; those in flight finish (graceful stop). */
  drain(): void {
    this.draining = true;
  }

  constructor(private readonly options: SocketTransportOptions) {
    super();
    const { io } = options;
    const { trustProxy } = options;
    this.trust =
      typeof trustProxy === 'boolean' ? () => trustProxy : proxyaddr.compile(trustProxy as string | string[]);
    io.use((socket, next) => {
      const data = socket.data as AuthSocketData;
      data.subscriptions = new Map();
      data.address = proxyaddr(socket.request, this.trust);
      const releaseConnection = this.takeConnection(data.address);
      if (!releaseConnection) {
        const max = this.options.maxConnectionsPerAddress;
        const reply = toErrorReply(
          new TooManyRequestsError(1, `At most ${max} connections at once from one address`),
        );
        next(Object.assign(new Error(reply.body._error.message), { data: reply.body }));
        return;
      }
      data.releaseConnection = releaseConnection;
      // a client that leaves during the handshake never gets `disconnect`: its binding and its place in
      // the count must go anyway (removed once the socket connects or is refused: one engine.io connection
      // may carry many namespace connections over its life, and must not collect a listener for each)
      const detachOnClose = () => {
        const auth = data.auth;
        this.detach(socket);
        releaseConnection();
        // bound by the handshake, then gone before connecting: no `disconnect` comes for that session
        if (auth) this.emit('disconnect', socket.id, auth.sessionId);
      };
      data.detachOnClose = detachOnClose;
      socket.conn.once('close', detachOnClose);
      data.inFlight = 0;
      // behind a trusted proxy, the public host and scheme are the ones it forwarded, as `req.hostname`
      // and `req.protocol` read them over HTTP (Express: the first value of X-Forwarded-Host/-Proto)
      const peer = socket.request.socket.remoteAddress;
      const viaTrustedProxy = peer !== undefined && this.trust(peer, 0);
      const headers = socket.handshake.headers;
      const forwardedHost = viaTrustedProxy ? firstValue(headers['x-forwarded-host']) : undefined;
      const forwardedProto = viaTrustedProxy ? firstValue(headers['x-forwarded-proto']) : undefined;
      data.origin = {
        socketId: socket.id,
        remoteAddress: data.address,
        host: forwardedHost || headers.host,
        encrypted: forwardedProto ? forwardedProto === 'https' : socket.handshake.secure,
        properties: { isSocket: true, ioSocket: socket },
      };
      this.authenticateHandshake(socket).then(
        () => next(),
        (err: unknown) => {
          socket.conn.off('close', detachOnClose);
          releaseConnection();
          const reply = toErrorReply(err);
          next(Object.assign(new Error(reply.body._error.message), { data: reply.body }));
        },
      );
    });
    // engine.io flushes the packets queued while a write was pending (replies to requests that arrived
    // together) one WebSocket frame at a time: corked, they leave in one system call. One listener per
    // engine.io connection (not per namespace socket).
    io.engine?.on('connection', (conn: EngineSocket) => {
      conn.on('flush', (packets: unknown[]) => {
        if (packets.length > 1) corkForThisTurn(conn);
      });
    });
    io.on('connection', (socket) => {
      socket.on('request', (payload: unknown, ack?: unknown) => this.onRequest(socket, payload, ack));
      socket.on('disconnect', () => {
        const data = socket.data as AuthSocketData;
        data.gone = true;
        if (data.detachOnClose) socket.conn.off('close', data.detachOnClose);
        data.releaseConnection?.();
        const auth = data.auth;
        this.detach(socket);
        if (auth) this.emit('disconnect', socket.id, auth.sessionId);
      });
    });
  }

  /**
   * Counts one more connection from `address`, unless it holds `maxConnectionsPerAddress` already.
   * @returns the function that gives the place back (once, however often it is called), or undefined
   *   when the address is at its cap
   */
  private takeConnection(address: string): (() => void) | undefined {
    const max = this.options.maxConnectionsPerAddress ?? 0;
    const count = this.connectionsByAddress.get(address) ?? 0;
    if (max > 0 && count >= max) return undefined;
    this.connectionsByAddress.set(address, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.connectionsByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.connectionsByAddress.set(address, left);
      else this.connectionsByAddress.delete(address);
    };
  }

  /** Runs one virtual request for `socket` (also usable by the server itself, e.g. the handshake). */
  request(socket: Socket, input: VirtualRequestInput): Promise<VirtualResponse> {
    return injectVirtualRequest(this.options.dispatch, input, (socket.data as AuthSocketData).origin);
  }

  private async authenticateHandshake(socket: Socket): Promise<void> {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const config = this.options.handshakeAuth;
    if (token === undefined || token === null || token === '' || !config) return;
    if (typeof token !== 'string') throw new BadRequestError('auth.token must be a string');
    const reply = await this.request(socket, {
      method: 'POST',
      url: config.url,
      data: { [config.tokenField]: token, refresh: false },
      headers: {},
    });
    if (reply.statusCode >= 400) {
      const body = (reply.data as Partial<ErrorBody> | null)?._error;
      throw new ExpectedError(
        reply.statusCode,
        body?.code ?? 'Unauthorized',
        body?.message ?? 'Handshake refused',
      );
    }
  }

  private onRequest(socket: Socket, payload: unknown, ack: unknown): void {
    const reply =
      typeof ack === 'function' ? (ack as (response: VirtualResponse) => void) : legacyReply(socket, payload);
    if (!reply) return; // no ack and no usable requestId: nowhere to answer
    let input: VirtualRequestInput;
    try {
      input = parseVirtualRequest(payload, {
        maxBodyBytes: this.options.maxBodyBytes,
        maxDepth: this.options.maxDepth,
      });
    } catch (err) {
      reply(errorResponse(err instanceof ExpectedError ? err : new BadRequestError((err as Error).message)));
      return;
    }
    if (this.draining) {
      reply(errorResponse(new ExpectedError(503, 'ShuttingDown', 'The server is shutting down: reconnect')));
      return;
    }
    const data = socket.data as AuthSocketData;
    if (data.inFlight >= this.options.maxInFlight) {
      reply(
        errorResponse(
          new TooManyRequestsError(1, `At most ${this.options.maxInFlight} requests in flight per socket`),
        ),
      );
      return;
    }
    data.inFlight++;
    // answered once: by its own reply, or earlier by `abandonInFlight` when the server stops first
    const pending = { socket, reply };
    this.unanswered.add(pending);
    this.request(socket, input).then(
      (response) => {
        data.inFlight--;
        if (!this.unanswered.delete(pending) || !socket.connected) return;
        try {
          reply(response);
        } catch (err) {
          // a body socket.io cannot encode (e.g. circular), where HTTP's res.json would have thrown
          this.options.log.error(`socket ${socket.id}: ${input.method} ${input.url}: reply not sent:`, err);
          reply(errorResponse(err));
        }
      },
      (err: unknown) => {
        data.inFlight--;
        this.options.log.error(`socket ${socket.id}: ${input.method} ${input.url} failed:`, err);
        if (this.unanswered.delete(pending) && socket.connected) reply(errorResponse(err));
      },
    );
  }

  /**
   * Answers every request still in flight at once with 503 `ShuttingDown` (a stop past its deadline):
   * the clients get an ack before their sockets close; the requests' own replies, if they come, are
   * dropped.
   * @returns how many requests were abandoned (those of sockets already gone get no ack).
   */
  abandonInFlight(): number {
    const pending = [...this.unanswered];
    this.unanswered.clear();
    const reply = errorResponse(
      new ExpectedError(
        503,
        'ShuttingDown',
        'The server is shutting down: the request did not finish in time',
      ),
    );
    for (const { socket, reply: send } of pending) if (socket.connected) send(reply);
    return pending.length;
  }

  /**
   * Binds `socket` to a session; its virtual requests are then authenticated by it. Binding to another
   * user (or tenant) first leaves every subscription room: rooms were computed for the previous user.
   * @returns false, binding nothing, when the session was revoked here or announced revoked by another
   *   instance (see {@link unbindSession}): a request authenticated just before the revocation must not
   *   bind its socket after the revocation unbound the session's sockets. The caller answers 403.
   */
  bind(socket: Socket, auth: SocketAuth): boolean {
    if (this.wasRevoked(auth.sessionId)) return false;
    if (this.isGone(socket)) {
      // gone while its login ran, before it was bound: its own `disconnect` passed (or, closed during
      // the handshake, never comes) without naming this session, so it is emitted now
      this.emit('disconnect', socket.id, auth.sessionId);
      return true;
    }
    const data = socket.data as AuthSocketData;
    const previous = data.auth;
    if (previous && (previous.userId !== auth.userId || previous.tenantId !== auth.tenantId)) {
      this.options.pubsub.unsubscribeAll(socket);
    }
    if (previous) this.detach(socket);
    // the previous session is no longer on this socket: it is told as if the socket had gone
    if (previous && previous.sessionId !== auth.sessionId)
      this.emit('disconnect', socket.id, previous.sessionId);
    data.auth = auth;
    addTo(this.bySession, auth.sessionId, socket);
    addTo(this.byUser, auth.userId, socket);
    this.armExpiry(socket, auth);
    return true;
  }

  /** Whether `socket` has disconnected, or its connection closed (during the handshake too). */
  isGone(socket: Socket): boolean {
    return (socket.data as AuthSocketData).gone === true || socket.conn.readyState === 'closed';
  }

  private armExpiry(socket: Socket, auth: SocketAuth): void {
    if (auth.expiresAt === undefined) return;
    const data = socket.data as AuthSocketData;
    const delay = auth.expiresAt - Date.now();
    data.expiryTimer = setTimeout(
      () => (delay > MAX_TIMER ? this.armExpiry(socket, auth) : this.unbind(socket, 'expired')),
      Math.max(0, Math.min(delay, MAX_TIMER)),
    );
    data.expiryTimer.unref();
  }

  /** The session `socket` is bound to, if any. */
  auth(socket: Socket): SocketAuth | undefined {
    return (socket.data as AuthSocketData).auth;
  }

  /**
   * Makes `socket` anonymous again: it leaves every subscription room and receives `auth:<reason>`
   * (`auth:revoked` after a logout or revocation, `auth:expired`). The connection stays open.
   */
  unbind(socket: Socket, reason: UnbindReason): void {
    if (!(socket.data as AuthSocketData).auth) return;
    this.detach(socket);
    this.options.pubsub.unsubscribeAll(socket);
    socket.emit(`auth:${reason}`, { reason });
  }

  /**
   * Unbinds every local socket of a session (logout or revocation). A revoked session is remembered for
   * {@link REVOKED_MEMORY_MS}, and {@link bind} refuses it: every instance calls this synchronously when
   * the revocation reaches it (before any change published after the revocation), so no socket of the
   * session can join a room afterwards, however late the request that binds it was authenticated.
   */
  unbindSession(sessionId: number, reason: UnbindReason): number {
    if (reason === 'revoked') this.rememberRevoked(sessionId);
    const sockets = [...(this.bySession.get(sessionId) ?? [])];
    for (const socket of sockets) this.unbind(socket, reason);
    return sockets.length;
  }

  private rememberRevoked(sessionId: number): void {
    const now = Date.now();
    this.revokedSessions.delete(sessionId);
    this.revokedSessions.set(sessionId, now);
    // oldest first (insertion order): forget those past the memory, and never more than the cap
    for (const [id, at] of this.revokedSessions) {
      if (now - at < REVOKED_MEMORY_MS && this.revokedSessions.size <= MAX_REVOKED_REMEMBERED) break;
      this.revokedSessions.delete(id);
    }
  }

  private wasRevoked(sessionId: number): boolean {
    const at = this.revokedSessions.get(sessionId);
    return at !== undefined && Date.now() - at < REVOKED_MEMORY_MS;
  }

  /** Every local socket bound to a session of `userId`. */
  socketsOfUser(userId: number): Socket[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  private detach(socket: Socket): void {
    const data = socket.data as AuthSocketData;
    if (data.expiryTimer) clearTimeout(data.expiryTimer);
    data.expiryTimer = undefined;
    if (!data.auth) return;
    removeFrom(this.bySession, data.auth.sessionId, socket);
    removeFrom(this.byUser, data.auth.userId, socket);
    data.auth = undefined;
  }
}

function addTo(index: Map<number, Set<Socket>>, key: number, socket: Socket): void {
  const sockets = index.get(key);
  if (sockets) sockets.add(socket);
  else index.set(key, new Set([socket]));
}

function removeFrom(index: Map<number, Set<Socket>>, key: number, socket: Socket): void {
  const sockets = index.get(key);
  sockets?.delete(socket);
  if (sockets?.size === 0) index.delete(key);
}

/**
 * Makes sure `socket` is bound to the session that is subscribing (a socket may authenticate each
 * request with an `authorization` header instead of logging in): subscriptions are tied to a binding,
 * so that logout, revocation and expiry take the socket out of its rooms.
 */
export function bindForSubscription(transport: SocketTransport, socket: Socket, auth: SocketAuth): void {
  const current = transport.auth(socket);
  if (current?.sessionId === auth.sessionId) return;
  if (!transport.bind(socket, auth)) throw new TokenError('TokenRevoked', 'Token revoked');
}

/**
 * The TCP socket under a socket.io connection on the WebSocket transport (engine.io transport → ws
 * WebSocket → its socket), or undefined on HTTP long-polling or if these libraries change their shape.
 */
function tcpSocketOf(conn: EngineSocket): TcpSocket | undefined {
  const transport = (conn as unknown as { transport?: { socket?: { _socket?: unknown } } }).transport;
  const tcp = transport?.socket?._socket;
  return tcp instanceof TcpSocket ? tcp : undefined;
}

/**
 * Corks the connection's TCP socket until the end of this turn of the event loop: the frames written
 * meanwhile leave in one write, one system call instead of one per frame (`writable.cork()`, Node stream
 * docs). Nothing waits longer than the rest of this turn.
 */
function corkForThisTurn(conn: EngineSocket): void {
  const tcp = tcpSocketOf(conn);
  // corked already means corked by an earlier flush of this turn (ws uncorks its own before returning)
  if (!tcp || tcp.writableCorked > 0 || tcp.destroyed) return;
  tcp.cork();
  process.nextTick(() => tcp.uncork());
}

/** The first of the comma-separated values of a forwarding header, trimmed (undefined when absent). */
function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0].trim() || undefined;
}

function errorResponse(err: unknown): VirtualResponse {
  const reply = toErrorReply(err);
  return {
    statusCode: reply.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...reply.headers },
    data: reply.body,
  };
}

/** The reply function of a legacy client: `response-<requestId>` when the payload names a requestId. */
function legacyReply(socket: Socket, payload: unknown): ((response: VirtualResponse) => void) | undefined {
  const requestId =
    typeof payload === 'object' && payload !== null
      ? (payload as { requestId?: unknown }).requestId
      : undefined;
  const usable =
    (typeof requestId === 'string' && /^[\w.:-]{1,100}$/.test(requestId)) ||
    (typeof requestId === 'number' && Number.isSafeInteger(requestId));
  if (!usable) return undefined;
  return (response) => {
    socket.emit(`response-${requestId}`, response);
  };
}
