import { describe, expect, it } from 'vitest';
import { ExpectedError, TooManyRequestsError } from '../../lib/errors.js';
import { FairQueue, type FairQueueOptions } from '../../lib/fairQueue.js';

/** A bounded queue fair between clients: a process-wide concurrency and queue, a per-client bound and queue. */
describe('FairQueue', () => {
  const messages = { busyMessage: 'busy', tooManyMessage: 'too many' };
  const queue = (options: Omit<FairQueueOptions, keyof typeof messages>) =>
    new FairQueue({ ...options, ...messages });
  /** A read that ends when `end` is called, and tells whether it started. */
  function pending() {
    let end!: () => void;
    const done = new Promise<void>((resolve) => (end = resolve));
    const read = {
      started: false,
      end,
      work: () => {
        read.started = true;
        return done;
      },
    };
    return read;
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

  it('runs at most `concurrency` at once, queues up to `queueLength`, answers 503 Busy past it', async () => {
    const gate = queue({ concurrency: 1, queueLength: 2, perClient: 1, perClientQueue: 0 });
    const reads = [pending(), pending(), pending()];
    const running = reads.map((read, i) => gate.run(`client-${i}`, read.work));
    const refused = await gate.run('client-9', async () => 'never').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ExpectedError);
    expect(refused).toMatchObject({ status: 503, code: 'Busy', headers: { 'Retry-After': '1' } });
    await tick();
    expect(gate.stats()).toEqual({ active: 1, waiting: 2, peak: 1 });
    for (const read of reads) read.end();
    await Promise.all(running);
    expect(gate.stats()).toEqual({ active: 0, waiting: 0, peak: 1 });
  });

  it('serves one client’s reads one after another, queues `perClientQueue` of them, answers 429 past it', async () => {
    const gate = queue({ concurrency: 4, queueLength: 4, perClient: 1, perClientQueue: 1 });
    const [first, second] = [pending(), pending()];
    const runs = [gate.run('session:1', first.work), gate.run('session:1', second.work)];
    await expect(gate.run('session:1', async () => 'third')).rejects.toBeInstanceOf(TooManyRequestsError);
    // another client is not held up by the first one's
    expect(await gate.run('session:2', async () => 'another client')).toBe('another client');
    await tick();
    expect([first.started, second.started]).toEqual([true, false]);
    first.end();
    await runs[0];
    await tick();
    expect(second.started).toBe(true);
    second.end();
    await runs[1];
  });

  it('frees the client’s place when a read fails', async () => {
    const gate = queue({ concurrency: 1, queueLength: 1, perClient: 1, perClientQueue: 0 });
    await expect(gate.run('session:1', async () => Promise.reject(new Error('timeout')))).rejects.toThrow(
      'timeout',
    );
    expect(await gate.run('session:1', async () => 'again')).toBe('again');
  });

  it('bounds work of no client by the process-wide limits only', async () => {
    const gate = queue({ concurrency: 2, queueLength: 2, perClient: 1, perClientQueue: 0 });
    const reads = [pending(), pending(), pending(), pending()];
    const running = reads.map((read) => gate.run(undefined, read.work));
    await expect(gate.run(undefined, async () => 'fifth')).rejects.toMatchObject({
      status: 503,
      code: 'Busy',
    });
    await tick();
    expect(gate.stats()).toMatchObject({ active: 2, waiting: 2 });
    for (const read of reads) read.end();
    await Promise.all(running);
  });
});
