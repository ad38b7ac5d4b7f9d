import { addTo, ExpiryQueue, removeFrom } from '../bindingIndex.js';
import type { UnbindReason } from '../protocol.js';
import { RecentRevocations } from '../revocation.js';
import type { FluxSocket, SocketAuth } from './types.js';

export type { UnbindReason } from '../protocol.js';
export { REVOKED_MEMORY_MS } from '../revocation.js';

/**
 * Which local socket is bound to which session and user (docs/reference.md#authentication-and-sessions): a
 * socket is bound by a login over it (or its handshake `auth.token`), and unbound — anonymous again, out of
 * every subscription room, told by `auth:<reason>` — on logout, revocation or token expiry, while staying
 * connected.
 */

export interface SessionBindingsOptions {
  /**
   * Takes `socket` out of every room its user's permissions put it in: subscription rooms, admins room
   * (they were computed for its previous user).
   */
  leaveRooms(socket: FluxSocket): void;
  /**
   * A session left a socket: bound to another session, or asked to bind a socket already gone (whose own
   * disconnection could not name the session).
   */
  sessionLeft(socketId: string, sessionId: number): void;
}

export class SessionBindings {
  /** Local sockets by bound session id. */
  private readonly bySession = new Map<number, Set<FluxSocket>>();
  /** Local sockets by the user of their bound session. */
  private readonly byUser = new Map<number, Set<FluxSocket>>();
  /** Sessions revoked in the last {@link REVOKED_MEMORY_MS}. */
  private readonly revokedSessions = new RecentRevocations();
  /** Bound sockets by the expiry of their token: unbound (`auth:expired`) when it comes. */
  private readonly expiries = new ExpiryQueue<FluxSocket>((socket) => this.unbind(socket, 'expired'));

  constructor(private readonly options: SessionBindingsOptions) {}

  /**
   * Binds `socket` to a session; its virtual requests are then authenticated by it. Binding to another
   * user (or tenant) first leaves every subscription room: rooms were computed for the previous user.
   * @returns false, binding nothing, when the session was revoked here or announced revoked by another
   *   instance (see {@link unbindSession}): a request authenticated just before the revocation must not
   *   bind its socket after the revocation unbound the session's sockets. The caller answers 403.
   */
  bind(socket: FluxSocket, auth: SocketAuth): boolean {
    if (this.revokedSessions.has(auth.sessionId)) return false;
    if (this.isGone(socket)) {
      // gone while its login ran, before it was bound: its own `disconnect` passed (or, closed during
      // the handshake, never comes) without naming this session, so it is told now
      this.options.sessionLeft(socket.id, auth.sessionId);
      return true;
    }
    const previous = socket.data.auth;
    if (previous && (previous.userId !== auth.userId || previous.tenantId !== auth.tenantId)) {
      this.options.leaveRooms(socket);
    }
    if (previous) this.detach(socket);
    // the previous session is no longer on this socket: it is told as if the socket had gone
    if (previous && previous.sessionId !== auth.sessionId)
      this.options.sessionLeft(socket.id, previous.sessionId);
    socket.data.auth = auth;
    addTo(this.bySession, auth.sessionId, socket);
    addTo(this.byUser, auth.userId, socket);
    if (auth.expiresAt !== undefined) this.expiries.add(auth.expiresAt, socket);
    return true;
  }

  /** Whether `socket` has disconnected, or its connection closed (during the handshake too). */
  isGone(socket: FluxSocket): boolean {
    return socket.data.gone === true || socket.conn.readyState === 'closed';
  }

  /** The session `socket` is bound to, if any. */
  auth(socket: FluxSocket): SocketAuth | undefined {
    return socket.data.auth;
  }

  /**
   * Makes `socket` anonymous again: it leaves every subscription room (and its admins room) and receives
   * `auth:<reason>` (`auth:revoked` after a logout or revocation, `auth:expired`). The connection stays open.
   */
  unbind(socket: FluxSocket, reason: UnbindReason): void {
    if (!socket.data.auth) return;
    this.detach(socket);
    this.options.leaveRooms(socket);
    socket.emit(`auth:${reason}`, { reason });
  }

  /**
   * Unbinds every local socket of a session (logout or revocation). A revoked session is remembered for
   * {@link REVOKED_MEMORY_MS}, and {@link bind} refuses it: every instance calls this synchronously when
   * the revocation reaches it (before any change published after the revocation), so no socket of the
   * session can join a room afterwards, however late the request that binds it was authenticated.
   * @returns how many sockets were unbound
   */
  unbindSession(sessionId: number, reason: UnbindReason): number {
    if (reason === 'revoked') this.revokedSessions.remember(sessionId);
    const sockets = [...(this.bySession.get(sessionId) ?? [])];
    for (const socket of sockets) this.unbind(socket, reason);
    return sockets.length;
  }

  /** Every local socket bound to a session of `userId`. */
  socketsOfUser(userId: number): FluxSocket[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /**
   * Forgets `socket`'s binding and its expiry timer, silently (no event, rooms untouched): the socket is
   * going away.
   */
  detach(socket: FluxSocket): void {
    const data = socket.data;
    if (!data.auth) return;
    if (data.auth.expiresAt !== undefined) this.expiries.delete(data.auth.expiresAt, socket);
    removeFrom(this.bySession, data.auth.sessionId, socket);
    removeFrom(this.byUser, data.auth.userId, socket);
    data.auth = undefined;
  }
}
