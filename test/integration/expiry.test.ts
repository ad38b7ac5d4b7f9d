import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import { collect, connectSocket, httpTransport, settle, socketRequest, waitFor } from '../helpers/clients.js';
import { expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Token expiry on a live socket (docs/reference.md#authentication-and-sessions): anonymous at that moment,
 * out of its rooms, still connected.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ jwt: { expiresIn: 2 } });
});

afterAll(async () => {
  await server?.stop();
});

describe('token expiry', () => {
  it('When the token of a subscribed socket expires, then auth:expired, no more events, and it can log in again', async () => {
    const socket = await connectSocket(server.url);
    const expired = collect(socket, 'auth:expired');
    const events = collect<ModelEventPayload>(socket, 'model:team');
    await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: ADMIN_PASSWORD },
    });
    expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(200);

    await waitFor(() => expired.length === 1, 4000, 'auth:expired');
    expect(socket.connected).toBe(true);
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);

    const writer = httpTransport(server.url, await login(server.url, 'admin', ADMIN_PASSWORD));
    expectStatus(await writer.request('POST', '/team', { name: 'After expiry', role: 'orga' }), 201);
    await settle(300);
    expect(events).toEqual([]);

    const relogin = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: ADMIN_PASSWORD },
    });
    expect(relogin.statusCode).toBe(200);
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
    socket.close();
  });

  it('When a socket connects with a handshake token, then it is unbound when that token expires', async () => {
    const token = await login(server.url, 'admin', ADMIN_PASSWORD);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number };
    await settle(1000);
    const socket = await connectSocket(server.url, { token });
    const expired = collect(socket, 'auth:expired');
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(200);
    // A binding that took a fresh token's lifetime would last until about exp + 1 s.
    await settle(exp * 1000 + 500 - Date.now());
    expect(expired).toHaveLength(1);
    expect((await socketRequest(socket, { method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
    socket.close();
  });
});
