import { Op, type Transaction } from 'sequelize';
import { NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { Alert } from '../models/Alert.js';

/**
 * Acknowledgement and escalation of alerts (docs/escalation.md). Both write through the Alert model, so
 * the change is published to subscribers like any update and the reactions to writes run (an alert that
 * becomes `serious` is e-mailed). Both read the alert under a lock in their own transaction, so that an
 * acknowledgement and an escalation of the same alert never interleave: the escalation re-checks, on the
 * committed row, that the alert is still an unacknowledged, unescalated `warning`.
 */

/** The job of one alert's escalation (`api/jobs/escalateAlert.ts`). */
export const ESCALATE_JOB = 'escalateAlert';

/** What one escalation attempt found, and did when `escalated`. */
export type EscalationOutcome =
  | 'escalated'
  | 'disabled'
  | 'missing'
  | 'not-warning'
  | 'acknowledged'
  | 'already-escalated'
  | 'not-due';

/** When, by the clock of the caller, and after how long (ms) an alert is due to escalate. */
export interface EscalationClock {
  /** Default: now. */
  now?: Date;
  /** Default: `alerts.escalateAfterMs`. */
  afterMs?: number;
}

/**
 * Runs `fn` on alert `id` read under a write lock, in a transaction of its own: on PostgreSQL
 * `SELECT … FOR UPDATE`, a second writer of the row waits for the commit and then reads the committed row;
 * SQLite's transactions take the write lock at `BEGIN` (IMMEDIATE, lib/database.ts), so they run one after
 * the other. Changes saved with `transaction` are published after the commit.
 */
function withLockedAlert<T>(
  id: number,
  fn: (alert: Alert | null, transaction: Transaction) => Promise<T>,
): Promise<T> {
  return Flux.sequelize.transaction(async (transaction) => {
    const alert = await Flux.Alert.findByPk(id, { transaction, lock: transaction.LOCK.UPDATE });
    return fn(alert, transaction);
  });
}

/**
 * Escalates alert `alertId` if it is due: a `warning`, not acknowledged, never escalated, raised at least
 * `afterMs` before `now` (`disabled`, and nothing changes, when `afterMs` is 0: escalation is off). It becomes `serious` with `escalatedAt = now`, in one locked transaction (see
 * {@link withLockedAlert}): however many jobs or instances try at once, or again after a crash, the alert
 * escalates once. An alert set back to `warning` after its escalation stays so (`escalatedAt` is set).
 * @returns what it found; `escalated` only for the call that changed the alert
 */
export function escalate(alertId: number, clock: EscalationClock = {}): Promise<EscalationOutcome> {
  const now = clock.now ?? new Date();
  const afterMs = clock.afterMs ?? Flux.config.alerts.escalateAfterMs;
  if (afterMs <= 0) return Promise.resolve('disabled');
  return withLockedAlert(alertId, async (alert, transaction): Promise<EscalationOutcome> => {
    if (!alert) return 'missing';
    if (alert.severity !== 'warning') return 'not-warning';
    if (alert.acknowledgedAt) return 'acknowledged';
    if (alert.escalatedAt) return 'already-escalated';
    if (alert.createdAt.getTime() + afterMs > now.getTime()) return 'not-due';
    alert.set({ severity: 'serious', escalatedAt: now });
    await alert.save({ transaction });
    return 'escalated';
  });
}

/**
 * Escalates the overdue warnings of every tenant — not acknowledged, never escalated, raised `afterMs`
 * or more before `now` — oldest first, at most `limit` of them, stopping early when `signal` aborts (each through {@link escalate}, so a
 * concurrent run or acknowledgement cannot make one escalate twice). The query reads the partial index
 * `alerts_pending_escalation` (migrations/0010): its cost follows the alerts still pending, not all alerts.
 * @returns how many were found overdue, and how many of them this call escalated
 */
export async function escalateOverdue(
  clock: EscalationClock & { limit: number; signal?: AbortSignal },
): Promise<{ overdue: number; escalated: number }> {
  const now = clock.now ?? new Date();
  const afterMs = clock.afterMs ?? Flux.config.alerts.escalateAfterMs;
  if (afterMs <= 0) return { overdue: 0, escalated: 0 };
  const overdue = (await Flux.Alert.findAll({
    attributes: ['id'],
    where: {
      severity: 'warning',
      acknowledgedAt: null,
      escalatedAt: null,
      createdAt: { [Op.lte]: new Date(now.getTime() - afterMs) },
    },
    order: [['createdAt', 'ASC']],
    limit: clock.limit,
    raw: true,
  })) as unknown as Array<{ id: number }>;
  let escalated = 0;
  for (const { id } of overdue) {
    clock.signal?.throwIfAborted();
    if ((await escalate(id, { now, afterMs })) === 'escalated') escalated++;
  }
  return { overdue: overdue.length, escalated };
}

/**
 * Acknowledges alert `alertId` for user `userId`: sets `acknowledgedAt` (now) and `acknowledgedById`,
 * unless the alert already was acknowledged — then nothing changes and the first time stays. `check`
 * runs on the locked, current row before any change (throw to refuse, e.g. a permission re-checked on it).
 * An acknowledged alert never escalates; one acknowledged after its escalation stays `serious`.
 * @returns the alert as committed
 * @throws NotFoundError when the alert is gone; whatever `check` throws
 */
export function acknowledge(
  alertId: number,
  userId: number,
  check: (alert: Alert) => void = () => {},
  now: Date = new Date(),
): Promise<Alert> {
  return withLockedAlert(alertId, async (alert, transaction) => {
    if (!alert) throw new NotFoundError(`No alert ${alertId}`);
    check(alert);
    if (alert.acknowledgedAt) return alert;
    alert.set({ acknowledgedAt: now, acknowledgedById: userId });
    await alert.save({ transaction });
    return alert;
  });
}

/**
 * Schedules the escalation of a new alert: a delayed job `escalateAlert` due `alerts.escalateAfterMs`
 * after it was raised, with the idempotency key `escalate-<id>` (adding it twice adds one job). Nothing
 * for an alert that is not a `warning`, or when escalation is off (0). Should the job store be
 * unavailable, the repeatable sweep (`api/jobs/escalationSweep.ts`) escalates the alert instead, a little
 * later.
 */
export async function scheduleEscalation(alert: Alert): Promise<void> {
  const afterMs = Flux.config.alerts.escalateAfterMs;
  if (!afterMs || alert.severity !== 'warning') return;
  const delayMs = Math.max(0, alert.createdAt.getTime() + afterMs - Date.now());
  await Flux.jobs.add(ESCALATE_JOB, { alertId: alert.id }, { id: `escalate-${alert.id}`, delayMs });
}
