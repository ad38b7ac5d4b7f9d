import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { vi } from 'vitest';

/** Whether `redis-server` can be run here (tests needing a Redis of their own skip without it). */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A Redis server of a test's own, which it may make fail (`maxmemory`) without disturbing others. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** A client of it, connected. */
  client: Redis;
  stop(): void;
}

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1, without persistence, and waits until it answers.
 * @throws when it does not answer within 10 s
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => 50 });
  client.on('error', () => undefined); // refused until the server listens
  await vi.waitUntil(
    () =>
      client.ping().then(
        () => true,
        () => false,
      ),
    { timeout: 10_000, interval: 50 },
  );
  return {
    url,
    client,
    stop() {
      client.disconnect();
      child.kill();
    },
  };
}
