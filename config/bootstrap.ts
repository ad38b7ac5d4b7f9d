/**
 * First start (docs/reference.md#running). `FLUX_ADMIN_PASSWORD` overrides `adminPassword`; unset, a random
 * one is printed once.
 */
export default {
  adminPassword: undefined as string | undefined,
};
