import { Flux } from '../../lib/Flux.js';
import { defineJob } from '../../lib/jobs.js';
import { removeUnconfirmedUploads } from '../services/HousekeepingService.js';

/**
 * Every hour, deletes the S3 objects uploaded with a pre-signed URL and never confirmed, once the URL
 * expired more than `housekeeping.unconfirmedUploadGraceMs` ago (docs/escalation.md#housekeeping). At
 * most `housekeeping.batchSize` keys per run; nothing when `upload.s3` is not set. A storage error fails
 * the attempt (retried); the keys done before it stay done.
 */
export default defineJob<Record<string, never>, { removed: number }>({
  name: 'removeUnconfirmedUploads',
  repeat: { everyMs: 3_600_000 },
  attempts: 3,
  backoffMs: 30_000,
  async run({ signal }) {
    const { unconfirmedUploadGraceMs: graceMs, batchSize: limit } = Flux.config.housekeeping;
    return { removed: await removeUnconfirmedUploads({ graceMs, limit, signal }) };
  },
});
