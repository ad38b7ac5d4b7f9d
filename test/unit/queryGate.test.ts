import { describe, expect, it } from 'vitest';
import { ExpectedError, TooManyRequestsError } from '../../lib/errors.js';
import { QueryGate } from '../../lib/queryGate.js';

/** Admission of expensive reads: a process-wide concurrency and queue, and a per-client bound. */
describe('QueryGate', () => {
  /** A read that ends when `end` is called. */
  function pending() {
    let end!: () => void;
    const done = new Promise<void>((resolve) => (end = resolve));
    return { work: () => done, end };
  }

  it('runs at most `concurrency` at once, queues up to `queueLength`, answers 503 Busy past it', async () => {
    const gate = new QueryGate({ concurrency: 1, queueLength: 2, perClient: 1 });
    const reads = [pending(), pending(), pending()];
    const running = reads.map((read, i) => gate.run(`client-${i}`, read.work));
    // refused in the same turn as the burst: the admission count does not wait for jobs to start
    const refused = await gate.run('client-9', async () => 'never').catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(gate.stats()).toMatchObject({ active: 1, waiting: 2 });
    expect(refused).toBeInstanceOf(ExpectedError);
    expect(refused).toMatchObject({ status: 503, code: 'Busy', headers: { 'Retry-After': '1' } });
    for (const read of reads) read.end();
    await Promise.all(running);
    expect(gate.stats()).toEqual({ active: 0, waiting: 0, peak: 1 });
  });

  it('admits at most `perClient` of one client, waiting or running, and frees the place when a read ends or fails', async () => {
    const gate = new QueryGate({ concurrency: 4, queueLength: 4, perClient: 1 });
    const first = pending();
    const running = gate.run('session:1', first.work);
    await expect(gate.run('session:1', async () => 'second')).rejects.toBeInstanceOf(TooManyRequestsError);
    expect(await gate.run('session:2', async () => 'another client')).toBe('another client');
    first.end();
    await running;
    await expect(gate.run('session:1', async () => Promise.reject(new Error('timeout')))).rejects.toThrow(
      'timeout',
    );
    expect(await gate.run('session:1', async () => 'again')).toBe('again');
  });
});
