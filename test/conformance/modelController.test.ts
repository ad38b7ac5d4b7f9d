import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FluxClient } from '../../client/src/index.js';
import { FluxApp } from '../../lib/Flux.js';
import {
  collect,
  connectClient,
  httpTransport,
  type Reply,
  settle,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * Framework conformance (issue 11; Feathers' adapter-tests in spirit): `lib/` alone — its own `FluxApp`,
 * not the application's singleton — serves a toy application (test/conformance/toyApp: one model, three
 * roles, an authentication by headers), and every scenario runs over HTTP and over socket virtual
 * requests with the same expectations. Nothing of `api/` or `config/` is loaded. SQLite by default,
 * PostgreSQL (and Redis) when DATABASE_URL (REDIS_URL) are set.
 */

interface Card {
  id: number;
  title: string;
  color: 'red' | 'blue';
  size: number | null;
  ownerId: number | null;
  tenantId: number;
}

interface ModelEvent {
  verb: 'created' | 'updated' | 'destroyed';
  id: number;
  data: Card;
}

const toyDir = path.join(import.meta.dirname, 'toyApp');
let app: FluxApp;
let base: string;
let rootdir: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const socketClients: FluxClient[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  rootdir = mkdtempSync(path.join(tmpdir(), 'flux-conformance-'));
  app = new FluxApp();
  app.codedir = toyDir;
  app.rootdir = rootdir;
  const address = await app.start({
    migrate: false,
    config: {
      server: { port: 0, host: '127.0.0.1' },
      database: database.config,
      log: { level: 'error', dir: false },
      jwt: {},
      redis: { prefix: `flux-conformance-${process.pid}-${Math.random().toString(36).slice(2, 8)}:` },
    },
  });
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const socketClient of socketClients) socketClient.close();
  await app?.stop();
  await database?.drop();
  if (rootdir) rmSync(rootdir, { recursive: true, force: true });
});

/** A `@flux/client` with its socket connected, closed after all tests. */
async function socketClient(): Promise<FluxClient> {
  const connected = await connectClient(base);
  socketClients.push(connected);
  return connected;
}

const transports: Record<Transport['name'], () => Promise<Transport>> = {
  http: async () => httpTransport(base),
  socket: async () => socketTransport(await socketClient()),
};

/** The body of `reply` when its status is `status` (else the test fails showing the reply). */
function expectStatus<T>(reply: Reply, status: number): T {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status });
  return reply.body as T;
}

describe('the toy application', () => {
  it('When started, then its models, controllers and roles are its own, handed their context', () => {
    expect(Object.keys(app.models)).toEqual(['Card']);
    expect(Object.keys(app.controllers)).toEqual(['CardController']);
    expect([...app.roles.keys()].sort()).toEqual(['editor', 'guest', 'viewer']);
    expect(app.models.Card.app).toBe(app);
  });

  it('When the OpenAPI document is built, then the routes behind the registered middleware are secured', () => {
    const document = app.openapi() as {
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    expect(document.paths['/card'].get.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(document.paths['/card/{id}'].delete.responses)).toEqual(
      expect.arrayContaining(['200', '401', '403', '404']),
    );
    expect(Object.keys(document.components.schemas.Card.properties)).not.toContain('note');
  });
});

describe.each(['http', 'socket'] as const)('ModelController over %s', (kind) => {
  let client: Transport;
  // each transport in its own tenants, so that their scenarios never see each other's cards
  const tenant = kind === 'http' ? 1 : 3;
  const as = (user: number, role: string, inTenant = tenant) => ({
    'x-toy-user': String(user),
    'x-toy-role': role,
    'x-toy-tenant': String(inTenant),
  });
  const editor = as(1, 'editor');
  const viewer = as(2, 'viewer');

  beforeAll(async () => {
    client = await transports[kind]();
  });

  it('When an editor creates, reads, updates and destroys a card, then 201, 200, 200, 200, then 404', async () => {
    const created = expectStatus<Card>(
      await client.request('POST', '/card', { title: 'first', size: 3 }, editor),
      201,
    );
    expect(created).toMatchObject({ title: 'first', color: 'red', size: 3, ownerId: null, tenantId: tenant });
    expect(
      expectStatus<Card>(await client.request('GET', `/card/${created.id}`, undefined, editor), 200),
    ).toEqual(created);
    const updated = expectStatus<Card>(
      await client.request('PATCH', `/card/${created.id}`, { color: 'blue' }, editor),
      200,
    );
    expect(updated).toMatchObject({ id: created.id, title: 'first', color: 'blue', size: 3 });
    const put = expectStatus<Card>(
      await client.request('PUT', `/card/${created.id}`, { size: 4 }, editor),
      200,
    );
    expect(put).toMatchObject({ color: 'blue', size: 4 });
    const destroyed = expectStatus<Card>(
      await client.request('DELETE', `/card/${created.id}`, undefined, editor),
      200,
    );
    expect(destroyed).toMatchObject({ id: created.id, size: 4 });
    expect(
      expectStatus<{ _error: { code: string } }>(
        await client.request('GET', `/card/${created.id}`, undefined, editor),
        404,
      )._error.code,
    ).toBe('NotFound');
  });

  it('When a body sets id, tenantId or unknown attributes, then they are ignored; hidden ones never come back', async () => {
    const created = expectStatus<Card & Record<string, unknown>>(
      await client.request(
        'POST',
        '/card',
        { id: 999_999, tenantId: 77, title: 'quiet', note: 'secret', unknown: 1 },
        editor,
      ),
      201,
    );
    expect(created.id).not.toBe(999_999);
    expect(created.tenantId).toBe(tenant);
    expect(created).not.toHaveProperty('note');
    expect(created).not.toHaveProperty('unknown');
    const found = expectStatus<Card[]>(
      await client.request('GET', '/card', { filters: { id: created.id } }, editor),
      200,
    );
    expect(found).toEqual([created]);
    // a hidden attribute can be neither filtered nor sorted on
    expectStatus(await client.request('GET', '/card', { filters: { note: 'secret' } }, editor), 400);
  });

  it('When values have the wrong type, then 400 ValidationError naming each', async () => {
    const body = expectStatus<{ _error: { code: string; validation: Array<{ path: string }> } }>(
      await client.request('POST', '/card', { title: 5, color: 'green', size: 'big' }, editor),
      400,
    );
    expect(body._error.code).toBe('ValidationError');
    expect(body._error.validation.map((issue) => issue.path).sort()).toEqual(['color', 'size', 'title']);
    expectStatus(await client.request('GET', '/card/abc', undefined, editor), 400);
  });

  it('When nobody is named, then every action answers 401', async () => {
    for (const [method, url] of [
      ['GET', '/card'],
      ['GET', '/card/1'],
      ['POST', '/card'],
      ['PATCH', '/card/1'],
      ['DELETE', '/card/1'],
    ]) {
      expect((await client.request(method, url, method === 'GET' ? undefined : { title: 'x' })).status).toBe(
        401,
      );
    }
  });

  it('When users read, then each sees the cards its groups allow, in find (SQL) as in get', async () => {
    const mine = expectStatus<Card>(
      await client.request('POST', '/card', { title: 'owned by 5', ownerId: 5 }, editor),
      201,
    );
    const theirs = expectStatus<Card>(
      await client.request('POST', '/card', { title: 'owned by 6', ownerId: 6 }, editor),
      201,
    );
    const guest = as(5, 'guest');
    const guestSees = expectStatus<Card[]>(await client.request('GET', '/card', {}, guest), 200);
    expect(guestSees.map((card) => card.id)).toEqual([mine.id]);
    expectStatus(await client.request('GET', `/card/${mine.id}`, undefined, guest), 200);
    // unreadable is indistinguishable from missing
    expectStatus(await client.request('GET', `/card/${theirs.id}`, undefined, guest), 404);
    expectStatus(await client.request('DELETE', `/card/${theirs.id}`, undefined, guest), 404);
    const viewerSees = expectStatus<Card[]>(await client.request('GET', '/card', {}, viewer), 200);
    expect(viewerSees.map((card) => card.id)).toEqual(expect.arrayContaining([mine.id, theirs.id]));
  });

  it('When users write, then the groups decide: before and after an update, and on the item to create', async () => {
    const guest = as(8, 'guest');
    // a guest creates only the cards it owns
    expectStatus(await client.request('POST', '/card', { title: 'for 9', ownerId: 9 }, guest), 403);
    const own = expectStatus<Card>(
      await client.request('POST', '/card', { title: 'mine', ownerId: 8 }, guest),
      201,
    );
    expectStatus(await client.request('PATCH', `/card/${own.id}`, { title: 'still mine' }, guest), 200);
    // giving it away would take it out of the guest's update groups: refused, unchanged
    expectStatus(await client.request('PATCH', `/card/${own.id}`, { ownerId: 9 }, guest), 403);
    expect(
      expectStatus<Card>(await client.request('GET', `/card/${own.id}`, undefined, guest), 200).ownerId,
    ).toBe(8);
    // a viewer reads everything and writes nothing
    expectStatus(await client.request('POST', '/card', { title: 'no' }, viewer), 403);
    expectStatus(await client.request('PATCH', `/card/${own.id}`, { title: 'no' }, viewer), 403);
    expectStatus(await client.request('DELETE', `/card/${own.id}`, undefined, viewer), 403);
    expectStatus(await client.request('DELETE', `/card/${own.id}`, undefined, guest), 200);
  });

  it('When find has filters, sort, limit, offset and count, then it pages the readable cards', async () => {
    const owner = kind === 'http' ? 20 : 30;
    for (const size of [5, 1, 4, 2, 3])
      expectStatus(
        await client.request('POST', '/card', { title: `paged ${size}`, size, ownerId: owner }, editor),
        201,
      );
    const query = {
      filters: { ownerId: owner, size: { gte: 2 } },
      sort: '-size',
      limit: 2,
      offset: 1,
      count: true,
    };
    const reply = await client.request('GET', '/card', query, editor);
    expect(expectStatus<Card[]>(reply, 200).map((card) => card.size)).toEqual([4, 3]);
    expect(reply.headers['x-total-count']).toBe('4');
    const bad = await client.request('GET', '/card', { filters: { size: { regexp: '.*' } } }, editor);
    expect(expectStatus<{ _error: { code: string } }>(bad, 400)._error.code).toBe('BadRequest');
  });

  it('When another tenant holds a card, then nothing of it crosses over', async () => {
    const elsewhere = as(1, 'editor', tenant + 1);
    const other = expectStatus<Card>(
      await client.request('POST', '/card', { title: 'elsewhere' }, elsewhere),
      201,
    );
    expect(other.tenantId).toBe(tenant + 1);
    expectStatus(await client.request('GET', `/card/${other.id}`, undefined, editor), 404);
    expectStatus(await client.request('PATCH', `/card/${other.id}`, { title: 'x' }, editor), 404);
    const all = expectStatus<Card[]>(await client.request('GET', '/card', { limit: 1000 }, editor), 200);
    expect(all.every((card) => card.tenantId === tenant)).toBe(true);
    expect(all.map((card) => card.id)).not.toContain(other.id);
  });

  it('When a client subscribes, then only over a socket', async () => {
    const reply = await client.request('POST', '/card/subscribe', {}, viewer);
    if (kind === 'http') expectStatus(reply, 400);
    else expect(expectStatus(reply, 200)).toEqual({ model: 'card', subscribed: true });
  });
});

describe('events of the toy model', () => {
  it('When a card moves into, within and out of a subscriber’s view, then created, updated, destroyed', async () => {
    const tenant = 5;
    const writer = httpTransport(base);
    const editor = { 'x-toy-user': '1', 'x-toy-role': 'editor', 'x-toy-tenant': String(tenant) };
    const subscribe = async (user: number) => {
      const socket = await socketClient();
      const events = collect<ModelEvent>(socket.socket!, 'model:card');
      const headers = { 'x-toy-user': String(user), 'x-toy-role': 'guest', 'x-toy-tenant': String(tenant) };
      expectStatus(await socketTransport(socket).request('POST', '/card/subscribe', {}, headers), 200);
      return events;
    };
    const seven = await subscribe(7);
    const eight = await subscribe(8);
    const card = expectStatus<Card>(
      await writer.request('POST', '/card', { title: 'moving', ownerId: 8, note: 'hidden' }, editor),
      201,
    );
    await waitFor(() => eight.length === 1, 3000, "8's created");
    expectStatus(await writer.request('PATCH', `/card/${card.id}`, { ownerId: 7 }, editor), 200);
    await waitFor(() => seven.length === 1 && eight.length === 2, 3000, 'the move');
    expectStatus(await writer.request('PATCH', `/card/${card.id}`, { size: 2 }, editor), 200);
    await waitFor(() => seven.length === 2, 3000, "7's update");
    expectStatus(await writer.request('DELETE', `/card/${card.id}`, undefined, editor), 200);
    await waitFor(() => seven.length === 3, 3000, "7's destroy");
    await settle();
    expect(eight.map((event) => event.verb)).toEqual(['created', 'destroyed']);
    expect(seven.map((event) => event.verb)).toEqual(['created', 'updated', 'destroyed']);
    for (const event of [...seven, ...eight]) {
      expect(event.id).toBe(card.id);
      expect(event.data).not.toHaveProperty('note');
    }
    expect(seven[1].data).toMatchObject({ ownerId: 7, size: 2 });
  });
});
