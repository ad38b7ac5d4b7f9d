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
    // each worker process runs file after file, its modules loaded once (as mocha would): a fresh process
    // per file spent about 4 s loading the server's modules again, about half the CPU of a run (SQLite
    // pass on 2 cores: 9 min 55 s → 6 min 15 s). So what a module keeps that follows a server's config
    // or counts its work belongs to the running server (keyed by `Flux.express`, made anew when Flux
    // starts again; caches of constants may stay), and a test that changes process-wide things
    // (environment, fake timers, spies) puts them back.
    isolate: false,
    // the PGlite job store every test process copies (test/globalSetup.ts)
    globalSetup: ['test/globalSetup.ts'],
    // a file that leaves Flux running fails, and Flux is stopped for the next file of its worker
    setupFiles: ['test/setup/fileEnd.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Each integration file starts its own Flux server and database.
    fileParallelism: true,
  },
});
