import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import {
  BadRequestError,
  type ErrorBody,
  ExpectedError,
  TokenError,
  TooManyRequestsError,
  toErrorReply,
} from '../errors.js';
import { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { UnbindReason, VirtualResponse } from '../protocol.js';
import type { PubSub } from '../pubsub.js';
import { leaveAdminsRoom } from '../stats.js';
import { corkBatchedWrites } from './cork.js';
import { RequestPump } from './requestPump.js';
import { SessionBindings } from './sessionBindings.js';
import type { EngineSocket, FluxServer, FluxSocket, SocketAuth, SocketData } from './types.js';
import type { Dispatch, VirtualRequestInput } from './virtualRequest.js';

export { REVOKED_MEMORY_MS } from './sessionBindings.js';
export type { SocketAuth } from './types.js';
export type { UnbindReason };

/**
 * The socket.io side of Flux (docs/reference.md#socket-protocol, #authentication-and-sessions): admits
 * connections (their address, the cap per address, the handshake `auth.token`), and puts three parts together
 * — the request pump (`request` messages become virtual requests through the Express app,
 * lib/socket/requestPump.ts), the session bindings (which socket is bound to which session;
 * lib/socket/sessionBindings.ts) and the corking of batched writes (lib/socket/cork.ts).
 */

export interface SocketTransportOptions {
  io: FluxServer;
  dispatch: Dispatch;
  pubsub: PubSub;
  log: Logger;
  /**
   * The server's lifecycle: once it is `stopping`, new requests are answered 503 `ShuttingDown` (those in
   * flight finish). Default: one of its own, running.
   */
  lifecycle?: Lifecycle;
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
 * What the socket handshakes of an engine.io connection read of its first HTTP request, kept instead of the
 * request itself (see `keepHandshake`).
 */
interface HandshakeRequest {
  /** The client's address (`trustProxy` applied). */
  address: string;
  /** Whether the TCP peer is a trusted proxy, whose forwarded host and scheme are believed. */
  viaTrustedProxy: boolean;
  headers: IncomingHttpHeaders;
  url?: string;
  query: unknown;
  secure: boolean;
}

/** The events of {@link SocketTransport}. */
interface SocketTransportEvents {
  /**
   * A session left a socket: the socket bound to it disconnected, {@link SocketTransport.bind} was asked
   * to bind a socket already gone, or bound the socket to another session.
   */
  disconnect: [socketId: string, sessionId: number];
}

export class SocketTransport extends EventEmitter<SocketTransportEvents> {
  private readonly trust: (address: string, hop: number) => boolean;
  private readonly pump: RequestPump;
  private readonly bindings: SessionBindings;
  /** Connections of this instance by client address: handshaking or connected (see `takeConnection`). */
  private readonly connectionsByAddress = new Map<string, number>();
  /** The first request of each engine.io connection, as its socket handshakes read it. */
  private readonly handshakes = new WeakMap<EngineSocket, HandshakeRequest>();

  constructor(private readonly options: SocketTransportOptions) {
    super();
    const { io, trustProxy, pubsub } = options;
    const lifecycle = options.lifecycle ?? new Lifecycle('running');
    this.trust =
      typeof trustProxy === 'boolean' ? () => trustProxy : proxyaddr.compile(trustProxy as string | string[]);
    this.pump = new RequestPump({
      dispatch: options.dispatch,
      log: options.log,
      maxBodyBytes: options.maxBodyBytes,
      maxDepth: options.maxDepth,
      maxInFlight: options.maxInFlight,
      accepting: () => lifecycle.acceptsRequests,
    });
    this.bindings = new SessionBindings({
      leaveRooms: (socket) => {
        pubsub.unsubscribeAll(socket);
        leaveAdminsRoom(socket);
      },
      sessionLeft: (socketId, sessionId) => this.emit('disconnect', socketId, sessionId),
    });
    io.engine.on('connection', (conn: EngineSocket) => this.keepHandshake(conn));
    io.use((socket, next) => this.admit(socket, next));
    corkBatchedWrites(io);
    // one pair of listeners for every socket, not a pair of closures per socket: Node calls a listener
    // (an ordinary function) with `this` set to the emitter, here the socket (node:events, "Passing
    // arguments and this to listeners")
    const pump = this.pump;
    const transport = this;
    function onRequest(this: FluxSocket, payload: unknown, ack?: unknown): void {
      pump.handle(this, payload, ack);
    }
    function onDisconnect(this: FluxSocket): void {
      transport.onDisconnect(this);
    }
    io.on('connection', (socket) => {
      socket.on('request', onRequest);
      socket.on('disconnect', onDisconnect);
    });
  }

  /** Runs one virtual request for `socket` (also usable by the server itself, e.g. the handshake). */
  request(socket: FluxSocket, input: VirtualRequestInput): Promise<VirtualResponse> {
    return this.pump.request(socket, input);
  }

  /** See {@link RequestPump.abandonInFlight}. */
  abandonInFlight(): number {
    return this.pump.abandonInFlight();
  }

  /** See {@link SessionBindings.bind}. */
  bind(socket: FluxSocket, auth: SocketAuth): boolean {
    return this.bindings.bind(socket, auth);
  }

  /** See {@link SessionBindings.isGone}. */
  isGone(socket: FluxSocket): boolean {
    return this.bindings.isGone(socket);
  }

  /** The session `socket` is bound to, if any. */
  auth(socket: FluxSocket): SocketAuth | undefined {
    return this.bindings.auth(socket);
  }

  /** See {@link SessionBindings.unbind}. */
  unbind(socket: FluxSocket, reason: UnbindReason): void {
    this.bindings.unbind(socket, reason);
  }

  /** See {@link SessionBindings.unbindSession}. */
  unbindSession(sessionId: number, reason: UnbindReason): number {
    return this.bindings.unbindSession(sessionId, reason);
  }

  /** Every local socket bound to a session of `userId`. */
  socketsOfUser(userId: number): FluxSocket[] {
    return this.bindings.socketsOfUser(userId);
  }

  /**
   * Keeps what the socket handshakes read of an engine.io connection's first HTTP request, and lets the
   * request go: socket.io keeps it for the life of the connection otherwise (its own advice,
   * https://socket.io/docs/v4/memory-usage/; 0.6 to 1.2 KB per socket at 10,000, docs/performance.md).
   * Runs before any socket of the connection is created (socket.io creates them on their CONNECT
   * packet); they get the request's headers, URL, query and scheme in `socket.handshake` all the same
   * (see `admit`).
   */
  private keepHandshake(conn: EngineSocket): void {
    const request = conn.request as IncomingMessage & { _query?: unknown };
    const peer = request.socket.remoteAddress;
    this.handshakes.set(conn, {
      address: proxyaddr(request, this.trust),
      viaTrustedProxy: peer !== undefined && this.trust(peer, 0),
      headers: request.headers,
      url: request.url,
      query: request._query ?? {},
      secure: Boolean((request.socket as { encrypted?: boolean }).encrypted),
    });
    (conn as { request: IncomingMessage | null }).request = null;
  }

  /**
   * socket.io middleware of every connection: sets up `socket.data`, counts the connection against its
   * address's cap, and binds the socket when its handshake carries a token.
   */
  private admit(socket: FluxSocket, next: (err?: Error) => void): void {
    const data = socket.data;
    const request = this.handshakes.get(socket.conn);
    if (!request) {
      next(new Error('No handshake request'));
      return;
    }
    // socket.io built the handshake without the request (see keepHandshake): what it read of it
    Object.assign(socket.handshake, {
      headers: request.headers,
      xdomain: Boolean(request.headers.origin),
      secure: request.secure,
      url: request.url,
      query: request.query,
    });
    data.subscriptions = new Map();
    data.address = request.address;
    if (!this.takeConnection(data)) {
      const max = this.options.maxConnectionsPerAddress;
      const reply = toErrorReply(
        new TooManyRequestsError(1, `At most ${max} connections at once from one address`),
      );
      next(Object.assign(new Error(reply.body._error.message), { data: reply.body }));
      return;
    }
    // a client that leaves during the handshake never gets `disconnect`: its binding and its place in
    // the count must go anyway (removed when the socket disconnects or is refused: one engine.io connection
    // may carry many namespace connections over its life, and must not collect a listener for each)
    const detachOnClose = this.detachOnClose(socket);
    data.detachOnClose = detachOnClose;
    // `on`, not `once` (a wrapper more per socket): a connection closes once, and the listener goes on
    // `disconnect` or refusal
    socket.conn.on('close', detachOnClose);
    data.inFlight = 0;
    // behind a trusted proxy, the public host and scheme are the ones it forwarded, as `req.hostname`
    // and `req.protocol` read them over HTTP (Express: the first value of X-Forwarded-Host/-Proto)
    const { viaTrustedProxy, headers } = request;
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
        this.releaseConnection(data);
        const reply = toErrorReply(err);
        next(Object.assign(new Error(reply.body._error.message), { data: reply.body }));
      },
    );
  }

  /**
   * The listener that unbinds `socket` when its connection closes before it connected. Made here, not in
   * `admit`: a closure keeps its whole enclosing scope, and admit's holds socket.io's middleware callback
   * chain (`next`), which would then live as long as the socket (about 0.4 KB each).
   */
  private detachOnClose(socket: FluxSocket): () => void {
    return () => {
      const data = socket.data;
      const auth = data.auth;
      this.bindings.detach(socket);
      this.releaseConnection(data);
      // bound by the handshake, then gone before connecting: no `disconnect` comes for that session
      if (auth) this.emit('disconnect', socket.id, auth.sessionId);
    };
  }

  private onDisconnect(socket: FluxSocket): void {
    const data = socket.data;
    data.gone = true;
    if (data.detachOnClose) socket.conn.off('close', data.detachOnClose);
    this.releaseConnection(data);
    const auth = data.auth;
    this.bindings.detach(socket);
    if (auth) this.emit('disconnect', socket.id, auth.sessionId);
  }

  /**
   * Counts one more connection from the socket's address, unless it holds `maxConnectionsPerAddress`
   * already; {@link releaseConnection} gives the place back.
   * @returns false when the address is at its cap
   */
  private takeConnection(data: SocketData): boolean {
    const max = this.options.maxConnectionsPerAddress ?? 0;
    const count = this.connectionsByAddress.get(data.address) ?? 0;
    if (max > 0 && count >= max) return false;
    this.connectionsByAddress.set(data.address, count + 1);
    data.counted = true;
    return true;
  }

  /** Gives back the socket's place in the count of its address's connections (once, however often called). */
  private releaseConnection(data: SocketData): void {
    if (!data.counted) return;
    data.counted = false;
    const left = (this.connectionsByAddress.get(data.address) ?? 1) - 1;
    if (left > 0) this.connectionsByAddress.set(data.address, left);
    else this.connectionsByAddress.delete(data.address);
  }

  private async authenticateHandshake(socket: FluxSocket): Promise<void> {
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
}

/**
 * Makes sure `socket` is bound to the session that is subscribing (a socket may authenticate each
 * request with an `authorization` header instead of logging in): subscriptions are tied to a binding,
 * so that logout, revocation and expiry take the socket out of its rooms.
 * @throws TokenError `TokenRevoked` when the session was revoked meanwhile
 */
export function bindForSubscription(transport: SocketTransport, socket: FluxSocket, auth: SocketAuth): void {
  const current = transport.auth(socket);
  if (current?.sessionId === auth.sessionId) return;
  if (!transport.bind(socket, auth)) throw new TokenError('TokenRevoked', 'Token revoked');
}

/** The first of the comma-separated values of a forwarding header, trimmed (undefined when absent). */
function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0].trim() || undefined;
}
