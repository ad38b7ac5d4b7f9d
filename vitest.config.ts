import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/fixtures/**', 'node_modules/**'],
    env: { NODE_ENV: 'test' },
    pool: 'forks',
    // at least two files at once: most of a file's time is spent waiting (servers, timers, sockets), and
    // vitest's default (cores - 1) runs one at a time on a 2-core machine (SQLite pass: 414 s → 254 s)
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // the PGlite job store every test process copies (test/globalSetup.ts)
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Each integration file starts its own Flux server and database.
    fileParallelism: true,
  },
});
