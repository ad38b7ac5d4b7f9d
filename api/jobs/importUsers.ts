import { defineJob } from '../../lib/jobs.js';
import { type ImportData, type ImportResult, importUsers } from '../services/UserImportService.js';

const attempts = 3;

/**
 * The CSV import of users started by `POST /import/users` (docs/import.md; the work is in
 * api/services/UserImportService.ts). Idempotent: a retry, or the run after a crash or a stop, finds the
 * lines already imported unchanged and goes on.
 *
 * Four hours per attempt: without passwords 10,000 lines take about 20 s (docs/import.md#cost), but each
 * new user's password is a bcrypt hash at `auth.bcryptRounds` (about 0.2 s at the default 12, one at a time
 * so that logins keep the other bcrypt slot): a file of `import.maxBytes` (5 MB, some 50,000 lines) full of
 * passwords needs close to three hours. The timeout only catches a run that hangs; the run checks its
 * signal between lines, and every statement has its own timeout.
 */
export default defineJob<ImportData, ImportResult>({
  name: 'importUsers',
  attempts,
  timeoutMs: 4 * 3_600_000,
  run: (job) => importUsers(job, { lastAttempt: job.attempt >= attempts }),
});
