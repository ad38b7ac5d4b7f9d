import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, type FluxClient } from '../../client/src/index.js';
import { settle, waitFor } from '../helpers/clients.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

// Scaffolding of issue 13 point 4: the naive live query (no local filter, sort or limit yet).
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

it('When teams are created, updated and destroyed elsewhere, then the live list follows, until closed', async () => {
  const live = watcher.live('team', { sort: 'id' });
  await live.ready;
  const ids = () => live.items.map((t) => t.id);
  expect(ids()).toEqual((await watcher.service('team').find({ sort: 'id' })).map((t) => t.id));
  let notified = 0;
  live.subscribe(() => notified++);

  const teams = writer.service('team');
  const created = await teams.create({ name: 'Live bar', role: 'bar' });
  await waitFor(() => ids().includes(created.id), 3000, 'created');
  await teams.patch(created.id, { location: 'Stage' });
  await waitFor(() => live.items.find((t) => t.id === created.id)?.location === 'Stage', 3000, 'updated');
  await teams.remove(created.id);
  await waitFor(() => !ids().includes(created.id), 3000, 'destroyed');
  expect(notified).toBe(3);
  expect(ids()).toEqual((await watcher.service('team').find({ sort: 'id' })).map((t) => t.id));

  live.close();
  const after = await teams.create({ name: 'After close', role: 'bar' });
  await settle();
  expect(ids()).not.toContain(after.id);
});
