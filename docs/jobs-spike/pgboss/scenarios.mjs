// pg-boss 10.4.2 scenarios:  BACKEND=pglite|postgres node pgboss/scenarios.mjs [scenario…]
// scenarios: backoff timeout delay-priority failed cron-two kill9 (no progress: pg-boss has none)
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeShared, openBoss } from './common.mjs';

const KIND = process.env.BACKEND ?? 'pglite';
const here = new URL('.', import.meta.url).pathname;
const log = (...a) => console.log(`[pg-boss/${KIND}]`, ...a);
const results = [];
const check = (name, ok, detail = '') => {
  results.push({ name, ok });
  log(ok ? 'PASS' : 'FAIL', name, detail);
};
let boss;
const getBoss = async () => (boss ??= await openBoss(KIND));
async function freshQueue(name, opts = {}) {
  const b = await getBoss();
  await b.deleteQueue(name).catch(() => {});
  await b.createQueue(name, opts);
  return b;
}
const POLL = { pollingIntervalSeconds: 0.5, includeMetadata: true };

async function backoff() {
  const b = await freshQueue('backoff');
  const t0 = Date.now();
  const times = [];
  let resolve;
  const done = new Promise((r) => (resolve = r));
  await b.work('backoff', POLL, async ([job]) => {
    times.push(Date.now() - t0);
    log(`  attempt ${job.retryCount + 1} at +${Date.now() - t0} ms`);
    if (job.retryCount < 2) throw new Error(`boom #${job.retryCount + 1}`);
    resolve(job);
    return 'ok';
  });
  await b.send('backoff', {}, { retryLimit: 4, retryDelay: 1, retryBackoff: true });
  await done;
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  log(`  gaps: ${gaps.join(', ')} ms (retryDelay 1 s, backoff with jitter; polling 0.5 s)`);
  check('backoff: 2 failures then success', times.length === 3);
  check('backoff: gaps grow', gaps[1] > gaps[0], gaps.join(','));
  await b.offWork('backoff');
}

async function timeout() {
  const b = await freshQueue('timeout');
  const t0 = Date.now();
  let starts = 0;
  await b.work('timeout', POLL, async ([job]) => {
    starts++;
    log(`  attempt ${job.retryCount + 1} starts at +${Date.now() - t0} ms, will take 3000 ms`);
    await sleep(3000);
  });
  const id = await b.send('timeout', {}, { expireInSeconds: 1, retryLimit: 1, retryDelay: 1 });
  let j;
  for (let i = 0; i < 40; i++) {
    await sleep(250);
    j = await b.getJobById('timeout', id);
    if (j.state === 'failed') break;
  }
  log(`  state=${j.state} after +${Date.now() - t0} ms, retryCount=${j.retryCount}, output=${JSON.stringify(j.output)?.slice(0, 120)}`);
  check('timeout: expired job retried then failed', j.state === 'failed' && starts === 2);
  await b.offWork('timeout');
}

async function delayPriority() {
  const b = await freshQueue('prio');
  const t0 = Date.now();
  await b.send('prio', { n: 'delayed' }, { startAfter: 2 });
  await b.send('prio', { n: 'p1' }, { priority: 1 });
  await b.send('prio', { n: 'p10' }, { priority: 10 });
  await b.send('prio', { n: 'p5' }, { priority: 5 });
  const order = [];
  await b.work('prio', { ...POLL, batchSize: 1 }, async ([job]) => { order.push([job.data.n, Date.now() - t0]); });
  while (order.length < 4) await sleep(100);
  log(`  order: ${order.map(([n, t]) => `${n}@+${t}`).join(' ')}`);
  check('priority: higher number first (10, 5, 1)', order.slice(0, 3).map(([n]) => n).join() === 'p10,p5,p1');
  check('delay: startAfter 2 s honoured', order[3][0] === 'delayed' && order[3][1] >= 1900, `${order[3][1]} ms`);
  await b.offWork('prio');
}

async function failed() {
  const b = await freshQueue('failedset');
  await b.work('failedset', POLL, async ([job]) => { throw new Error(`bad input ${job.data.x}`); });
  const id = await b.send('failedset', { x: 42 }, { retryLimit: 1, retryDelay: 1 });
  let j;
  for (let i = 0; i < 40 && j?.state !== 'failed'; i++) {
    await sleep(250);
    j = await b.getJobById('failedset', id);
  }
  // pg-boss 10 has no "list failed jobs" call: getJobById, or SQL on its table
  log(`  getJobById: state=${j.state} retryCount=${j.retryCount} output.message=${j.output?.message}`);
  check('failed: job inspectable with error', j.state === 'failed' && j.output?.message === 'bad input 42');
  await b.offWork('failedset');
}

function child(args) {
  const p = spawn(process.execPath, [`${here}worker-proc.mjs`, ...args], { env: { ...process.env, BACKEND: KIND }, stdio: ['ignore', 'pipe', 'inherit'] });
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

// pg-boss cron has minute granularity (singletonSeconds: 60): 3½ minutes to see 3 periods
async function cronTwo() {
  const RUN_MS = Number(process.env.CRON_MS ?? 200000);
  let runs;
  if (KIND === 'pglite') {
    const b1 = await freshQueue('cron');
    const b2 = await openBoss(KIND); // a second pg-boss instance on the same PGlite
    runs = [];
    await b1.schedule('cron', '* * * * *', {});
    await b2.schedule('cron', '* * * * *', {});
    await b1.work('cron', POLL, async ([job]) => { runs.push({ at: Date.now(), worker: 'A', id: job.id }); });
    await b2.work('cron', POLL, async ([job]) => { runs.push({ at: Date.now(), worker: 'B', id: job.id }); });
    await sleep(RUN_MS);
    await b1.unschedule('cron');
    await b2.stop({ graceful: true, wait: true });
  } else {
    const b = await freshQueue('cron');
    const a = child(['cron', 'A']);
    const c = child(['cron', 'B']);
    await sleep(RUN_MS);
    a.kill('SIGTERM');
    c.kill('SIGTERM');
    await Promise.all([exited(a), exited(c)]);
    runs = [...a.lines, ...c.lines].filter((e) => e.type === 'run');
    await b.unschedule('cron');
  }
  const byMin = new Map();
  for (const r of runs) byMin.set(Math.floor(r.at / 60000), [...(byMin.get(Math.floor(r.at / 60000)) ?? []), r.worker]);
  log(`  runs per minute: ${[...byMin.entries()].map(([m, ws]) => `${new Date(m * 60000).toISOString().slice(11, 16)}:${ws.join('+')}`).join(' | ')}`);
  check('cron: one run per minute with two instances', byMin.size >= 3 && [...byMin.values()].every((ws) => ws.length === 1));
}

async function kill9() {
  if (KIND === 'pglite') {
    await boss?.stop({ graceful: false, close: false }).catch(() => {});
    boss = undefined;
    await closeShared();
    const a = child(['long', 'A', 'add']);
    const started = await onEvent(a, 'start');
    const t0 = Date.now();
    log(`  A (pid ${a.pid}, owns the PGlite folder) started job ${started.jobId}; kill -9`);
    process.kill(a.pid, 'SIGKILL');
    await exited(a);
    const c = child(['long', 'B']);
    const done = await onEvent(c, 'done');
    log(`  B (pid ${c.pid}, reopened the folder) finished job ${done.jobId} at +${Date.now() - t0} ms (retryCount ${done.retryCount})`);
    check('kill -9: job re-run after restart', done.jobId === started.jobId);
    c.kill('SIGTERM');
    await exited(c);
    return;
  }
  const b = await freshQueue('kill9');
  const a = child(['long', 'A']);
  await onEvent(a, 'ready');
  const id = await b.send('kill9', { work: 2000 }, { expireInSeconds: 4, retryLimit: 2, retryDelay: 0 });
  const started = await onEvent(a, 'start');
  const t0 = Date.now();
  log(`  A (pid ${a.pid}) started job ${started.jobId}; kill -9`);
  process.kill(a.pid, 'SIGKILL');
  await exited(a);
  const c = child(['long', 'B']);
  const done = await onEvent(c, 'done');
  await sleep(1000);
  const j = await b.getJobById('kill9', id);
  log(`  B (pid ${c.pid}) finished job ${done.jobId} at +${Date.now() - t0} ms; state=${j.state} retryCount=${j.retryCount}`);
  check('kill -9: job re-run by another worker and completed', done.jobId === id && j.state === 'completed');
  c.kill('SIGTERM');
  await exited(c);
}

const all = { backoff, timeout, 'delay-priority': delayPriority, failed, 'cron-two': cronTwo, kill9 };
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(all);
for (const n of names) {
  log(`--- ${n}`);
  try {
    await all[n]();
  } catch (e) {
    check(`${n}: threw`, false, e.stack);
  }
}
await boss?.stop({ graceful: false, wait: true, close: KIND === 'postgres' }).catch(() => {});
await closeShared();
const failedN = results.filter((r) => !r.ok).length;
console.log(`[pg-boss/${KIND}] ${results.length - failedN} passed, ${failedN} failed`);
process.exit(failedN ? 1 : 0);
