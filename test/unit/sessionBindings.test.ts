import { afterEach, describe, expect, it, vi } from 'vitest';
import { REVOKED_MEMORY_MS, SessionBindings } from '../../lib/socket/sessionBindings.js';
import type { FluxSocket } from '../../lib/socket/types.js';

/** Session bindings alone: fake sockets (id, data, connection state, emit), no socket.io server. */
describe('SessionBindings', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Bindings whose room departures and sessions leaving are recorded. */
  function setup() {
    const left: string[] = [];
    const sessionsLeft: Array<[string, number]> = [];
    const bindings = new SessionBindings({
      leaveRooms: (socket) => left.push(socket.id),
      sessionLeft: (socketId, sessionId) => sessionsLeft.push([socketId, sessionId]),
    });
    return { bindings, left, sessionsLeft };
  }

  /** A socket as the bindings see it; `emitted` records what it was sent. */
  function fakeSocket(id: string) {
    const emitted: Array<[string, unknown]> = [];
    const conn = { readyState: 'open' };
    const socket = {
      id,
      data: { subscriptions: new Map() },
      conn,
      emit: (event: string, payload: unknown) => emitted.push([event, payload]) > 0,
    } as unknown as FluxSocket;
    return { socket, emitted, conn };
  }

  const ids = (sockets: FluxSocket[]) => sockets.map((socket) => socket.id).sort();

  it('When sockets bind, then they are found by user; when one binds to another user, then it leaves its rooms and its previous session is told', () => {
    const { bindings, left, sessionsLeft } = setup();
    const [a, b] = [fakeSocket('a'), fakeSocket('b')];
    expect(bindings.bind(a.socket, { sessionId: 1, userId: 7, tenantId: 1 })).toBe(true);
    expect(bindings.bind(b.socket, { sessionId: 2, userId: 7, tenantId: 1 })).toBe(true);
    expect(ids(bindings.socketsOfUser(7))).toEqual(['a', 'b']);
    expect(bindings.auth(a.socket)?.sessionId).toBe(1);

    bindings.bind(b.socket, { sessionId: 3, userId: 8, tenantId: 1 });
    expect(ids(bindings.socketsOfUser(7))).toEqual(['a']);
    expect(ids(bindings.socketsOfUser(8))).toEqual(['b']);
    expect(left).toEqual(['b']);
    expect(sessionsLeft).toEqual([['b', 2]]);
  });

  it('When a socket binds to another session of the same user, then it keeps its rooms', () => {
    const { bindings, left, sessionsLeft } = setup();
    const { socket } = fakeSocket('a');
    bindings.bind(socket, { sessionId: 1, userId: 7, tenantId: 1 });
    bindings.bind(socket, { sessionId: 2, userId: 7, tenantId: 1 });
    bindings.bind(socket, { sessionId: 2, userId: 7, tenantId: 1 }); // the same again: nothing left
    expect(left).toEqual([]);
    expect(sessionsLeft).toEqual([['a', 1]]);
    expect(ids(bindings.socketsOfUser(7))).toEqual(['a']);
  });

  it('When a socket is unbound, then it leaves its rooms and is told auth:<reason>, once', () => {
    const { bindings, left } = setup();
    const { socket, emitted } = fakeSocket('a');
    bindings.bind(socket, { sessionId: 1, userId: 7, tenantId: 1 });
    bindings.unbind(socket, 'revoked');
    bindings.unbind(socket, 'revoked');
    expect(emitted).toEqual([['auth:revoked', { reason: 'revoked' }]]);
    expect(left).toEqual(['a']);
    expect(bindings.auth(socket)).toBeUndefined();
    expect(bindings.socketsOfUser(7)).toEqual([]);
  });

  it('When a session is revoked, then its sockets are unbound and it cannot bind again until the memory passes', () => {
    vi.useFakeTimers();
    const { bindings } = setup();
    const [a, b] = [fakeSocket('a'), fakeSocket('b')];
    bindings.bind(a.socket, { sessionId: 1, userId: 7, tenantId: 1 });
    expect(bindings.unbindSession(1, 'revoked')).toBe(1);
    expect(a.emitted).toEqual([['auth:revoked', { reason: 'revoked' }]]);
    // a request authenticated before the revocation binds after it: refused
    expect(bindings.bind(b.socket, { sessionId: 1, userId: 7, tenantId: 1 })).toBe(false);
    expect(bindings.auth(b.socket)).toBeUndefined();
    // an expiry is no revocation: the session is not remembered
    bindings.bind(b.socket, { sessionId: 2, userId: 7, tenantId: 1 });
    expect(bindings.unbindSession(2, 'expired')).toBe(1);
    expect(bindings.bind(b.socket, { sessionId: 2, userId: 7, tenantId: 1 })).toBe(true);
    vi.advanceTimersByTime(REVOKED_MEMORY_MS);
    expect(bindings.bind(a.socket, { sessionId: 1, userId: 7, tenantId: 1 })).toBe(true);
  });

  it('When the token expires, then the socket is unbound with auth:expired at that moment', () => {
    vi.useFakeTimers();
    const { bindings, left } = setup();
    const { socket, emitted } = fakeSocket('a');
    bindings.bind(socket, { sessionId: 1, userId: 7, tenantId: 1, expiresAt: Date.now() + 1000 });
    vi.advanceTimersByTime(999);
    expect(bindings.auth(socket)).toBeDefined();
    vi.advanceTimersByTime(1);
    expect(bindings.auth(socket)).toBeUndefined();
    expect(emitted).toEqual([['auth:expired', { reason: 'expired' }]]);
    expect(left).toEqual(['a']);
  });

  it('When the expiry is further than a timer can wait, then the timer re-arms and still fires on time', () => {
    vi.useFakeTimers();
    const { bindings } = setup();
    const { socket, emitted } = fakeSocket('a');
    const days = 40 * 24 * 3600_000; // past setTimeout's 2^31 - 1 ms
    bindings.bind(socket, { sessionId: 1, userId: 7, tenantId: 1, expiresAt: Date.now() + days });
    vi.advanceTimersByTime(days - 1);
    expect(emitted).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(emitted).toEqual([['auth:expired', { reason: 'expired' }]]);
  });

  it('When a socket is rebound or detached, then its earlier expiry no longer fires', () => {
    vi.useFakeTimers();
    const { bindings } = setup();
    const [a, b] = [fakeSocket('a'), fakeSocket('b')];
    bindings.bind(a.socket, { sessionId: 1, userId: 7, tenantId: 1, expiresAt: Date.now() + 1000 });
    bindings.bind(a.socket, { sessionId: 2, userId: 7, tenantId: 1, expiresAt: Date.now() + 5000 });
    bindings.bind(b.socket, { sessionId: 3, userId: 8, tenantId: 1, expiresAt: Date.now() + 1000 });
    bindings.detach(b.socket);
    vi.advanceTimersByTime(2000);
    expect(bindings.auth(a.socket)?.sessionId).toBe(2);
    expect([...a.emitted, ...b.emitted]).toEqual([]);
    expect(bindings.socketsOfUser(8)).toEqual([]);
  });

  it('When the socket is gone before its login binds it, then nothing is bound and its session is told it left', () => {
    const { bindings, sessionsLeft } = setup();
    const disconnected = fakeSocket('a');
    disconnected.socket.data.gone = true;
    const closed = fakeSocket('b');
    closed.conn.readyState = 'closed';
    expect(bindings.bind(disconnected.socket, { sessionId: 1, userId: 7, tenantId: 1 })).toBe(true);
    expect(bindings.bind(closed.socket, { sessionId: 2, userId: 7, tenantId: 1 })).toBe(true);
    expect(bindings.socketsOfUser(7)).toEqual([]);
    expect(sessionsLeft).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });
});
