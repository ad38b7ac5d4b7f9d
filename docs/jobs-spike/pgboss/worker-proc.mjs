// node pgboss/worker-proc.mjs cron A | long A [add]
import { setTimeout as sleep } from 'node:timers/promises';
import { closeShared, openBoss } from './common.mjs';

const [mode, id, add] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${JSON.stringify({ ...o, worker: id, pid: process.pid, at: Date.now() })}\n`);
const boss = await openBoss();
const POLL = { pollingIntervalSeconds: 0.5, includeMetadata: true };
if (mode === 'cron') {
  await boss.createQueue('cron').catch(() => {});
  await boss.schedule('cron', '* * * * *', {}); // every instance declares it at boot
  await boss.work('cron', POLL, async ([job]) => out({ type: 'run', jobId: job.id }));
} else {
  if (add) {
    await boss.deleteQueue('kill9').catch(() => {});
    await boss.createQueue('kill9');
    await boss.send('kill9', { work: 2000 }, { expireInSeconds: 4, retryLimit: 2, retryDelay: 0 });
  }
  await boss.work('kill9', POLL, async ([job]) => {
    out({ type: 'start', jobId: job.id, retryCount: job.retryCount });
    await sleep(job.data.work);
    out({ type: 'done', jobId: job.id, retryCount: job.retryCount });
  });
}
out({ type: 'ready' });
process.on('SIGTERM', async () => {
  await boss.stop({ graceful: true, wait: true, close: process.env.BACKEND === 'postgres' }).catch(() => {});
  await closeShared();
  process.exit(0);
});
