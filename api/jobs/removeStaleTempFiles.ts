import { Flux } from '../../lib/Flux.js';
import { defineJob } from '../../lib/jobs.js';
import { removeStaleTempFiles, uploadTempDir } from '../services/HousekeepingService.js';

/**
 * Every hour, removes the files of `<upload.dir>/tmp` (multipart uploads being received) older than
 * `housekeeping.tempFileMaxAgeMs`: what a crash mid-request left (docs/escalation.md#housekeeping). At most
 * `housekeeping.batchSize` per run. Runs on one instance per slot: with several instances `upload.dir` is
 * shared (docs/operations.md).
 */
export default defineJob<Record<string, never>, { removed: number }>({
  name: 'removeStaleTempFiles',
  repeat: { everyMs: 3_600_000 },
  attempts: 1,
  async run({ signal }) {
    const { tempFileMaxAgeMs: maxAgeMs, batchSize: limit } = Flux.config.housekeeping;
    return { removed: await removeStaleTempFiles({ dir: uploadTempDir(), maxAgeMs, limit, signal }) };
  },
});
