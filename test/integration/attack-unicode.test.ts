import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type FluxClient } from '../../client/src/index.js';
import { connectClient, httpTransport, socketTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A lone UTF-16 surrogate (`"\ud800"`) is no Unicode text: SQLite and PostgreSQL store and compare U+FFFD
 * in its place. Accepted, it made the reply and the event of a write (on SQLite) hold a value the database
 * does not, and a filter match rows a client's own evaluation of it (client/src/query.ts) does not: a live
 * query's list then differed from `find`. It is refused with 400, in written data and in filters alike.
 */
describe('attack: lone surrogates', () => {
  let server: TestServer;
  let http: Transport;
  let socketClient: FluxClient;
  let socket: Transport;

  beforeAll(async () => {
    server = await startTestServer();
    http = httpTransport(server.url, await adminLogin(server.url));
    socketClient = await connectClient(server.url);
    socket = socketTransport(socketClient);
    expectStatus(
      await socket.request('POST', '/auth/login', { login: 'admin', password: ADMIN_PASSWORD }),
      200,
    );
    expectStatus(await http.request('POST', '/team', { name: 'x\uFFFD', role: 'bar' }), 201);
  });
  afterAll(async () => {
    socketClient?.close();
    await server?.stop();
  });

  it.each(['x\ud800', 'x\udfff', '\ude00\ud83d'])(
    'When a write holds the lone surrogate in %j, then 400 over both transports and nothing is stored',
    async (name) => {
      for (const transport of [http, socket]) {
        const reply = await transport.request('POST', '/team', { name, role: 'bar' });
        expect(reply.status, transport.name).toBe(400);
        expect((reply.body as { _error: { code: string } })._error.code).toBe('BadRequest');
        const key = await transport.request('POST', '/team', { role: 'bar', [name]: 1, name: 'ok key?' });
        expect(key.status, `${transport.name} key`).toBe(400);
      }
      const teams = expectStatus<Array<{ name: string }>>(
        await http.request('GET', '/team', { limit: 1000 }),
        200,
      );
      expect(teams.map((team) => team.name)).not.toContain('ok key?');
      expect(teams.filter((team) => team.name.startsWith('x'))).toHaveLength(1);
    },
  );

  it('When a filter holds a lone surrogate, in data or as JSON text, then 400 rather than rows the client would not match', async () => {
    for (const filters of [
      { name: 'x\ud800' },
      { name: { like: '%\ud800' } },
      { name: { in: ['\udc00'] } },
    ]) {
      expect((await http.request('GET', '/team', { filters })).status, JSON.stringify(filters)).toBe(400);
      // as JSON text, the escape only becomes a surrogate when the filter is parsed
      const text = JSON.stringify(filters).replace(
        /[\ud800-\udfff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16)}`,
      );
      const raw = await fetch(`${server.url}/team?filters=${encodeURIComponent(text)}`, {
        headers: { authorization: `Bearer ${await adminLogin(server.url)}` },
      });
      expect(raw.status, text).toBe(400);
    }
  });

  it('When text holds well-formed characters past U+FFFF (surrogate pairs), then they are stored and filtered as ever', async () => {
    const created = expectStatus<{ name: string }>(
      await http.request('POST', '/team', { name: '😀 bar', role: 'bar' }),
      201,
    );
    expect(created.name).toBe('😀 bar');
    const found = expectStatus<unknown[]>(
      await http.request('GET', '/team', { filters: { name: { like: '😀%' } } }),
      200,
    );
    expect(found).toHaveLength(1);
    const client = createClient({ url: server.url, socket: false });
    await client.login('admin', ADMIN_PASSWORD);
    expect(await client.service('team').find({ filters: { name: '😀 bar' } })).toHaveLength(1);
  });
});
