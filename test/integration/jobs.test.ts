import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defineJob,
  type JobDefinition,
  type JobStatus,
  type JobStore,
  Jobs,
  UnrecoverableError,
} from '../../lib/jobs.js';
import { Logger } from '../../lib/log.js';
import { waitFor } from '../helpers/clients.js';
import { startNode, waitForOutput } from '../helpers/processes.js';
import { createTestDatabase, freshJobsDir } from '../helpers/server.js';

/**
 * The job engine (lib/jobs.ts) on every store this machine has: PGlite always (the embedded default),
 * PostgreSQL with a `postgres://` DATABASE_URL, Redis with REDIS_URL. The same scenarios on each.
 */

const log = new Logger({ level: 'error', dir: false });
const folders: string[] = [];
const drops: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const drop of drops) await drop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function tempFolder(): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'flux-jobs-'));
  folders.push(folder);
  return folder;
}

const stores: Array<[string, () => Promise<JobStore>]> = [
  ['pglite', async () => ({ kind: 'pglite', dir: freshJobsDir() })],
];
if (process.env.DATABASE_URL?.startsWith('postgres')) {
  stores.push([
    'postgres',
    async () => {
      const database = await createTestDatabase();
      drops.push(database.drop);
      return { kind: 'postgres', url: database.config.url as string };
    },
  ]);
}
if (process.env.REDIS_URL)
  stores.push(['redis', async () => ({ kind: 'redis', url: process.env.REDIS_URL as string })]);

const namespace = () => `jobtest${process.pid}${Math.random().toString(36).slice(2, 8)}.`;

function open(store: JobStore, definitions: JobDefinition[], prefix = namespace(), workers = true) {
  return Jobs.open({
    store,
    namespace: prefix,
    definitions,
    workers,
    attempts: 3,
    backoffMs: 200,
    timeoutMs: 10_000,
    lockDurationMs: 1000,
    stalledIntervalMs: 500,
    shutdownTimeoutMs: 2000,
    keepCompletedMs: 60_000,
    log,
  });
}

async function settled(jobs: Jobs, id: string, timeoutMs = 15_000): Promise<JobStatus> {
  let status: JobStatus | undefined;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    status = await jobs.get(id);
    if (status?.state === 'completed' || status?.state === 'failed') return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not finish: ${JSON.stringify(status)}`);
}

const records = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe.each(stores)('jobs on %s', (kind, makeStore) => {
  it('retries a failing job with exponential backoff, then completes it', async () => {
    const attempts: Array<{ attempt: number; at: number }> = [];
    const jobs = await open(await makeStore(), [
      defineJob<{ n: number }, { doubled: number }>({
        name: 'flaky',
        async run(job) {
          attempts.push({ attempt: job.attempt, at: Date.now() });
          if (job.attempt < 3) throw new Error(`failure ${job.attempt}`);
          return { doubled: job.data.n * 2 };
        },
      }),
    ]);
    try {
      const { id } = await jobs.add('flaky', { n: 21 });
      const status = await settled(jobs, id);
      expect(status).toMatchObject({
        name: 'flaky',
        state: 'completed',
        attempts: 3,
        result: { doubled: 42 },
      });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      // backoff 200 ms, doubled: the retries wait at least 200 then 400 ms
      expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(190);
      expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(390);
      expect(status.finishedAt).toBeDefined();
    } finally {
      await jobs.close();
    }
  });

  it('fails a job for good on an UnrecoverableError, without the retries left', async () => {
    let runs = 0;
    const jobs = await open(await makeStore(), [
      defineJob({
        name: 'hopeless',
        attempts: 5,
        async run() {
          runs++;
          throw new UnrecoverableError('the input is gone');
        },
      }),
    ]);
    try {
      const { id } = await jobs.add('hopeless', {});
      expect(await settled(jobs, id)).toMatchObject({
        state: 'failed',
        attempts: 1,
        error: 'the input is gone',
      });
      expect(runs).toBe(1);
    } finally {
      await jobs.close();
    }
  });

  it('fails an attempt past its timeout and aborts its signal; failed for good after the last attempt', async () => {
    const aborted: string[] = [];
    const jobs = await open(await makeStore(), [
      defineJob({
        name: 'stuck',
        timeoutMs: 300,
        attempts: 2,
        backoffMs: 50,
        run: (job) =>
          new Promise((_, reject) => {
            job.signal.addEventListener('abort', () => {
              aborted.push(String((job.signal.reason as Error).message));
              reject(job.signal.reason);
            });
          }),
      }),
    ]);
    try {
      const { id } = await jobs.add('stuck', {});
      const status = await settled(jobs, id);
      expect(status).toMatchObject({ state: 'failed', attempts: 2, error: 'Job timed out after 300 ms' });
      expect(aborted).toEqual(['Job timed out after 300 ms', 'Job timed out after 300 ms']);
      expect((await jobs.list('failed')).map((job) => job.id)).toEqual([id]);
      // a failed job runs again on demand; a missing one is not found
      expect(await jobs.retry('stuck.nope')).toBe(false);
      expect(await jobs.remove(id)).toBe(true);
      expect(await jobs.get(id)).toBeUndefined();
    } finally {
      await jobs.close();
    }
  });

  it('records progress, keeps updated data for retries, reports it to the starter, adds an id once', async () => {
    const events: unknown[] = [];
    const seen: unknown[] = [];
    const store = await makeStore();
    const definitions = [
      defineJob<{ step: string }>({
        name: 'steps',
        backoffMs: 50,
        async run(job) {
          seen.push(job.data.step);
          await job.progress(40.4);
          if (job.attempt === 1) {
            await job.update({ step: 'second' });
            throw new Error('again');
          }
          await job.progress(150);
          return 'done';
        },
      }),
    ];
    const jobs = await Jobs.open({
      store,
      namespace: namespace(),
      definitions,
      workers: true,
      attempts: 2,
      backoffMs: 50,
      timeoutMs: 5000,
      lockDurationMs: 1000,
      stalledIntervalMs: 500,
      shutdownTimeoutMs: 2000,
      keepCompletedMs: 60_000,
      log,
      onProgress: (event, startedBy) => events.push({ ...event, to: startedBy.userId }),
    });
    try {
      const startedBy = { userId: 7, tenantId: 1 };
      const { id } = await jobs.add('steps', { step: 'first' }, { id: 'steps-1', startedBy });
      // the same idempotency key: the same job, nothing added
      expect((await jobs.add('steps', { step: 'other' }, { id: 'steps-1', startedBy })).id).toBe(id);
      expect(id).toBe('steps.steps-1');
      const status = await settled(jobs, id);
      expect(status).toMatchObject({ state: 'completed', progress: 100, result: 'done', startedBy });
      expect(seen).toEqual(['first', 'second']);
      await waitFor(() => events.length === 4, 3000, 'the final progress event');
      expect(events).toEqual([
        { id, name: 'steps', state: 'active', progress: 40, to: 7 },
        { id, name: 'steps', state: 'active', progress: 40, to: 7 },
        { id, name: 'steps', state: 'active', progress: 100, to: 7 },
        { id, name: 'steps', state: 'completed', progress: 100, to: 7 },
      ]);
      expect(await jobs.counts()).toEqual({
        steps: { waiting: 0, delayed: 0, active: 0, completed: 1, failed: 0 },
      });
      await expect(jobs.add('nope', {})).rejects.toThrow(/no job named "nope"/);
      await expect(jobs.add('steps', {}, { id: 'a:b' })).rejects.toThrow(/invalid job id/);
      // BullMQ's own keys are neither ids nor jobs
      await expect(jobs.add('steps', {}, { id: 'meta' })).rejects.toThrow(/invalid job id/);
      expect(await jobs.get('steps.meta')).toBeUndefined();
      expect(await jobs.remove('steps.stalled-check')).toBe(false);
      // a delay built from a string ('3000' + …) is refused, not scheduled centuries ahead
      await expect(jobs.add('steps', {}, { delayMs: Number('17957772593947916') })).rejects.toThrow(
        /delayMs/,
      );
      await expect(jobs.add('steps', {}, { delayMs: -1 })).rejects.toThrow(/delayMs/);
    } finally {
      await jobs.close();
    }
  });

  it('on close, lets an active job finish in time, else aborts it and runs it again later', async () => {
    const store = await makeStore();
    const prefix = namespace();
    const runs: Array<{ attempt: number; label: string; outcome?: string }> = [];
    const definition = defineJob<{ label: string; ms: number }>({
      name: 'lengthy',
      run: (job) =>
        new Promise((resolve, reject) => {
          const entry: (typeof runs)[number] = { attempt: job.attempt, label: job.data.label };
          runs.push(entry);
          const timer = setTimeout(() => {
            entry.outcome = 'finished';
            resolve(job.data.label);
          }, job.data.ms);
          job.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            entry.outcome = 'aborted';
            reject(job.signal.reason);
          });
        }),
    });
    const options = (shutdownTimeoutMs: number) => ({
      store,
      namespace: prefix,
      definitions: [definition],
      workers: true,
      attempts: 3,
      backoffMs: 50,
      timeoutMs: 20_000,
      lockDurationMs: 1000,
      stalledIntervalMs: 500,
      shutdownTimeoutMs,
      keepCompletedMs: 60_000,
      log,
    });
    // finishes within the shutdown timeout: close waits for it
    let jobs = await Jobs.open(options(5000));
    const short = await jobs.add('lengthy', { label: 'short', ms: 600 });
    await waitFor(() => runs.length === 1, 10_000, 'the short job started');
    await jobs.close();
    expect(runs).toEqual([{ attempt: 1, label: 'short', outcome: 'finished' }]);
    // outlives it: aborted, and run again by the next instance
    jobs = await Jobs.open(options(300));
    expect((await jobs.get(short.id))?.state).toBe('completed');
    const long = await jobs.add('lengthy', { label: 'long', ms: 60_000 });
    await waitFor(() => runs.length === 2, 10_000, 'the long job started');
    const closing = Date.now();
    await jobs.close();
    expect(Date.now() - closing).toBeLessThan(5000);
    expect(runs[1]).toEqual({ attempt: 1, label: 'long', outcome: 'aborted' });
    jobs = await Jobs.open(options(300));
    try {
      await waitFor(() => runs.length === 3, 15_000, 'the long job ran again');
      expect(runs[2]).toMatchObject({ label: 'long' });
      expect((await jobs.get(long.id))?.state).toBe('active');
    } finally {
      await jobs.close();
    }
  });

  it('adds one unfinished job per unique key', async () => {
    const jobs = await open(
      await makeStore(),
      [defineJob({ name: 'single', async run() {} })],
      namespace(),
      false,
    );
    try {
      const first = await jobs.add('single', { n: 1 }, { unique: 'tenant-1' });
      const second = await jobs.add('single', { n: 2 }, { unique: 'tenant-1' });
      const other = await jobs.add('single', { n: 3 }, { unique: 'tenant-2' });
      expect(first.added).toBe(true);
      expect(second).toEqual({ id: first.id, added: false });
      expect(other.added).toBe(true);
      expect((await jobs.counts()).single.waiting).toBe(2);
    } finally {
      await jobs.close();
    }
  });

  it('honours delays and priorities', async () => {
    const order: string[] = [];
    const ranAt = new Map<string, number>();
    const jobs = await open(
      await makeStore(),
      [
        defineJob<{ label: string }>({
          name: 'ordered',
          async run(job) {
            order.push(job.data.label);
          },
        }),
      ],
      namespace(),
      false,
    );
    const prefix = (jobs as unknown as { options: { namespace: string } }).options.namespace;
    const started = Date.now();
    const delayed = await jobs.add('ordered', { label: 'delayed' }, { delayMs: 800 });
    await jobs.add('ordered', { label: 'low' }, { priority: 10 });
    await jobs.add('ordered', { label: 'high' }, { priority: 1 });
    expect((await jobs.get(delayed.id))?.state).toBe('delayed');
    expect((await jobs.counts()).ordered).toMatchObject({ waiting: 2, delayed: 1 });
    await jobs.close();
    // the workers start after the three were added: priority decides the order, the delay holds
    const running = await open(
      await storeOf(jobs),
      [
        defineJob<{ label: string }>({
          name: 'ordered',
          async run(job) {
            order.push(job.data.label);
            ranAt.set(job.data.label, Date.now());
          },
        }),
      ],
      prefix,
    );
    try {
      await settled(running, delayed.id);
      expect([...order].sort()).toEqual(['delayed', 'high', 'low']);
      // of the two waiting jobs, the higher priority (lower number) ran first
      expect(order.indexOf('high')).toBeLessThan(order.indexOf('low'));
      // the delay held: not run before its 800 ms (the workers may open later than that on a slow machine,
      // and then it may run first)
      expect((ranAt.get('delayed') ?? 0) - started).toBeGreaterThanOrEqual(800);
    } finally {
      await running.close();
    }
  });

  it('runs a repeatable job once per period with two instances, and a killed worker’s job again, once', async () => {
    const store = await makeStore();
    const prefix = namespace();
    const file = path.join(tempFolder(), 'records.ndjson');
    writeFileSync(file, '');
    const worker = 'test/fixtures/jobs/worker.ts';
    const first = startNode(worker, [JSON.stringify(store), prefix, file, 'add-slow']);
    await waitForOutput(first, /ready/);
    let second: ReturnType<typeof startNode>;
    if (kind === 'pglite') {
      // one process per PGlite folder: a second one is refused
      const refused = startNode(worker, [JSON.stringify(store), prefix, file]);
      expect(await refused.exited).not.toBe(0);
      expect(refused.output()).toMatch(/in use by process \d+/);
    } else {
      second = startNode(worker, [JSON.stringify(store), prefix, file]);
      await waitForOutput(second, /ready/);
    }
    // kill -9 the process running the slow job, mid-job (with two, either may have taken it)
    await waitFor(
      () => records(file).some((r) => r.job === 'slow' && r.step === 'start'),
      10_000,
      'slow started',
    );
    const runner = records(file).find((r) => r.job === 'slow' && r.step === 'start')?.pid;
    const killed = kind !== 'pglite' && runner === second!.child.pid ? second! : first;
    // the slow job (6 s) is still running
    await new Promise((resolve) => setTimeout(resolve, 300));
    killed.child.kill('SIGKILL');
    await killed.exited;
    // PGlite: the folder's one process starts again (its lock is stale)
    let survivor: ReturnType<typeof startNode>;
    if (kind === 'pglite') {
      survivor = startNode(worker, [JSON.stringify(store), prefix, file]);
      await waitForOutput(survivor, /ready/);
    } else {
      survivor = killed === first ? second! : first;
    }
    try {
      await waitFor(() => records(file).some((r) => r.effect === 'k1'), 30_000, 'the job run again');
      // ticks go on with the survivor
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const all = records(file);
      const starts = all.filter((r) => r.job === 'slow' && r.step === 'start');
      expect(starts.length).toBeGreaterThanOrEqual(2);
      expect(starts[0].pid).toBe(killed.child.pid);
      expect(starts.at(-1)?.pid).toBe(survivor.child.pid);
      expect(all.filter((r) => r.effect === 'k1')).toHaveLength(1);
      // every period ran once — but the tick the kill -9 may have landed in, which runs again after the
      // crash like any job (docs/jobs.md, "A crash returns the job"): at most that one id twice, first by
      // the killed process, then by the survivor — and ticks kept coming
      const tickRecords = all.filter((r) => r.job === 'tick');
      const ticks = tickRecords.map((r) => r.id as string);
      expect(ticks.length).toBeGreaterThanOrEqual(4);
      const twice = [...new Set(ticks)].filter((id) => ticks.indexOf(id) !== ticks.lastIndexOf(id));
      expect(twice.length).toBeLessThanOrEqual(1);
      for (const id of twice)
        expect(tickRecords.filter((r) => r.id === id).map((r) => r.pid)).toEqual([
          killed.child.pid,
          survivor.child.pid,
        ]);
      if (kind !== 'pglite') {
        const pids = new Set(all.filter((r) => r.job === 'tick').map((r) => r.pid));
        expect(pids.size).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await survivor.stop();
    }
  }, 60_000);
});

/** The store a Jobs was opened on (to open it again). */
async function storeOf(jobs: Jobs): Promise<JobStore> {
  return (jobs as unknown as { options: { store: JobStore } }).options.store;
}
