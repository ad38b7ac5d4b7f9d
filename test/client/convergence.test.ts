import { createServer } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import type { FluxClient, LiveQuery } from '../../client/src/index.js';
import type { ModelName } from '../../client/src/models.js';
import { Flux } from '../../lib/Flux.js';
import { clientTransport, type Transport } from '../helpers/clients.js';
import { actors, type Operation, operation, run } from '../helpers/domainOps.js';
import { expectLiveExact, loggedInClient } from '../helpers/live.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * Replica convergence through @flux/client (docs/client.md "Live queries"): users of different roles, one
 * in another tenant, hold live queries with filters, sorts and limits while random writes run through
 * other clients over both transports — alerts raised and moved between receivers, messages moved between
 * channels, destroys, a team's role changing back and forth — and after every step each live query
 * equals a fresh `find` by its user. Midway some clients lose their socket while writes go on, and the
 * server restarts (stopped as SIGTERM stops it, started again on the same port).
 */

/** Who holds live queries: login, tenant, and whether over the socket or a `GET /events` stream. */
const watchers = [
  ['coord', 'default', 'socket'],
  ['bar-nord', 'default', 'socket'],
  ['bar-sud', 'default', 'socket'],
  ['logistics', 'default', 'socket'],
  ['security', 'default', 'socket'],
  ['coord', 'other', 'socket'],
  ['bar-sud', 'default', 'events'],
  ['firstaid', 'default', 'events'],
] as const;

/** The live queries every subscriber holds. */
/** Live query parameters of any model (each is checked by the server at the first read). */
type AnyParams = { filters?: Record<string, unknown>; sort?: string | string[]; limit?: number };

const queries: Array<{ model: ModelName; params: AnyParams }> = [
  { model: 'alert', params: { sort: ['-createdAt'], limit: 6 } },
  {
    model: 'alert',
    params: { filters: { severity: { in: ['warning', 'serious'] } }, sort: ['severity', '-id'] },
  },
  { model: 'message', params: { filters: { channel: { like: 'public:%' } }, sort: '-id', limit: 5 } },
  { model: 'alertButton', params: { sort: 'title' } },
  {
    model: 'user',
    params: { filters: { or: [{ name: { like: 'Renamed%' } }, { name: null }] }, sort: 'name' },
  },
  { model: 'team', params: { sort: ['location', 'name'] } },
];

interface Subscriber {
  who: string;
  client: FluxClient;
  live: Array<{ model: ModelName; params: AnyParams; query: LiveQuery<unknown> }>;
}

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let port: number;
const clients: FluxClient[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
}

async function start(): Promise<void> {
  await Flux.start({
    config: {
      server: { port, host: '127.0.0.1' },
      database: database.config,
      jwt: { secret: 'convergence-test-secret-convergence-test-secret' },
      redis: { prefix: `flux-test-${process.pid}-convergence:` },
    },
  });
}

/** A logged-in client of the server under test; `socket: false` for one that only speaks HTTP. */
const loggedIn = (login: string, tenant: string, socket = true) =>
  loggedInClient(`http://127.0.0.1:${port}`, login, DEMO_PASSWORD, { tenant, socket, clients });

beforeAll(async () => {
  database = await createTestDatabase();
  port = await freePort();
  await start();
  await loadDemoEvent('default');
  await Flux.Tenant.create({ name: 'Other festival', slug: 'other', settings: {} });
  await loadDemoEvent('other');
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Flux.stop();
  await database?.drop();
});

async function expectAllExact(subscribers: Subscriber[], step: string): Promise<void> {
  for (const { who, client, live } of subscribers) {
    for (const { model, params, query } of live) {
      await expectLiveExact(
        query,
        () => client.service(model).find(params as never),
        `${who} ${model} ${JSON.stringify(params)} after ${step}`,
      );
    }
  }
}

describe('live queries through @flux/client', () => {
  it('When random writes, role changes, lost sockets and a server restart happen, then after every step each live query equals a fresh find', async () => {
    const tenantIds = {
      a: (await Flux.Tenant.findOne({ where: { slug: 'default' } }))!.id,
      b: (await Flux.Tenant.findOne({ where: { slug: 'other' } }))!.id,
    };
    // writers: each actor over the socket and over HTTP, used in turn
    const writers = new Map<string, [Transport, Transport]>();
    for (const name of actors) {
      writers.set(name, [
        clientTransport(await loggedIn(name, 'default'), 'socket'),
        clientTransport(await loggedIn(name, 'default', false), 'http'),
      ]);
    }
    const otherCoord = clientTransport(await loggedIn('coord', 'other', false), 'http');
    const subscribers: Subscriber[] = [];
    for (const [login, tenant, feed] of watchers) {
      const client = await loggedIn(login, tenant, feed === 'socket');
      const live = queries.map(({ model, params }) => ({
        model,
        params,
        query: client.live(model, params as never) as LiveQuery<unknown>,
      }));
      await Promise.all(live.map(({ query }) => query.ready));
      subscribers.push({ who: `${tenant}/${login} (${feed})`, client, live });
    }
    await expectAllExact(subscribers, 'the first reads');
    // not vacuous: the subscribers see different things
    const sizes = subscribers.map((s) => s.live.map((l) => l.query.items.length).join(','));
    expect(new Set(sizes).size).toBeGreaterThan(2);

    const barSud = (await Flux.Team.findOne({ where: { name: 'Bar Sud', tenantId: tenantIds.a } }))!;
    const seed = Number(process.env.FLUX_CONVERGENCE_SEED ?? 11);
    const [ops] = fc.sample(fc.array(operation, { minLength: 60, maxLength: 60 }), { seed, numRuns: 1 });
    const created: number[] = [];
    const statuses: number[] = [];
    let role: 'bar' | 'logistics' = 'bar';
    for (const [index, op] of ops.entries()) {
      const transport = index % 2;
      const actor = (login: string) =>
        login === 'other:coord' ? otherCoord : writers.get(login)![transport]!;
      if (index === 20 || index === 40) {
        // a bar becomes a logistics team and back: what its users may read changes without a write to it
        role = role === 'bar' ? 'logistics' : 'bar';
        const reply = await actor('coord').request('PATCH', `/team/${barSud.id}`, { role });
        expect(reply.status).toBe(200);
      }
      if (index === 15 || index === 45) {
        // two subscribers lose their socket while three writes go on
        const lost = [subscribers[1]!, subscribers[4]!];
        for (const { client } of lost) client.disconnect();
        for (const later of ops.slice(index, index + 3) as Operation[])
          statuses.push(await run(later, tenantIds, created, actor));
        for (const { client } of lost) await client.connect();
      }
      if (index === 30) {
        await Flux.stop();
        await start();
      }
      statuses.push(await run(op, tenantIds, created, actor));
      await expectAllExact(
        subscribers,
        `step ${index} (${op.kind} over ${transport ? 'HTTP' : 'the socket'})`,
      );
    }
    expect(statuses.filter((s) => s < 300).length, `seed ${seed}`).toBeGreaterThan(25);
  }, 300_000);
});
