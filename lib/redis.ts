import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import type { Logger } from './log.js';
import type { BusTopics } from './protocol.js';
import type { Bus, Topic } from './pubsub.js';

/**
 * Redis for several instances (docs/reference.md#running): one command connection shared by the revocation
 * list and the rate limiters, and the {@link RedisBus}. Keys and channels start with `prefix` so that several
 * Flux deployments (or test runs) can share one Redis. Every connection of the process (this one and its
 * duplicates) is named `flux:<host>:<pid>` (`CLIENT SETNAME`), so `CLIENT LIST` tells whose it is.
 */
export function openRedis(url: string, log: Logger): Redis {
  // loaded by the first connection: a start without Redis does not load it (docs/performance.md)
  const { Redis } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  const redis = new Redis(url, {
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
    connectionName: `flux:${hostname()}:${process.pid}`,
  });
  redis.on('error', (err: Error) => log.error(`redis: ${err.message}`));
  return redis;
}

/**
 * From now on, a command sent while Redis is unreachable fails at once (ioredis `enableOfflineQueue`)
 * instead of waiting in ioredis's offline queue through its reconnection attempts: every caller has a
 * fallback (rate limits pass or count in memory, revocations are read from the database, a lost event is
 * logged), so requests stay fast during an outage. Called once the first connection is up: until then,
 * commands wait for it.
 */
export function failFastWhenDisconnected(redis: Redis): void {
  redis.options.enableOfflineQueue = false;
}

/**
 * Resolves once every connection answers a PING; rejects at once when one is not connected (a PING would wait
 * in its offline queue). On a subscriber connection the answer comes after the subscriptions ioredis renews on
 * reconnecting (`autoResubscribe`): Redis answers each connection's commands in order, so a resolved ping
 * means messages published from now on are received.
 */
export async function pingEach(connections: Redis[]): Promise<void> {
  const down = connections.find((connection) => connection.status !== 'ready');
  if (down) throw new Error(`a Redis connection is ${down.status}`);
  await Promise.all(connections.map((connection) => connection.ping()));
}

/**
 * A {@link Bus} over Redis pub/sub: every instance subscribed to a topic receives each message once.
 * Messages travel as JSON: `Topics` should map to JSON-safe types.
 */
export class RedisBus<Topics = BusTopics> implements Bus<Topics> {
  private readonly subscriber: Redis;
  private readonly handlers = new Map<string, Array<(message: unknown) => void>>();
  private ready: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly publisher: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    // no ready check: ioredis would send its INFO after the SUBSCRIBE of a connection still connecting, the
    // INFO fails in subscriber mode and the subscriptions are lost (ioredis #2037)
    this.subscriber = publisher.duplicate({ enableReadyCheck: false });
    this.subscriber.on('error', (err: Error) => log.error(`redis bus: ${err.message}`));
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const topic = channel.toString().slice(this.prefix.length);
      let message: unknown;
      try {
        message = JSON.parse(payload.toString());
      } catch {
        this.log.warn(`redis bus: dropped a malformed message on ${topic}`);
        return;
      }
      for (const handler of this.handlers.get(topic) ?? []) {
        try {
          handler(message);
        } catch (err) {
          this.log.error(`redis bus: handler of ${topic} failed:`, err);
        }
      }
    });
  }

  async publish<T extends Topic<Topics>>(topic: T, message: Topics[T]): Promise<void> {
    await this.ready;
    await this.publisher.publish(this.prefix + topic, JSON.stringify(message));
  }

  subscribe<T extends Topic<Topics>>(topic: T, handler: (message: Topics[T]) => void): void {
    // the handlers of a topic get what was published on it: JSON.parse gives it back as `unknown`
    const untyped = handler as (message: unknown) => void;
    const list = this.handlers.get(topic);
    if (list) {
      list.push(untyped);
      return;
    }
    this.handlers.set(topic, [untyped]);
    const subscribed = this.subscriber.subscribe(this.prefix + topic);
    this.ready = Promise.all([this.ready, subscribed]).catch((err: unknown) =>
      this.log.error(`redis bus: could not subscribe to ${topic}:`, err),
    );
  }

  /** Its connections (publisher, subscriber), for readiness checks ({@link pingEach}). */
  get connections(): Redis[] {
    return [this.publisher, this.subscriber];
  }

  /** Resolves once every subscription is active (messages published before that are not received). */
  whenReady(): Promise<unknown> {
    return this.ready;
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
