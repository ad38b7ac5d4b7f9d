import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FluxError } from '../../client/src/FluxError.js';
import { type LiveFeedHandlers, LiveQueries } from '../../client/src/LiveQuery.js';
import { EventStreamFeeds } from '../../client/src/streamFeeds.js';

/**
 * The reads of live queries without a socket: the stream feeds of a client without a socket (client/src/streamFeeds.ts) against a plain HTTP server
 * that plays `GET /events`: it answers `ready` only when the test says so, which puts reads in the state
 * "waiting for the stream" on purpose.
 */

interface Request {
  models: string;
  res: http.ServerResponse;
}

const requests: Request[] = [];
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const models = new URL(req.url ?? '/', 'http://x').searchParams.get('models') ?? '';
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
    requests.push({ models, res });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  for (const { res } of requests.splice(0)) res.end();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function feeds(): EventStreamFeeds {
  return new EventStreamFeeds({ url, token: () => 'token', sessionEnded: () => {} });
}

const handlers = { change: () => {}, refresh: () => {}, reset: () => {} };

async function nthRequest(n: number): Promise<Request> {
  const deadline = Date.now() + 3000;
  while (requests.length < n) {
    if (Date.now() > deadline) throw new Error(`no request #${n} (${requests.length} came)`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return requests[n - 1]!;
}

function ready({ res }: Request): void {
  res.write('event: ready\ndata: {"heartbeatMs":15000}\n\n');
}

it('When a page opens its lists in one turn, then one stream carries all their models', async () => {
  const streams = feeds();
  const read = async () => ['item'];
  const alerts = streams.feed('alert', handlers, read);
  const first = alerts.find({});
  const teams = streams.feed('team', handlers, read); // registered after the first read asked for the stream
  const request = await nthRequest(1);
  expect(request.models).toBe('alert,team');
  ready(request);
  await expect(first).resolves.toEqual(['item']);
  await expect(teams.find({})).resolves.toEqual(['item']);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(requests).toHaveLength(1);
  streams.close();
});

it('When the stream a read waits for is replaced before its ready, then the read goes on with the new one', async () => {
  const streams = feeds();
  const read = async () => ['item'];
  const first = streams.feed('alert', handlers, read).find({});
  const stale = await nthRequest(1);
  expect(stale.models).toBe('alert');
  // a model added in a later turn: the stream is opened again with both
  const second = streams.feed('team', handlers, read).find({});
  const replacement = await nthRequest(2);
  expect(replacement.models).toBe('alert,team');
  ready(replacement);
  await expect(first).resolves.toEqual(['item']);
  await expect(second).resolves.toEqual(['item']);
  streams.close();
});

it('When the session ends while a read waits for the stream, then the read fails instead of hanging', async () => {
  const streams = feeds();
  const waiting = streams.feed('alert', handlers, async () => ['item']).find({});
  await nthRequest(1); // the server holds it: no ready
  streams.sessionEnded();
  const error = await waiting.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(FluxError);
  expect((error as FluxError).code).toBe('NetworkError');
  streams.close();
});

describe('a live query read again after a failure', () => {
  /** A live query whose feed fails its first read with 429 `retry-after: 1`, then answers. */
  function failingOnce() {
    let handlers!: LiveFeedHandlers;
    let reads = 0;
    const queries = new LiveQueries(
      (_model, h) => {
        handlers = h;
        return {
          find: async () => {
            reads++;
            if (reads === 1)
              throw Object.assign(new FluxError(429, 'TooManyRequests', 'busy'), {
                response: { headers: { 'retry-after': '1' } },
              });
            return [{ id: 1 }];
          },
          close: () => {},
        };
      },
      () => ({ id: 'integer' }),
    );
    const live = queries.open<{ id: number }>('alert', {});
    return { live, queries, reset: () => handlers.reset(), reads: () => reads };
  }

  it('When a read succeeds before the retry planned after a failure, then the retry does not read again', async () => {
    const query = failingOnce();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(query.reads()).toBe(1); // failed, a retry planned in a second
    query.reset(); // the stream is back: read now
    await query.live.ready;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(query.reads()).toBe(2);
    query.live.close();
  });

  it('When the session ends while a retry is planned, then the retry does not read', async () => {
    const query = failingOnce();
    await new Promise((resolve) => setTimeout(resolve, 20));
    query.queries.clear();
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(query.reads()).toBe(1);
    query.live.close();
  });
});
