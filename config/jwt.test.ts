/**
 * Tests (`NODE_ENV=test`) only: one secret for every test process (the multi-instance and CLI tests run
 * several processes that must accept each other's tokens), and none writes the project's `data/jwt-secret`.
 * Tests of the generated secret start with `secret: undefined` and a temporary `secretFile`.
 */
export default { secret: 'flux-test-secret-only-loaded-with-NODE_ENV-test' };
