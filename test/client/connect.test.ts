import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, FluxError } from '../../client/src/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

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
  } finally {
    first.close();
    second.close();
  }
});
