/** The OpenAPI document (`GET /openapi.json`, `/docs`). */
export default {
  /** The routes behind `requireAuth` need a bearer token: documented with 401 and 403 replies. */
  securedBy: ['requireAuth'],
};
