import { Flux } from '../../lib/Flux.js';
import { defineJob } from '../../lib/jobs.js';
import { escalateOverdue } from '../services/AlertService.js';

/**
 * Every minute, escalates the overdue warnings the per-alert jobs (`escalateAlert`) missed
 * (docs/escalation.md): alerts raised while the job store was unreachable, set back to `warning` after
 * they were raised, or raised before a shorter `alerts.escalateAfterMs`. At most `housekeeping.batchSize`
 * per run, the oldest first; the next run goes on. Each escalation is the same locked, conditional update
 * as the per-alert job's: both at once escalate an alert once.
 */
export default defineJob<Record<string, never>, { overdue: number; escalated: number }>({
  name: 'escalationSweep',
  repeat: { everyMs: 60_000 },
  // the next run is the retry
  attempts: 1,
  timeoutMs: 50_000,
  run: ({ signal }) => escalateOverdue({ limit: Flux.config.housekeeping.batchSize, signal }),
});
