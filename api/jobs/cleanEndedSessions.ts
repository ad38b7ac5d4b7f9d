import { Flux } from '../../lib/Flux.js';
import { defineJob } from '../../lib/jobs.js';
import { deleteEndedSessions } from '../services/HousekeepingService.js';

/**
 * Every hour, deletes the sessions that ended — revoked or expired — more than
 * `housekeeping.sessionRetentionMs` ago (default 30 days), at most `housekeeping.batchSize` per run
 * (docs/escalation.md#housekeeping). Each deletion is published like any destroy.
 */
export default defineJob<Record<string, never>, { deleted: number }>({
  name: 'cleanEndedSessions',
  repeat: { everyMs: 3_600_000 },
  attempts: 1,
  async run() {
    const { sessionRetentionMs: retentionMs, batchSize: limit } = Flux.config.housekeeping;
    return { deleted: await deleteEndedSessions({ retentionMs, limit }) };
  },
});
