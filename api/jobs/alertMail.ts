import { defineJob } from '../../lib/jobs.js';
import { ALERT_MAIL_JOB, type AlertMailData, queueSeriousAlertMails } from '../services/AlertMailService.js';

/**
 * Fans a serious alert out to one `mail` job per user of its receiver team with an e-mail (docs/mail.md),
 * queued by the Alert reactions (api/reactions.ts) with id `alert-<id>-serious`. Idempotent: each mail's
 * key names the alert and the user.
 */
export default defineJob<AlertMailData, { queued: number }>({
  name: ALERT_MAIL_JOB,
  attempts: 5,
  backoffMs: 2_000,
  timeoutMs: 60_000,
  run: (job) => queueSeriousAlertMails(job.data.alertId),
});
