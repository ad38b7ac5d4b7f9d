import { crudRoutes, type RouteTable } from '../lib/routes.js';

/**
 * The route table (SPEC §6): `'<method> <path>'` → `{action: 'Controller.action', middlewares?, file?}`.
 * Every route serves HTTP and socket virtual requests alike. Checked at start.
 */
const authenticated = ['auth', 'requireAuth'];

export default {
  'post /auth/login': { action: 'AuthController.login', middlewares: ['auth'] },
  'post /auth/jwt': { action: 'AuthController.jwt', middlewares: ['auth'] },
  'post /auth/ip': { action: 'AuthController.ip', middlewares: ['auth'] },
  'post /auth/logout': { action: 'AuthController.logout', middlewares: authenticated },
  'post /auth/as/:id': { action: 'AuthController.as', middlewares: authenticated },
  'get /auth/me': { action: 'AuthController.me', middlewares: authenticated },
  'get /auth/roles': { action: 'AuthController.roles', middlewares: authenticated },

  ...crudRoutes('team', 'TeamController', authenticated),
  ...crudRoutes('user', 'UserController', authenticated),

  'post /session/subscribe': { action: 'SessionController.subscribe', middlewares: authenticated },
  'post /session/unsubscribe': { action: 'SessionController.unsubscribe', middlewares: authenticated },
  'get /session': { action: 'SessionController.find', middlewares: authenticated },
  'get /session/:id': { action: 'SessionController.get', middlewares: authenticated },
  'delete /session/:id': { action: 'SessionController.destroy', middlewares: authenticated },
} satisfies RouteTable;
