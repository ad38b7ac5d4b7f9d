import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, FluxError } from '../../client/src/index.js';
import { waitFor } from '../helpers/clients.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ socket: { maxConnectionsPerAddress: 1 } });
});
afterAll(async () => {
  await server?.stop();
});

it('When the server refuses the socket for good, then connect rejects with its FluxError and HTTP still works', async () => {
  const first = createClient({ url: server.url });
  const second = createClient({ url: server.url, socket: { autoConnect: false } });
  try {
    await first.connect();
    const error = await second.connect().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FluxError);
    expect(error).toMatchObject({ status: 429, code: 'TooManyRequests' });
    expect(second.connected).toBe(false);
    expect((await second.request('GET', '/health')).statusCode).toBe(200);

    // live queries fall back to the event stream, and stay exact
    await second.login('admin', ADMIN_PASSWORD);
    const live = second.live('team', { sort: '-id', limit: 3 });
    await live.ready;
    const created = await second.service('team').create({ name: 'Seen through the stream', role: 'bar' });
    await waitFor(() => live.items[0]?.id === created.id, 3000, 'the created team');
    expect(live.items).toEqual(await second.service('team').find({ sort: '-id', limit: 3 }));
    live.close();
  } finally {
    first.close();
    second.close();
  }
});

it('When the server cannot be reached and reconnection is off, then connect rejects instead of waiting forever', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve)); // nothing listens there now
  const client = createClient({ url: `http://127.0.0.1:${port}`, socket: { reconnection: false } });
  try {
    await expect(client.connect()).rejects.toMatchObject({ status: 0, code: 'NetworkError' });
  } finally {
    client.close();
  }
});
