import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/fixtures/**', 'node_modules/**'],
    env: { NODE_ENV: 'test' },
    pool: 'forks',
    // the PGlite job store every test process copies (test/globalSetup.ts)
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Each integration file starts its own Flux server and database.
    fileParallelism: true,
  },
});
