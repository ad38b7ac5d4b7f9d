/**
 * Permission namespaces that are not models, with their levels. Model namespaces come from each model's
 * `permissionLevels`. `config/roles.ts` may only grant what exists here or on a model.
 */
export default {
  auth: ['as'],
  /** Background jobs (`GET /job`, every job of the tenant): `job/admin`. */
  job: ['admin'],
  /** Live statistics (`GET /stats`, the admins room and its `stats` events, docs/stats.md): `stats/read`. */
  stats: ['read'],
};
