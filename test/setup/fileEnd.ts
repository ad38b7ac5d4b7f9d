import { afterAll, expect } from 'vitest';
import { Flux } from '../../lib/Flux.js';

/**
 * Run after every test file's own hooks (vitest `setupFiles`; `afterAll` hooks run last registered first):
 * test files share their worker process (vitest.config.ts, `isolate: false`), so a file that leaves Flux
 * running would make the next file's start fail far from its cause. Such a file fails here instead, and
 * Flux is stopped for the next one.
 */
afterAll(async () => {
  const state = Flux.lifecycle.state;
  if (state === 'stopped') return;
  await Flux.stop();
  expect.fail(`${expect.getState().testPath}: Flux was left ${state}: stop it in afterAll`);
});
