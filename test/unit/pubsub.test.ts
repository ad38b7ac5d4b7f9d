import { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { type Bus, PubSub } from '../../lib/pubsub.js';

/** PubSub's sends: handed to the owner while in flight (so that a stop waits for them), errors reported. */
describe('PubSub.publish', () => {
  const io = new Server(); // not attached to an HTTP server: nothing to close

  /** A bus whose publishes stay pending until `settle` is called. */
  function slowBus(): Bus & { settle(err?: Error): void } {
    const waiting: Array<(err?: Error) => void> = [];
    return {
      publish: () =>
        new Promise<void>((resolve, reject) => waiting.push((err) => (err ? reject(err) : resolve()))),
      subscribe: () => {},
      close: async () => {},
      settle: (err) => {
        for (const done of waiting.splice(0)) done(err);
      },
    };
  }
  const change = { tenantId: 1, model: 'team', verb: 'created' as const, id: 1, data: {} };

  it('hands each send to waitUntil, which settles when the bus has taken it', async () => {
    const bus = slowBus();
    const sends: Promise<void>[] = [];
    new PubSub(io, bus, { waitUntil: (sent) => sends.push(sent) }).publish(change);
    expect(sends).toHaveLength(1);
    let settled = false;
    void sends[0].then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    bus.settle();
    await sends[0];
    expect(settled).toBe(true);
  });

  it('reports a failed send to onError, and the send handed to waitUntil still settles', async () => {
    const bus = slowBus();
    const sends: Promise<void>[] = [];
    const errors: unknown[] = [];
    new PubSub(io, bus, {
      waitUntil: (sent) => sends.push(sent),
      onError: (err) => errors.push(err),
    }).publish(change);
    bus.settle(new Error('Connection is closed.'));
    await sends[0];
    expect(errors).toEqual([new Error('Connection is closed.')]);
  });
});
