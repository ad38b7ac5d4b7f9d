import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Op } from 'sequelize';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUnusablePassword } from '../../api/services/PasswordService.js';
import {
  type ImportData,
  type ImportResult,
  importUsers,
  maxListedFailures,
} from '../../api/services/UserImportService.js';
import { Flux } from '../../lib/Flux.js';
import type { JobStatus } from '../../lib/jobs.js';
import type { JobProgressPayload } from '../../lib/protocol.js';
import {
  collect,
  connectClient,
  connectSocket,
  httpTransport,
  settle,
  socketRequest,
  socketTransport,
  type Transport,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, databaseChecksum, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The CSV import of users (docs/import.md): `POST /import/users` queues an `importUsers` job
 * (api/jobs/importUsers.ts) whose progress reaches the starter's sockets only; lines are created or updated
 * by login within the tenant, bad lines reported by line number, a second run of the same file changes
 * nothing; bad files are refused before any job, with nothing changed.
 */

const MAX_BYTES = 64 * 1024;
let server: TestServer;
let uploadDir: string;
let admin: Transport;
let coordToken: string;
let baristaToken: string;
let teams: Record<string, number>;
let coordUserId: number;
let tenantId: number;
/** The other tenant: its admin, and a user whose login the file also has. */
let otherAdminToken: string;

beforeAll(async () => {
  uploadDir = mkdtempSync(path.join(tmpdir(), 'flux-import-'));
  server = await startTestServer({
    upload: { dir: uploadDir },
    import: { maxBytes: MAX_BYTES },
    // no session's lastAction moves during a test: database checksums compare the data an import writes
    auth: { sessionTouchMs: 3_600_000 },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
  const coord = await createTeamWithUser(
    admin,
    { name: 'Coordination', role: 'coord' },
    { login: 'coord', password: 'coord-password' },
  );
  coordUserId = coord.userId;
  tenantId = (await Flux.User.findByPk(coord.userId))?.tenantId as number;
  const bar = await createTeamWithUser(
    admin,
    { name: 'Bar 1', role: 'bar' },
    { login: 'barista', password: 'barista-password' },
  );
  const logistics = expectStatus<{ id: number }>(
    await admin.request('POST', '/team', { name: 'Logistics', role: 'logistics' }),
    201,
  );
  expectStatus(
    await admin.request('POST', '/user', {
      login: 'coord2',
      password: 'coord2-password',
      name: 'Coord 2',
      teamId: coord.teamId,
    }),
    201,
  );
  const adminTeam = expectStatus<Array<{ id: number }>>(
    await admin.request('GET', '/team', { filters: { name: 'Admin' } }),
    200,
  )[0];
  teams = { Coordination: coord.teamId, 'Bar 1': bar.teamId, Logistics: logistics.id, Admin: adminTeam.id };
  coordToken = await login(server.url, 'coord', 'coord-password');
  baristaToken = await login(server.url, 'barista', 'barista-password');

  await createTenant(admin, {
    name: 'Other event',
    slug: 'other-event',
    adminPassword: 'other-admin-password',
  });
  otherAdminToken = await login(server.url, 'admin', 'other-admin-password', 'other-event');
  const other = httpTransport(server.url, otherAdminToken);
  await createTeamWithUser(
    other,
    { name: 'Bar 1', role: 'bar' },
    { login: 'alice', password: 'other-alice-password' },
  );
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(uploadDir, { recursive: true, force: true });
});

/** Sends `content` as the multipart field `field` of `POST /import/users`. */
async function postImport(
  token: string | undefined,
  content: string | Buffer,
  { field = 'file', name = 'users.csv', type = 'text/csv' } = {},
) {
  const form = new FormData();
  form.append(field, new Blob([content], { type }), name);
  const response = await fetch(`${server.url}/import/users`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls the job engine until the job has ended. */
async function settled(id: string, timeoutMs = 30_000): Promise<JobStatus> {
  const until = Date.now() + timeoutMs;
  let status: JobStatus | undefined;
  while (Date.now() < until) {
    status = await Flux.jobs.get(id);
    if (status?.state === 'completed' || status?.state === 'failed') return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not end: ${JSON.stringify(status)}`);
}

/** Imports `csv` as coord and waits for the job's end; returns the job's status. */
async function runImport(csv: string, token = coordToken): Promise<JobStatus & { result: ImportResult }> {
  const reply = await postImport(token, csv);
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  const status = await settled(reply.body.jobId as string);
  expect(status.state, status.error).toBe('completed');
  return status as JobStatus & { result: ImportResult };
}

/** A socket logged in as `loginName` (over the socket: its session is bound to it). */
async function loggedInSocket(loginName: string, password: string, tenant?: string): Promise<Socket> {
  const socket = await connectSocket(server.url);
  const reply = await socketRequest(socket, {
    method: 'POST',
    url: '/auth/login',
    data: { login: loginName, password },
    headers: tenant ? { 'x-tenant': tenant } : {},
  });
  expect(reply.statusCode).toBe(200);
  return socket;
}

/** A socket of `loginName` subscribed to users, recording the `model:user` events it receives. */
async function userSubscriber(loginName: string, password: string) {
  const socket = await loggedInSocket(loginName, password);
  const events = collect<{ verb: string; id: number; data: Record<string, unknown> }>(socket, 'model:user');
  expect((await socketRequest(socket, { method: 'POST', url: '/user/subscribe' })).statusCode).toBe(200);
  return { socket, events };
}

const usersNamed = async (logins: string[]) =>
  expectStatus<Array<Record<string, unknown>>>(
    await admin.request('GET', '/user', { filters: { login: { in: logins } }, sort: 'login' }),
    200,
  );

const tmpLeftovers = () => readdirSync(path.join(uploadDir, 'tmp'));

/**
 * A database checksum once the sockets of earlier tests are closed: a socket's end is written on its
 * session (`disconnectedAt`) a moment after the client closed it.
 */
async function quietChecksum(): Promise<string> {
  await expect.poll(() => Flux.Session.count({ where: { socketId: { [Op.ne]: null } } })).toBe(0);
  return databaseChecksum();
}

const header = 'login,name,team,email,password';
/** The first file: line numbers in the comments are the CSV's (the header is line 1). */
const firstFile = [
  header, // 1
  'alice,Alice Martin,Bar 1,alice@example.org,alice-password', // 2: created, with a password
  'bob,Bob Durand,Logistics,,', // 3: created, no password, no e-mail
  '', // 4: blank, skipped
  'carol,"Carol ""CJ"" Jones, Jr.",Logistics,carol@example.org,', // 5: created, quoted name
  'dave,Dave,Bar 9,dave@example.org,', // 6: unknown team
  'erin,Erin,Bar 1,not-an-email,', // 7: invalid e-mail
  ',No Login,Bar 1,,', // 8: no login
  'alice,Alice Again,Bar 1,,', // 9: login already on line 2
  'frank,Frank,Bar 1', // 10: too few fields
  'grace,Grace,Admin,grace@example.org,', // 11: a role coord may not grant
  'heidi,Heidi,bar 1,,', // 12: unknown team (case), with a hint
  'ivan,Ivan,Bar 1,,short', // 13: password too short
  'barista,Barista Renamed,Bar 1,barista@example.org,new-barista-password', // 14: updated, password ignored
  'judy,"Judy', // 15: a name over two lines
  'Smith",Logistics,judy@example.org,', // 16
  'admin,Admin Renamed,,,', // 17: a user of a role coord may not change
].join('\n');

describe('POST /import/users', () => {
  let firstResult: ImportResult;

  it('When an admin of users imports a file, then users are created and updated by login, each bad line is reported with its number, and progress reaches the starter only, in order, ending with completed', async () => {
    const starter = await loggedInSocket('coord', 'coord-password');
    const colleague = await loggedInSocket('coord2', 'coord2-password');
    const otherTenantAdmin = await loggedInSocket('admin', 'other-admin-password', 'other-event');
    const subscriber = await userSubscriber('admin', ADMIN_PASSWORD);
    const progress = collect<JobProgressPayload>(starter, 'job:progress');
    const colleagueProgress = collect<JobProgressPayload>(colleague, 'job:progress');
    const otherProgress = collect<JobProgressPayload>(otherTenantAdmin, 'job:progress');

    const reply = await postImport(coordToken, firstFile);
    expect(reply.status, JSON.stringify(reply.body)).toBe(202);
    const jobId = reply.body.jobId as string;
    expect(Object.keys(reply.body)).toEqual(['jobId']);
    const status = await settled(jobId);
    expect(status.state, status.error).toBe('completed');
    firstResult = status.result as ImportResult;
    expect(firstResult).toEqual({
      created: 4,
      updated: 1,
      unchanged: 0,
      failed: [
        { line: 6, error: 'no team named "Bar 9"' },
        { line: 7, error: 'email must be an e-mail address' },
        { line: 8, error: 'login is required' },
        { line: 9, error: 'login "alice" is already on line 2' },
        { line: 10, error: '5 fields expected, 3 found' },
        { line: 11, error: expect.stringContaining('Cannot grant the role "admin"') },
        { line: 12, error: 'no team named "bar 1" (there is "Bar 1")' },
        { line: 13, error: 'password must have at least 8 characters' },
        { line: 17, error: 'not allowed to change a user of the role "admin"' },
      ],
      failedCount: 9,
    });

    // the users as the file says, in its teams, with their e-mails
    const users = await usersNamed(['alice', 'barista', 'bob', 'carol', 'judy']);
    expect(users.map(({ login, name, teamId, email }) => ({ login, name, teamId, email }))).toEqual([
      { login: 'alice', name: 'Alice Martin', teamId: teams['Bar 1'], email: 'alice@example.org' },
      { login: 'barista', name: 'Barista Renamed', teamId: teams['Bar 1'], email: 'barista@example.org' },
      { login: 'bob', name: 'Bob Durand', teamId: teams.Logistics, email: null },
      { login: 'carol', name: 'Carol "CJ" Jones, Jr.', teamId: teams.Logistics, email: 'carol@example.org' },
      { login: 'judy', name: 'Judy\nSmith', teamId: teams.Logistics, email: 'judy@example.org' },
    ]);
    expect(await usersNamed(['dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'])).toEqual([]);
    // a new user's password is theirs; without one nobody knows it; an existing user keeps theirs
    await login(server.url, 'alice', 'alice-password');
    for (const guess of ['bob-password', 'Bob Durand', 'password'])
      expect(
        (await httpTransport(server.url).request('POST', '/auth/login', { login: 'bob', password: guess }))
          .status,
      ).toBe(401);
    await login(server.url, 'barista', 'barista-password');

    // every write published like any other: 4 created, 1 updated
    await expect.poll(() => subscriber.events.length).toBe(5);
    expect(subscriber.events.map((event) => [event.verb, event.data.login]).sort()).toEqual([
      ['created', 'alice'],
      ['created', 'bob'],
      ['created', 'carol'],
      ['created', 'judy'],
      ['updated', 'barista'],
    ]);

    // progress: the starter's sockets only, in order, the last one completed at 100
    await expect.poll(() => progress.at(-1)?.state).toBe('completed');
    expect(progress.every((event) => event.id === jobId && event.name === 'importUsers')).toBe(true);
    expect(progress.slice(0, -1).every((event) => event.state === 'active')).toBe(true);
    const percents = progress.map((event) => event.progress);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents.slice(0, -1)).size).toBe(percents.length - 1); // each step once
    expect(percents.at(-1)).toBe(100);
    await settle();
    expect(colleagueProgress).toEqual([]);
    expect(otherProgress).toEqual([]);
    for (const socket of [starter, colleague, otherTenantAdmin, subscriber.socket]) socket.close();
    expect(tmpLeftovers()).toEqual([]);
  });

  it('When the same file is imported again, then nothing changes: every line is unchanged or fails as before, no row moves, no event is published', async () => {
    expect(firstResult).toBeDefined();
    await quietChecksum();
    const subscriber = await userSubscriber('admin', ADMIN_PASSWORD);
    const before = await databaseChecksum();
    const { result } = await runImport(firstFile);
    expect(result).toEqual({ ...firstResult, created: 0, updated: 0, unchanged: 5 });
    expect(await databaseChecksum()).toBe(before);
    await settle();
    expect(subscriber.events).toEqual([]);
    subscriber.socket.close();
  });

  it('When a line differs from its user, then only what differs is written (an empty cell keeps the value), and the team is found by its name', async () => {
    const subscriber = await userSubscriber('admin', ADMIN_PASSWORD);
    const { result } = await runImport(
      [
        'Email, LOGIN ,team,name', // any order, any case, spaces around
        'alice.martin@example.org,alice,,', // new e-mail; team and name kept
        ',bob,Bar 1,', // moved to Bar 1
        'carol@example.org,carol,Logistics,"Carol ""CJ"" Jones, Jr."', // the same: unchanged
      ].join('\r\n'),
    );
    expect(result).toEqual({ created: 0, updated: 2, unchanged: 1, failed: [], failedCount: 0 });
    const [alice, bob] = await usersNamed(['alice', 'bob']);
    expect([alice.email, alice.name, alice.teamId]).toEqual([
      'alice.martin@example.org',
      'Alice Martin',
      teams['Bar 1'],
    ]);
    expect(bob.teamId).toBe(teams['Bar 1']);
    await expect.poll(() => subscriber.events.length).toBe(2);
    expect(subscriber.events.map((event) => [event.verb, event.data.login]).sort()).toEqual([
      ['updated', 'alice'],
      ['updated', 'bob'],
    ]);
    subscriber.socket.close();
  });

  it('When a login exists in another tenant, then the import creates its own user and leaves the other tenant untouched', async () => {
    const other = httpTransport(server.url, otherAdminToken);
    const otherUsers = async () =>
      expectStatus<Array<Record<string, unknown>>>(await other.request('GET', '/user', { sort: 'id' }), 200);
    const otherTeams = async () => expectStatus(await other.request('GET', '/team', { sort: 'id' }), 200);
    const before = JSON.stringify([await otherUsers(), await otherTeams()]);
    await runImport([header, 'alice,Alice From Import,Bar 1,,', 'zoe,Zoe,Bar 1,,'].join('\n'));
    expect(JSON.stringify([await otherUsers(), await otherTeams()])).toBe(before);
    expect((await otherUsers()).find((user) => user.login === 'alice')?.name).toBe('alice');
    await login(server.url, 'alice', 'other-alice-password', 'other-event');
  });

  it('When the starter reads the job over HTTP and over the socket, then both answer its state and result', async () => {
    const reply = await postImport(coordToken, [header, 'mallory,Mallory,Bar 1,,'].join('\n'));
    expect(reply.status).toBe(202);
    const jobId = reply.body.jobId as string;
    await settled(jobId);
    const socket = socketTransport(await connectClient(server.url));
    expectStatus(
      await socket.request('POST', '/auth/login', { login: 'coord', password: 'coord-password' }),
      200,
    );
    for (const transport of [httpTransport(server.url, coordToken), socket]) {
      const status = expectStatus<Record<string, unknown>>(
        await transport.request('GET', `/job/${jobId}`),
        200,
      );
      expect({ transport: transport.name, ...status }).toMatchObject({
        transport: transport.name,
        id: jobId,
        name: 'importUsers',
        state: 'completed',
        progress: 100,
        result: { created: 1, updated: 0, unchanged: 0, failed: [], failedCount: 0 },
      });
      transport.close();
    }
  });
});

describe('bad input', () => {
  /** Every refused request: nothing written, no job, no temporary file left. */
  async function expectRefused(
    reply: Promise<{ status: number; body: Record<string, unknown> }>,
    status: number,
    message?: RegExp,
  ) {
    const { status: actual, body } = await reply;
    expect(actual, JSON.stringify(body)).toBe(status);
    const error = (body as { _error: { status: number; message: string } })._error;
    expect(error.status).toBe(status);
    if (message) expect(error.message).toMatch(message);
  }

  it('When the file is missing, not text, not UTF-8, not CSV, has a wrong or lone header, or is too large, then 4xx before any job and nothing changes', async () => {
    const before = await quietChecksum();
    const jobsBefore = (await Flux.jobs.list('completed')).length + (await Flux.jobs.list('waiting')).length;
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c20000000049454e44ae426082',
      'hex',
    );
    const cases: Array<[string, Promise<{ status: number; body: Record<string, unknown> }>, number, RegExp]> =
      [
        ['another field', postImport(coordToken, `${header}\nx,X,Bar 1,,`, { field: 'csv' }), 400, /.+/],
        ['an image', postImport(coordToken, png, { name: 'users.csv' }), 400, /File type not allowed/],
        [
          'binary',
          postImport(coordToken, Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe])),
          400,
          /File type not allowed/,
        ],
        [
          'Latin-1',
          postImport(coordToken, Buffer.from(`${header}\nrene,Ren\xe9,Bar 1,,\n`, 'latin1')),
          400,
          /File type not allowed|UTF-8/,
        ],
        ['empty', postImport(coordToken, ''), 400, /empty/],
        ['blank', postImport(coordToken, '\n\n  \n'), 400, /empty/],
        [
          'no header',
          postImport(coordToken, 'alice,Alice,Bar 1,alice@example.org\n'),
          400,
          /Unknown column "alice"/,
        ],
        [
          'a missing column',
          postImport(coordToken, 'login,name,team\nx,X,Bar 1\n'),
          400,
          /Missing column email/,
        ],
        [
          'an unknown column',
          postImport(coordToken, 'login,name,team,email,role\nx,X,Bar 1,,admin\n'),
          400,
          /Unknown column "role"/,
        ],
        [
          'a repeated column',
          postImport(coordToken, 'login,name,team,email,login\nx,X,Bar 1,,y\n'),
          400,
          /appears twice/,
        ],
        [
          'semicolons',
          postImport(coordToken, 'login;name;team;email\nx;X;Bar 1;\n'),
          400,
          /separated by commas/,
        ],
        ['a header alone', postImport(coordToken, `${header}\n`), 400, /no user lines/],
        [
          'an unclosed quote',
          postImport(coordToken, `${header}\nx,X,Bar 1,,\ny,"Y,Bar 1,,\n`),
          400,
          /not valid CSV.*line/,
        ],
        [
          'too large',
          postImport(coordToken, `${header}\n${'x,X,Bar 1,,\n'.repeat(MAX_BYTES / 10)}`),
          413,
          /too large/,
        ],
        ['a NUL', postImport(coordToken, `${header}\nx,X\u0000,Bar 1,,\n`), 400, /File type not allowed|NUL/],
      ];
    for (const [what, reply, status, message] of cases) {
      await expect.soft(expectRefused(reply, status, message), what).resolves.toBeUndefined();
    }
    const json = await fetch(`${server.url}/import/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${coordToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file: `${header}\nx,X,Bar 1,,` }),
    });
    expect(json.status).toBe(400);
    expect(await databaseChecksum()).toBe(before);
    expect((await Flux.jobs.list('completed')).length + (await Flux.jobs.list('waiting')).length).toBe(
      jobsBefore,
    );
    await expect.poll(tmpLeftovers).toEqual([]);
  });

  it('When anonymous or without user/admin, then 401 / 403 over HTTP and the socket, and nothing changes', async () => {
    const before = await quietChecksum();
    const csv = `${header}\nx,X,Bar 1,,\n`;
    await expectRefused(postImport(undefined, csv), 401);
    await expectRefused(postImport(baristaToken, csv), 403, /user\/admin/);
    const socket = await connectSocket(server.url);
    expect(
      (await socketRequest(socket, { method: 'POST', url: '/import/users', data: { file: csv } })).statusCode,
    ).toBe(401);
    const asBarista = await socketRequest(socket, {
      method: 'POST',
      url: '/import/users',
      data: { file: csv },
      headers: { authorization: `Bearer ${baristaToken}` },
    });
    expect(asBarista.statusCode).toBe(403);
    socket.close();
    expect(await databaseChecksum()).toBe(before);
  });

  it('When an admin of users sends the file over the socket, then 400 names the HTTP route (files travel over HTTP only)', async () => {
    await quietChecksum();
    const socket = socketTransport(await connectClient(server.url));
    expectStatus(
      await socket.request('POST', '/auth/login', { login: 'coord', password: 'coord-password' }),
      200,
    );
    const before = await databaseChecksum();
    const reply = await socket.request('POST', '/import/users', { file: `${header}\nx,X,Bar 1,,\n` });
    expect(reply.status).toBe(400);
    expect((reply.body as { _error: { message: string } })._error.message).toContain('POST /import/users');
    expect(await databaseChecksum()).toBe(before);
    socket.close();
  });
});

describe('the import job, run directly', () => {
  /** A run of the job over `csv` as coord, recording what it reports. */
  function fakeRun(csv: string, signal = new AbortController().signal) {
    const run = {
      data: {
        tenantId,
        userId: coordUserId,
        csv,
        bytes: Buffer.byteLength(csv),
        lines: csv.split('\n').length - 1,
      } as ImportData,
      signal,
      progress: async (percent: number) => {
        run.reported.push(percent);
      },
      update: async (data: ImportData) => {
        run.updates.push(data);
      },
      reported: [] as number[],
      updates: [] as ImportData[],
    };
    return run;
  }

  it('When an import ends, then the job keeps a summary instead of the file (which may hold passwords)', async () => {
    const run = fakeRun([header, 'oscar,Oscar,Bar 1,,oscar-password', 'peggy,Peggy,Bar 9,,'].join('\n'));
    const result = await importUsers(run, { lastAttempt: false });
    expect(result.created).toBe(1);
    expect(run.updates).toEqual([
      {
        tenantId,
        userId: coordUserId,
        bytes: run.data.bytes,
        lines: 2,
        summary: { created: 1, updated: 0, unchanged: 0, failed: 1 },
      },
    ]);
    expect(JSON.stringify(run.updates)).not.toContain('oscar-password');
    // a retry after the end finds no file, and says so
    await expect(importUsers({ ...run, data: run.updates[0] }, { lastAttempt: false })).rejects.toThrow(
      /gone/,
    );
  });

  it('When a user gets a password nobody knows, then it is stored as made (no bcrypt work), and a password set after it is hashed as usual', async () => {
    const user = Flux.User.build({
      tenantId,
      login: 'nopass',
      name: null,
      email: null,
      teamId: null,
      ip: null,
      password: '',
    });
    setUnusablePassword(user);
    const made = user.password;
    expect(made).toMatch(/^\$2b\$\d\d\$[./A-Za-z0-9]{53}$/);
    await user.save();
    const stored = async () =>
      ((await Flux.User.findByPk(user.id, { raw: true })) as { password: string } | null)?.password;
    expect(await stored()).toBe(made);
    user.password = 'a-real-password';
    await user.save();
    expect(await stored()).not.toBe('a-real-password');
    await login(server.url, 'nopass', 'a-real-password');
  });

  it('When lines end in CRLF and a quoted value spans lines, then failed lines are numbered by the line they start on', async () => {
    const csv = [
      'login,name,team,email', // 1
      '"rupert","Rupert\r\nthe second",Bar 1,', // 2–3
      'sybil,Sybil,Nowhere,', // 4
      '', // 5
      '"trudy","T\r\nR\r\nU",Nowhere,', // 6–8
      'victor,Victor,Nowhere,', // 9
    ].join('\r\n');
    const result = await importUsers(fakeRun(csv), { lastAttempt: false });
    expect(result.failed.map((failure) => failure.line)).toEqual([4, 6, 9]);
    expect(result.created).toBe(1);
  });

  it('When the signal is aborted, then the run stops and keeps the file for its retry; on the last attempt it drops it', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `stop${i},Stop ${i},Bar 1,,`);
    const controller = new AbortController();
    controller.abort(new Error('Job timed out'));
    const run = fakeRun([header, ...lines].join('\n'), controller.signal);
    await expect(importUsers(run, { lastAttempt: false })).rejects.toThrow('Job timed out');
    expect(run.updates).toEqual([]);
    expect(await usersNamed(['stop0'])).toEqual([]);
    await expect(importUsers(run, { lastAttempt: true })).rejects.toThrow('Job timed out');
    expect(run.updates).toHaveLength(1);
    expect(run.updates[0].csv).toBeUndefined();
    expect(run.updates[0].summary?.error).toBe('Job timed out');
  });

  it('When many lines fail, then the result lists the first ones and counts them all; progress is reported in whole percents, in order', async () => {
    const count = maxListedFailures + 200;
    const lines = Array.from({ length: count }, (_, i) => `nobody${i},N,No Such Team,,`);
    const run = fakeRun([header, ...lines].join('\n'));
    const result = await importUsers(run, { lastAttempt: false });
    expect(result.failedCount).toBe(count);
    expect(result.failed).toHaveLength(maxListedFailures);
    expect(result.failed[0]).toEqual({ line: 2, error: 'no team named "No Such Team"' });
    expect(result.failed.at(-1)?.line).toBe(maxListedFailures + 1);
    expect(run.reported[0]).toBe(0);
    expect(run.reported.at(-1)).toBe(100);
    expect(run.reported).toEqual([...new Set(run.reported)].sort((a, b) => a - b));
  });

  it('When an import of the tenant is still running, then another is refused with 429 until it ends; another tenant imports meanwhile', async () => {
    const bulk = [header, ...Array.from({ length: 1500 }, (_, i) => `bulk${i},Bulk ${i},Logistics,,`)].join(
      '\n',
    );
    const first = await postImport(coordToken, bulk);
    expect(first.status).toBe(202);
    const small = [header, 'zed,Zed,Logistics,,'].join('\n');
    const refused = await postImport(coordToken, small);
    expect(refused.status, JSON.stringify(refused.body)).toBe(429);
    expect(JSON.stringify(refused.body)).toContain(String(first.body.jobId));
    const elsewhere = await postImport(otherAdminToken, [header, 'yves,Yves,Bar 1,,'].join('\n'));
    expect(elsewhere.status).toBe(202);
    expect((await settled(String(first.body.jobId), 120_000)).state).toBe('completed');
    expect((await settled(String(elsewhere.body.jobId))).state).toBe('completed');
    const after = await postImport(coordToken, small);
    expect(after.status).toBe(202);
    expect((await settled(String(after.body.jobId))).state).toBe('completed');
    expect(await usersNamed(['zed'])).toHaveLength(1);
  }, 180_000);

  it('When the starter has lost user/admin, then the import fails for good and drops the file', async () => {
    const run = fakeRun([header, 'trent,Trent,Bar 1,,'].join('\n'));
    run.data.userId = (await usersNamed(['barista']))[0].id as number;
    await expect(importUsers(run, { lastAttempt: false })).rejects.toThrow(/no longer has user\/admin/);
    expect(run.updates[0].csv).toBeUndefined();
    expect(await usersNamed(['trent'])).toEqual([]);
  });
});
