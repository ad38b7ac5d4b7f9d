/**
 * Tests: the lowest bcrypt cost keeps logins fast; login limits and the per-address share of the
 * password queue out of the way (every test client speaks from 127.0.0.1; dedicated tests set them).
 */
export default {
  bcryptRounds: 4,
  loginLimit: { windowMs: 60_000, perAccount: 10_000, perAddress: 10_000 },
  hashPerAddressQueue: 10_000,
};
