import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, type FluxClient } from '../../client/src/index.js';
import { Flux } from '../../lib/Flux.js';
import { waitFor } from '../helpers/clients.js';
import { expectLiveExact } from '../helpers/live.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A client without a socket follows every model of its live queries through ONE `GET /events` stream
 * (client/src/streamFeeds.ts): with `events.maxStreamsPerUser: 1`, live queries on several models all work,
 * and a model added later reopens the stream without losing the others' changes.
 */

let server: TestServer;
let client: FluxClient;
let writer: FluxClient;

beforeAll(async () => {
  server = await startTestServer({ events: { maxStreamsPerUser: 1 } });
  client = createClient({ url: server.url, socket: false });
  writer = createClient({ url: server.url, socket: false });
  await client.login('admin', ADMIN_PASSWORD);
  await writer.login('admin', ADMIN_PASSWORD);
});
afterAll(async () => {
  client?.close();
  writer?.close();
  await server?.stop();
});

it('When live queries watch several models without a socket, then one stream carries them all, and a model added later joins it', async () => {
  const teams = client.live('team', { sort: 'name' });
  const users = client.live('user', { sort: '-id', limit: 5 });
  const buttons = client.live('alertButton', { sort: 'title' });
  await Promise.all([teams.ready, users.ready, buttons.ready]);

  const team = await writer.service('team').create({ name: 'Streamed', role: 'bar', group: 'bars' });
  await writer.service('user').create({ login: 'streamed', password: 'streamed-password', teamId: team.id });
  await writer.service('alertButton').create({ title: 'Ice', senderGroup: 'bars', receiverTeamId: team.id });
  await expectLiveExact(teams, () => client.service('team').find({ sort: 'name' }), 'teams');
  await expectLiveExact(users, () => client.service('user').find({ sort: '-id', limit: 5 }), 'users');
  await expectLiveExact(buttons, () => client.service('alertButton').find({ sort: 'title' }), 'buttons');
  expect(teams.items.some((t) => t.name === 'Streamed')).toBe(true);

  // a fourth model: the stream is opened again with it; the others read again and go on following
  const alerts = client.live('alert', { sort: '-id' });
  await alerts.ready;
  await writer.service('alert').create({ title: 'Out of ice', severity: 'warning', receiverTeamId: team.id });
  await writer.service('team').patch(team.id, { location: 'Stage' });
  await expectLiveExact(alerts, () => client.service('alert').find({ sort: '-id' }), 'alerts');
  await expectLiveExact(teams, () => client.service('team').find({ sort: 'name' }), 'teams after the reopen');
  expect(alerts.items).toHaveLength(1);
  expect(teams.items.find((t) => t.id === team.id)?.location).toBe('Stage');
  for (const live of [teams, users, buttons, alerts]) expect(live.error).toBeNull();
});

it('When the client is closed, then its event stream ends on the server and is not opened again', async () => {
  const other = createClient({ url: server.url, socket: false });
  await other.login('admin', ADMIN_PASSWORD);
  client.close(); // the first test's client: its stream goes, freeing the user's one place
  await waitFor(() => Flux.eventStreams.size === 0, 3000, 'the stream closed');
  const live = other.live('team', { sort: 'name' });
  await live.ready;
  expect(Flux.eventStreams.size).toBe(1);
  other.close();
  await waitFor(() => Flux.eventStreams.size === 0, 3000, 'the stream closed');
  await new Promise((resolve) => setTimeout(resolve, 700)); // past the first reopening delay
  expect(Flux.eventStreams.size).toBe(0);
});

it('When a client without a socket logs out and in again, then each list reads once', async () => {
  // the user's one stream place is free: the clients of the tests above are closed
  const other = createClient({ url: server.url, socket: false });
  await other.login('admin', ADMIN_PASSWORD);
  const teams = other.live('team', { sort: 'name' });
  const users = other.live('user', { sort: 'login' });
  await Promise.all([teams.ready, users.ready]);
  const reads: string[] = [];
  const request = other.request.bind(other);
  other.request = ((method: string, url: string, data?: unknown) => {
    if (method === 'GET') reads.push(url);
    return request(method, url, data);
  }) as typeof other.request;
  await other.logout();
  expect(teams.items).toEqual([]);
  await other.login('admin', ADMIN_PASSWORD);
  await waitFor(() => teams.items.length > 0 && users.items.length > 0, 3000, 'the lists read again');
  await new Promise((resolve) => setTimeout(resolve, 300)); // a second read would come with the stream's ready
  expect(reads.sort()).toEqual(['/team', '/user']);
  other.close();
});
