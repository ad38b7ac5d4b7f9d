import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { Reply, Transport } from '../helpers/clients.js';
import { httpTransport } from '../helpers/clients.js';
import {
  adminLogin,
  client,
  createTeamWithUser,
  expectSameReply,
  expectStatus,
} from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

type ErrorBody = { _error: { code: string; validation?: Array<{ path: string }> } };

/** The attributes a 400 ValidationError names. */
function invalid(reply: Reply): string[] {
  const body = expectStatus<ErrorBody>(reply, 400);
  expect(body._error.code).toBe('ValidationError');
  return (body._error.validation ?? []).map((error) => error.path);
}

/**
 * Generic CRUD (docs/reference.md#generic-crud) and group permissions (docs/permissions.md), written once and
 * run over HTTP and over the socket: both transports must give the same statuses and bodies.
 */

let server: TestServer;
let admin: Transport;
let bar: { teamId: number; userId: number };
let otherBar: { teamId: number; userId: number };

beforeAll(async () => {
  server = await startTestServer();
  admin = httpTransport(server.url, await adminLogin(server.url));
  bar = await createTeamWithUser(
    admin,
    { name: 'Bar 1', role: 'bar', group: 'bars' },
    { login: 'bar1', password: 'bar1-password' },
  );
  otherBar = await createTeamWithUser(
    admin,
    { name: 'Bar 2', role: 'bar', group: 'bars' },
    { login: 'bar2', password: 'bar2-password' },
  );
});

afterAll(async () => {
  await server?.stop();
});

describe.each(['http', 'socket'] as const)('CRUD over %s', (kind) => {
  let asAdmin: Transport;
  let asBar: Transport;

  beforeAll(async () => {
    asAdmin = await client(server.url, kind, 'admin', ADMIN_PASSWORD);
    asBar = await client(server.url, kind, 'bar1', 'bar1-password');
  });

  afterAll(() => {
    asAdmin.close();
    asBar.close();
  });

  it('When the admin creates a user, then it is returned with 201, without its password', async () => {
    const body = expectStatus(
      await asAdmin.request('POST', '/user', {
        login: `new-${kind}`,
        password: 'a-long-password',
        teamId: bar.teamId,
        name: 'New',
      }),
      201,
    );
    expect(body).toMatchObject({
      login: `new-${kind}`,
      name: 'New',
      teamId: bar.teamId,
      ip: null,
      preferences: {},
    });
    expect(body).not.toHaveProperty('password');
    expect(typeof body.id).toBe('number');
  });

  it('When a body carries attributes that are not writable, then they are ignored', async () => {
    const body = expectStatus(
      await asAdmin.request('POST', '/user', {
        login: `ignored-${kind}`,
        password: 'a-long-password',
        id: 999_999,
        tenantId: 42,
        createdAt: '2000-01-01T00:00:00.000Z',
      }),
      201,
    );
    expect(body.id).not.toBe(999_999);
    expect(body.tenantId).toBe(1);
    expect(body.createdAt).not.toBe('2000-01-01T00:00:00.000Z');
  });

  it('When a controller’s beforeSave changes values after validation, replaced or in place, then the save validates them again (400, nothing written); when it changes nothing, then they are validated once', async () => {
    const controller = Flux.controllers.AlertController as {
      beforeSave: (ctx: unknown, alert: Record<string, unknown>) => Promise<void>;
    };
    const original = controller.beforeSave;
    const alerts = async () => (await Flux.Alert.count()) as number;
    const before = await alerts();
    const raise = (title: string) =>
      asAdmin.request('POST', '/alert', { title, severity: 'done', receiverTeamId: null });
    try {
      controller.beforeSave = async (_ctx, alert) => {
        alert.title = ''; // len 1..200: invalid
      };
      expect(invalid(await raise('Replaced'))).toEqual(['title']);
      controller.beforeSave = async (_ctx, alert) => {
        (alert.users as number[]).push(-1); // in place: the same array, now not a list of user ids
      };
      expect(invalid(await raise('In place'))).toEqual(['users']);
      expect(await alerts()).toBe(before);
    } finally {
      controller.beforeSave = original;
    }
    // unchanged by beforeSave: validated once (not again by save), written
    const validate = vi.spyOn(Flux.Alert.prototype, 'validate');
    try {
      expectStatus(await raise('Unchanged'), 201);
      expect(validate).toHaveBeenCalledTimes(1);
    } finally {
      validate.mockRestore();
    }
    expect(await alerts()).toBe(before + 1);
  });

  it('When a login is taken, then 400 ValidationError names the field', async () => {
    const reply = await asAdmin.request('POST', '/user', { login: 'bar1', password: 'a-long-password' });
    const body = expectStatus<{ _error: { code: string; validation: Array<{ path: string }> } }>(reply, 400);
    expect(body._error.code).toBe('ValidationError');
    expect(body._error.validation.map((v) => v.path)).toContain('login');
  });

  it('When a value has the wrong type, then 400 ValidationError and nothing is created', async () => {
    const before = expectStatus<unknown[]>(
      await asAdmin.request('GET', '/user', { limit: 1000 }),
      200,
    ).length;
    const reply = await asAdmin.request('POST', '/user', {
      login: ['x'],
      password: 'a-long-password',
      teamId: 'abc',
    });
    const body = expectStatus<{ _error: { code: string; validation: Array<{ path: string }> } }>(reply, 400);
    expect(body._error.validation.map((v) => v.path).sort()).toEqual(['login', 'teamId']);
    const after = expectStatus<unknown[]>(await asAdmin.request('GET', '/user', { limit: 1000 }), 200).length;
    expect(after).toBe(before);
  });

  it('When a user references a team that does not exist, then 400', async () => {
    const reply = await asAdmin.request('POST', '/user', {
      login: `orphan-${kind}`,
      password: 'a-long-password',
      teamId: 987654,
    });
    expect(
      expectStatus<{ _error: { validation: Array<{ path: string }> } }>(reply, 400)._error.validation[0].path,
    ).toBe('teamId');
  });

  it('When a password is too short, then 400', async () => {
    expectStatus(await asAdmin.request('POST', '/user', { login: `short-${kind}`, password: 'short' }), 400);
  });

  it('When reading an item, then get returns it; a missing one is 404; a bad id is 400', async () => {
    const body = expectStatus(await asAdmin.request('GET', `/user/${bar.userId}`), 200);
    expect(body).toMatchObject({ id: bar.userId, login: 'bar1', teamId: bar.teamId });
    const missing = expectStatus<{ _error: unknown }>(await asAdmin.request('GET', '/user/999999'), 404);
    expect(missing._error).toMatchObject({ status: 404, code: 'NotFound' });
    expectStatus(await asAdmin.request('GET', '/user/abc'), 400);
  });

  it('When a bar reads users, then it sees its own team only (user/team), and others are 404', async () => {
    const list = expectStatus<Array<{ teamId: number }>>(await asBar.request('GET', '/user'), 200);
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((u) => u.teamId === bar.teamId)).toBe(true);
    expectStatus(await asBar.request('GET', `/user/${otherBar.userId}`), 404);
  });

  it('When a bar edits itself, then name changes but its team cannot', async () => {
    const body = expectStatus(
      await asBar.request('PUT', `/user/${bar.userId}`, { name: `Renamed ${kind}`, teamId: otherBar.teamId }),
      200,
    );
    expect(body).toMatchObject({ name: `Renamed ${kind}`, teamId: bar.teamId });
  });

  it('When a bar edits another user it can read, then 403; one it cannot read, then 404', async () => {
    const mate = expectStatus<{ id: number }>(
      await asAdmin.request('POST', '/user', {
        login: `mate-${kind}`,
        password: 'a-long-password',
        teamId: bar.teamId,
      }),
      201,
    );
    const forbidden = expectStatus<{ _error: { code: string } }>(
      await asBar.request('PATCH', `/user/${mate.id}`, { name: 'x' }),
      403,
    );
    expect(forbidden._error.code).toBe('Forbidden');
    expectStatus(await asBar.request('PATCH', `/user/${otherBar.userId}`, { name: 'x' }), 404);
    expect(expectStatus(await asAdmin.request('GET', `/user/${mate.id}`), 200).name).toBeNull();
  });

  it('When a bar creates or destroys a team, then 403 and nothing changes', async () => {
    expectStatus(await asBar.request('POST', '/team', { name: `Rogue ${kind}`, role: 'admin' }), 403);
    expectStatus(await asBar.request('DELETE', `/team/${otherBar.teamId}`), 403);
    const teams = expectStatus<Array<{ name: string }>>(await asAdmin.request('GET', '/team'), 200);
    expect(teams.map((t) => t.name)).not.toContain(`Rogue ${kind}`);
    expect(teams.map((t) => t.name)).toContain('Bar 2');
  });

  it('When a team is updated partially, then other attributes stay', async () => {
    const team = expectStatus<{ id: number }>(
      await asAdmin.request('POST', '/team', { name: `T ${kind}`, role: 'orga', location: 'Gate A' }),
      201,
    );
    const body = expectStatus(
      await asAdmin.request('PATCH', `/team/${team.id}`, { location: 'Gate B' }),
      200,
    );
    expect(body).toMatchObject({ name: `T ${kind}`, role: 'orga', location: 'Gate B' });
    expectStatus(await asAdmin.request('PUT', `/team/${team.id}`, { role: 'no-such-role' }), 400);
  });

  it('When an item is destroyed, then 200 returns it and it is gone', async () => {
    const team = expectStatus<{ id: number }>(
      await asAdmin.request('POST', '/team', { name: `Gone ${kind}`, role: 'orga' }),
      201,
    );
    const destroyed = expectStatus(await asAdmin.request('DELETE', `/team/${team.id}`), 200);
    expect(destroyed).toMatchObject({ id: team.id, name: `Gone ${kind}` });
    expectStatus(await asAdmin.request('GET', `/team/${team.id}`), 404);
    expectStatus(await asAdmin.request('DELETE', `/team/${team.id}`), 404);
  });

  it('When a team still has members, then it cannot be destroyed', async () => {
    expectStatus(await asAdmin.request('DELETE', `/team/${bar.teamId}`), 400);
  });

  it('When finding with filters, sort, limit, offset and count, then the page and total are right', async () => {
    for (const n of [1, 2, 3]) {
      expectStatus(
        await asAdmin.request('POST', '/team', {
          name: `Page ${kind} ${n}`,
          role: 'orga',
          location: `loc-${kind}`,
        }),
        201,
      );
    }
    const reply = await asAdmin.request('GET', '/team', {
      filters: { location: `loc-${kind}`, name: { like: `Page ${kind}%` } },
      sort: '-name',
      limit: 2,
      offset: 0,
      count: true,
    });
    const page = expectStatus<Array<{ name: string }>>(reply, 200);
    expect(page.map((t) => t.name)).toEqual([`Page ${kind} 3`, `Page ${kind} 2`]);
    expect(reply.headers['x-total-count']).toBe('3');
    const next = expectStatus<Array<{ name: string }>>(
      await asAdmin.request('GET', '/team', {
        filters: { location: `loc-${kind}` },
        sort: '-name',
        limit: 2,
        offset: 2,
      }),
      200,
    );
    expect(next.map((t) => t.name)).toEqual([`Page ${kind} 1`]);
    const either = expectStatus<Array<{ name: string }>>(
      await asAdmin.request('GET', '/team', {
        filters: { or: [{ name: `Page ${kind} 1` }, { name: `Page ${kind} 3` }] },
        sort: 'name',
      }),
      200,
    );
    expect(either.map((t) => t.name)).toEqual([`Page ${kind} 1`, `Page ${kind} 3`]);
  });

  it.each([
    [{ filters: { id: { regexp: '.*' } } }, 'an unknown operator'],
    [{ filters: { password: 'x' } }, 'a hidden attribute'],
    [{ filters: { nope: 1 } }, 'an unknown attribute'],
    [{ filters: { id: 'x' } }, 'a wrongly typed value'],
    [{ filters: { login: { like: "%' OR 1=1 --" } }, id: 1 }, 'nothing (SQL in a string is a value)'],
    [{ sort: 'password' }, 'a hidden sort key'],
    [{ limit: 5000 }, 'a limit over 1000'],
  ])('When find gets %j, then 400 (or a plain result) for %s', async (data, what) => {
    const reply = await asAdmin.request('GET', '/user', data);
    if (what.startsWith('nothing')) {
      expect(expectStatus<unknown[]>(reply, 200)).toEqual([]);
      return;
    }
    expect(expectStatus<{ _error: { code: string } }>(reply, 400)._error.code).toBe('BadRequest');
  });

  it('When direct uploads are not configured, then presign and confirm are 404', async () => {
    expectStatus(
      await asAdmin.request('POST', '/upload/presign', {
        filename: 'a.pdf',
        contentType: 'application/pdf',
        size: 3,
      }),
      404,
    );
    expectStatus(await asAdmin.request('POST', '/upload/confirm', { key: '1/1/x' }), 404);
  });

  it('When subscribe is requested over plain HTTP, then 400', async () => {
    const reply = await asAdmin.request('POST', '/user/subscribe');
    expectStatus(reply, kind === 'http' ? 400 : 200);
  });
});

describe('one scenario, two transports', () => {
  it('gives the same status and body over HTTP and over the socket', async () => {
    const http = await client(server.url, 'http', 'bar1', 'bar1-password');
    const socket = await client(server.url, 'socket', 'bar1', 'bar1-password');
    const requests: Array<[string, string, unknown?]> = [
      ['GET', `/user/${bar.userId}`],
      ['GET', `/user/${otherBar.userId}`],
      ['GET', '/user', { sort: 'login' }],
      ['GET', '/team', { filters: { group: 'bars' }, sort: 'name' }],
      ['GET', '/user', { filters: { id: { nope: 1 } } }],
      ['POST', '/team', { name: 'x', role: 'bar' }],
      ['DELETE', `/user/${otherBar.userId}`],
      ['GET', '/no/such/route'],
      ['GET', '/auth/roles'],
      ['POST', '/auth/login', { login: 'bar1', password: 'wrong-password' }],
      ['POST', '/auth/login', { login: 'bar1' }],
    ];
    for (const [method, url, data] of requests) await expectSameReply(http, socket, method, url, data);
    socket.close();
  });
});

describe('HTTP requests and responses', () => {
  it("When the server receives a request, then its request and response are born with the Express app's prototypes, so that Express's per-request prototype swap changes nothing", async () => {
    const born: boolean[] = [];
    const check = (req: object, res: object) =>
      born.push(
        Object.getPrototypeOf(req) === Flux.express.request,
        Object.getPrototypeOf(res) === Flux.express.response,
      );
    // before the app's own listener (and its swap)
    Flux.server.prependOnceListener('request', check);
    const reply = await admin.request('GET', '/team');
    expectStatus(reply, 200);
    expect(born).toEqual([true, true]);
  });
});
