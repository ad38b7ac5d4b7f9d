import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from '../protocol.js';
import type { VirtualRequestOrigin } from './virtualRequest.js';

/**
 * The server's side of the socket.io types: the events of `lib/protocol.ts` and what the framework keeps
 * on each socket (`socket.data`).
 */

/** The session a socket is bound to (lib/socket/sessionBindings.ts). */
export interface SocketAuth {
  sessionId: number;
  userId: number;
  tenantId: number;
  /**
   * The team of the session's user (null: none), counted by the statistics (lib/stats.ts); kept current
   * when the user's team changes.
   */
  teamId?: number | null;
  /** Token expiry, ms since epoch; the socket is unbound at that moment. */
  expiresAt?: number;
}

/** What the framework keeps on `socket.data`, set up when the socket connects (lib/socket/transport.ts). */
export interface SocketData {
  /** Rooms joined per subscribed model (lib/pubsub.ts). */
  subscriptions: Map<string, string[]>;
  /** The session the socket is bound to, if any. */
  auth?: SocketAuth;
  /** The client's address, computed once from the handshake (see `trustProxy`). */
  address: string;
  /** Virtual requests of this socket not answered yet (at most `socket.maxInFlight`). */
  inFlight: number;
  /** Where this socket's virtual requests come from (one object per connection, reused). */
  origin: VirtualRequestOrigin;
  /** Unbinds the socket when its engine.io connection closes during the handshake. */
  detachOnClose?: () => void;
  /** Whether the socket holds a place in the count of its address's connections (lib/socket/transport.ts). */
  counted?: boolean;
  /** The admins room the socket is in (lib/stats.ts), left with its subscriptions when its session ends. */
  statsRoom?: string;
  /** Set when the socket disconnected (see `SessionBindings.isGone`). */
  gone?: true;
}

/** Flux's socket.io server. */
export type FluxServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** One socket of {@link FluxServer}. */
export type FluxSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** An engine.io connection (what `socket.conn` is). */
export type EngineSocket = FluxSocket['conn'];
