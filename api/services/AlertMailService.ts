import { Op } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import { seriousAlert } from '../mail/seriousAlert.js';
import type { Alert } from '../models/Alert.js';
import { sendMail } from './MailService.js';

/**
 * Serious alerts by e-mail (docs/mail.md): an alert created `serious`, or updated to `serious` (by a user
 * or by escalation), is mailed to each user of its receiver team who has an e-mail — once per alert and
 * user. The write's reaction (api/reactions.ts) only queues an `alertMail` job (api/jobs/alertMail.ts,
 * id `alert-<id>-serious`), without holding up the write; the job reads the team and queues one `mail`
 * job per user (key `alert-<id>-serious-<userId>`), both idempotent, so a retry or a second change to
 * `serious` queues nothing twice while the jobs are kept (`jobs.keepCompletedMs`).
 */

/** The job that fans an alert out to mails. */
export const ALERT_MAIL_JOB = 'alertMail';

/** The data of an `alertMail` job. */
export interface AlertMailData {
  alertId: number;
}

/** The queue of Flux (lib/jobs.ts), as far as this service uses it. */
interface JobQueue {
  add(name: string, data: unknown, options?: { id?: string }): Promise<{ id: string }>;
}

/**
 * Queues the mails of serious alert `alert` (an `alertMail` job). Never rejects: a failure is logged (the
 * alert itself is written and published all the same).
 */
export async function announceSeriousAlert(alert: Pick<Alert, 'id'>): Promise<void> {
  const jobs = (Flux as unknown as { jobs?: JobQueue }).jobs;
  if (!jobs) {
    Flux.log.warn(`alert ${alert.id} is serious but not e-mailed: no job queue in this process`);
    return;
  }
  try {
    const data: AlertMailData = { alertId: alert.id };
    await jobs.add(ALERT_MAIL_JOB, data, { id: `alert-${alert.id}-serious` });
  } catch (err) {
    Flux.log.error(`could not queue the e-mails of serious alert ${alert.id}:`, err);
  }
}

/**
 * The `alertMail` job's work: one `mail` per user of the alert's receiver team with an e-mail (none for
 * an alert without receiver, or one that is gone).
 * @returns how many mails were queued (an already queued one counts: its key is the same)
 * @throws the database's or the job store's error (the job is retried)
 */
export async function queueSeriousAlertMails(alertId: number): Promise<{ queued: number }> {
  const alert = await Flux.Alert.findByPk(alertId);
  if (!alert || alert.receiverTeamId === null) return { queued: 0 };
  const [tenant, receiver, sender, users] = await Promise.all([
    Flux.Tenant.findByPk(alert.tenantId),
    Flux.Team.findOne({ where: { id: alert.receiverTeamId, tenantId: alert.tenantId } }),
    alert.senderTeamId === null
      ? null
      : Flux.Team.findOne({ where: { id: alert.senderTeamId, tenantId: alert.tenantId } }),
    Flux.User.findAll({
      where: { tenantId: alert.tenantId, teamId: alert.receiverTeamId, email: { [Op.ne]: null } },
      order: [['id', 'ASC']],
    }),
  ]);
  if (!tenant || !receiver) return { queued: 0 };
  for (const user of users) {
    await sendMail({
      key: `alert-${alert.id}-serious-${user.id}`,
      to: user.email!,
      ...seriousAlert({
        name: user.name || user.login,
        tenant: tenant.name,
        alertId: alert.id,
        title: alert.title,
        message: alert.message,
        senderTeam: sender?.name ?? null,
        receiverTeam: receiver.name,
        raisedAt: alert.createdAt,
        escalated: Boolean(alert.escalatedAt),
      }),
    });
  }
  return { queued: users.length };
}
