import { defineJob } from '../../lib/jobs.js';
import { type EscalationOutcome, escalate } from '../services/AlertService.js';

/**
 * Escalates one alert when it is due (docs/escalation.md): added, delayed by `alerts.escalateAfterMs`,
 * when a `warning` is raised (`api/reactions.ts`, job id `escalate-<alertId>`). The alert becomes `serious`
 * only if it is still an unacknowledged, never escalated `warning` (AlertService `escalate`, under a row
 * lock): a run after a crash, a second run or the sweep at the same time change nothing more. Its result
 * says what it found (`escalated`, `acknowledged`, `not-due` — a clock ahead of the database's, or a
 * longer `escalateAfterMs` since: the sweep escalates it when due —, …).
 */
export default defineJob<{ alertId: number }, { outcome: EscalationOutcome }>({
  name: 'escalateAlert',
  attempts: 5,
  timeoutMs: 30_000,
  // a burst of alerts raised together comes due together; each run is a short transaction
  concurrency: 4,
  async run({ data }) {
    if (!Number.isSafeInteger(data?.alertId)) return { outcome: 'missing' };
    return { outcome: await escalate(data.alertId) };
  },
});
