// BullMQ 6 scenarios, the same code on every store:
//   BACKEND=pglite|postgres|redis node bullmq/scenarios.mjs [scenario…]
// scenarios: backoff timeout delay-priority progress failed cron-two kill9 exactly-once (default: all)
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBackend } from '../lib/backends.mjs';
import { withTimeout } from '../lib/timeout.mjs';

const KIND = process.env.BACKEND ?? 'pglite';
const here = new URL('.', import.meta.url).pathname;
const log = (...a) => console.log(`[${KIND}]`, ...a);
const results = [];
const check = (name, ok, detail = '') => {
  results.push({ name, ok });
  log(ok ? 'PASS' : 'FAIL', name, detail);
};

let b; // opened lazily: the pglite kill9 scenario must not hold the folder while its children run
async function backend() {
  b ??= await openBackend(KIND);
  return b;
}
async function freshQueue(name) {
  const { Queue, opts } = await backend();
  const q = new Queue(name, opts);
  await q.obliterate({ force: true });
  return q;
}
function waitFor(worker, event, pred = () => true) {
  return new Promise((resolve) => {
    const h = (...args) => {
      if (pred(...args)) {
        worker.off(event, h);
        resolve(args);
      }
    };
    worker.on(event, h);
  });
}

// 1. fails twice, then succeeds; exponential backoff 500 ms → 500, 1000
async function backoff() {
  const { Worker, opts } = await backend();
  const q = await freshQueue('backoff');
  const t0 = Date.now();
  const times = [];
  const w = new Worker(
    'backoff',
    async (job) => {
      times.push(Date.now() - t0);
      log(`  attempt ${job.attemptsMade + 1} at +${Date.now() - t0} ms`);
      if (job.attemptsMade < 2) throw new Error(`boom #${job.attemptsMade + 1}`);
      return 'ok';
    },
    opts,
  );
  const done = waitFor(w, 'completed');
  await q.add('flaky', {}, { attempts: 5, backoff: { type: 'exponential', delay: 500 } });
  const [job] = await done;
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  log(`  gaps between attempts: ${gaps.join(', ')} ms (expected ≈500, ≈1000); attemptsMade=${job.attemptsMade}`);
  check('backoff: 3 attempts, 2 failures then success', times.length === 3 && job.returnvalue === 'ok');
  check('backoff: gaps grow exponentially', gaps[0] >= 450 && gaps[1] >= 950 && gaps[1] > gaps[0] * 1.6, gaps.join(','));
  await w.close();
  await q.close();
}

// 2. a job past its timeout: fails, is retried, lands in the failed set
async function timeout() {
  const { Worker, opts } = await backend();
  const q = await freshQueue('timeout');
  const t0 = Date.now();
  let aborted = 0;
  const w = new Worker(
    'timeout',
    withTimeout(async (job, _token, signal) => {
      log(`  attempt ${job.attemptsMade + 1} starts at +${Date.now() - t0} ms, will take 3000 ms`);
      signal.addEventListener('abort', () => aborted++);
      await sleep(3000, undefined, { signal }).catch(() => {});
      return 'late';
    }),
    opts,
  );
  const failedFinal = waitFor(w, 'failed', (job) => job.attemptsMade >= 2);
  await q.add('slow', { __timeoutMs: 500 }, { attempts: 2, backoff: { type: 'fixed', delay: 200 } });
  const [job, err] = await failedFinal;
  log(`  failed at +${Date.now() - t0} ms: "${err.message}", attemptsMade=${job.attemptsMade}, handler saw abort ${aborted}×`);
  check('timeout: job fails at its deadline, retried, then failed', job.attemptsMade === 2 && /timed out/.test(err.message) && Date.now() - t0 < 2500);
  check('timeout: handler receives the abort signal', aborted === 2);
  await w.close();
  await q.close();
}

// 3. delays and priorities
async function delayPriority() {
  const { Worker, opts } = await backend();
  const q = await freshQueue('prio');
  const t0 = Date.now();
  const order = [];
  await q.add('delayed', { n: 'delayed' }, { delay: 1500 });
  await q.add('p10', { n: 'p10' }, { priority: 10 });
  await q.add('p1', { n: 'p1' }, { priority: 1 });
  await q.add('p5', { n: 'p5' }, { priority: 5 });
  await q.add('plain', { n: 'plain' }); // no priority: before every prioritized job in BullMQ
  const w = new Worker('prio', async (job) => { order.push([job.data.n, Date.now() - t0]); }, { ...opts, concurrency: 1 });
  await new Promise((r) => { w.on('completed', () => order.length === 5 && r()); });
  log(`  order: ${order.map(([n, t]) => `${n}@+${t}`).join(' ')}`);
  const names = order.map(([n]) => n);
  check('priority: plain, then 1, 5, 10', names.slice(0, 4).join() === 'plain,p1,p5,p10');
  check('delay: delayed job runs last, ≥1500 ms after add', names[4] === 'delayed' && order[4][1] >= 1500, `${order[4][1]} ms`);
  await w.close();
  await q.close();
}

// 4. progress, seen by the worker, by QueueEvents (another connection) and on the job
async function progress() {
  const { Worker, QueueEvents, opts } = await backend();
  const q = await freshQueue('progress');
  const qe = new QueueEvents('progress', opts);
  await qe.waitUntilReady();
  const seenEvents = [];
  qe.on('progress', ({ data }) => seenEvents.push(data));
  const w = new Worker('progress', async (job) => {
    for (const p of [25, 50, { step: 'upload', pct: 100 }]) {
      await job.updateProgress(p);
      await sleep(150);
    }
  }, opts);
  const done = waitFor(w, 'completed');
  const job = await q.add('p', {});
  await done;
  await sleep(1000);
  const fresh = await q.getJob(job.id);
  log(`  QueueEvents progress: ${JSON.stringify(seenEvents)}; stored progress ${JSON.stringify(fresh.progress)}`);
  check('progress: events received and stored', seenEvents.length === 3 && fresh.progress?.pct === 100);
  await w.close();
  await qe.close();
  await q.close();
}

// 5. inspect the failed set, retry from it
async function failed() {
  const { Worker, opts } = await backend();
  const q = await freshQueue('failedset');
  let fail = true;
  const w = new Worker('failedset', async (job) => { if (fail) throw new Error(`bad input ${job.data.x}`); return 'fixed'; }, opts);
  const f = waitFor(w, 'failed', (job) => job.attemptsMade >= 2);
  await q.add('bad', { x: 42 }, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
  await f;
  const list = await q.getFailed(0, 10);
  const j = list[0];
  log(`  failed set: ${list.length} job(s): id=${j.id} name=${j.name} data=${JSON.stringify(j.data)} reason="${j.failedReason}" attemptsMade=${j.attemptsMade} stack lines=${j.stacktrace.length} finishedOn=${new Date(j.finishedOn).toISOString()}`);
  check('failed set: job listed with reason, attempts and stack', list.length === 1 && j.failedReason === 'bad input 42' && j.stacktrace.length === 2);
  fail = false;
  const c = waitFor(w, 'completed');
  await j.retry('failed');
  const [job] = await c;
  check('failed set: retry from the failed set completes', job.returnvalue === 'fixed' && (await q.getFailedCount()) === 0);
  await w.close();
  await q.close();
}

function child(args, env = {}) {
  const p = spawn(process.execPath, [`${here}worker-proc.mjs`, ...args], { env: { ...process.env, BACKEND: KIND, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  p.lines = [];
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const ev = JSON.parse(line);
        p.lines.push(ev);
        p.emit('ev', ev);
      } catch {
        console.log(`  child ${p.pid}: ${line}`);
      }
    }
  });
  return p;
}
const onEvent = (p, type) => new Promise((r) => p.on('ev', (ev) => ev.type === type && r(ev)));
const exited = (p) => new Promise((r) => (p.exitCode !== null || p.signalCode ? r() : p.on('exit', r)));

// 6. a repeatable job (every 2 s, cron pattern) with two instances: one run per period
async function cronTwo() {
  const PERIOD = 2000;
  const RUN_MS = 13000;
  let runs;
  if (KIND === 'pglite') {
    // PGlite is one process: the two "instances" are two workers in this process.
    const { Worker, opts } = await backend();
    const q = await freshQueue('cron');
    runs = [];
    const mk = (id) => new Worker('cron', async (job) => { runs.push({ at: Date.now(), worker: id, jobId: job.id }); await sleep(300); }, opts);
    const w1 = mk('A');
    const w2 = mk('B');
    await q.upsertJobScheduler('tick', { pattern: '*/2 * * * * *' }, { name: 'tick', data: {} });
    await q.upsertJobScheduler('tick', { pattern: '*/2 * * * * *' }, { name: 'tick', data: {} }); // the second instance's boot
    await sleep(RUN_MS);
    await w1.close();
    await w2.close();
    await q.removeJobScheduler('tick');
    await q.close();
  } else {
    const q = await freshQueue('cron');
    await q.close();
    const a = child(['cron', 'A']);
    const c = child(['cron', 'B']);
    await sleep(RUN_MS);
    a.kill('SIGTERM');
    c.kill('SIGTERM');
    await Promise.all([exited(a), exited(c)]);
    runs = [...a.lines, ...c.lines].filter((e) => e.type === 'run');
    const { Queue, opts } = await backend();
    const q2 = new Queue('cron', opts);
    await q2.removeJobScheduler('tick');
    await q2.close();
  }
  // A slot is the scheduled time in the job id (repeat:tick:<millis>): each must run exactly once,
  // with no slot skipped. (Bucketing by execution time would count a late run in the next period.)
  runs.sort((x, y) => x.at - y.at);
  const bySlot = new Map();
  for (const r of runs) bySlot.set(r.jobId, [...(bySlot.get(r.jobId) ?? []), r]);
  const slots = [...bySlot.keys()].map((id) => Number(id.split(':').pop())).sort((x, y) => x - y);
  const gaps = slots.slice(1).filter((t, i) => t - slots[i] !== PERIOD).length;
  const lateness = runs.map((r) => r.at - Number(r.jobId.split(':').pop()));
  log(`  runs: ${runs.map((r) => `${new Date(Number(r.jobId.split(':').pop())).toISOString().slice(17, 19)}s→${r.worker}`).join(' ')}`);
  log(`  ${runs.length} runs, ${bySlot.size} slots, ${gaps} skipped slot(s); lateness ${Math.min(...lateness)}–${Math.max(...lateness)} ms`);
  if (process.env.VERBOSE) for (const r of runs) log(`    ${new Date(r.at).toISOString().slice(14, 23)} ${r.worker} job ${r.jobId}`);
  const workers = new Set(runs.map((r) => r.worker));
  check('cron: every 2 s slot ran exactly once, none skipped, ≥5 slots', bySlot.size >= 5 && [...bySlot.values()].every((rs) => rs.length === 1) && gaps === 0, `by ${[...workers].join(',')}`);
}

// 7. kill -9 a worker mid-job: the job runs again elsewhere
async function kill9() {
  const LOCK = 4000;
  if (KIND !== 'pglite') {
    const q = await freshQueue('kill9');
    const a = child(['long', 'A'], { LOCK_MS: String(LOCK) });
    await onEvent(a, 'ready');
    const t0 = Date.now();
    const job = await q.add('long', { work: 2000 });
    const started = await onEvent(a, 'start');
    log(`  A (pid ${a.pid}) started job ${started.jobId} at +${Date.now() - t0} ms; kill -9`);
    process.kill(a.pid, 'SIGKILL');
    await exited(a);
    const c = child(['long', 'B'], { LOCK_MS: String(LOCK) });
    const completedEv = onEvent(c, 'completed');
    const done = await onEvent(c, 'done');
    await completedEv;
    log(`  B (pid ${c.pid}) completed job ${done.jobId} at +${Date.now() - t0} ms (attempt ${done.attempt})`);
    const j = await q.getJob(job.id);
    log(`  job state=${await j.getState()} attemptsMade=${j.attemptsMade} stalledCounter=${j.stalledCounter}`);
    check('kill -9: job re-run by another worker and completed', done.jobId === job.id && (await j.getState()) === 'completed');
    c.kill('SIGTERM');
    await exited(c);
    await q.close();
  } else {
    // Embedded: the killed process owned the PGlite folder. The "other worker" is
    // the restarted instance, which opens the same folder after the crash.
    const a = child(['long', 'A'], { LOCK_MS: String(LOCK), ADD_JOB: '1' });
    const started = await onEvent(a, 'start');
    const t0 = Date.now();
    log(`  A (pid ${a.pid}, owns the PGlite folder) started job ${started.jobId}; kill -9`);
    process.kill(a.pid, 'SIGKILL');
    await exited(a);
    const c = child(['long', 'B'], { LOCK_MS: String(LOCK) });
    const completedEv = onEvent(c, 'completed');
    const done = await onEvent(c, 'done');
    await completedEv;
    log(`  B (pid ${c.pid}, reopened the folder) completed job ${done.jobId} at +${Date.now() - t0} ms after the kill (attempt ${done.attempt})`);
    check('kill -9: job re-run after restart and completed', done.jobId === started.jobId);
    c.kill('SIGTERM');
    await exited(c);
  }
}

// 8. exactly once: N jobs, two instances competing, every job runs once
async function exactlyOnce() {
  const N = 600;
  const q = await freshQueue('once');
  let runs;
  if (KIND === 'pglite') {
    const { Worker, opts } = await backend();
    runs = [];
    const mk = (id) => new Worker('once', async (job) => { runs.push({ worker: id, jobId: job.id }); }, { ...opts, concurrency: 4 });
    const ws = [mk('A'), mk('B')];
    await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'n', data: { i } })));
    while (runs.length < N) await sleep(200);
    await sleep(1000);
    await Promise.all(ws.map((w) => w.close()));
  } else {
    const a = child(['once', 'A']);
    const c = child(['once', 'B']);
    await Promise.all([onEvent(a, 'ready'), onEvent(c, 'ready')]);
    await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'n', data: { i } })));
    const count = () => a.lines.length + c.lines.length;
    while ([...a.lines, ...c.lines].filter((e) => e.type === 'run').length < N) await sleep(200);
    await sleep(1000);
    a.kill('SIGTERM');
    c.kill('SIGTERM');
    await Promise.all([exited(a), exited(c)]);
    runs = [...a.lines, ...c.lines].filter((e) => e.type === 'run');
  }
  const ids = new Map();
  for (const r of runs) ids.set(r.jobId, (ids.get(r.jobId) ?? 0) + 1);
  const dups = [...ids.values()].filter((n) => n > 1).length;
  const byW = {};
  for (const r of runs) byW[r.worker] = (byW[r.worker] ?? 0) + 1;
  log(`  ${N} jobs, ${runs.length} executions, ${ids.size} distinct, ${dups} duplicated; split ${JSON.stringify(byW)}`);
  check('exactly once: every job ran once across two instances', ids.size === N && dups === 0 && runs.length === N);
  await q.obliterate({ force: true });
  await q.close();
}

const all = { backoff, timeout, 'delay-priority': delayPriority, progress, failed, 'cron-two': cronTwo, kill9, 'exactly-once': exactlyOnce };
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(all);
for (const n of names) {
  log(`--- ${n}`);
  if (n === 'kill9' && KIND === 'pglite' && b) {
    await b.close(); // free the folder for the child processes
    b = undefined;
  }
  try {
    await all[n]();
  } catch (e) {
    check(`${n}: threw`, false, e.stack);
  }
}
await b?.close();
const failedN = results.filter((r) => !r.ok).length;
console.log(`[${KIND}] ${results.length - failedN} passed, ${failedN} failed`);
process.exit(failedN ? 1 : 0);
