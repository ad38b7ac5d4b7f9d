// Can BullMQ run on ioredis-mock (in-memory Redis emulation, Lua via fengari)?
import RedisMock from 'ioredis-mock';
import { Queue, Worker } from 'bullmq';
const connection = new RedisMock({ maxRetriesPerRequest: null });
const timer = setTimeout(() => { console.log('RESULT: no completion within 10 s'); process.exit(1); }, 10000);
try {
  const q = new Queue('mock', { connection });
  const job = await q.add('x', { a: 1 });
  console.log('added', job.id);
  const w = new Worker('mock', async () => 'ok', { connection });
  w.on('error', (e) => { console.log('worker error:', e.message.split('\n')[0]); });
  w.on('completed', () => { console.log('RESULT: completed'); clearTimeout(timer); process.exit(0); });
} catch (e) {
  console.log('RESULT: threw:', e.message.split('\n').slice(0, 3).join(' | '));
  process.exit(1);
}
