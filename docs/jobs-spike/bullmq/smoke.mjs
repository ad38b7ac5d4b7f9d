import { openBackend } from '../lib/backends.mjs';
const b = await openBackend();
console.log('backend', b.kind, b.openMs ? `pglite open+migrate ${b.openMs} ms` : '');
const q = new b.Queue('smoke', b.opts);
await q.obliterate({ force: true }).catch((e) => console.log('obliterate', e.message));
const done = new Promise((resolve) => {
  const w = new b.Worker('smoke', async (job) => { await job.updateProgress(50); return { echoed: job.data }; }, b.opts);
  w.on('completed', async (job, rv) => { console.log('completed', job.id, JSON.stringify(rv), 'progress', job.progress); await w.close(); resolve(); });
  w.on('failed', (job, err) => console.log('failed', job?.id, err));
  w.on('error', (err) => console.log('worker error', err));
});
const job = await q.add('hello', { a: 1, s: 'x"y' });
console.log('added', job.id);
await done;
console.log('counts', await q.getJobCounts());
await q.close();
await b.close();
