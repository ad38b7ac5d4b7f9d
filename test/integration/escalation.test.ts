import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import escalateAlertJob from '../../api/jobs/escalateAlert.js';
import { acknowledge, escalate, escalateOverdue } from '../../api/services/AlertService.js';
import { Flux } from '../../lib/Flux.js';
import type { JobRun, JobStatus } from '../../lib/jobs.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import {
  collect,
  connectClient,
  connectSocket,
  httpTransport,
  settle,
  socketRequest,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, client, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';
import {
  ADMIN_PASSWORD,
  createTestDatabase,
  databaseChecksum,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';

/**
 * Alert escalation and acknowledgement (docs/escalation.md): a `warning` nobody acknowledged
 * `alerts.escalateAfterMs` after it was raised becomes `serious` once — whatever runs the escalation, and
 * however often — and the receiver team's subscribers see it; an acknowledged alert never escalates;
 * `POST /alert/:id/acknowledge` is its receiver team's (docs/permissions.md), over HTTP and the socket.
 */

const ESCALATE_MS = 2000;
const DAY_MS = 24 * 3_600_000;

type Alert = {
  id: number;
  severity: string;
  escalatedAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedById: number | null;
};

let server: TestServer;
let admin: Transport;
let logistics: { teamId: number; userId: number };
let subscriber: Socket;
let events: ModelEventPayload[];

beforeAll(async () => {
  server = await startTestServer({ alerts: { escalateAfterMs: ESCALATE_MS } });
  admin = httpTransport(server.url, await adminLogin(server.url));
  logistics = await createTeamWithUser(
    admin,
    { name: 'Logistics', role: 'logistics' },
    { login: 'logi', password: 'logi-password' },
  );
  await createTeamWithUser(admin, { name: 'Bar', role: 'bar' }, { login: 'bar', password: 'bar-password' });
  await createTeamWithUser(
    admin,
    { name: 'Security', role: 'security' },
    { login: 'sec', password: 'sec-password' },
  );
  await createTeamWithUser(
    admin,
    { name: 'Orga', role: 'orga' },
    { login: 'orga', password: 'orga-password' },
  );
  // a member of the receiver team, subscribed to alerts
  subscriber = await connectSocket(server.url, { token: await login(server.url, 'logi', 'logi-password') });
  events = collect<ModelEventPayload>(subscriber, 'model:alert');
  expect((await socketRequest(subscriber, { method: 'POST', url: '/alert/subscribe' })).statusCode).toBe(200);
}, 60_000);

afterAll(async () => {
  subscriber?.close();
  await server?.stop();
});

/** The `updated` events of alert `id` the subscriber received, and those among them that made it serious. */
function updatesOf(id: number): { all: ModelEventPayload[]; serious: ModelEventPayload[] } {
  const all = events.filter((event) => event.id === id && event.verb === 'updated');
  return { all, serious: all.filter((event) => (event.data as Alert).severity === 'serious') };
}

/** The job of public id `id` once completed or failed; fails the test past `timeoutMs`. */
async function settled(id: string, timeoutMs = 20_000): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await Flux.jobs.get(id);
    if (status?.state === 'completed' || status?.state === 'failed') return status;
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The public id of the escalation job of alert `id` (api/jobs/escalateAlert.ts). */
const escalationJob = (id: number) => `escalateAlert.escalate-${id}`;

/** Raises an alert from the bar to logistics as `bar`, over `transport`. */
async function raise(transport: Transport, values: Record<string, unknown> = {}): Promise<Alert> {
  return expectStatus<Alert>(
    await transport.request('POST', '/alert', {
      title: 'Out of ice',
      receiverTeamId: logistics.teamId,
      ...values,
    }),
    201,
  );
}

describe.each(['http', 'socket'] as const)('escalation, alerts raised over %s', (kind) => {
  it('When a warning is not acknowledged in time, then the receiver team sees it become serious, exactly once', async () => {
    const bar = await client(server.url, kind, 'bar', 'bar-password');
    const alert = await raise(bar);
    expect(alert).toMatchObject({ severity: 'warning', escalatedAt: null, acknowledgedAt: null });

    await waitFor(() => updatesOf(alert.id).serious.length > 0, 20_000, 'the escalation');
    const [escalated] = updatesOf(alert.id).serious;
    expect(escalated.data).toMatchObject({ severity: 'serious', acknowledgedAt: null });
    expect((escalated.data as Alert).escalatedAt).not.toBeNull();
    const job = await settled(escalationJob(alert.id));
    expect(job).toMatchObject({ state: 'completed', result: { outcome: 'escalated' } });

    // later runs of any kind change nothing more
    expect(await escalate(alert.id, { now: new Date(Date.now() + DAY_MS) })).toBe('not-warning');
    await escalateOverdue({ now: new Date(Date.now() + DAY_MS), limit: 1000 });
    await settle(ESCALATE_MS);
    expect(updatesOf(alert.id).all).toHaveLength(1);
    const read = expectStatus<Alert>(await bar.request('GET', `/alert/${alert.id}`), 200);
    expect(read).toMatchObject({ severity: 'serious', escalatedAt: (escalated.data as Alert).escalatedAt });
    bar.close();
  });

  it('When the receiver team acknowledges a warning, then the change is published and it never escalates', async () => {
    const bar = await client(server.url, kind, 'bar', 'bar-password');
    const logi = await client(server.url, kind, 'logi', 'logi-password');
    const alert = await raise(bar);
    const acknowledged = expectStatus<Alert>(
      await logi.request('POST', `/alert/${alert.id}/acknowledge`),
      200,
    );
    expect(acknowledged).toMatchObject({ severity: 'warning', acknowledgedById: logistics.userId });
    expect(acknowledged.acknowledgedAt).not.toBeNull();
    await waitFor(() => updatesOf(alert.id).all.length === 1, 5000, 'the acknowledgement event');
    expect(updatesOf(alert.id).all[0].data).toMatchObject({ acknowledgedAt: acknowledged.acknowledgedAt });

    // idempotent: the first time stays, nothing is written or published again
    const again = expectStatus<Alert>(await admin.request('POST', `/alert/${alert.id}/acknowledge`), 200);
    expect(again).toEqual(acknowledged);

    const job = await settled(escalationJob(alert.id));
    expect(job).toMatchObject({ state: 'completed', result: { outcome: 'acknowledged' } });
    expect(await escalate(alert.id, { now: new Date(Date.now() + DAY_MS) })).toBe('acknowledged');
    await escalateOverdue({ now: new Date(Date.now() + DAY_MS), limit: 1000 });
    await settle(300);
    expect(updatesOf(alert.id).all).toHaveLength(1);
    expect(expectStatus<Alert>(await logi.request('GET', `/alert/${alert.id}`), 200)).toEqual(acknowledged);
    bar.close();
    logi.close();
  });

  it('When anyone but the receiver team, nullReceiver handlers or alert/admin acknowledges, then 4xx and nothing changes', async () => {
    const bar = await client(server.url, kind, 'bar', 'bar-password');
    const sec = await client(server.url, kind, 'sec', 'sec-password');
    const orga = await client(server.url, kind, 'orga', 'orga-password');
    const logi = await client(server.url, kind, 'logi', 'logi-password');
    const anonymous =
      kind === 'http' ? httpTransport(server.url) : socketTransport(await connectClient(server.url));
    // serious: no escalation job writes while the data is compared
    const alert = await raise(bar, { severity: 'serious' });
    const toNobody = await raise(bar, { severity: 'serious', receiverTeamId: null });
    for (const user of [bar, sec, orga, logi]) expectStatus(await user.request('GET', '/alert'), 200);
    const before = await databaseChecksum();
    const refused: Array<[Transport, string, number, string]> = [
      [sec, `/alert/${alert.id}/acknowledge`, 404, 'NotFound'], // cannot read it: as if it did not exist
      [bar, `/alert/${alert.id}/acknowledge`, 403, 'Forbidden'], // its sender reads it
      [orga, `/alert/${alert.id}/acknowledge`, 403, 'Forbidden'], // alert/read reads every alert
      [logi, `/alert/${toNobody.id}/acknowledge`, 404, 'NotFound'], // not a nullReceiver handler
      [orga, `/alert/${toNobody.id}/acknowledge`, 403, 'Forbidden'],
      [anonymous, `/alert/${alert.id}/acknowledge`, 401, 'Unauthorized'],
      [logi, '/alert/999999/acknowledge', 404, 'NotFound'],
      [logi, '/alert/abc/acknowledge', 400, 'BadRequest'],
      [logi, '/alert/1.5/acknowledge', 400, 'BadRequest'],
    ];
    for (const [user, url, status, code] of refused) {
      const reply = await user.request('POST', url);
      expect({
        url,
        status: reply.status,
        code: (reply.body as { _error?: { code?: string } })._error?.code,
      }).toEqual({ url, status, code });
    }
    expect(await databaseChecksum()).toBe(before);

    // the alert sent to nobody is acknowledged by its handlers (alert/nullReceiver), and by alert/admin
    expect(
      expectStatus<Alert>(await sec.request('POST', `/alert/${toNobody.id}/acknowledge`), 200),
    ).toMatchObject({
      acknowledgedById: expect.any(Number),
    });
    expectStatus(await admin.request('POST', `/alert/${alert.id}/acknowledge`), 200);
    for (const transport of [bar, sec, orga, logi, anonymous]) transport.close();
  });

  it('When a client writes escalatedAt, acknowledgedAt or acknowledgedById, then they are ignored', async () => {
    const asAdmin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
    const forged = {
      escalatedAt: '2020-01-01T00:00:00.000Z',
      acknowledgedAt: '2020-01-01T00:00:00.000Z',
      acknowledgedById: logistics.userId,
    };
    const created = expectStatus<Alert>(
      await asAdmin.request('POST', '/alert', { title: 'Forged', severity: 'serious', ...forged }),
      201,
    );
    expect(created).toMatchObject({ escalatedAt: null, acknowledgedAt: null, acknowledgedById: null });
    const updated = expectStatus<Alert>(
      await asAdmin.request('PUT', `/alert/${created.id}`, { ...forged, severity: 'done' }),
      200,
    );
    expect(updated).toMatchObject({
      severity: 'done',
      escalatedAt: null,
      acknowledgedAt: null,
      acknowledgedById: null,
    });
    asAdmin.close();
  });
});

describe('escalating once', () => {
  it('When the escalation of one alert runs several times, at once or one after the other, then it changes the alert once', async () => {
    const bar = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const alerts = await Promise.all([1, 2, 3, 4, 5].map(() => raise(bar)));
    const due = { now: new Date(Date.now() + DAY_MS) };
    for (const alert of alerts) {
      // before its own job runs: two escalations at once, then the job's handler twice
      const outcomes = await Promise.all([escalate(alert.id, due), escalate(alert.id, due)]);
      expect(outcomes.filter((outcome) => outcome === 'escalated')).toHaveLength(1);
      const run = { id: 'test', name: 'escalateAlert', data: { alertId: alert.id }, attempt: 1 };
      for (let i = 0; i < 2; i++) {
        expect(await escalateAlertJob.run(run as JobRun<{ alertId: number }>)).toEqual({
          outcome: 'not-warning',
        });
      }
    }
    for (const alert of alerts) {
      await waitFor(() => updatesOf(alert.id).serious.length > 0, 5000, 'the escalation event');
      expect(await settled(escalationJob(alert.id))).toMatchObject({ result: { outcome: 'not-warning' } });
    }
    await settle(300);
    for (const alert of alerts) expect(updatesOf(alert.id).all).toHaveLength(1);
  });

  it('When an acknowledgement and an escalation of one alert run at once, then the escalation never follows the acknowledgement', async () => {
    const bar = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const alerts = await Promise.all([1, 2, 3, 4, 5, 6].map(() => raise(bar)));
    const due = { now: new Date(Date.now() + DAY_MS) };
    for (const alert of alerts) {
      const [acknowledged, outcome] = await Promise.all([
        acknowledge(alert.id, logistics.userId),
        escalate(alert.id, due),
      ]);
      // what the acknowledgement committed on is what the escalation found: a warning it acknowledged
      // stays a warning, an escalation it found done stays done
      expect({ id: alert.id, seen: acknowledged.severity, outcome }).toEqual({
        id: alert.id,
        seen: outcome === 'escalated' ? 'serious' : 'warning',
        outcome: outcome === 'escalated' ? 'escalated' : 'acknowledged',
      });
      const stored = (await Flux.Alert.findByPk(alert.id))!;
      expect(stored.acknowledgedAt).not.toBeNull();
      expect(stored.severity).toBe(outcome === 'escalated' ? 'serious' : 'warning');
    }
  });

  it('When escalation is off (escalateAfterMs 0), then nothing escalates', async () => {
    const bar = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const alert = await raise(bar);
    expect(await escalate(alert.id, { now: new Date(Date.now() + DAY_MS), afterMs: 0 })).toBe('disabled');
    expect(await escalateOverdue({ now: new Date(Date.now() + DAY_MS), afterMs: 0, limit: 10 })).toEqual({
      overdue: 0,
      escalated: 0,
    });
    await acknowledge(alert.id, logistics.userId);
  });
});

describe('the escalation sweep', () => {
  it('When an alert was set back to warning and is overdue, then the sweep job escalates it, once', async () => {
    const bar = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const logi = httpTransport(server.url, await login(server.url, 'logi', 'logi-password'));
    const alert = await raise(bar, { severity: 'serious' });
    // raised serious: no job of its own
    await settle(200);
    expect(await Flux.jobs.get(escalationJob(alert.id))).toBeUndefined();
    expectStatus(await logi.request('PUT', `/alert/${alert.id}`, { severity: 'warning' }), 200);
    // raised long ago (no event: a plain statement)
    await Flux.sequelize.query('UPDATE "Alerts" SET "createdAt" = :past WHERE id = :id', {
      replacements: { past: new Date(Date.now() - 10 * ESCALATE_MS), id: alert.id },
    });
    const sweeps = await Promise.all([1, 2].map(() => Flux.jobs.add('escalationSweep', {})));
    for (const { id } of sweeps) expect(await settled(id)).toMatchObject({ state: 'completed' });
    await waitFor(() => updatesOf(alert.id).serious.length > 0, 5000, 'the escalation event');
    await settle(300);
    // set back to warning, then escalated
    expect(updatesOf(alert.id).all.map((event) => (event.data as Alert).severity)).toEqual([
      'warning',
      'serious',
    ]);
  });
});

describe('who acknowledged', () => {
  it('When the user who acknowledged is destroyed, then the alert stays acknowledged', async () => {
    const member = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', {
        login: 'logi2',
        name: 'logi2',
        password: 'logi2-password',
        teamId: logistics.teamId,
      }),
      201,
    );
    const bar = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const logi2 = httpTransport(server.url, await login(server.url, 'logi2', 'logi2-password'));
    const alert = await raise(bar);
    const acknowledged = expectStatus<Alert>(
      await logi2.request('POST', `/alert/${alert.id}/acknowledge`),
      200,
    );
    expect(acknowledged.acknowledgedById).toBe(member.id);
    expectStatus(await admin.request('DELETE', `/user/${member.id}`), 200);
    expect(expectStatus<Alert>(await admin.request('GET', `/alert/${alert.id}`), 200)).toMatchObject({
      acknowledgedById: null,
      acknowledgedAt: acknowledged.acknowledgedAt,
      severity: 'warning',
    });
  });
});

const redisUrl = process.env.REDIS_URL;

/**
 * Two Flux processes sharing the database and Redis (as test/integration/multiInstance.test.ts runs them):
 * both run the escalation jobs, and the subscribers of both see each alert escalate once.
 */
describe.skipIf(!redisUrl)('escalation with two instances', () => {
  const processes: NodeProcess[] = [];
  const urls: string[] = [];
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = {
      server: { port: 0, host: '127.0.0.1' },
      database: { url: database.config.url ?? `sqlite:${database.config.storage as string}` },
      redis: { url: redisUrl, prefix: `flux-escalation-${process.pid}:` },
      bootstrap: { adminPassword: ADMIN_PASSWORD },
      jwt: { secret: 'a-shared-secret-of-the-two-instances-0123456789' },
      alerts: { escalateAfterMs: ESCALATE_MS },
    };
    // one after the other: the first runs the migrations
    for (let i = 0; i < 2; i++) {
      const instance = startNode('test/helpers/instance.ts', [], {
        NODE_ENV: 'test',
        FLUX_TEST_CONFIG: JSON.stringify(config),
      });
      processes.push(instance);
      const [, port] = await waitForOutput(instance, /listening (\d+)/);
      urls.push(`http://127.0.0.1:${port}`);
    }
  }, 90_000);

  afterAll(async () => {
    for (const instance of processes) await instance.stop();
    await database?.drop();
  });

  it('When warnings raised on one instance are not acknowledged, then subscribers on both see each become serious once', async () => {
    const [one, two] = urls;
    const writer = httpTransport(one, await login(one, 'admin', ADMIN_PASSWORD));
    const receiver = await createTeamWithUser(
      writer,
      { name: 'Logistics', role: 'logistics' },
      { login: 'logi', password: 'logi-password' },
    );
    const received: ModelEventPayload[][] = [];
    const sockets: Socket[] = [];
    for (const url of [one, two]) {
      const socket = await connectSocket(url, { token: await login(url, 'logi', 'logi-password') });
      sockets.push(socket);
      received.push(collect<ModelEventPayload>(socket, 'model:alert'));
      expect((await socketRequest(socket, { method: 'POST', url: '/alert/subscribe' })).statusCode).toBe(200);
    }
    const alerts = [];
    for (let i = 0; i < 4; i++) {
      alerts.push(
        expectStatus<Alert>(
          await writer.request('POST', '/alert', { title: `Alert ${i}`, receiverTeamId: receiver.teamId }),
          201,
        ),
      );
    }
    const serious = (events: ModelEventPayload[], id: number) =>
      events.filter((e) => e.id === id && e.verb === 'updated' && (e.data as Alert).severity === 'serious');
    for (const events of received) {
      for (const alert of alerts) {
        await waitFor(
          () => serious(events, alert.id).length > 0,
          20_000,
          `the escalation of alert ${alert.id}`,
        ).catch((err) => {
          throw new Error(
            `${err}: ${JSON.stringify(events)} ${processes.map((p) => p.output().slice(-2000)).join('\n---\n')}`,
          );
        });
      }
    }
    await settle(ESCALATE_MS);
    for (const events of received) {
      for (const alert of alerts) {
        expect(events.filter((e) => e.id === alert.id && e.verb === 'updated')).toHaveLength(1);
      }
    }
    for (const socket of sockets) socket.close();
  }, 60_000);
});
