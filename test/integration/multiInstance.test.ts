import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../lib/log.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import { openRedis } from '../../lib/redis.js';
import { collect, connectSocket, httpTransport, settle, socketRequest, waitFor } from '../helpers/clients.js';
import { expectStatus, login } from '../helpers/fixtures.js';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';
import { ADMIN_PASSWORD, createTestDatabase } from '../helpers/server.js';

/**
 * Two Flux processes sharing one database and one Redis (docs/reference.md#running,
 * #authentication-and-sessions, #events): events, revocations and subscription changes made on one instance
 * take effect on the other at once. Needs `REDIS_URL` (CI always sets it for this run); without Redis,
 * instances share nothing but the database by design.
 */

const redisUrl = process.env.REDIS_URL;

interface Instance {
  url: string;
  process: NodeProcess;
}

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const instances: Instance[] = [];

async function startInstance(config: Record<string, unknown>): Promise<Instance> {
  const instance = startNode('test/helpers/instance.ts', [], {
    NODE_ENV: 'test',
    FLUX_TEST_CONFIG: JSON.stringify(config),
  });
  const [, port] = await waitForOutput(instance, /listening (\d+)/);
  return { url: `http://127.0.0.1:${port}`, process: instance };
}

beforeAll(async () => {
  if (!redisUrl) return;
  database = await createTestDatabase();
  const url = database.config.url ?? `sqlite:${database.config.storage as string}`;
  const config = {
    server: { port: 0, host: '127.0.0.1' },
    database: { url },
    redis: { url: redisUrl, prefix: `flux-multi-${process.pid}:` },
    bootstrap: { adminPassword: ADMIN_PASSWORD },
    jwt: { secret: 'a-shared-secret-of-the-two-instances-0123456789' },
  };
  // one after the other: the first runs the migrations
  instances.push(await startInstance(config));
  instances.push(await startInstance(config));
}, 90_000);

afterAll(async () => {
  for (const instance of instances) await instance.process.stop();
  await database?.drop();
});

describe.skipIf(!redisUrl)('two instances sharing the database and Redis', () => {
  it('When a session logs out on instance 1, then instance 2 refuses its token at once and its socket there is revoked', async () => {
    const [one, two] = instances;
    const token = await login(one.url, 'admin', ADMIN_PASSWORD);
    const socket = await connectSocket(two.url, { token });
    const revoked = collect(socket, 'auth:revoked');
    const events = collect<ModelEventPayload>(socket, 'model:team');
    expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(200);

    // a write on instance 1 reaches the subscriber on instance 2, once
    const writer = httpTransport(one.url, await login(one.url, 'admin', ADMIN_PASSWORD));
    const created = expectStatus<{ id: number }>(
      await writer.request('POST', '/team', { name: 'Across', role: 'orga' }),
      201,
    );
    await waitFor(() => events.length === 1, 5000, 'the event from instance 1');
    expect(events[0]).toMatchObject({ verb: 'created', id: created.id });

    expectStatus(await httpTransport(one.url, token).request('POST', '/auth/logout'), 200);
    const reply = await httpTransport(two.url, token).request('GET', '/auth/me');
    expect(expectStatus<{ _error: { code: string } }>(reply, 403)._error.code).toBe('TokenRevoked');
    await waitFor(() => revoked.length === 1, 5000, 'auth:revoked on instance 2');

    expectStatus(await writer.request('POST', '/team', { name: 'Not seen', role: 'orga' }), 201);
    await settle(500);
    expect(events).toHaveLength(1);
    socket.close();
  });

  it('When a team changes role on instance 1, then its members’ sockets on instance 2 are refreshed', async () => {
    const [one, two] = instances;
    const writer = httpTransport(one.url, await login(one.url, 'admin', ADMIN_PASSWORD));
    const team = expectStatus<{ id: number }>(
      await writer.request('POST', '/team', { name: 'Shifting', role: 'bar', group: 'bars' }),
      201,
    );
    expectStatus(
      await writer.request('POST', '/user', {
        login: 'shifter',
        password: 'shifter-password',
        teamId: team.id,
      }),
      201,
    );
    const socket = await connectSocket(two.url, {
      token: await login(two.url, 'shifter', 'shifter-password'),
    });
    const refresh = collect<{ models: string[] }>(socket, 'subscription:refresh');
    expect((await socketRequest(socket, { method: 'POST', url: '/alert/subscribe' })).statusCode).toBe(200);
    expectStatus(await writer.request('PATCH', `/team/${team.id}`, { role: 'logistics' }), 200);
    await waitFor(() => refresh.length === 1, 5000, 'subscription:refresh on instance 2');
    expect(refresh[0].models).toEqual(['alert']);
    // and instance 2, which had the member's identity cached, acts with the new role
    const me = await socketRequest(socket, { method: 'GET', url: '/auth/me' });
    expect((me.data as { permissions: string[] }).permissions).toContain('alert/restrictedReceiver');
    socket.close();
  });

  it('When a team is demoted on instance 1, then an alert raised on instance 2 right after the reply does not reach its members there', async () => {
    const [one, two] = instances;
    const writer = httpTransport(one.url, await login(one.url, 'admin', ADMIN_PASSWORD));
    const raiser = httpTransport(two.url, await login(two.url, 'admin', ADMIN_PASSWORD));
    const adminTeamId = expectStatus<{ team: { id: number } }>(await raiser.request('GET', '/auth/me'), 200)
      .team.id;
    const team = expectStatus<{ id: number }>(
      await writer.request('POST', '/team', { name: 'Demoted desk', role: 'orga' }),
      201,
    );
    expectStatus(
      await writer.request('POST', '/user', {
        login: 'demoted',
        password: 'demoted-password',
        teamId: team.id,
      }),
      201,
    );
    const socket = await connectSocket(two.url, {
      token: await login(two.url, 'demoted', 'demoted-password'),
    });
    const control = await connectSocket(two.url, { token: await login(two.url, 'admin', ADMIN_PASSWORD) });
    const events = collect<ModelEventPayload>(socket, 'model:alert');
    const seen = collect<ModelEventPayload>(control, 'model:alert');
    const refresh = collect<{ models: string[] }>(socket, 'subscription:refresh');
    for (const s of [socket, control])
      expect((await socketRequest(s, { method: 'POST', url: '/alert/subscribe' })).statusCode).toBe(200);
    const leaks: number[] = [];
    for (let round = 0; round < 10; round++) {
      expectStatus(await writer.request('PATCH', `/team/${team.id}`, { role: 'bar' }), 200);
      const alert = expectStatus<{ id: number }>(
        await raiser.request('POST', '/alert', {
          title: `after demotion ${round}`,
          severity: 'warning',
          senderTeamId: adminTeamId,
          receiverTeamId: null,
        }),
        201,
      );
      await waitFor(() => seen.some((e) => e.id === alert.id), 5000, 'the control event');
      await settle(30);
      if (events.some((e) => e.id === alert.id)) leaks.push(round);
      const refreshed = refresh.length;
      expectStatus(await writer.request('PATCH', `/team/${team.id}`, { role: 'orga' }), 200);
      await waitFor(() => refresh.length > refreshed, 5000, 'subscription:refresh after promotion');
    }
    expect(leaks).toEqual([]);
    socket.close();
    control.close();
  });

  it('When the event connections of instance 2 are cut, then its /ready says 200 only once they are back and subscribed, and the next event from instance 1 reaches it', async () => {
    const [one, two] = instances;
    const token = await login(one.url, 'admin', ADMIN_PASSWORD);
    const socket = await connectSocket(two.url, { token });
    const events = collect<ModelEventPayload>(socket, 'model:team');
    expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(200);
    const ready = async () => (await fetch(`${two.url}/ready`)).status;
    expect(await ready()).toBe(200);

    // instance 2's subscriber connections (bus, socket.io adapter), by their name flux:<host>:<pid>
    const admin = openRedis(redisUrl as string, new Logger({ level: 'error', dir: false }));
    const name = `flux:${hostname()}:${two.process.child.pid}`;
    const subscribers = async () =>
      ((await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string)
        .split('\n')
        .filter((line) => line.includes(` name=${name} `))
        .map((line) => ({
          id: /\bid=(\d+)/.exec(line)?.[1] as string,
          subscriptions: Number(/\bsub=(\d+)/.exec(line)?.[1]) + Number(/\bpsub=(\d+)/.exec(line)?.[1]),
        }));
    try {
      const killed = (await subscribers()).map(({ id }) => id);
      expect(killed.length).toBe(2);
      for (const id of killed) expect(await admin.client('KILL', 'ID', id)).toBe(1);
      // the first 200 after the cut: by then both are back, and subscribed (ioredis reconnects after 50 ms;
      // a /ready that pinged the command connection alone answered 200 at once)
      await vi.waitUntil(async () => (await ready()) === 200, { timeout: 10_000, interval: 5 });
      const renewed = await subscribers();
      expect(renewed.length).toBe(2);
      for (const connection of renewed) {
        expect(killed).not.toContain(connection.id);
        expect(connection.subscriptions).toBeGreaterThan(0);
      }
    } finally {
      await admin.quit();
    }
    const created = expectStatus<{ id: number }>(
      await httpTransport(one.url, token).request('POST', '/team', { name: 'After the cut', role: 'orga' }),
      201,
    );
    await waitFor(() => events.some((event) => event.id === created.id), 5000, 'the event after the cut');
    socket.close();
  });
});
