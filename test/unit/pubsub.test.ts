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

/** Deliveries held back while rooms are recomputed after a permission change, then made in order. */
describe('PubSub.holdDeliveries', () => {
  const io = new Server();
  const bus: Bus = { publish: () => {}, subscribe: () => {}, close: async () => {} };
  const change = (id: number) => ({ tenantId: 1, model: 'team', verb: 'created' as const, id, data: {} });

  /** PubSub whose deliveries are recorded by id, in the order they are made. */
  function recording(): { pubsub: PubSub; delivered: number[] } {
    const pubsub = new PubSub(io, bus);
    const delivered: number[] = [];
    const deliverNow = (pubsub as unknown as { deliverNow(c: { id: number }): void }).deliverNow.bind(pubsub);
    (pubsub as unknown as { deliverNow(c: { id: number }): void }).deliverNow = (c) => {
      delivered.push(c.id);
      deliverNow(c);
    };
    return { pubsub, delivered };
  }

  it('delivers nothing while a hold is in place, then everything held, in order, once the last one is released', async () => {
    const { pubsub, delivered } = recording();
    let first!: () => void;
    let second!: () => void;
    pubsub.holdDeliveries(new Promise<void>((resolve) => (first = resolve)));
    pubsub.deliver(change(1));
    pubsub.holdDeliveries(new Promise<void>((resolve) => (second = resolve)));
    pubsub.deliver(change(2));
    first();
    await new Promise((r) => setTimeout(r, 10));
    expect(delivered).toEqual([]);
    second();
    await new Promise((r) => setTimeout(r, 10));
    expect(delivered).toEqual([1, 2]);
    pubsub.deliver(change(3));
    expect(delivered).toEqual([1, 2, 3]);
    expect(pubsub.stats.delivered).toBe(3);
  });

  it('releases a hold whose work fails, and one whose work never ends after maxMs', async () => {
    const { pubsub, delivered } = recording();
    pubsub.holdDeliveries(Promise.reject(new Error('database down')));
    pubsub.deliver(change(1));
    await new Promise((r) => setTimeout(r, 10));
    expect(delivered).toEqual([1]);
    pubsub.holdDeliveries(new Promise(() => {}), 30);
    pubsub.deliver(change(2));
    expect(delivered).toEqual([1]);
    await new Promise((r) => setTimeout(r, 60));
    expect(delivered).toEqual([1, 2]);
  });
});
