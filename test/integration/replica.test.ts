import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxModelClass } from '../../lib/ModelController.js';
import { intersects } from '../../lib/permissions.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import { connectSocket, httpTransport, socketRequest, type Transport, waitFor } from '../helpers/clients.js';
import { actors, operation, run } from '../helpers/domainOps.js';
import { expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Replica convergence (docs/reference.md#events): clients that apply the events they receive to what `find`
 * returned hold exactly what `find` returns now — for every role and tenant, after a random sequence of
 * writes by different users, including ones that move alerts between receivers and messages between channels
 * — and no socket ever receives an item it may not read.
 */

type Row = { id: number; tenantId: number } & Record<string, unknown>;

/** Models as subscribers see them: event name and route. */
const models = [
  { name: 'alert', route: '/alert', model: 'Alert' },
  { name: 'alertButton', route: '/alertbutton', model: 'AlertButton' },
  { name: 'message', route: '/message', model: 'Message' },
  { name: 'team', route: '/team', model: 'Team' },
  { name: 'user', route: '/user', model: 'User' },
] as const;

/** A client's live copy of every model it reads, built from `find` and kept up to date by events. */
class Replica {
  readonly rows = new Map<string, Map<number, Row>>();
  readonly received: Array<{ model: string; event: ModelEventPayload }> = [];
  lastEventAt = Date.now();

  constructor(
    readonly login: string,
    readonly tenant: string,
    readonly socket: Socket,
  ) {
    for (const { name } of models) {
      this.rows.set(name, new Map());
      socket.on(`model:${name}`, (event: ModelEventPayload) => this.apply(name, event));
    }
  }

  private apply(model: string, event: ModelEventPayload): void {
    this.received.push({ model, event });
    this.lastEventAt = Date.now();
    const rows = this.rows.get(model)!;
    if (event.verb === 'destroyed') rows.delete(Number(event.id));
    else rows.set(Number(event.id), event.data as Row);
  }

  /** Logs in over the socket and loads every model with `subscribe: true` (rooms joined before the read). */
  async start(): Promise<void> {
    const headers = { 'x-tenant': this.tenant };
    const reply = await socketRequest(this.socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: this.login, password: DEMO_PASSWORD },
      headers,
    });
    expect(reply.statusCode).toBe(200);
    for (const { name, route } of models) {
      const found = await socketRequest(this.socket, {
        method: 'GET',
        url: route,
        data: { subscribe: true, limit: 1000 },
      });
      expect(found.statusCode).toBe(200);
      for (const row of found.data as Row[]) this.rows.get(name)!.set(row.id, row);
    }
  }

  snapshot(model: string): Row[] {
    return [...this.rows.get(model)!.values()].sort((a, b) => a.id - b.id);
  }
}

let server: TestServer;
const tokens = new Map<string, Transport>();
const actor = (loginName: string) => tokens.get(loginName)!;
const subscribers = [
  ['coord', 'default'],
  ['bar-nord', 'default'],
  ['bar-sud', 'default'],
  ['logistics', 'default'],
  ['security', 'default'],
  ['firstaid', 'default'],
  ['welcome', 'default'],
  ['coord', 'other'],
  ['bar-nord', 'other'],
] as const;

beforeAll(async () => {
  server = await startTestServer();
  await loadDemoEvent('default');
  await Flux.Tenant.create({ name: 'Other festival', slug: 'other', settings: {} });
  await loadDemoEvent('other');
  for (const name of actors)
    tokens.set(name, httpTransport(server.url, await login(server.url, name, DEMO_PASSWORD)));
  tokens.set(
    'other:coord',
    httpTransport(server.url, await login(server.url, 'coord', DEMO_PASSWORD, 'other')),
  );
});

afterAll(async () => {
  await server?.stop();
});

describe('replica convergence', () => {
  it('When random writes by different users run, then every subscriber’s replica equals a fresh find, and no one receives what it may not read', async () => {
    const tenantIds = {
      a: (await Flux.Tenant.findOne({ where: { slug: 'default' } }))!.id,
      b: (await Flux.Tenant.findOne({ where: { slug: 'other' } }))!.id,
    };
    const replicas: Replica[] = [];
    for (const [name, tenant] of subscribers) {
      const replica = new Replica(name, tenant, await connectSocket(server.url));
      await replica.start();
      replicas.push(replica);
    }

    const seed = Number(process.env.FLUX_REPLICA_SEED ?? 7);
    const [ops] = fc.sample(fc.array(operation, { minLength: 120, maxLength: 120 }), { seed, numRuns: 1 });
    const statuses: number[] = [];
    const created: number[] = [];
    for (const op of ops) statuses.push(await run(op, tenantIds, created, actor));
    // the sequence must really change things, not only be refused
    expect(statuses.filter((s) => s < 300).length, `seed ${seed}`).toBeGreaterThan(40);

    // quiescence: no event for 400 ms on any socket
    await waitFor(() => replicas.every((r) => Date.now() - r.lastEventAt > 400), 15_000, 'quiescence');

    for (const replica of replicas) {
      const transport = httpTransport(
        server.url,
        await login(server.url, replica.login, DEMO_PASSWORD, replica.tenant),
      );
      const tenantId = replica.tenant === 'default' ? tenantIds.a : tenantIds.b;
      const me = (await Flux.User.findOne({
        where: { tenantId, login: replica.login },
        include: [{ association: 'team' }],
      }))!;
      for (const { name, route, model } of models) {
        const fresh = expectStatus<Row[]>(await transport.request('GET', route, { limit: 1000 }), 200);
        expect({
          who: `${replica.tenant}/${replica.login}`,
          model: name,
          rows: replica.snapshot(name),
        }).toEqual({
          who: `${replica.tenant}/${replica.login}`,
          model: name,
          rows: fresh,
        });
        // nothing it received was unreadable, nor from another tenant
        const modelClass = Flux.models[model] as FluxModelClass;
        const userGroups = modelClass.getUserReadGroups(me.team!, me);
        for (const { event } of replica.received.filter((r) => r.model === name)) {
          const data = event.data as Row;
          expect(data.tenantId, `${replica.login} got another tenant's ${name}`).toBe(tenantId);
          const item = modelClass.build(data as never, { isNewRecord: false, raw: true });
          expect(
            intersects(userGroups, item.getReadGroups()),
            `${replica.login} got unreadable ${name} ${data.id}`,
          ).toBe(true);
        }
      }
    }
    // tenant B saw its own writes, tenant A's subscribers saw plenty
    expect(
      replicas.find((r) => r.tenant === 'other' && r.login === 'coord')!.received.length,
    ).toBeGreaterThan(0);
    expect(
      replicas.find((r) => r.login === 'coord' && r.tenant === 'default')!.received.length,
    ).toBeGreaterThan(40);
    for (const replica of replicas) replica.socket.close();
  }, 120_000);

  it('When a subscriber’s team changes role, then its rooms are recomputed and it is told to refresh', async () => {
    const replica = new Replica('bar-sud', 'default', await connectSocket(server.url));
    await replica.start();
    const refresh: Array<{ models: string[] }> = [];
    replica.socket.on('subscription:refresh', (payload: { models: string[] }) => refresh.push(payload));
    const barSud = (await Flux.Team.findOne({ where: { name: 'Bar Sud', tenantId: 1 } }))!;
    const coord = actor('coord');

    // a bar does not receive alerts sent to it…
    const alert = expectStatus<Row>(
      await coord.request('POST', '/alert', {
        title: 'For Bar Sud',
        severity: 'warning',
        receiverTeamId: barSud.id,
      }),
      201,
    );
    // …until its team becomes a logistics team, which handles the alerts it receives
    expectStatus(await coord.request('PATCH', `/team/${barSud.id}`, { role: 'logistics' }), 200);
    await waitFor(() => refresh.length === 1, 3000, 'subscription:refresh');
    expect(refresh[0].models).toEqual(expect.arrayContaining(['alert', 'message']));
    expect(replica.snapshot('alert').some((a) => a.id === alert.id)).toBe(false);

    // the client does what the event asks: find again; then it holds the alert, and later changes reach it
    const found = await socketRequest(replica.socket, {
      method: 'GET',
      url: '/alert',
      data: { subscribe: true },
    });
    expect((found.data as Row[]).map((a) => a.id)).toContain(alert.id);
    expectStatus(await coord.request('PATCH', `/alert/${alert.id}`, { severity: 'done' }), 200);
    await waitFor(
      () => replica.received.some((r) => r.model === 'alert' && r.event.id === alert.id),
      3000,
      'the update',
    );
    expect(replica.received.find((r) => r.event.id === alert.id)!.event).toMatchObject({
      verb: 'updated',
      data: { severity: 'done' },
    });

    expectStatus(await coord.request('PATCH', `/team/${barSud.id}`, { role: 'bar' }), 200);
    await waitFor(() => refresh.length === 2, 3000, 'second subscription:refresh');
    replica.socket.close();
  });
});
