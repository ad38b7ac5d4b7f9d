import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  decodeToken,
  type FluxClient,
  type LiveChange,
  type LiveParams,
} from '../../client/src/index.js';
import type { Item, ModelName } from '../../client/src/models.js';
import { settle, waitFor } from '../helpers/clients.js';
import { expectLiveExact } from '../helpers/live.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Live queries (docs/client.md "Live queries") against a real server: the list equals a fresh `find`
 * with the same parameters after every change — filter, sort and limit evaluated in the client — and
 * the queries of a model share one subscription.
 */

let server: TestServer;
let watcher: FluxClient;
let writer: FluxClient;

beforeAll(async () => {
  server = await startTestServer();
  watcher = createClient({ url: server.url });
  writer = createClient({ url: server.url, socket: false });
  await watcher.connect();
  await watcher.login('admin', ADMIN_PASSWORD);
  await writer.login('admin', ADMIN_PASSWORD);
});
afterAll(async () => {
  watcher?.close();
  writer?.close();
  await server?.stop();
});

/** Waits until the live list equals a fresh `find` by the watcher with the same parameters. */
function expectExact<N extends ModelName>(
  live: { items: readonly Item<N>[] },
  name: N,
  params: LiveParams<Item<N>>,
): Promise<void> {
  return expectLiveExact(live, () => watcher.service(name).find(params), `live ${name}`);
}

describe('a live query', () => {
  it('When items are created, updated and destroyed, then it holds what find returns: filter, sort and limit applied locally', async () => {
    const teams = writer.service('team');
    const params: LiveParams<Item<'team'>> = {
      filters: { role: 'bar', location: { like: 'Zone%' } },
      sort: ['-location', 'name'],
      limit: 3,
    };
    const live = watcher.live('team', params);
    await live.ready;
    await expectExact(live, 'team', params);
    const changes: LiveChange<Item<'team'>>[] = [];
    live.subscribe((_items, change) => changes.push(change));

    const a = await teams.create({ name: 'A', role: 'bar', location: 'Zone 1' });
    const b = await teams.create({ name: 'B', role: 'bar', location: 'Zone 3' });
    await teams.create({ name: 'Not a bar', role: 'logistics', location: 'Zone 9' });
    await teams.create({ name: 'Case differs', role: 'bar', location: 'zone 9' });
    const c = await teams.create({ name: 'C', role: 'bar', location: 'Zone 2' });
    await expectExact(live, 'team', params);
    expect(live.items.map((t) => t.name)).toEqual(['B', 'C', 'A']);

    // a fourth match past the window stays out; one sorting first pushes the last out
    const d = await teams.create({ name: 'D', role: 'bar', location: 'Zone 0' });
    await settle();
    expect(live.items.map((t) => t.name)).toEqual(['B', 'C', 'A']);
    await teams.patch(d.id, { location: 'Zone 5' });
    await expectExact(live, 'team', params);
    expect(live.items.map((t) => t.name)).toEqual(['D', 'B', 'C']);

    // leaving the filter and being destroyed inside a full window: the next item comes back from the server
    await teams.patch(b.id, { role: 'logistics' });
    await expectExact(live, 'team', params);
    expect(live.items.map((t) => t.name)).toEqual(['D', 'C', 'A']);
    await teams.remove(c.id);
    await expectExact(live, 'team', params);
    expect(live.items.map((t) => t.name)).toEqual(['D', 'A']);
    // the window lost an item: it reads again shortly (the removals meanwhile share the read), and then
    // knows that nothing follows A
    await settle(300);
    await teams.patch(a.id, { name: 'A2' });
    await expectExact(live, 'team', params);
    expect(changes.at(-1)).toMatchObject({ added: [], updated: [{ id: a.id, name: 'A2' }], removed: [] });
    live.close();
  });

  it('When several live queries watch one model, then they share one subscription, and closing the last leaves its rooms', async () => {
    const socket = watcher.socket!;
    const raw: unknown[] = [];
    socket.on('model:user', (event) => raw.push(event));
    const before = socket.listeners('model:user').length;
    const byLogin = watcher.live('user', { sort: 'login' });
    const named = watcher.live('user', { filters: { name: { like: 'Live%' } }, sort: '-id' });
    await Promise.all([byLogin.ready, named.ready]);
    expect(socket.listeners('model:user').length).toBe(before + 1);

    const users = writer.service('user');
    const teamId = (await writer.service('team').find({ limit: 1 }))[0]!.id;
    const first = await users.create({ login: 'live-1', name: 'Live one', password: 'password-1', teamId });
    await expectExact(byLogin, 'user', { sort: 'login' });
    await expectExact(named, 'user', { filters: { name: { like: 'Live%' } }, sort: '-id' });

    named.close();
    await users.patch(first.id, { name: 'Live one, renamed' });
    await expectExact(byLogin, 'user', { sort: 'login' });
    expect(named.items.find((u) => u.id === first.id)?.name).toBe('Live one');

    byLogin.close();
    await waitFor(() => socket.listeners('model:user').length === before, 3000, 'the listener removed');
    await settle(); // the unsubscribe request
    const heard = raw.length;
    await users.patch(first.id, { name: 'Nobody listens' });
    await settle(300);
    expect(raw.length).toBe(heard);
    socket.off('model:user');
  });

  it('When the socket reconnects after changes it missed, then one read reports only the difference and unchanged items keep their identity', async () => {
    const teams = writer.service('team');
    const kept = await teams.create({ name: 'Kept', role: 'bar', group: 'reconnect' });
    const changed = await teams.create({ name: 'Changed', role: 'bar', group: 'reconnect' });
    const gone = await teams.create({ name: 'Gone', role: 'bar', group: 'reconnect' });
    const params: LiveParams<Item<'team'>> = { filters: { group: 'reconnect' }, sort: 'name' };
    let reads = 0;
    const request = watcher.request.bind(watcher);
    watcher.request = ((method: string, url: string, data?: unknown) => {
      if (method === 'GET' && url === '/team' && (data as { subscribe?: boolean })?.subscribe) reads++;
      return request(method, url, data);
    }) as typeof watcher.request;
    try {
      const live = watcher.live('team', params);
      await live.ready;
      expect(reads).toBe(1);
      const keptItem = live.items.find((t) => t.id === kept.id);
      const changes: LiveChange<Item<'team'>>[] = [];
      live.subscribe((_items, change) => changes.push(change));

      watcher.disconnect();
      await teams.patch(changed.id, { location: 'Moved' });
      await teams.remove(gone.id);
      const added = await teams.create({ name: 'Added', role: 'bar', group: 'reconnect' });
      await settle();
      expect(changes).toEqual([]);

      await watcher.connect();
      await expectExact(live, 'team', params);
      expect(reads).toBe(2);
      expect(changes).toHaveLength(1);
      expect(changes[0]!.added.map((t) => t.id)).toEqual([added.id]);
      expect(changes[0]!.updated.map((t) => t.id)).toEqual([changed.id]);
      expect(changes[0]!.removed.map((t) => t.id)).toEqual([gone.id]);
      expect(live.items.find((t) => t.id === kept.id)).toBe(keptItem);
      live.close();
    } finally {
      watcher.request = request;
    }
  });

  it('When the session ends, then every live query empties, and logging in again fills it', async () => {
    const client = createClient({ url: server.url });
    await client.connect();
    await client.login('admin', ADMIN_PASSWORD);
    const live = client.live('team', { sort: 'id' });
    await live.ready;
    expect(live.items.length).toBeGreaterThan(0);
    await client.logout();
    expect(live.items).toEqual([]);
    await client.login('admin', ADMIN_PASSWORD);
    await waitFor(() => live.items.length > 0, 3000, 'the list read again');
    client.close();
  });

  it('When an admin revokes the session from elsewhere, then the live query empties and no later change reaches it', async () => {
    const client = createClient({ url: server.url });
    await client.connect();
    await client.login('admin', ADMIN_PASSWORD);
    const raw: unknown[] = [];
    client.socket!.on('model:team', (event) => raw.push(event));
    const live = client.live('team', { sort: 'id' });
    await live.ready;
    const { sessionId } = decodeToken(client.token!) as { sessionId: number };
    await writer.request('DELETE', `/session/${sessionId}`);
    await waitFor(() => client.token === null, 3000, 'the revocation');
    expect(live.items).toEqual([]);
    const heard = raw.length;
    await writer.service('team').create({ name: 'After the revocation', role: 'bar' });
    await settle(300);
    expect(raw.length).toBe(heard);
    expect(live.items).toEqual([]);
    client.close();
  });

  it('When the client has no socket, then its live queries follow a GET /events stream: exact, and ended with the session', async () => {
    const client = createClient({ url: server.url, socket: false });
    await client.login('admin', ADMIN_PASSWORD);
    const params: LiveParams<Item<'team'>> = {
      filters: { group: 'sse' },
      sort: ['-location', 'name'],
      limit: 2,
    };
    const live = client.live('team', params);
    await live.ready;
    expect(live.items).toEqual([]);
    const teams = writer.service('team');
    const a = await teams.create({ name: 'SSE A', role: 'bar', group: 'sse', location: 'Zone 1' });
    await teams.create({ name: 'SSE B', role: 'bar', group: 'sse', location: 'Zone 2' });
    await teams.create({ name: 'SSE elsewhere', role: 'bar', group: 'other', location: 'Zone 3' });
    await expectExact(live, 'team', params);
    expect(live.items.map((t) => t.name)).toEqual(['SSE B', 'SSE A']);
    await teams.create({ name: 'SSE C', role: 'bar', group: 'sse', location: 'Zone 0' });
    await teams.patch(a.id, { group: 'other' });
    await expectExact(live, 'team', params);
    expect(live.items.map((t) => t.name)).toEqual(['SSE B', 'SSE C']);

    // the same session logged out elsewhere: the stream ends with it, and so does the list
    const token = client.token!;
    const other = createClient({
      url: server.url,
      socket: false,
      storage: { get: () => token, set: () => {} },
    });
    await other.request('POST', '/auth/logout');
    await waitFor(() => live.items.length === 0 && client.token === null, 3000, 'the session ended');
    other.close();
    live.close();
    client.close();
  });

  it('When asked for an offset, then it refuses (a live list starts at the top)', () => {
    expect(() => watcher.live('team', { offset: 5 } as never)).toThrow(TypeError);
  });
});
