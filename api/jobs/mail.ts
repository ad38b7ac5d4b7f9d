import { defineJob } from '../../lib/jobs.js';
import { deliverMail, MAIL_ATTEMPTS, type MailJobData, type MailJobResult } from '../services/MailService.js';

/**
 * Tests only: runs after a mail was sent and recorded, before the run ends; a throw fails the attempt as a
 * crash at that point would (the job runs again, and must not send again). Never set in the application.
 */
export const mailJobTesting: { afterRecorded?: (data: MailJobData) => void } = {};

/**
 * Sends one queued mail (docs/mail.md), added by `sendMail` (api/services/MailService.ts) with the mail's
 * key as job id. Retried with exponential backoff from 5 s when the SMTP server fails; a run after the
 * mail was sent sends nothing.
 */
export default defineJob<MailJobData, MailJobResult>({
  name: 'mail',
  attempts: MAIL_ATTEMPTS,
  backoffMs: 5_000,
  // the mailer gives up on a silent server after 10 s (connection) or 30 s (a reply)
  timeoutMs: 60_000,
  concurrency: 2,
  async run(job) {
    const result = await deliverMail(job);
    mailJobTesting.afterRecorded?.(job.data);
    return result;
  },
});
