import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import { Flux } from '../../lib/Flux.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import {
  collect,
  connectClient,
  httpTransport,
  settle,
  socketTransport,
  waitFor,
} from '../helpers/clients.js';
import { client, expectStatus, login } from '../helpers/fixtures.js';
import { startNode } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The event-coordination domain (docs/reference.md#permissions-and-models) on the demo event, over HTTP and
 * over the socket.
 */

type Row = { id: number } & Record<string, unknown>;
type ErrorReply = { _error: { code: string; validation?: Array<{ path: string }> } };

let server: TestServer;
const team: Record<string, number> = {};
const user: Record<string, number> = {};
const button: Record<string, number> = {};

beforeAll(async () => {
  server = await startTestServer();
  expect((await loadDemoEvent()).created).toBe(true);
  for (const t of await Flux.Team.findAll()) team[t.name] = t.id;
  for (const u of await Flux.User.findAll()) user[u.login] = u.id;
  for (const b of await Flux.AlertButton.findAll()) button[b.title] = b.id;
});

afterAll(async () => {
  await server?.stop();
});

describe.each(['http', 'socket'] as const)('the event over %s', (kind) => {
  const as = (login: string) => client(server.url, kind, login, DEMO_PASSWORD);
  const ids = (rows: Row[]) => rows.map((r) => r.id).sort((a, b) => a - b);

  describe('what each role reads', () => {
    it('When a bar lists alerts and buttons, then it sees the alerts it sent and its group’s buttons', async () => {
      const bar = await as('bar-nord');
      const alerts = expectStatus<Row[]>(await bar.request('GET', '/alert'), 200);
      expect(alerts.length).toBeGreaterThan(0);
      expect(alerts.every((a) => a.senderTeamId === team['Bar Nord'])).toBe(true);
      const buttons = expectStatus<Row[]>(await bar.request('GET', '/alertbutton'), 200);
      expect(new Set(buttons.map((b) => b.senderGroup))).toEqual(new Set(['bars']));
      // every button of its group in the demo event, whatever their number
      expect(ids(buttons)).toEqual(
        ids(
          (await Flux.AlertButton.findAll({ where: { senderGroup: 'bars' }, raw: true })) as unknown as Row[],
        ),
      );
      bar.close();
    });

    it('When the coordination lists alerts and buttons, then it sees all of them', async () => {
      const coord = await as('coord');
      expect(ids(expectStatus<Row[]>(await coord.request('GET', '/alert'), 200))).toEqual(
        ids((await Flux.Alert.findAll({ raw: true })) as unknown as Row[]),
      );
      expect(ids(expectStatus<Row[]>(await coord.request('GET', '/alertbutton'), 200))).toEqual(
        ids((await Flux.AlertButton.findAll({ raw: true })) as unknown as Row[]),
      );
      coord.close();
    });

    it('When security lists alerts, then it sees those sent to it and to nobody, and those it sent', async () => {
      const security = await as('security');
      const alerts = expectStatus<Row[]>(await security.request('GET', '/alert'), 200);
      expect(alerts.length).toBeGreaterThan(0);
      for (const alert of alerts) {
        expect(
          [team.Security, null].includes(alert.receiverTeamId as number) ||
            alert.senderTeamId === team.Security,
        ).toBe(true);
      }
      expect(alerts.some((a) => a.receiverTeamId === null)).toBe(true);
      security.close();
    });

    it('When an unreadable alert is asked for by id, then 404', async () => {
      const other = await Flux.Alert.findOne({ where: { receiverTeamId: team.Security } });
      const bar = await as('bar-sud');
      expectStatus(await bar.request('GET', `/alert/${other!.id}`), 404);
      bar.close();
    });
  });

  describe('POST /alertbutton/:id/alert', () => {
    it('When a bar presses a button of its group, then an alert goes from the bar to the receiver', async () => {
      const bar = await as('bar-nord');
      const alert = expectStatus<Row>(
        await bar.request('POST', `/alertbutton/${button['Out of beer']}/alert`, {}),
        201,
      );
      expect(alert).toMatchObject({
        title: 'Out of beer',
        severity: 'warning',
        message: 'Kegs needed',
        senderTeamId: team['Bar Nord'],
        receiverTeamId: team.Logistics,
        buttonId: button['Out of beer'],
        users: [],
      });
      expectStatus(await bar.request('GET', `/alert/${alert.id}`), 200);
      bar.close();
    });

    it('When the button requires a message and none (or blanks) is given, then 400 naming message', async () => {
      const bar = await as('bar-nord');
      for (const data of [{}, { message: '   ' }, { message: null }]) {
        const body = expectStatus<ErrorReply>(
          await bar.request('POST', `/alertbutton/${button['Medical emergency']}/alert`, data),
          400,
        );
        expect(body._error.validation?.[0].path).toBe('message');
      }
      const alert = expectStatus<Row>(
        await bar.request('POST', `/alertbutton/${button['Medical emergency']}/alert`, {
          message: 'Person fainted at the taps',
        }),
        201,
      );
      expect(alert).toMatchObject({
        message: 'Person fainted at the taps',
        receiverTeamId: team['First aid'],
      });
      bar.close();
    });

    it('When a team presses a button it cannot read, or without createAlert, then 404 / 403', async () => {
      const bar = await as('bar-nord');
      expectStatus(
        await bar.request('POST', `/alertbutton/${button['Lost child']}/alert`, { message: 'x' }),
        404,
      );
      expectStatus(await bar.request('POST', '/alertbutton/999999/alert', {}), 404);
      expectStatus(await bar.request('POST', '/alertbutton/abc/alert', {}), 400);
      expectStatus(
        await bar.request('POST', `/alertbutton/${button['Out of beer']}/alert`, { message: 5 }),
        400,
      );
      bar.close();
      // the welcome desk reads every button, but only presses those of its own group
      const welcome = await as('welcome');
      const body = expectStatus<ErrorReply>(
        await welcome.request('POST', `/alertbutton/${button['Out of beer']}/alert`, {}),
        403,
      );
      expect(body._error.code).toBe('Forbidden');
      expectStatus(
        await welcome.request('POST', `/alertbutton/${button['Lost child']}/alert`, {
          message: 'Tom, 6, red cap',
        }),
        201,
      );
      welcome.close();
    });
  });

  describe('PUT /alert/:id/users', () => {
    it('When the receiver assigns its users, then the alert lists them; unknown ids are 400', async () => {
      const alert = await Flux.Alert.findOne({
        where: { receiverTeamId: team.Logistics, title: 'Out of cups' },
      });
      const logistics = await as('logistics');
      const updated = expectStatus<Row>(
        await logistics.request('PUT', `/alert/${alert!.id}/users`, {
          users: [user.driver, user.logistics, user.driver],
        }),
        200,
      );
      expect(updated.users).toEqual([user.driver, user.logistics]);
      const bad = expectStatus<ErrorReply>(
        await logistics.request('PUT', `/alert/${alert!.id}/users`, { users: [987654] }),
        400,
      );
      expect(bad._error.validation?.[0].path).toBe('users');
      expectStatus(await logistics.request('PUT', `/alert/${alert!.id}/users`, { users: 'driver' }), 400);
      expectStatus(await logistics.request('PUT', `/alert/${alert!.id}/users`, { users: [1.5] }), 400);
      expect((await Flux.Alert.findByPk(alert!.id))!.users).toEqual([user.driver, user.logistics]);
      logistics.close();
    });

    it('When a team that only reads alerts, or cannot read it, assigns users, then 403 / 404', async () => {
      const alert = await Flux.Alert.findOne({ where: { receiverTeamId: team.Security } });
      const welcome = await as('welcome');
      expectStatus(await welcome.request('PUT', `/alert/${alert!.id}/users`, { users: [] }), 403);
      welcome.close();
      const bar = await as('bar-sud');
      expectStatus(await bar.request('PUT', `/alert/${alert!.id}/users`, { users: [] }), 404);
      bar.close();
    });
  });

  describe('alert handling', () => {
    it('When a receiver updates an alert, then it may change the severity but not the receiver', async () => {
      const alert = await Flux.Alert.findOne({ where: { receiverTeamId: team.Security } });
      const security = await as('security');
      const updated = expectStatus<Row>(
        await security.request('PATCH', `/alert/${alert!.id}`, {
          severity: 'done',
          receiverTeamId: team.Logistics,
        }),
        200,
      );
      expect(updated).toMatchObject({ severity: 'done', receiverTeamId: team.Security });
      const bad = expectStatus<ErrorReply>(
        await security.request('PATCH', `/alert/${alert!.id}`, { severity: 'panic' }),
        400,
      );
      expect(bad._error.code).toBe('ValidationError');
      expectStatus(await security.request('DELETE', `/alert/${alert!.id}`), 403);
      security.close();
    });
  });

  describe('messages', () => {
    it('When a bar lists its channels, then its public channel (writable) and its group channel (read only)', async () => {
      const bar = await as('bar-nord');
      const channels = expectStatus<Array<{ channel: string; read: boolean; write: boolean }>>(
        await bar.request('GET', '/message/channels'),
        200,
      );
      expect(channels.map(({ channel, write }) => [channel, write])).toEqual([
        [`public:${team['Bar Nord']}`, true],
        ['group:bars', false],
      ]);
      bar.close();
    });

    it('When security lists its channels, then every public channel, its group and its own private channel', async () => {
      const security = await as('security');
      const channels = expectStatus<Array<{ channel: string; write: boolean }>>(
        await security.request('GET', '/message/channels'),
        200,
      );
      const names = channels.map((c) => c.channel);
      expect(names.filter((c) => c.startsWith('public:'))).toHaveLength(Object.keys(team).length);
      expect(names.filter((c) => c.startsWith('group:'))).toEqual(['group:safety']);
      expect(names.filter((c) => c.startsWith('private:'))).toEqual([`private:${team.Security}`]);
      expect(channels.every((c) => c.write)).toBe(true);
      security.close();
    });

    it('When a bar posts, then only in its own public channel, as itself', async () => {
      const bar = await as('bar-nord');
      const message = expectStatus<Row>(
        await bar.request('POST', '/message', {
          channel: `public:${team['Bar Nord']}`,
          text: 'Hello',
          userId: user.coord,
        }),
        201,
      );
      expect(message).toMatchObject({ userId: user['bar-nord'], channel: `public:${team['Bar Nord']}` });
      expectStatus(await bar.request('POST', '/message', { channel: 'group:bars', text: 'x' }), 403);
      expectStatus(
        await bar.request('POST', '/message', { channel: `public:${team['Bar Sud']}`, text: 'x' }),
        403,
      );
      expectStatus(await bar.request('POST', '/message', { channel: 'nowhere', text: 'x' }), 400);
      expectStatus(
        await bar.request('POST', '/message', { channel: `public:${team['Bar Nord']}`, text: '' }),
        400,
      );
      bar.close();
    });

    it('When someone edits or deletes a message, then only its author (or message/admin) may', async () => {
      const author = await as('logistics');
      const message = expectStatus<Row>(
        await author.request('POST', '/message', { channel: 'group:bars', text: 'Round at 18:00' }),
        201,
      );
      const other = await as('cleaning');
      expectStatus(await other.request('PATCH', `/message/${message.id}`, { text: 'hijacked' }), 403);
      expectStatus(await other.request('DELETE', `/message/${message.id}`), 403);
      expect(
        expectStatus<Row>(
          await author.request('PATCH', `/message/${message.id}`, { text: 'Round at 18:30' }),
          200,
        ).text,
      ).toBe('Round at 18:30');
      expectStatus(
        await author.request('PATCH', `/message/${message.id}`, { channel: `private:${team.Security}` }),
        403,
      );
      expectStatus(await author.request('DELETE', `/message/${message.id}`), 200);
      author.close();
      other.close();
    });
  });
});

describe.each(['http', 'socket'] as const)('administration without escalation over %s', (kind) => {
  const as = (login: string) => client(server.url, kind, login, DEMO_PASSWORD);

  it('When the coordination grants a role or a team it does not hold itself, then 403 and nothing changes', async () => {
    const coord = await as('coord');
    const admin = (await Flux.Team.findOne({ where: { name: 'Admin' } }))!;
    expectStatus(await coord.request('PATCH', `/team/${team.Coordination}`, { role: 'admin' }), 403);
    expectStatus(await coord.request('POST', '/team', { name: `Shadow admins ${kind}`, role: 'admin' }), 403);
    expectStatus(await coord.request('PATCH', `/user/${user.coord}`, { teamId: admin.id }), 403);
    expectStatus(
      await coord.request('POST', '/user', {
        login: `mole-${kind}`,
        password: 'mole-password',
        teamId: admin.id,
      }),
      403,
    );
    expect((await Flux.Team.findByPk(team.Coordination))!.role).toBe('coord');
    expect((await Flux.User.findByPk(user.coord))!.teamId).toBe(team.Coordination);
    // what it holds, it may grant
    expectStatus(
      await coord.request('POST', '/team', { name: `Pop-up bar ${kind}`, role: 'bar', group: 'bars' }),
      201,
    );
    coord.close();
  });

  it('When the coordination edits or deletes a more powerful user, then 403; its own field users, fine', async () => {
    const coord = await as('coord');
    const admin = (await Flux.User.findOne({ where: { login: 'admin' } }))!;
    const before = admin.password;
    expectStatus(await coord.request('PATCH', `/user/${admin.id}`, { password: 'taken-over-password' }), 403);
    expectStatus(
      await coord.request('PATCH', `/user/${admin.id}`, { ip: '10.9.9.9', login: 'not-admin' }),
      403,
    );
    expectStatus(await coord.request('DELETE', `/user/${admin.id}`), 403);
    expect((await Flux.User.findByPk(admin.id))!.password).toBe(before);
    expectStatus(await coord.request('PATCH', `/user/${user['bar-vip']}`, { name: `Bar VIP ${kind}` }), 200);
    coord.close();
  });

  it('When the coordination changes or deletes the Admin team, then 403', async () => {
    const coord = await as('coord');
    const adminTeam = (await Flux.Team.findOne({ where: { name: 'Admin' } }))!;
    expectStatus(await coord.request('PATCH', `/team/${adminTeam.id}`, { role: 'bar' }), 403);
    expectStatus(await coord.request('PATCH', `/team/${adminTeam.id}`, { name: 'Not admins' }), 403);
    expectStatus(await coord.request('DELETE', `/team/${adminTeam.id}`), 403);
    expect((await Flux.Team.findByPk(adminTeam.id))!.role).toBe('admin');
    coord.close();
  });

  it('When values are longer than their column or dates out of range, then 400 (never a database error)', async () => {
    const coord = await as('coord');
    expectStatus(await coord.request('PATCH', `/user/${user['bar-vip']}`, { name: 'x'.repeat(201) }), 400);
    expectStatus(
      await coord.request('POST', '/team', { name: `Long ${kind}`, role: 'bar', location: 'y'.repeat(201) }),
      400,
    );
    expectStatus(await coord.request('GET', '/message', { filters: { createdAt: { gt: -8.64e15 } } }), 400);
    expectStatus(
      await coord.request('GET', '/message', { filters: { createdAt: { gt: '+275760-09-13' } } }),
      400,
    );
    coord.close();
  });

  it('When values collide with the encoding of groups or bcrypt, then 400', async () => {
    const coord = await as('coord');
    expectStatus(
      await coord.request('POST', '/team', { name: `Null ${kind}`, role: 'bar', group: 'null' }),
      400,
    );
    expectStatus(await coord.request('POST', '/alertbutton', { title: 'x', senderGroup: 'null' }), 400);
    expectStatus(await coord.request('POST', '/user', { login: `hash-${kind}`, password: '$2' }), 400);
    expectStatus(
      await coord.request('POST', '/user', { login: `long-${kind}`, password: 'é'.repeat(40) }),
      400,
    );
    coord.close();
  });

  it('When alerts or messages name users or teams that do not exist in the tenant, then 400', async () => {
    const coord = await as('coord');
    const alert = await Flux.Alert.findOne({ where: { receiverTeamId: team.Logistics } });
    expectStatus(await coord.request('PATCH', `/alert/${alert!.id}`, { users: [987654] }), 400);
    expectStatus(
      await coord.request('POST', '/alert', { title: 'x', severity: 'done', users: [987654] }),
      400,
    );
    expectStatus(await coord.request('POST', '/message', { channel: 'public:99999', text: 'x' }), 400);
    expectStatus(await coord.request('POST', '/message', { channel: 'private:99999', text: 'x' }), 400);
    coord.close();
  });

  it('When a team still has alerts, then it cannot be destroyed', async () => {
    const coord = await as('coord');
    const body = expectStatus<ErrorReply>(await coord.request('DELETE', `/team/${team.Logistics}`), 400);
    expect(body._error.code).toBe('BadRequest');
    expect(await Flux.Alert.count({ where: { receiverTeamId: team.Logistics } })).toBeGreaterThan(0);
    coord.close();
  });
});

describe('destroying a user', () => {
  it('When a logged-in user is destroyed, then its token is revoked and its sockets leave their rooms', async () => {
    const coord = await client(server.url, 'http', 'coord', DEMO_PASSWORD);
    const created = expectStatus<Row>(
      await coord.request('POST', '/user', {
        login: 'leaving',
        password: 'leaving-password',
        teamId: team['Bar Sud'],
      }),
      201,
    );
    const leaving = await client(server.url, 'socket', 'leaving', 'leaving-password');
    const token = await login(server.url, 'leaving', 'leaving-password');
    expectStatus(await leaving.request('POST', '/user/subscribe'), 200);
    expectStatus(await coord.request('DELETE', `/user/${created.id}`), 200);
    const reply = await httpTransport(server.url, token).request('GET', '/auth/me');
    expect(expectStatus<ErrorReply>(reply, 403)._error.code).toBe('TokenRevoked');
    expect((await leaving.request('GET', '/auth/me')).status).toBe(401);
    leaving.close();
  });
});

describe.each(['http', 'socket'] as const)('destroying with references over %s', (kind) => {
  /** A Bar Sud user created by the coordination, who wrote one message; and a message subscriber. */
  async function authorWithMessage(name: string) {
    const coord = await client(server.url, kind, 'coord', DEMO_PASSWORD);
    const author = expectStatus<Row>(
      await coord.request('POST', '/user', {
        login: name,
        password: 'author-password',
        teamId: team['Bar Sud'],
      }),
      201,
    );
    const writer = await client(server.url, 'http', name, 'author-password');
    const message = expectStatus<Row>(
      await writer.request('POST', '/message', {
        channel: `public:${team['Bar Sud']}`,
        text: 'Closing the bar',
      }),
      201,
    );
    return { coord, authorId: author.id, messageId: message.id };
  }

  it('When a user who wrote messages is destroyed, then the messages stay without author, and subscribers see it', async () => {
    const { coord, authorId, messageId } = await authorWithMessage(`author-${kind}-1`);
    const events = await messageEvents();
    expectStatus(await coord.request('DELETE', `/user/${authorId}`), 200);
    await waitFor(() => events.list.length >= 1, 3000, 'the message update');
    expect(events.list).toEqual([expect.objectContaining({ verb: 'updated', id: messageId })]);
    expect((events.list[0].data as Row).userId).toBeNull();
    expect((await Flux.Message.findByPk(messageId))!.userId).toBeNull();
    expect(await Flux.User.findByPk(authorId)).toBeNull();
    events.close();
    coord.close();
  });

  it('When the destroy itself fails, then the references it cleared are kept and nothing is published', async () => {
    const { coord, authorId, messageId } = await authorWithMessage(`author-${kind}-2`);
    const events = await messageEvents();
    Flux.User.addHook('beforeDestroy', 'failingDestroy', () => {
      throw new Error('the disk is full');
    });
    try {
      expectStatus(await coord.request('DELETE', `/user/${authorId}`), 500);
    } finally {
      Flux.User.removeHook('beforeDestroy', 'failingDestroy');
    }
    expect((await Flux.Message.findByPk(messageId))!.userId).toBe(authorId);
    expect(await Flux.User.findByPk(authorId)).not.toBeNull();
    // positive control: the same destroy, once it can succeed, is published
    expectStatus(await coord.request('DELETE', `/user/${authorId}`), 200);
    await waitFor(() => events.list.length >= 1, 3000, 'the message update');
    await settle();
    expect(events.list.map((e) => [e.verb, e.id])).toEqual([['updated', messageId]]);
    events.close();
    coord.close();
  });
});

/** The `model:message` events of a coordination socket subscribed to messages. */
async function messageEvents(): Promise<{ list: ModelEventPayload[]; close(): void }> {
  const socketClient = await connectClient(server.url);
  const list = collect<ModelEventPayload>(socketClient.socket!, 'model:message');
  const watcher = socketTransport(socketClient);
  expectStatus(
    await watcher.request('POST', '/auth/login', { login: 'coord', password: DEMO_PASSWORD }),
    200,
  );
  expectStatus(await watcher.request('POST', '/message/subscribe'), 200);
  return { list, close: () => watcher.close() };
}

describe('README walkthrough', () => {
  it('When Bar Nord presses "Out of beer", then the coordination’s live feed prints the alert once', async () => {
    const feed = startNode('examples/live-feed.ts', [
      '--url',
      server.url,
      '--login',
      'coord',
      '--password',
      DEMO_PASSWORD,
      '--model',
      'alert',
    ]);
    const output = () => feed.output();
    try {
      await waitFor(() => output().includes('ready'), 15_000, 'the feed to subscribe');
      expect(output()).toMatch(/^ready \d+ items \(alert, logged in as coord\)$/m);
      const bar = await client(server.url, 'http', 'bar-nord', DEMO_PASSWORD);
      const buttons = expectStatus<Row[]>(
        await bar.request('GET', '/alertbutton', { filters: { title: 'Out of beer' } }),
        200,
      );
      const alert = expectStatus<Row>(
        await bar.request('POST', `/alertbutton/${buttons[0].id}/alert`, { message: '2 kegs of lager' }),
        201,
      );
      await waitFor(() => output().includes('2 kegs of lager'), 5000, 'the printed alert');
      await settle(300);
      const lines = output()
        .split('\n')
        .filter((line) => /^(added|changed|removed) /.test(line));
      expect(lines).toHaveLength(1);
      expect(lines[0].startsWith(`added ${alert.id} {`)).toBe(true);
      expect(JSON.parse(lines[0].slice(lines[0].indexOf('{')))).toMatchObject({
        id: alert.id,
        title: 'Out of beer',
        senderTeamId: team['Bar Nord'],
        receiverTeamId: team.Logistics,
      });
    } finally {
      await feed.stop();
    }
  });
});
