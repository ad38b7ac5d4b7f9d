import { createServer, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpConnections, trackHttpConnections } from '../../lib/httpConnections.js';

/**
 * A stopping server waits for the connections that have sent nothing yet, and after a drain for its HTTP
 * connections to be closed by their clients (lib/httpConnections.ts): each wait ends as soon as there is
 * nothing left to wait for, not at its bound; an upgraded connection keeps no listener of the tracker and
 * is not waited for.
 */

const LONG_MS = 60_000; // far beyond the test's own timeout: a wait that ended did not run into it

/** 'ended' when `wait` resolves within `ms`, else 'bound'. */
function endsWithin(wait: Promise<void>, ms: number): Promise<'ended' | 'bound'> {
  const bound = new Promise<'bound'>((resolve) => setTimeout(() => resolve('bound'), ms));
  return Promise.race([wait.then(() => 'ended' as const), bound]);
}

let server: Server;
let tracker: HttpConnections;
const clients: net.Socket[] = [];
/** The server's ends of the upgraded connections: the server no longer closes them. */
const upgraded: Duplex[] = [];

async function start(): Promise<number> {
  // a long poll of socket.io's is held (here until the connection closes); anything else is answered
  server = createServer((req, res) => {
    if (!req.url?.startsWith('/socket.io/')) res.end('ok');
  });
  server.on('upgrade', (_req, socket) => {
    // an upgraded socket is the handler's: the server no longer listens to its errors (a reset peer)
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n'); // and stays open, as a WebSocket
    upgraded.push(socket);
  });
  tracker = trackHttpConnections(server, '/socket.io');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A connection accepted by the server, nothing written: the client's end, and the server's. */
async function connect(port: number): Promise<net.Socket> {
  return (await connectBoth(port)).client;
}

async function connectBoth(port: number): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  clients.push(client);
  return { client, accepted: await accepted };
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const socket of upgraded.splice(0)) socket.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('When a server stops, then it waits for the connections that have sent nothing, and only for them', () => {
  it('When no connection is open, then there is nothing to wait for', async () => {
    await start();
    await tracker.served(LONG_MS);
  });

  it('When a fresh connection sends its request, then the wait ends', async () => {
    const port = await start();
    const client = await connect(port);
    const waited = tracker.served(LONG_MS);
    const answered = new Promise((resolve) => client.once('data', resolve));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waited;
    await answered;
  });

  it('When fresh connections upgrade or close, then the wait ends', async () => {
    const port = await start();
    const upgrading = await connect(port);
    const closing = await connect(port);
    const waited = tracker.served(LONG_MS);
    upgrading.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    closing.destroy();
    await waited;
  });

  it('When a connection stays silent, then the wait ends at its bound', async () => {
    const port = await start();
    await connect(port);
    expect(await endsWithin(tracker.served(50), 500)).toBe('ended');
    // and it is still waited for: a longer wait does not end before the bound
    expect(await endsWithin(tracker.served(LONG_MS), 500)).toBe('bound');
  });
});

describe('When a server stops after a drain, then it waits for its HTTP connections to close, and only for them', () => {
  it('When no connection is open, then there is nothing to wait for', async () => {
    await start();
    await tracker.closed(LONG_MS);
  });

  it('When a kept-alive connection that served a request is closed by its client, then the wait ends', async () => {
    const port = await start();
    const client = await connect(port);
    const answered = new Promise((resolve) => client.once('data', resolve));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered;
    // still open: waited for
    expect(await endsWithin(tracker.closed(LONG_MS), 300)).toBe('bound');
    const waited = tracker.closed(LONG_MS);
    client.end();
    await waited;
  });

  it('When a connection upgrades, then it is not waited for, and it keeps no listener of the tracker', async () => {
    const port = await start();
    const { client, accepted } = await connectBoth(port);
    const switched = new Promise((resolve) => client.once('data', resolve));
    client.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await switched;
    // Node's own listeners go at the upgrade too (the socket is handed over with none): none of the
    // tracker's is left either
    expect(accepted.listeners('close')).toEqual([]);
    expect(await endsWithin(tracker.closed(LONG_MS), 500)).toBe('ended');
  });

  it('When a connection stays open, then the wait ends at its bound', async () => {
    const port = await start();
    await connect(port);
    expect(await endsWithin(tracker.closed(50), 500)).toBe('ended');
  });

  it('When a connection holds a socket.io long poll, then it is not waited for, but it is once the poll is answered', async () => {
    const port = await start();
    const client = await connect(port);
    const held = new Promise<ServerResponse>((resolve) =>
      server.once('request', (_req, res) => resolve(res)),
    );
    client.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n');
    const poll = await held;
    expect(await endsWithin(tracker.closed(LONG_MS), 500)).toBe('ended');
    // answered, the connection is an idle kept-alive one: waited for
    const answered = new Promise((resolve) => client.once('data', resolve));
    poll.end('ok');
    await answered;
    expect(await endsWithin(tracker.closed(LONG_MS), 300)).toBe('bound');
  });
});
