import { Sidequest } from 'sidequest';
import { HelloJob } from './jobs.mjs';
const timer = setTimeout(() => { console.log('RESULT: no completion in 30 s'); process.exit(1); }, 30000);
try {
  await Sidequest.start({ backend: { driver: '@sidequest/postgres-backend', config: 'postgres://postgres:postgres@127.0.0.1:5432/jobs_spike_sq' }, dashboard: { enabled: false }, logger: { level: 'warn' } });
  const job = await Sidequest.build(HelloJob).enqueue('flux');
  console.log('enqueued', job.id, job.state);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const j = await Sidequest.job.get(job.id);
    if (j.state === 'completed' || j.state === 'failed') { console.log('RESULT:', j.state, JSON.stringify(j.result ?? j.errors)); break; }
  }
} catch (e) { console.log('RESULT: threw', e.stack.split('\n').slice(0, 4).join(' | ')); }
clearTimeout(timer);
await Sidequest.stop?.();
process.exit(0);
