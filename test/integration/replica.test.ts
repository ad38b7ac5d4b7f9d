import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxModelClass } from '../../lib/ModelController.js';
import { intersects } from '../../lib/permissions.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import { connectSocket, httpTransport, socketRequest, type Transport, waitFor } from '../helpers/clients.js';
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
const actors = [
  'coord',
  'bar-nord',
  'bar-sud',
  'bar-central',
  'food',
  'logistics',
  'cleaning',
  'security',
  'firstaid',
  'welcome',
];

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

const small = fc.nat({ max: 1000 });
const maybe = fc.option(small, { nil: null });
const operation = fc.oneof(
  fc.record({ kind: fc.constant('raise' as const), actor: small, button: small, message: fc.boolean() }),
  fc.record({ kind: fc.constant('createAlert' as const), sender: maybe, receiver: maybe }),
  fc.record({ kind: fc.constant('moveAlert' as const), alert: small, receiver: maybe }),
  fc.record({
    kind: fc.constant('severity' as const),
    actor: small,
    alert: small,
    severity: fc.constantFrom('done', 'warning', 'serious'),
  }),
  fc.record({
    kind: fc.constant('assign' as const),
    actor: small,
    alert: small,
    users: fc.array(small, { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('destroyAlert' as const), alert: small }),
  fc.record({ kind: fc.constant('post' as const), actor: small, channel: small }),
  fc.record({ kind: fc.constant('moveMessage' as const), message: small, channel: small }),
  fc.record({ kind: fc.constant('editMessage' as const), actor: small, message: small }),
  fc.record({ kind: fc.constant('destroyMessage' as const), actor: small, message: small }),
  fc.record({
    kind: fc.constant('updateButton' as const),
    button: small,
    group: fc.constantFrom('bars', 'food', 'orga', null),
    receiver: maybe,
  }),
  fc.record({
    kind: fc.constant('createButton' as const),
    group: fc.constantFrom('bars', 'food', 'safety'),
    receiver: maybe,
  }),
  fc.record({ kind: fc.constant('destroyButton' as const), button: small }),
  fc.record({ kind: fc.constant('createUser' as const), team: small }),
  fc.record({ kind: fc.constant('moveUser' as const), user: small, team: small }),
  fc.record({ kind: fc.constant('renameUser' as const), user: small }),
  fc.record({ kind: fc.constant('teamLocation' as const), team: small }),
  fc.record({ kind: fc.constant('otherTenant' as const), receiver: maybe, channel: small }),
);
type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

/** Runs one operation through the API as its actor. Refusals (4xx) are part of the game; 5xx are not. */
async function run(op: Operation, tenantIds: { a: number; b: number }, created: number[]): Promise<number> {
  const pick = <T>(list: T[], n: number): T | undefined => (list.length ? list[n % list.length] : undefined);
  const tenantId = tenantIds.a;
  const teams = (await Flux.Team.findAll({ where: { tenantId }, order: [['id', 'ASC']] })).map((t) => t);
  const teamId = (n: number | null) => (n === null ? null : pick(teams, n)!.id);
  const alerts = (
    await Flux.Alert.findAll({ where: { tenantId }, attributes: ['id'], order: [['id', 'ASC']] })
  ).map((a) => a.id);
  const messages = await Flux.Message.findAll({ where: { tenantId }, order: [['id', 'ASC']] });
  const buttons = (
    await Flux.AlertButton.findAll({ where: { tenantId }, attributes: ['id'], order: [['id', 'ASC']] })
  ).map((b) => b.id);
  const users = (
    await Flux.User.findAll({ where: { tenantId }, attributes: ['id', 'login'], order: [['id', 'ASC']] })
  ).map((u) => u.id);
  const groups = [...new Set(teams.map((t) => t.group).filter(Boolean))] as string[];
  const channels = [
    ...teams.flatMap((t) => [`public:${t.id}`, `private:${t.id}`]),
    ...groups.map((g) => `group:${g}`),
  ];
  const who = (n: number) => actor(pick(actors, n)!);
  const coord = actor('coord');
  let reply: { status: number };
  switch (op.kind) {
    case 'raise':
      reply = await who(op.actor).request(
        'POST',
        `/alertbutton/${pick(buttons, op.button) ?? 0}/alert`,
        op.message ? { message: 'Help' } : {},
      );
      break;
    case 'createAlert':
      reply = await coord.request('POST', '/alert', {
        title: 'Manual',
        severity: 'serious',
        senderTeamId: teamId(op.sender),
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'moveAlert':
      reply = await coord.request('PATCH', `/alert/${pick(alerts, op.alert) ?? 0}`, {
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'severity':
      reply = await who(op.actor).request('PATCH', `/alert/${pick(alerts, op.alert) ?? 0}`, {
        severity: op.severity,
      });
      break;
    case 'assign':
      reply = await who(op.actor).request('PUT', `/alert/${pick(alerts, op.alert) ?? 0}/users`, {
        users: op.users.map((n) => pick(users, n)!),
      });
      break;
    case 'destroyAlert':
      reply = await coord.request('DELETE', `/alert/${pick(alerts, op.alert) ?? 0}`);
      break;
    case 'post':
      reply = await who(op.actor).request('POST', '/message', {
        channel: pick(channels, op.channel),
        text: 'Radio check',
      });
      break;
    case 'moveMessage':
      reply = await coord.request('PATCH', `/message/${pick(messages, op.message)?.id ?? 0}`, {
        channel: pick(channels, op.channel),
      });
      break;
    case 'editMessage':
      reply = await who(op.actor).request('PATCH', `/message/${pick(messages, op.message)?.id ?? 0}`, {
        text: 'Edited',
      });
      break;
    case 'destroyMessage':
      reply = await who(op.actor).request('DELETE', `/message/${pick(messages, op.message)?.id ?? 0}`);
      break;
    case 'updateButton':
      reply = await coord.request('PATCH', `/alertbutton/${pick(buttons, op.button) ?? 0}`, {
        senderGroup: op.group,
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'createButton':
      reply = await coord.request('POST', '/alertbutton', {
        title: 'New button',
        senderGroup: op.group,
        receiverTeamId: teamId(op.receiver),
      });
      break;
    case 'destroyButton':
      reply = await coord.request('DELETE', `/alertbutton/${pick(buttons, op.button) ?? 0}`);
      break;
    case 'createUser': {
      reply = await coord.request('POST', '/user', {
        login: `temp-${created.length}-${Date.now()}`,
        password: 'temp-password',
        teamId: teamId(op.team),
      });
      if (reply.status === 201) created.push((reply as { body: { id: number } } & typeof reply).body.id);
      break;
    }
    case 'moveUser':
      // only users created here: subscribed users keep their team (see the dedicated test below)
      reply = await coord.request('PATCH', `/user/${pick(created, op.user) ?? 0}`, {
        teamId: teamId(op.team),
      });
      break;
    case 'renameUser':
      reply = await coord.request('PATCH', `/user/${pick(users, op.user) ?? 0}`, {
        name: `Renamed ${op.user}`,
      });
      break;
    case 'teamLocation':
      reply = await coord.request('PATCH', `/team/${teamId(op.team)}`, { location: `Zone ${op.team % 7}` });
      break;
    case 'otherTenant': {
      const otherTeams = await Flux.Team.findAll({
        where: { tenantId: tenantIds.b },
        order: [['id', 'ASC']],
      });
      const receiver = op.receiver === null ? null : pick(otherTeams, op.receiver)!.id;
      reply = await actor('other:coord').request('POST', '/alert', {
        title: 'Other',
        severity: 'warning',
        receiverTeamId: receiver,
      });
      await actor('other:coord').request('POST', '/message', {
        channel: `public:${pick(otherTeams, op.channel)!.id}`,
        text: 'Other',
      });
      break;
    }
  }
  expect(reply.status, JSON.stringify({ op, reply })).toBeLessThan(500);
  return reply.status;
}

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
    for (const op of ops) statuses.push(await run(op, tenantIds, created));
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
