import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import { Flux } from '../../lib/Flux.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import {
  collect,
  connectClient,
  settle,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { client, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, databaseChecksum, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The application's declared references (`static references` of api/models) on delete, over HTTP and
 * over the socket: teams are `restrict`ed by users, alerts and buttons; a button's alerts and a user's
 * messages and uploads are `set null`; a user's sessions `cascade`. Each change is published to the
 * subscribers who may read it.
 */

type Row = { id: number } & Record<string, unknown>;
type ErrorReply = { _error: { status: number; code: string; message: string } };

let server: TestServer;
let tenantId: number;
const team: Record<string, number> = {};

beforeAll(async () => {
  server = await startTestServer();
  expect((await loadDemoEvent()).created).toBe(true);
  for (const t of await Flux.Team.findAll()) team[t.name] = t.id;
  tenantId = (await Flux.Tenant.findOne({ where: { slug: 'default' } }))!.id;
});

afterAll(async () => {
  await server?.stop();
});

/** A socket logged in as `login`, subscribed to each of `models`, collecting their events. */
async function subscriber(
  login: string,
  password: string,
  models: string[],
): Promise<{ transport: Transport; events: Record<string, ModelEventPayload[]> }> {
  const socketClient = await connectClient(server.url);
  const events = Object.fromEntries(
    models.map((m) => [m, collect<ModelEventPayload>(socketClient.socket!, `model:${m}`)]),
  );
  const transport = socketTransport(socketClient);
  expectStatus(await transport.request('POST', '/auth/login', { login, password }), 200);
  // `find` with `subscribe`: uploads have no subscribe route
  for (const model of models)
    expectStatus(await transport.request('GET', `/${model}`, { subscribe: true, limit: 1 }), 200);
  return { transport, events };
}

describe.each(['http', 'socket'] as const)('references on delete over %s', (kind) => {
  const as = (login: string, password = DEMO_PASSWORD) => client(server.url, kind, login, password);

  it('When a team that a user, alerts and a button reference is destroyed, then 400 names each referencing model and nothing changes, until none is left', async () => {
    const coord = await as('coord');
    const refused = async (message: string) => {
      const before = await databaseChecksum();
      const body = expectStatus<ErrorReply>(await coord.request('DELETE', `/team/${id}`), 400);
      expect(body._error).toEqual({ status: 400, code: 'BadRequest', message });
      expect(await databaseChecksum()).toBe(before);
    };
    const { id } = expectStatus<Row>(
      await coord.request('POST', '/team', { name: `Referenced ${kind}`, role: 'bar', group: 'bars' }),
      201,
    );
    const member = expectStatus<Row>(
      await coord.request('POST', '/user', {
        login: `member-${kind}`,
        password: 'member-password',
        teamId: id,
      }),
      201,
    );
    const sent = expectStatus<Row>(
      await coord.request('POST', '/alert', {
        title: 'Sent',
        senderTeamId: id,
        receiverTeamId: team.Logistics,
      }),
      201,
    );
    const received = expectStatus<Row>(
      await coord.request('POST', '/alert', { title: 'Received', receiverTeamId: id }),
      201,
    );
    const button = expectStatus<Row>(
      await coord.request('POST', '/alertbutton', {
        title: `To ${kind}`,
        senderGroup: 'bars',
        receiverTeamId: id,
      }),
      201,
    );

    await refused(
      `Team ${id} is referenced by 2 Alert, 1 AlertButton and 1 User: change or destroy them first`,
    );
    // bad input changes nothing either
    const before = await databaseChecksum();
    expectStatus(await coord.request('DELETE', '/team/abc'), 400);
    expectStatus(await coord.request('DELETE', `/team/${id}.5`), 400);
    expectStatus(await coord.request('DELETE', '/team/987654321'), 404);
    expect(await databaseChecksum()).toBe(before);

    expectStatus(await coord.request('PATCH', `/user/${member.id}`, { teamId: team.Logistics }), 200);
    await refused(`Team ${id} is referenced by 2 Alert and 1 AlertButton: change or destroy them first`);
    expectStatus(await coord.request('DELETE', `/alert/${sent.id}`), 200);
    expectStatus(await coord.request('PATCH', `/alert/${received.id}`, { receiverTeamId: null }), 200);
    await refused(`Team ${id} is referenced by 1 AlertButton: change or destroy it first`);
    expectStatus(await coord.request('DELETE', `/alertbutton/${button.id}`), 200);
    expect(expectStatus<Row>(await coord.request('DELETE', `/team/${id}`), 200).id).toBe(id);
    expect(await Flux.Team.findByPk(id)).toBeNull();
    coord.close();
  });

  it('When a button is destroyed, then its alerts stay without it, and only the subscribers who may read them get "updated"', async () => {
    const coord = await as('coord');
    const button = expectStatus<Row>(
      await coord.request('POST', '/alertbutton', {
        title: `Ice ${kind}`,
        senderGroup: 'bars',
        receiverTeamId: team.Logistics,
      }),
      201,
    );
    const bar = await as('bar-nord');
    const alert = expectStatus<Row>(await bar.request('POST', `/alertbutton/${button.id}/alert`, {}), 201);
    expect(alert.buttonId).toBe(button.id);
    const [desk, sender, receiver, other] = await Promise.all(
      ['coord', 'bar-nord', 'logistics', 'bar-sud'].map((login) =>
        subscriber(login, DEMO_PASSWORD, ['alert']),
      ),
    );

    expectStatus(await coord.request('DELETE', `/alertbutton/${button.id}`), 200);
    for (const watcher of [desk, sender, receiver])
      await waitFor(() => watcher.events.alert.length >= 1, 3000, 'the alert update');
    await settle();
    for (const watcher of [desk, sender, receiver]) {
      expect(watcher.events.alert).toEqual([
        {
          verb: 'updated',
          id: alert.id,
          data: expect.objectContaining({ id: alert.id, buttonId: null, title: `Ice ${kind}` }),
        },
      ]);
    }
    expect(other.events.alert, 'bar-sud reads only the alerts it sent').toEqual([]);
    expect((await Flux.Alert.findByPk(alert.id))!.buttonId).toBeNull();
    for (const watcher of [desk, sender, receiver, other]) watcher.transport.close();
    bar.close();
    coord.close();
  });

  it('When a user is destroyed, then its sessions are destroyed and its messages and uploads kept without author, each change published to who may read it', async () => {
    const coord = await as('coord');
    const login = `leaving-${kind}`;
    const leaving = expectStatus<Row>(
      await coord.request('POST', '/user', { login, password: 'leaving-password', teamId: team['Bar Sud'] }),
      201,
    );
    const author = await as(login, 'leaving-password');
    await as(login, 'leaving-password'); // a second session
    const message = expectStatus<Row>(
      await author.request('POST', '/message', { channel: `public:${team['Bar Sud']}`, text: 'Last round' }),
      201,
    );
    const upload = await Flux.Upload.create({
      tenantId,
      userId: leaving.id,
      key: `${tenantId}/${leaving.id}/plan-${kind}.pdf`,
      filename: 'plan.pdf',
      contentType: 'application/pdf',
      size: 10,
    });
    const sessions = (await Flux.Session.findAll({ where: { userId: leaving.id } })).map((s) => s.id).sort();
    expect(sessions).toHaveLength(2);
    const admin = await subscriber('admin', ADMIN_PASSWORD, ['session', 'message', 'upload']);
    const bystander = await subscriber('bar-nord', DEMO_PASSWORD, ['session', 'upload']);

    expectStatus(await coord.request('DELETE', `/user/${leaving.id}`), 200);
    const destroyed = () =>
      admin.events.session
        .filter((e) => e.verb === 'destroyed')
        .map((e) => Number(e.id))
        .sort();
    await waitFor(() => destroyed().length >= 2, 3000, 'the sessions destroyed');
    await waitFor(
      () => admin.events.message.length >= 1 && admin.events.upload.length >= 1,
      3000,
      'the updates',
    );
    await settle();
    expect(destroyed()).toEqual(sessions);
    expect(admin.events.message).toEqual([
      {
        verb: 'updated',
        id: message.id,
        data: expect.objectContaining({ userId: null, text: 'Last round' }),
      },
    ]);
    expect(admin.events.upload).toEqual([
      {
        verb: 'updated',
        id: upload.id,
        data: expect.objectContaining({ userId: null, filename: 'plan.pdf' }),
      },
    ]);
    const seen = bystander.events.session.filter((e) => sessions.includes(Number(e.id)));
    expect(seen, 'bar-nord reads only its own sessions').toEqual([]);
    expect(bystander.events.upload, 'and its own uploads').toEqual([]);
    expect(await Flux.Session.count({ where: { userId: leaving.id } })).toBe(0);
    expect((await Flux.Message.findByPk(message.id))!.userId).toBeNull();
    expect((await Flux.Upload.findByPk(upload.id))!.userId).toBeNull();
    admin.transport.close();
    bystander.transport.close();
    coord.close();
  });
});

describe('references outside the API', () => {
  it('When application code destroys a button (a job, the CLI), then its alerts follow the same rule, published', async () => {
    const button = await Flux.AlertButton.create({
      tenantId,
      title: 'Cups',
      category: null,
      senderGroup: 'bars',
      receiverTeamId: team.Logistics,
      messagePrompt: null,
      messageDefault: null,
    });
    const alert = await Flux.Alert.create({
      tenantId,
      title: 'Cups',
      severity: 'warning',
      message: null,
      senderTeamId: team['Bar Nord'],
      receiverTeamId: team.Logistics,
      buttonId: button.id,
    });
    const desk = await subscriber('coord', DEMO_PASSWORD, ['alert']);
    await Flux.sequelize.transaction((transaction) => button.destroy({ transaction }));
    await waitFor(() => desk.events.alert.length >= 1, 3000, 'the alert update');
    expect(desk.events.alert).toEqual([
      { verb: 'updated', id: alert.id, data: expect.objectContaining({ buttonId: null }) },
    ]);
    expect((await Flux.Alert.findByPk(alert.id))!.buttonId).toBeNull();
    desk.transport.close();
  });

  it('When application code destroys a referenced team, then it is refused naming the referencing model', async () => {
    const member = await Flux.User.findOne({ where: { tenantId, teamId: team.Cleaning } });
    const members = await Flux.User.count({ where: { tenantId, teamId: team.Cleaning } });
    expect(member).not.toBeNull();
    await expect(Flux.Team.destroy({ where: { id: team.Cleaning } })).rejects.toThrow(
      new RegExp(
        `^Team ${team.Cleaning} is referenced by .*\\b${members} User: change or destroy (it|them) first$`,
      ),
    );
    expect(await Flux.Team.findByPk(team.Cleaning)).not.toBeNull();
  });
});

describe('references written while a destroy runs', () => {
  // SQLite: the destroy's transaction holds the write lock from its start, so no row can come between
  it.runIf(!!process.env.DATABASE_URL)(
    'When a row referencing the item is committed after the rules ran, then the refusal still names its model',
    async () => {
      const coord: Transport = await client(server.url, 'http', 'coord', DEMO_PASSWORD);
      const { id } = expectStatus<Row>(
        await coord.request('POST', '/team', { name: 'Raced', role: 'bar' }),
        201,
      );
      // after the rules' own hook: a member added by another connection, committed before the DELETE
      Flux.sequelize.addHook('beforeDestroy', 'lateMember', async (instance) => {
        if (instance instanceof Flux.Team && instance.id === id)
          await Flux.User.create({
            tenantId,
            login: 'late',
            password: 'late-password',
            teamId: id,
            ip: null,
            name: null,
          });
      });
      try {
        const body = expectStatus<ErrorReply>(await coord.request('DELETE', `/team/${id}`), 400);
        expect(body._error.message).toBe(`Team ${id} is referenced by 1 User: change or destroy it first`);
      } finally {
        Flux.sequelize.removeHook('beforeDestroy', 'lateMember');
      }
      expect(await Flux.Team.findByPk(id)).not.toBeNull();
    },
  );
});
