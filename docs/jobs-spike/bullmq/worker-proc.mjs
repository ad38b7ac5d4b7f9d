// A worker instance in its own process; prints one JSON line per event.
//   node worker-proc.mjs cron A   – upserts the 'tick' scheduler at boot, runs ticks
//   node worker-proc.mjs long A   – runs 'long' jobs (LOCK_MS lock; ADD_JOB=1 adds one first)
import { setTimeout as sleep } from 'node:timers/promises';
import { openBackend } from '../lib/backends.mjs';

const [mode, id] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${JSON.stringify({ ...o, worker: id, pid: process.pid, at: Date.now() })}\n`);
const b = await openBackend();
const { Queue, Worker, opts } = b;
let worker;

if (mode === 'cron') {
  const q = new Queue('cron', opts);
  // Every instance declares the schedule at boot: upsert is idempotent.
  await q.upsertJobScheduler('tick', { pattern: '*/2 * * * * *' }, { name: 'tick', data: {} });
  await q.close();
  worker = new Worker('cron', async (job) => { out({ type: 'run', jobId: job.id }); await sleep(300); }, opts);
} else if (mode === 'once') {
  worker = new Worker('once', async (job) => { out({ type: 'run', jobId: job.id }); }, { ...opts, concurrency: 4 });
} else if (mode === 'long') {
  const lock = Number(process.env.LOCK_MS ?? 30000);
  if (process.env.ADD_JOB) {
    const q = new Queue('kill9', opts);
    await q.obliterate({ force: true });
    await q.add('long', { work: 2000 });
    await q.close();
  }
  worker = new Worker(
    'kill9',
    async (job) => {
      out({ type: 'start', jobId: job.id, attempt: job.attemptsMade + 1 });
      await sleep(job.data.work);
      out({ type: 'done', jobId: job.id, attempt: job.attemptsMade + 1 });
      return 'done';
    },
    { ...opts, lockDuration: lock, stalledInterval: 1000, maxStalledCount: 1 },
  );
  worker.on('stalled', (jobId) => out({ type: 'stalled-detected', jobId }));
  worker.on('completed', (job) => out({ type: 'completed', jobId: job.id, stalledCounter: job.stalledCounter }));
}
worker.on('error', (e) => out({ type: 'error', message: e.message }));
await worker.waitUntilReady();
out({ type: 'ready' });
process.on('SIGTERM', async () => {
  await worker.close();
  await b.close();
  process.exit(0);
});
