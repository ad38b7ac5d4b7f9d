import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventStreamOptions, openEventStream, SseParser } from '../../client/src/eventStream.js';
import type { FluxError } from '../../client/src/FluxError.js';
import { Flux } from '../../lib/Flux.js';
import {
  connectSocket,
  httpTransport,
  settle,
  socketRequest,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { startNode, waitForOutput } from '../helpers/processes.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * One-way clients (docs/protocol.md §8): `GET /events` streams, as Server-Sent Events, exactly what a
 * socket of the same user subscribed to the same models receives — transitions and
 * `subscription:refresh` included — in its tenant only, and ends with its session (revocation, on any
 * instance, or expiry) and with the server. Streams are read with the client's `openEventStream`
 * (client/src/eventStream.ts), or with `fetch` and its parser where the wire itself is checked.
 */

const redisUrl = process.env.REDIS_URL;
const HEARTBEAT_MS = 200;
const MAX_STREAMS_PER_USER = 3;

interface Received {
  name: string;
  payload: unknown;
}

/** A stream read by the client SDK: its events (but `ready`), and how it ended. */
interface Stream {
  events: Received[];
  /** Resolves once `ready` arrived; rejects when the stream ended before. */
  ready: Promise<void>;
  /** Resolves when the stream ends: undefined when the server ended it, else the error. */
  ended: Promise<FluxError | undefined>;
  isOver(): boolean;
  close(): void;
}

function stream(
  base: string,
  token: string,
  models: string[],
  extra: Partial<EventStreamOptions> = {},
): Stream {
  const events: Received[] = [];
  let over = false;
  let onReady!: () => void;
  let onNotReady!: (err: unknown) => void;
  let onEnded!: (error: FluxError | undefined) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onNotReady = reject;
  });
  ready.catch(() => undefined); // a refused stream is awaited through `ended`
  const ended = new Promise<FluxError | undefined>((resolve) => {
    onEnded = resolve;
  });
  const handle = openEventStream({
    url: base,
    token,
    models,
    onEvent: (name, payload) => events.push({ name, payload }),
    onReady: () => onReady(),
    onEnd: (error) => {
      over = true;
      onNotReady(error ?? new Error('ended before ready'));
      onEnded(error);
    },
    ...extra,
  });
  return { events, ready, ended, isOver: () => over, close: () => handle.close() };
}

/** The refusal of a stream that must not start. */
async function refusal(base: string, token: string, models: string[]): Promise<FluxError> {
  const s = stream(base, token, models);
  const error = await s.ended;
  expect(s.events).toEqual([]);
  if (!error) throw new Error('the stream was not refused');
  return error;
}

/** A socket logged in as `loginName`, subscribed to `models`, recording its model and refresh events in order. */
async function socketSubscriber(
  base: string,
  loginName: string,
  password: string,
  models: string[],
): Promise<{ socket: Socket; events: Received[] }> {
  const socket = await connectSocket(base);
  const events: Received[] = [];
  socket.onAny((name: string, payload: unknown) => {
    if (name.startsWith('model:') || name === 'subscription:refresh' || name.startsWith('auth:'))
      events.push({ name, payload });
  });
  const reply = await socketRequest(socket, {
    method: 'POST',
    url: '/auth/login',
    data: { login: loginName, password },
  });
  expect(reply.statusCode).toBe(200);
  for (const model of models)
    expect((await socketRequest(socket, { method: 'POST', url: `/${model}/subscribe` })).statusCode).toBe(
      200,
    );
  return { socket, events };
}

/** `GET /events` with `fetch`: the raw response, for headers and the wire format. */
function rawStream(base: string, token: string | undefined, query: string, signal?: AbortSignal) {
  return fetch(`${base}/events${query}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal,
  });
}

const byVerb = (events: Received[]) =>
  events.map((e) => {
    const payload = e.payload as { verb?: string; id?: number };
    return payload.verb ? `${e.name} ${payload.verb} ${payload.id}` : `${e.name} ${JSON.stringify(payload)}`;
  });

describe('GET /events', () => {
  let server: TestServer;
  let admin: Transport;
  let logistics: { teamId: number; userId: number };
  let security: { teamId: number; userId: number };

  beforeAll(async () => {
    server = await startTestServer({
      events: { heartbeatMs: HEARTBEAT_MS, maxStreamsPerUser: MAX_STREAMS_PER_USER },
    });
    admin = httpTransport(server.url, await adminLogin(server.url));
    logistics = await createTeamWithUser(
      admin,
      { name: 'Logistics', role: 'logistics' },
      { login: 'logi', password: 'logi-password' },
    );
    security = await createTeamWithUser(
      admin,
      { name: 'Security', role: 'security' },
      { login: 'sec', password: 'sec-password' },
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('When items are created, updated, moved out of and back into view and destroyed, then the stream gets exactly the sequence a socket of the same user gets', async () => {
    const s = stream(server.url, await login(server.url, 'logi', 'logi-password'), ['alert', 'message']);
    await s.ready;
    const socket = await socketSubscriber(server.url, 'logi', 'logi-password', ['alert', 'message']);

    const post = async (url: string, data: unknown) =>
      expectStatus<{ id: number }>(await admin.request('POST', url, data), 201).id;
    const patch = async (url: string, data: unknown) =>
      expectStatus(await admin.request('PATCH', url, data), 200);
    const seen = await post('/alert', { title: 'Out of ice', receiverTeamId: logistics.teamId });
    const unseen = await post('/alert', { title: 'Fight at gate 2', receiverTeamId: security.teamId });
    await patch(`/alert/${seen}`, { message: '2 bags' });
    await patch(`/alert/${seen}`, { receiverTeamId: security.teamId }); // out of logistics' view
    await patch(`/alert/${seen}`, { message: 'handled by security' }); // not readable: nothing
    await patch(`/alert/${seen}`, { receiverTeamId: logistics.teamId }); // back into view
    const message = await post('/message', { text: 'Trucks at 5', channel: `public:${logistics.teamId}` });
    await post('/message', { text: 'Private to security', channel: `private:${security.teamId}` });
    await patch(`/alert/${unseen}`, { message: 'calm again' });
    expectStatus(await admin.request('DELETE', `/alert/${seen}`), 200);
    await patch(`/message/${message}`, { text: 'Trucks at 6' }); // the last one

    const expected = [
      `model:alert created ${seen}`,
      `model:alert updated ${seen}`,
      `model:alert destroyed ${seen}`,
      `model:alert created ${seen}`,
      `model:message created ${message}`,
      `model:alert destroyed ${seen}`,
      `model:message updated ${message}`,
    ];
    await waitFor(() => s.events.length >= expected.length, 5000, 'the stream events');
    await waitFor(() => socket.events.length >= expected.length, 5000, 'the socket events');
    await settle(300);
    expect(byVerb(s.events)).toEqual(expected);
    // the very same payloads, in the same order
    expect(s.events).toEqual(socket.events);
    // leaving the view, the stream was sent the state it could read, not the new one
    expect((s.events[2].payload as { data: { receiverTeamId: number } }).data.receiverTeamId).toBe(
      logistics.teamId,
    );
    expect((s.events[3].payload as { data: { message: string } }).data.message).toBe('handled by security');
    s.close();
    socket.socket.close();
  });

  it('When the session of a stream is revoked, then it gets auth:revoked, ends, frees its place and receives nothing more', async () => {
    const token = await login(server.url, 'logi', 'logi-password');
    const open = Flux.eventStreams.size;
    const s = stream(server.url, token, ['alert']);
    await s.ready;
    expect(Flux.eventStreams.size).toBe(open + 1);
    const control = await socketSubscriber(server.url, 'logi', 'logi-password', ['alert']);

    expectStatus(await httpTransport(server.url, token).request('POST', '/auth/logout'), 200);
    expect(await s.ended).toBeUndefined(); // ended by the server, after saying why
    expect(s.events).toEqual([{ name: 'auth:revoked', payload: { reason: 'revoked' } }]);
    expect(Flux.eventStreams.size).toBe(open);

    expectStatus(
      await admin.request('POST', '/alert', { title: 'After logout', receiverTeamId: logistics.teamId }),
      201,
    );
    await waitFor(() => control.events.length === 1, 3000, 'the control event');
    await settle(300);
    expect(s.events).toHaveLength(1);
    // the token cannot open another
    expect((await refusal(server.url, token, ['alert'])).code).toBe('TokenRevoked');
    control.socket.close();
  });

  it('When a session is revoked through DELETE /session/:id, then its streams end too', async () => {
    const token = await login(server.url, 'logi', 'logi-password');
    const s = stream(server.url, token, ['alert']);
    await s.ready;
    const { sessionId } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
      sessionId: number;
    };
    expectStatus(await admin.request('DELETE', `/session/${sessionId}`), 200);
    expect(await s.ended).toBeUndefined();
    expect(s.events).toEqual([{ name: 'auth:revoked', payload: { reason: 'revoked' } }]);
  });

  it('When the request is not authenticated, names no or an unknown model, or a model the user may not read, then it is refused with a JSON error before any stream', async () => {
    const noToken = await rawStream(server.url, undefined, '?models=alert');
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('content-type')).toContain('application/json');
    expect(((await noToken.json()) as { _error: { code: string } })._error.code).toBe('Unauthorized');

    const bad = await refusal(server.url, 'not.a.token', ['alert']);
    expect([bad.status, bad.code]).toEqual([403, 'InvalidToken']);

    const token = await login(server.url, 'logi', 'logi-password');
    const none = await rawStream(server.url, token, '');
    expect(none.status).toBe(400);
    expect(((await none.json()) as { _error: { code: string } })._error.code).toBe('BadRequest');
    for (const models of [['nope'], ['alert', 'nope'], ['tenant'], ['upload']]) {
      const refused = await refusal(server.url, token, models);
      expect([refused.status, refused.code], models.join()).toEqual([400, 'BadRequest']);
    }
    // names are case-insensitive; events use the public name
    const mixed = stream(server.url, await adminLogin(server.url), ['AlertButton', 'alertbutton']);
    await mixed.ready;
    mixed.close();
    // models as a repeated parameter, or as a list in ?data=
    for (const query of [
      '?models=alert&models=team',
      `?data=${encodeURIComponent('{"models":["alert"]}')}`,
    ]) {
      const abort = new AbortController();
      const response = await rawStream(server.url, token, query, abort.signal);
      expect(response.status, query).toBe(200);
      abort.abort();
    }

    // a user without a team reads no alert: 403, as a permission refusal
    expectStatus(await admin.request('POST', '/user', { login: 'loner', password: 'loner-password' }), 201);
    const forbidden = await refusal(server.url, await login(server.url, 'loner', 'loner-password'), [
      'session',
      'alert',
    ]);
    expect([forbidden.status, forbidden.code]).toEqual([403, 'Forbidden']);

    // a socket subscribes instead: over a socket the route does not exist
    const socket = await connectSocket(server.url);
    const overSocket = await socketRequest(socket, {
      method: 'GET',
      url: '/events?models=alert',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(overSocket.statusCode).toBe(404);
    socket.close();
  });

  it('When a stream opens, then it has the event-stream headers, starts with ready and gets a ping comment every heartbeat', async () => {
    const token = await login(server.url, 'logi', 'logi-password');
    const abort = new AbortController();
    const response = await rawStream(server.url, token, '?models=alert', abort.signal);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(response.headers.get('x-request-id')).toBeTruthy();

    const events: Array<{ event: string; data: string }> = [];
    const comments: string[] = [];
    let raw = '';
    const parser = new SseParser({
      onEvent: (e) => events.push(e),
      onComment: (text) => comments.push(text),
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const started = Date.now();
    while (Date.now() - started < HEARTBEAT_MS * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      raw += text;
      parser.push(text);
    }
    abort.abort();
    // ready says the heartbeat, so that a client can tell a dead connection from a quiet one
    expect(raw.startsWith(`event: ready\ndata: {"heartbeatMs":${HEARTBEAT_MS}}\n\n`)).toBe(true);
    expect(events[0]).toMatchObject({ event: 'ready', data: JSON.stringify({ heartbeatMs: HEARTBEAT_MS }) });
    expect(comments.length).toBeGreaterThanOrEqual(2);
    expect(new Set(comments)).toEqual(new Set(['ping']));
    expect(raw).toContain('\n: ping\n\n');
  });

  it('When a user holds as many streams as allowed, then the next is refused with 429 until one closes, and a closed stream frees its place', async () => {
    await waitFor(() => Flux.eventStreams.size === 0, 3000, 'earlier streams to close');
    const tokens = await Promise.all(
      Array.from({ length: MAX_STREAMS_PER_USER }, () => login(server.url, 'sec', 'sec-password')),
    );
    // per user, whatever the session
    const streams = tokens.map((token) => stream(server.url, token, ['alert']));
    await Promise.all(streams.map((s) => s.ready));
    const over = await rawStream(server.url, tokens[0], '?models=alert');
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(((await over.json()) as { _error: { code: string } })._error.code).toBe('TooManyRequests');
    // another user is not concerned
    const other = stream(server.url, await login(server.url, 'logi', 'logi-password'), ['alert']);
    await other.ready;

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^flux_event_streams ${MAX_STREAMS_PER_USER + 1}$`, 'm'));

    streams[0].close();
    await waitFor(
      () => Flux.eventStreams.size === MAX_STREAMS_PER_USER,
      3000,
      'the closed stream to be freed',
    );
    expect(Flux.pubsub.streamsInRooms).toBe(MAX_STREAMS_PER_USER);
    const again = stream(server.url, tokens[0], ['alert']);
    await again.ready;
    for (const s of [...streams, other, again]) s.close();
    await waitFor(() => Flux.eventStreams.size === 0, 3000, 'every stream to be freed');
    expect(Flux.pubsub.streamsInRooms).toBe(0);
  });

  it("When another tenant's items change, then no event of them reaches the stream", async () => {
    const operator = admin;
    await createTenant(operator, {
      name: 'Other event',
      slug: 'other',
      adminPassword: 'other-admin-password',
    });
    const otherToken = await login(server.url, 'admin', 'other-admin-password', 'other');
    const otherAdmin = httpTransport(server.url, otherToken);
    const here = stream(server.url, await adminLogin(server.url), ['alert', 'team']);
    const there = stream(server.url, otherToken, ['alert', 'team']);
    await Promise.all([here.ready, there.ready]);

    const team = expectStatus<{ id: number }>(
      await otherAdmin.request('POST', '/team', { name: 'Their bar', role: 'bar' }),
      201,
    );
    expectStatus(
      await otherAdmin.request('POST', '/alert', { title: 'Theirs', receiverTeamId: team.id }),
      201,
    );
    await waitFor(() => there.events.length === 2, 3000, "the other tenant's events");
    const mine = expectStatus<{ id: number }>(
      await admin.request('POST', '/alert', { title: 'Ours', receiverTeamId: logistics.teamId }),
      201,
    );
    await waitFor(() => here.events.length === 1, 3000, "this tenant's event");
    await settle(300);
    expect(byVerb(here.events)).toEqual([`model:alert created ${mine.id}`]);
    expect(there.events.map((e) => e.name)).toEqual(['model:team', 'model:alert']);
    here.close();
    there.close();
  });

  it("When the user's team changes role, then the stream gets subscription:refresh as the socket does, and later events follow the new groups", async () => {
    const shifting = await createTeamWithUser(
      admin,
      { name: 'Shifting', role: 'logistics' },
      { login: 'shifter', password: 'shifter-password' },
    );
    const s = stream(server.url, await login(server.url, 'shifter', 'shifter-password'), [
      'alert',
      'message',
    ]);
    await s.ready;
    const socket = await socketSubscriber(server.url, 'shifter', 'shifter-password', ['alert', 'message']);
    const alert = expectStatus<{ id: number }>(
      await admin.request('POST', '/alert', { title: 'For shifting', receiverTeamId: shifting.teamId }),
      201,
    );
    await waitFor(() => s.events.length === 1 && socket.events.length === 1, 3000, 'the first event');

    // a bar only reads the alerts it sent, and its own channels
    expectStatus(await admin.request('PATCH', `/team/${shifting.teamId}`, { role: 'bar' }), 200);
    await waitFor(() => s.events.length === 2 && socket.events.length === 2, 3000, 'subscription:refresh');
    expect(s.events[1]).toEqual({ name: 'subscription:refresh', payload: { models: ['alert', 'message'] } });

    expectStatus(await admin.request('PATCH', `/alert/${alert.id}`, { message: 'no longer yours' }), 200);
    const own = expectStatus<{ id: number }>(
      await admin.request('POST', '/alert', { title: 'Sent by shifting', senderTeamId: shifting.teamId }),
      201,
    );
    await waitFor(
      () => s.events.length === 3 && socket.events.length === 3,
      3000,
      'the event of the new groups',
    );
    await settle(300);
    expect(byVerb(s.events.slice(2))).toEqual([`model:alert created ${own.id}`]);
    expect(s.events).toEqual(socket.events);
    s.close();
    socket.socket.close();
  });

  it.skipIf(!redisUrl)(
    'When a session is revoked on one instance, then its stream on another ends; changes and role changes cross too (Redis)',
    async () => {
      // a second instance on the same database and Redis, in its own process
      const { database, redis, jwt } = Flux.config;
      const other = startNode('test/helpers/instance.ts', [], {
        NODE_ENV: 'test',
        FLUX_TEST_CONFIG: JSON.stringify({
          server: { port: 0, host: '127.0.0.1' },
          database: database.url ? { url: database.url } : { storage: database.storage },
          redis: { url: redisUrl, prefix: redis.prefix },
          jwt: { secret: jwt.secret },
          bootstrap: { adminPassword: ADMIN_PASSWORD },
        }),
      });
      try {
        const [, port] = await waitForOutput(other, /listening (\d+)/, 60_000);
        const otherUrl = `http://127.0.0.1:${port}`;
        const token = await login(server.url, 'logi', 'logi-password');
        const s = stream(otherUrl, token, ['alert']);
        await s.ready;
        const moved = await createTeamWithUser(
          admin,
          { name: 'Moving desk', role: 'logistics' },
          { login: 'mover', password: 'mover-password' },
        );
        const moving = stream(otherUrl, await login(server.url, 'mover', 'mover-password'), ['alert']);
        await moving.ready;

        const alert = expectStatus<{ id: number }>(
          await admin.request('POST', '/alert', { title: 'Across', receiverTeamId: logistics.teamId }),
          201,
        );
        await waitFor(() => s.events.length === 1, 5000, 'the event from the other instance');
        expect(byVerb(s.events)).toEqual([`model:alert created ${alert.id}`]);

        expectStatus(await admin.request('PATCH', `/team/${moved.teamId}`, { role: 'bar' }), 200);
        await waitFor(() => moving.events.length === 1, 5000, 'subscription:refresh on the other instance');
        expect(moving.events[0]).toEqual({ name: 'subscription:refresh', payload: { models: ['alert'] } });

        expectStatus(await httpTransport(server.url, token).request('POST', '/auth/logout'), 200);
        expect(await s.ended).toBeUndefined();
        expect(s.events.at(-1)).toEqual({ name: 'auth:revoked', payload: { reason: 'revoked' } });
        expectStatus(
          await admin.request('POST', '/alert', { title: 'Unseen', receiverTeamId: logistics.teamId }),
          201,
        );
        await settle(500);
        expect(s.events).toHaveLength(2);
        moving.close();
      } finally {
        await other.stop();
      }
    },
    90_000,
  );
});

describe('GET /events with short-lived tokens, and the server stopping', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ jwt: { expiresIn: 2 } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('When the token of a stream expires, then the stream gets auth:expired and ends at that moment', async () => {
    const token = await adminLogin(server.url);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number };
    const s = stream(server.url, token, ['team']);
    await s.ready;
    expect(await s.ended).toBeUndefined();
    const endedAt = Date.now();
    expect(s.events).toEqual([{ name: 'auth:expired', payload: { reason: 'expired' } }]);
    expect(endedAt).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(endedAt).toBeLessThan(exp * 1000 + 1000);

    const writer = httpTransport(server.url, await adminLogin(server.url));
    expectStatus(await writer.request('POST', '/team', { name: 'After expiry', role: 'orga' }), 201);
    await settle(300);
    expect(s.events).toHaveLength(1);
  });

  it('When the server stops, then every stream gets server:shutdown and ends, without holding up the stop', async () => {
    const s = stream(server.url, await adminLogin(server.url), ['team', 'alert']);
    await s.ready;
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(Flux.config.server.shutdownTimeoutMs);
    expect(await s.ended).toBeUndefined();
    expect(s.events).toEqual([{ name: 'server:shutdown', payload: { reason: 'Server shutting down' } }]);
  });
});
