import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'vite';
import { Jobs } from '../lib/jobs.js';
import { Logger } from '../lib/log.js';

/**
 * Once per test run (vitest `globalSetup`): the web console built from the current sources into the run's
 * folder (`FLUX_TEST_CONSOLE_DIR`, served by test servers through test/helpers/browser.ts, so that the
 * browser tests never run an old build and never touch console/dist), and a PGlite job store with BullMQ's schema, created once
 * (about 6 s of CPU) and copied by every test database and test that needs one (`FLUX_TEST_JOBS_TEMPLATE`,
 * see test/helpers/server.ts) instead of being created again by each. Copies outside a test database go
 * under `FLUX_TEST_JOBS_ROOT`, removed with the template at the end of the run (test processes may be
 * ended without their `exit` handlers).
 */
export async function setup(): Promise<() => void> {
  const root = mkdtempSync(path.join(tmpdir(), 'flux-test-jobs-'));
  const dir = path.join(root, 'template');
  const jobs = await Jobs.open({
    store: { kind: 'pglite', dir },
    namespace: 'template.',
    definitions: [],
    workers: false,
    attempts: 1,
    backoffMs: 0,
    timeoutMs: 1000,
    lockDurationMs: 1000,
    stalledIntervalMs: 1000,
    shutdownTimeoutMs: 0,
    keepCompletedMs: 0,
    log: new Logger({ level: 'error', dir: false }),
  });
  await jobs.close();
  const consoleDir = path.join(root, 'console');
  await build({
    configFile: path.resolve(import.meta.dirname, '../console/vite.config.ts'),
    build: { outDir: consoleDir, sourcemap: false },
    logLevel: 'warn',
  });
  process.env.FLUX_TEST_CONSOLE_DIR = consoleDir;
  process.env.FLUX_TEST_JOBS_TEMPLATE = dir;
  process.env.FLUX_TEST_JOBS_ROOT = root;
  return () => rmSync(root, { recursive: true, force: true });
}
