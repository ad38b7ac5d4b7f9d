import { defineJob } from '../../lib/jobs.js';
import { type ImportData, type ImportResult, importUsers } from '../services/UserImportService.js';

const attempts = 3;

/**
 * The CSV import of users started by `POST /import/users` (docs/import.md; the work is in
 * api/services/UserImportService.ts). Idempotent: a retry, or the run after a crash, finds the lines already
 * imported unchanged and goes on. 30 minutes per attempt: 10,000 new users with passwords cost 10,000 bcrypt
 * hashes (`auth.bcryptRounds`), minutes at the default cost; without passwords an import of that size takes
 * seconds (docs/performance.md).
 */
export default defineJob<ImportData, ImportResult>({
  name: 'importUsers',
  attempts,
  timeoutMs: 30 * 60_000,
  run: (job) => importUsers(job, { lastAttempt: job.attempt >= attempts }),
});
