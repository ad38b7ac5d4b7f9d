import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket as EngineClient } from 'engine.io-client';
import express from 'express';
import { Server } from 'socket.io';
import { type Socket as ClientSocket, io as ioClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../lib/log.js';
import { LocalBus, PubSub } from '../../lib/pubsub.js';
import { SocketTransport } from '../../lib/socket/transport.js';
import { connectSocket, socketRequest } from '../helpers/clients.js';

/** A socket.io server whose `request` messages run through a small Express app (no database). */
describe('SocketTransport', () => {
  let http: HttpServer;
  let io: Server;
  let url: string;
  let client: ClientSocket;
  let transport: SocketTransport;

  beforeAll(async () => {
    const app = express();
    app.get('/circular', (_req, res) => {
      const value: Record<string, unknown> = { name: 'loop' };
      value.self = value;
      res.json(value);
    });
    app.get('/echo/:n', (req, res) => {
      res.json({ n: Number(req.params.n) });
    });
    http = createServer(app);
    io = new Server(http);
    transport = new SocketTransport({
      io,
      dispatch: app,
      pubsub: new PubSub(io, new LocalBus()),
      log: new Logger({ level: 'error', dir: false }),
      trustProxy: false,
      maxBodyBytes: 100 * 1024,
      maxDepth: 32,
      maxInFlight: 100,
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    client = await connectSocket(url);
  });

  afterAll(async () => {
    client.close();
    await io.close();
  });

  it('answers 500 when a reply cannot be encoded (circular), and the socket keeps serving', async () => {
    const reply = await socketRequest(client, { method: 'GET', url: '/circular' });
    expect(reply).toMatchObject({ statusCode: 500, data: { _error: { status: 500 } } });
    expect(client.connected).toBe(true);
    expect(await socketRequest(client, { method: 'GET', url: '/echo/1' })).toMatchObject({
      statusCode: 200,
      data: { n: 1 },
    });
  });

  it('delivers every reply of a burst of requests, each to its own ack', async () => {
    // replies queued while a write is pending leave corked, in one write: none may be lost or swapped
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, n) => socketRequest(client, { method: 'GET', url: `/echo/${n}` })),
    );
    replies.forEach((reply, n) => {
      expect(reply).toMatchObject({ statusCode: 200, data: { n } });
    });
  });

  it('keeps a constant number of listeners on an engine.io connection whose namespace sockets come and go', async () => {
    // socket.io protocol 5 over one engine.io connection: CONNECT "0", connect ack "0{sid}", DISCONNECT "1"
    const engine = new EngineClient(url, { transports: ['websocket'], path: '/socket.io' });
    const messages: string[] = [];
    const next = () =>
      new Promise<string>((resolve) => {
        const poll = () => (messages.length ? resolve(messages.shift() as string) : setTimeout(poll, 2));
        poll();
      });
    engine.on('message', (data) => messages.push(String(data)));
    await new Promise<void>((resolve) => engine.once('open', () => resolve()));
    const conn = () =>
      (io.engine as unknown as { clients: Record<string, NodeJS.EventEmitter> }).clients[engine.id as string];
    const counts = () => ({ flush: conn().listenerCount('flush'), close: conn().listenerCount('close') });
    engine.send('0');
    expect(await next()).toMatch(/^0\{"sid"/);
    const before = counts();
    for (let i = 0; i < 20; i++) {
      const connected = io.of('/').sockets.size;
      engine.send('1');
      await vi.waitUntil(() => io.of('/').sockets.size < connected);
      engine.send('0');
      expect(await next()).toMatch(/^0\{"sid"/);
    }
    expect(counts()).toEqual(before);
    expect(before.flush).toBe(1);
    engine.close();
  });

  it('keeps no HTTP request per connection, and its sockets still get the request’s headers, query, URL and address', async () => {
    const one = ioClient(url, {
      transports: ['websocket'],
      extraHeaders: { 'user-agent': 'flux-test-agent', origin: 'http://elsewhere.test' },
      query: { q: 'kept' },
    });
    await new Promise<void>((resolve) => one.once('connect', () => resolve()));
    const socket = io.of('/').sockets.get(one.id as string)!;
    expect(socket.conn.request).toBeNull();
    expect(socket.handshake).toMatchObject({
      headers: { 'user-agent': 'flux-test-agent' },
      query: { q: 'kept' },
      xdomain: true,
      secure: false,
    });
    expect(socket.handshake.url).toMatch(/^\/socket\.io\/\?/);
    expect(socket.data.address).toBe('127.0.0.1');
    expect(socket.data.origin).toMatchObject({ remoteAddress: '127.0.0.1', encrypted: false });
    one.close();
  });

  it('finds the sockets of a user through its bindings: bind, rebind to another user, unbind, disconnect', async () => {
    const clients = await Promise.all([connectSocket(url), connectSocket(url), connectSocket(url)]);
    const [a, b, c] = clients.map((one) => io.of('/').sockets.get(one.id as string)!);
    const ids = (userId: number) =>
      transport
        .socketsOfUser(userId)
        .map((socket) => socket.id)
        .sort();
    transport.bind(a, { sessionId: 1, userId: 7, tenantId: 1 });
    transport.bind(b, { sessionId: 2, userId: 7, tenantId: 1 });
    transport.bind(c, { sessionId: 3, userId: 8, tenantId: 1 });
    expect(ids(7)).toEqual([a.id, b.id].sort());
    expect(ids(8)).toEqual([c.id]);
    transport.bind(b, { sessionId: 4, userId: 8, tenantId: 1 }); // the socket logs in as another user
    expect(ids(7)).toEqual([a.id]);
    expect(ids(8)).toEqual([b.id, c.id].sort());
    transport.unbind(a, 'revoked');
    expect(ids(7)).toEqual([]);
    clients[2].close();
    await vi.waitUntil(() => !io.of('/').sockets.has(c.id));
    expect(ids(8)).toEqual([b.id]);
    expect(transport.unbindSession(4, 'revoked')).toBe(1);
    expect(ids(8)).toEqual([]);
    for (const one of clients) one.close();
  });

  it('refuses to bind a socket to a session revoked while the binding request was running', async () => {
    // the interleaving of a subscription authenticated just before its session's revocation: the
    // revocation unbinds the session's sockets (none yet), then the request binds and joins rooms
    const one = await connectSocket(url);
    const socket = io.of('/').sockets.get(one.id as string)!;
    transport.unbindSession(42, 'revoked');
    expect(transport.bind(socket, { sessionId: 42, userId: 9, tenantId: 1 })).toBe(false);
    expect(transport.auth(socket)).toBeUndefined();
    expect(transport.socketsOfUser(9)).toEqual([]);
    // another session of the same user binds as usual
    expect(transport.bind(socket, { sessionId: 43, userId: 9, tenantId: 1 })).toBe(true);
    expect(transport.auth(socket)?.sessionId).toBe(43);
    one.close();
  });
});
