import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../lib/log.js';
import { openRedis, pingEach, RedisBus } from '../../lib/redis.js';
import { waitFor } from '../helpers/clients.js';

/**
 * The event bus over a real Redis when one of its connections is cut (a Redis restart, a proxy or firewall
 * closing idle connections): ioredis reconnects and renews the subscriptions by itself, and `pingEach` — what
 * `/ready` asks — resolves only once they are renewed, so a message published from then on arrives. Pinging
 * the command connection alone (what `/ready` did) said ready while the subscriber was still reconnecting, and
 * the next event across instances was lost. Needs `REDIS_URL` (CI sets it for its PostgreSQL + Redis run).
 */

const redisUrl = process.env.REDIS_URL;
const log = new Logger({ level: 'error', dir: false });
const prefix = `flux-reconnect-${process.pid}:`;
let publisher: Redis;
let admin: Redis;

beforeAll(() => {
  if (!redisUrl) return;
  publisher = openRedis(redisUrl, log);
  admin = openRedis(redisUrl, log);
});

afterAll(async () => {
  await publisher?.quit();
  await admin?.quit();
});

describe.skipIf(!redisUrl)('the Redis bus across a cut connection', () => {
  it('When its subscriber connection is cut, then pingEach fails until the subscription is renewed, and a message published once it resolves arrives', async () => {
    const bus = new RedisBus<{ 'test:topic': { n: number } }>(publisher, prefix, log);
    const [, subscriber] = bus.connections;
    // before subscribing: a connection in subscriber mode may not ask for its id
    const id = (await subscriber.client('ID')) as number;
    const received: number[] = [];
    bus.subscribe('test:topic', (message) => received.push(message.n));
    await bus.whenReady();
    await bus.publish('test:topic', { n: 1 });
    await waitFor(() => received.length === 1, 2000, 'the first message');

    expect(await admin.client('KILL', 'ID', String(id))).toBe(1);
    await waitFor(() => subscriber.status !== 'ready', 2000, 'ioredis to see the cut');
    await expect(pingEach(bus.connections)).rejects.toThrow(/a Redis connection is/);
    // the command connection alone answers all along: it cannot tell
    await expect(pingEach([publisher])).resolves.toBeUndefined();

    const started = Date.now();
    for (;;) {
      const ready = await pingEach(bus.connections).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (Date.now() - started > 10_000) throw new Error('the bus did not reconnect within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await bus.publish('test:topic', { n: 2 });
    await waitFor(() => received.length === 2, 2000, 'the message published once ready');
    expect(received).toEqual([1, 2]);
    await bus.close();
  });
});
