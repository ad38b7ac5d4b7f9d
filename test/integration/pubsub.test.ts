import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import {
  collect,
  connectSocket,
  httpTransport,
  settle,
  socketRequest,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus } from '../helpers/fixtures.js';
import { startNode } from '../helpers/processes.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Publish/subscribe (docs/reference.md#events): rooms per read group, exactly-once delivery, transitions,
 * every write path.
 */

let server: TestServer;
let admin: Transport;
let bar1: { teamId: number; userId: number };
let bar2: { teamId: number; userId: number };

async function subscriber(
  loginName: string,
  password: string,
  model = 'user',
): Promise<{ socket: Socket; events: ModelEventPayload[] }> {
  const socket = await connectSocket(server.url);
  const events = collect<ModelEventPayload>(socket, `model:${model}`);
  expect(
    (
      await socketRequest(socket, {
        method: 'POST',
        url: '/auth/login',
        data: { login: loginName, password },
      })
    ).statusCode,
  ).toBe(200);
  expect((await socketRequest(socket, { method: 'POST', url: `/${model}/subscribe` })).statusCode).toBe(200);
  return { socket, events };
}

beforeAll(async () => {
  server = await startTestServer();
  admin = httpTransport(server.url, await adminLogin(server.url));
  bar1 = await createTeamWithUser(
    admin,
    { name: 'Bar 1', role: 'bar', group: 'bars' },
    { login: 'bar1', password: 'bar1-password' },
  );
  bar2 = await createTeamWithUser(
    admin,
    { name: 'Bar 2', role: 'bar', group: 'bars' },
    { login: 'bar2', password: 'bar2-password' },
  );
});

afterAll(async () => {
  await server?.stop();
});

describe('model events', () => {
  it('When a user is created, updated and destroyed, then each subscriber who may read it gets each change exactly once', async () => {
    const all = await subscriber('admin', ADMIN_PASSWORD);
    const sameTeam = await subscriber('bar1', 'bar1-password');
    const otherTeam = await subscriber('bar2', 'bar2-password');

    const created = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', { login: 'live', password: 'live-password', teamId: bar1.teamId }),
      201,
    );
    expectStatus(await admin.request('PATCH', `/user/${created.id}`, { name: 'Live one' }), 200);
    expectStatus(await admin.request('DELETE', `/user/${created.id}`), 200);

    for (const s of [all, sameTeam]) await waitFor(() => s.events.length >= 3, 3000, 'three events');
    await settle();
    for (const s of [all, sameTeam]) {
      expect(s.events.map((e) => [e.verb, e.id])).toEqual([
        ['created', created.id],
        ['updated', created.id],
        ['destroyed', created.id],
      ]);
      expect(s.events[1].data).toMatchObject({ id: created.id, name: 'Live one', teamId: bar1.teamId });
      for (const event of s.events) expect(event.data).not.toHaveProperty('password');
    }
    expect(otherTeam.events).toEqual([]);
    for (const s of [all, sameTeam, otherTeam]) s.socket.close();
  });

  it('When a subscriber may not read the item, then it receives nothing', async () => {
    expectStatus(await admin.request('POST', '/team', { name: 'Nobody', role: 'bar' }), 201);
    // a bar reads only its own sessions; a new login of the admin creates a session it may not read
    const watcher = await subscriber('bar2', 'bar2-password', 'session');
    const control = await subscriber('admin', ADMIN_PASSWORD, 'session');
    await adminLogin(server.url);
    await waitFor(() => control.events.length >= 1, 3000, 'the control event');
    await settle();
    // its own login's session may reach it (a bar reads its own sessions), with Redis even after subscribing
    const notOwn = (e: ModelEventPayload) => (e.data as { userId: number }).userId !== bar2.userId;
    expect(control.events.some(notOwn)).toBe(true);
    expect(watcher.events.filter(notOwn)).toEqual([]);
    watcher.socket.close();
    control.socket.close();
  });

  it('When an update moves an item out of and into views, then subscribers get destroyed / created / updated', async () => {
    const all = await subscriber('admin', ADMIN_PASSWORD);
    const from = await subscriber('bar1', 'bar1-password');
    const to = await subscriber('bar2', 'bar2-password');
    const mover = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', {
        login: 'mover',
        password: 'mover-password',
        teamId: bar1.teamId,
      }),
      201,
    );
    await waitFor(() => from.events.length === 1 && all.events.length === 1, 3000, 'created events');
    expectStatus(await admin.request('PATCH', `/user/${mover.id}`, { teamId: bar2.teamId }), 200);
    await waitFor(
      () => from.events.length === 2 && to.events.length === 1 && all.events.length === 2,
      3000,
      'transition',
    );
    await settle();
    expect(from.events.map((e) => e.verb)).toEqual(['created', 'destroyed']);
    // the team that lost the item is sent the state it could read, not the new one
    expect(from.events[1].data).toMatchObject({ id: mover.id, teamId: bar1.teamId });
    expect(to.events.map((e) => e.verb)).toEqual(['created']);
    expect(to.events[0].data).toMatchObject({ id: mover.id, teamId: bar2.teamId });
    expect(all.events.map((e) => e.verb)).toEqual(['created', 'updated']);
    for (const s of [all, from, to]) s.socket.close();
  });

  it('When a socket unsubscribes, then it receives no more events', async () => {
    const s = await subscriber('admin', ADMIN_PASSWORD, 'team');
    expectStatus(await admin.request('POST', '/team', { name: 'Before', role: 'orga' }), 201);
    await waitFor(() => s.events.length === 1, 3000, 'first event');
    expect((await socketRequest(s.socket, { method: 'POST', url: '/team/unsubscribe' })).statusCode).toBe(
      200,
    );
    expectStatus(await admin.request('POST', '/team', { name: 'After', role: 'orga' }), 201);
    await settle(300);
    expect(s.events).toHaveLength(1);
    s.socket.close();
  });

  it('When a subscribed socket logs in as another user, then it leaves the rooms of the first', async () => {
    const s = await subscriber('admin', ADMIN_PASSWORD);
    const relogin = await socketRequest(s.socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'bar2', password: 'bar2-password' },
    });
    expect(relogin.statusCode).toBe(200);
    const control = await subscriber('admin', ADMIN_PASSWORD);
    expectStatus(
      await admin.request('POST', '/user', {
        login: 'unseen',
        password: 'unseen-password',
        teamId: bar1.teamId,
      }),
      201,
    );
    await waitFor(() => control.events.length === 1, 3000, 'the control event');
    await settle();
    expect(s.events).toEqual([]);
    s.socket.close();
    control.socket.close();
  });

  it('When find is called with subscribe: true over a socket, then it returns items and subscribes', async () => {
    const socket = await connectSocket(server.url);
    const events = collect<ModelEventPayload>(socket, 'model:team');
    await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: ADMIN_PASSWORD },
    });
    const found = await socketRequest(socket, { method: 'GET', url: '/team', data: { subscribe: true } });
    expect(found.statusCode).toBe(200);
    expect((found.data as unknown[]).length).toBeGreaterThan(0);
    expectStatus(await admin.request('POST', '/team', { name: 'Seen', role: 'orga' }), 201);
    await waitFor(() => events.length === 1, 3000, 'event after find');
    expect(events[0]).toMatchObject({ verb: 'created', data: { name: 'Seen' } });
    socket.close();
  });

  it('When find with subscribe: true comes over HTTP, then 400', async () => {
    const reply = await admin.request('GET', '/team', { subscribe: true });
    expect(expectStatus<{ _error: { code: string } }>(reply, 400)._error.code).toBe('BadRequest');
  });
});

describe('every write path publishes', () => {
  it('When code writes through the models (as the CLI or a job would), then subscribers get the events', async () => {
    const s = await subscriber('admin', ADMIN_PASSWORD, 'team');
    const team = await Flux.Team.create({
      tenantId: 1,
      name: 'From code',
      role: 'orga',
      group: null,
      location: null,
    });
    await team.update({ location: 'Stage' });
    await waitFor(() => s.events.length === 2, 3000, 'events from code');
    expect(s.events.map((e) => [e.verb, e.id])).toEqual([
      ['created', team.id],
      ['updated', team.id],
    ]);
    s.socket.close();
  });

  it('When bulk updates and destroys run, then each row is published', async () => {
    const s = await subscriber('admin', ADMIN_PASSWORD, 'team');
    for (const name of ['Bulk 1', 'Bulk 2'])
      await Flux.Team.create({ tenantId: 1, name, role: 'orga', group: 'bulk', location: null });
    await Flux.Team.update({ location: 'Field' }, { where: { group: 'bulk' } });
    await Flux.Team.destroy({ where: { group: 'bulk' } });
    await waitFor(() => s.events.length === 6, 3000, 'six events');
    expect(s.events.map((e) => e.verb)).toEqual([
      'created',
      'created',
      'updated',
      'updated',
      'destroyed',
      'destroyed',
    ]);
    expect(s.events.slice(2, 4).map((e) => (e.data as { location: string }).location)).toEqual([
      'Field',
      'Field',
    ]);
    s.socket.close();
  });

  it('When a transaction commits, then its writes are published after the commit; a rollback publishes nothing', async () => {
    const s = await subscriber('admin', ADMIN_PASSWORD, 'team');
    await Flux.sequelize
      .transaction(async (transaction) => {
        await Flux.Team.create(
          { tenantId: 1, name: 'Rolled back', role: 'orga', group: null, location: null },
          { transaction },
        );
        throw new Error('abort');
      })
      .catch(() => undefined);
    await Flux.sequelize.transaction(async (transaction) => {
      await Flux.Team.create(
        { tenantId: 1, name: 'Committed', role: 'orga', group: null, location: null },
        { transaction },
      );
      await settle(100);
      expect(s.events).toEqual([]); // not before the commit
    });
    await waitFor(() => s.events.length === 1, 3000, 'the committed event');
    await settle();
    expect(s.events.map((e) => (e.data as { name: string }).name)).toEqual(['Committed']);
    s.socket.close();
  });
});

describe('examples/live-feed.ts', () => {
  it('When a user watched by the example client (filters and sort from its options) is changed by the admin, then the client prints the change once', async () => {
    expectStatus(
      await admin.request('POST', '/user', {
        login: 'feeder',
        password: 'feeder-password',
        teamId: bar1.teamId,
      }),
      201,
    );
    const feed = startNode('examples/live-feed.ts', [
      '--url',
      server.url,
      '--login',
      'feeder',
      '--password',
      'feeder-password',
      '--filters',
      JSON.stringify({ login: 'feeder' }),
      '--sort=-id',
    ]);
    const output = () => feed.output();
    try {
      await waitFor(() => output().includes('ready'), 15_000, 'the example to subscribe');
      // the team has other users: the filter leaves only the feeder
      expect(output()).toMatch(/^ready 1 items \(user, logged in as feeder\)$/m);
      const me = expectStatus<Array<{ id: number }>>(
        await admin.request('GET', '/user', { filters: { login: 'feeder' } }),
        200,
      )[0];
      expectStatus(await admin.request('PATCH', `/user/${me.id}`, { name: 'Changed by admin' }), 200);
      await waitFor(() => output().includes('Changed by admin'), 5000, 'the printed change');
      await settle(300);
      const lines = output()
        .split('\n')
        .filter((line) => /^(added|changed|removed) /.test(line));
      expect(lines).toHaveLength(1);
      const [what, id, keys] = lines[0].split(' ', 3);
      expect([what, Number(id)]).toEqual(['changed', me.id]);
      expect(keys.split(',')).toContain('name');
      expect(JSON.parse(lines[0].slice(lines[0].indexOf('{')))).toMatchObject({
        id: me.id,
        login: 'feeder',
        name: 'Changed by admin',
      });
    } finally {
      await feed.stop();
    }
  });
});
