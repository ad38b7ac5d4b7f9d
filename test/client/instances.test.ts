import { connect, createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import type { FluxClient, LiveQuery } from '../../client/src/index.js';
import type { ModelName } from '../../client/src/models.js';
import { Flux } from '../../lib/Flux.js';
import { clientTransport, type Transport } from '../helpers/clients.js';
import { actors, operation, run } from '../helpers/domainOps.js';
import { expectLiveExact, loggedInClient } from '../helpers/live.js';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * A client moving from one instance to another (docs/client.md "Live queries"): two instances share the
 * database and Redis — one in this process, one in its own — and the live queries' clients reach them
 * through a TCP proxy, as through a load balancer. Random writes go to both instances; midway the proxy
 * sends the clients to the other instance (their connections cut, as when an instance goes away). After
 * every step each live query equals a fresh `find`. Needs `REDIS_URL`.
 */

const redisUrl = process.env.REDIS_URL;

/** A TCP proxy to `target()`'s port; `cut()` closes every connection through it. */
function tcpProxy(target: () => number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target(), '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        cut: () => {
          for (const socket of open) socket.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of open) socket.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let other: NodeProcess | undefined;
let otherPort = 0;
let localPort = 0;
let proxy: Awaited<ReturnType<typeof tcpProxy>> | undefined;
let towardsOther = false;
const clients: FluxClient[] = [];

beforeAll(async () => {
  if (!redisUrl) return;
  database = await createTestDatabase();
  const config = {
    server: { port: 0, host: '127.0.0.1' },
    database: { url: database.config.url ?? `sqlite:${database.config.storage as string}` },
    redis: { url: redisUrl, prefix: `flux-client-instances-${process.pid}:` },
    jwt: { secret: 'a-secret-both-instances-share-0123456789abcdef' },
  };
  const address = await Flux.start({ config });
  localPort = address.port;
  await loadDemoEvent('default');
  other = startNode('test/helpers/instance.ts', [], {
    NODE_ENV: 'test',
    FLUX_TEST_CONFIG: JSON.stringify(config),
  });
  otherPort = Number((await waitForOutput(other, /listening (\d+)/))[1]);
  proxy = await tcpProxy(() => (towardsOther ? otherPort : localPort));
}, 90_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await proxy?.close();
  await other?.stop();
  if (redisUrl) await Flux.stop();
  await database?.drop();
});

/** Live query parameters of any model (each is checked by the server at the first read). */
type AnyParams = { filters?: Record<string, unknown>; sort?: string | string[]; limit?: number };

const loggedIn = (url: string, login: string, socket = true) =>
  loggedInClient(url, login, DEMO_PASSWORD, { socket, clients });

const queries: Array<{ model: ModelName; params: AnyParams }> = [
  { model: 'alert', params: { sort: ['-createdAt'], limit: 5 } },
  { model: 'message', params: { filters: { channel: { like: 'public:%' } }, sort: '-id', limit: 5 } },
  { model: 'alertButton', params: { sort: 'title' } },
];

describe.skipIf(!redisUrl)('live queries across instances', () => {
  it('When the proxy sends the clients to the other instance midway, then after every step each live query equals a fresh find', async () => {
    const through = `http://127.0.0.1:${proxy!.port}`;
    const watchers = [];
    for (const [login, socket] of [
      ['coord', true],
      ['bar-nord', true],
      ['logistics', true],
      ['logistics', false], // live queries over a GET /events stream
    ] as const) {
      const client = await loggedIn(through, login, socket);
      const live = queries.map(({ model, params }) => ({
        model,
        params,
        query: client.live(model, params as never) as LiveQuery<unknown>,
      }));
      await Promise.all(live.map(({ query }) => query.ready));
      watchers.push({ login: `${login} (${socket ? 'socket' : 'events'})`, client, socket, live });
    }
    // writers on both instances, directly: over the socket to one, over HTTP to the other
    const writers = new Map<string, [Transport, Transport]>();
    for (const name of actors) {
      writers.set(name, [
        clientTransport(await loggedIn(`http://127.0.0.1:${localPort}`, name), 'socket'),
        clientTransport(await loggedIn(`http://127.0.0.1:${otherPort}`, name, false), 'http'),
      ]);
    }
    const tenantIds = { a: (await Flux.Tenant.findOne({ where: { slug: 'default' } }))!.id, b: 0 };
    const [ops] = fc.sample(fc.array(operation, { minLength: 30, maxLength: 30 }), { seed: 5, numRuns: 1 });
    const created: number[] = [];
    const statuses: number[] = [];
    for (const [index, op] of ops.entries()) {
      if (op.kind === 'otherTenant') continue;
      if (index === 15) {
        towardsOther = true;
        proxy!.cut();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      statuses.push(await run(op, tenantIds, created, (login) => writers.get(login)![index % 2]!));
      for (const { login, client, live } of watchers) {
        for (const { model, params, query } of live) {
          await expectLiveExact(
            query,
            () => client.service(model).find(params as never),
            `${login} ${model} after step ${index} (${op.kind}, ${towardsOther ? 'moved' : 'first instance'})`,
            5000,
          );
        }
      }
    }
    expect(statuses.filter((s) => s < 300).length).toBeGreaterThan(10);
    // the clients really moved: their sockets are connected again, now through to the other instance
    for (const { client, socket } of watchers) expect(client.connected).toBe(socket);
  }, 180_000);
});
