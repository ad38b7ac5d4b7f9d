import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTransport, socketRequest, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Behind a trusted reverse proxy (`server.trustProxy`), the client address is the proxy's forwarding
 * header — for HTTP and for the WebSocket handshake alike — but never a header of a socket message.
 */

let server: TestServer;
let admin: Transport;

beforeAll(async () => {
  server = await startTestServer({ server: { port: 0, host: '127.0.0.1', trustProxy: 'loopback' } });
  admin = httpTransport(server.url, await adminLogin(server.url));
  const kiosk = await createTeamWithUser(
    admin,
    { name: 'Kiosk', role: 'orga' },
    { login: 'kiosk', password: 'kiosk-password' },
  );
  expectStatus(await admin.request('PATCH', `/user/${kiosk.userId}`, { ip: '10.20.30.40' }), 200);
  await createTenant(admin, { name: 'Festival B', slug: 'festival-b', adminPassword: 'admin-b-password' });
});

afterAll(async () => {
  await server?.stop();
});

describe('trusted proxy', () => {
  it('When the trusted proxy forwards the kiosk address over HTTP, then /auth/ip logs the kiosk in', async () => {
    const reply = await httpTransport(server.url).request(
      'POST',
      '/auth/ip',
      {},
      { 'x-forwarded-for': '10.20.30.40' },
    );
    expect(expectStatus<{ user: { login: string } }>(reply, 200).user.login).toBe('kiosk');
  });

  it('When the WebSocket handshake came through the proxy, then its forwarded address counts', async () => {
    const socket = io(server.url, {
      transports: ['websocket'],
      extraHeaders: { 'x-forwarded-for': '10.20.30.40' },
      forceNew: true,
    });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    const reply = await socketRequest(socket, { method: 'POST', url: '/auth/ip', data: {} });
    expect(reply.statusCode).toBe(200);
    socket.close();
  });

  it('When a socket message carries a forwarding header, then it is ignored', async () => {
    const socket = io(server.url, { transports: ['websocket'], forceNew: true });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    const reply = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/ip',
      data: {},
      headers: { 'x-forwarded-for': '10.20.30.40' },
    });
    expect(reply.statusCode).toBe(401);
    socket.close();
  });

  it('When the proxy forwards the public host, then HTTP and the socket resolve the same sub-domain tenant', async () => {
    const credentials = { login: 'admin', password: 'admin-b-password' };
    const forwarded = { 'x-forwarded-host': 'festival-b.events.example' };
    expectStatus(await httpTransport(server.url).request('POST', '/auth/login', credentials, forwarded), 200);
    // without it, the host is 127.0.0.1: the default tenant, whose admin has another password
    expectStatus(await httpTransport(server.url).request('POST', '/auth/login', credentials), 401);
    const socket = io(server.url, { transports: ['websocket'], extraHeaders: forwarded, forceNew: true });
    await new Promise((resolve) => socket.once('connect', resolve as () => void));
    const reply = await socketRequest(socket, { method: 'POST', url: '/auth/login', data: credentials });
    expect(reply.statusCode).toBe(200);
    socket.close();
  });
});
