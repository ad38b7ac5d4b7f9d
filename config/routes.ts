import { crudRoutes, type RouteTable } from '../lib/routes.js';

/**
 * The route table: `'<method> <path>'` → `{action: 'Controller.action', middlewares?, file?, httpOnly?}`.
 * Every route serves HTTP and socket virtual requests alike, except `httpOnly` ones (operator routes, which
 * a reverse proxy can only block by path for HTTP): over a socket they answer 404. Checked at start.
 */
const authenticated = ['auth', 'requireAuth'];

export default {
  'get /health': { action: 'SystemController.health' },
  'get /ready': { action: 'SystemController.ready' },
  'get /metrics': { action: 'SystemController.metrics', httpOnly: true },
  'get /openapi.json': { action: 'SystemController.openapi', httpOnly: true },

  'post /auth/login': { action: 'AuthController.login', middlewares: ['auth', 'loginLimit'] },
  'post /auth/jwt': { action: 'AuthController.jwt', middlewares: ['auth'] },
  'post /auth/ip': { action: 'AuthController.ip', middlewares: ['auth'] },
  // anonymous (`auth` resolves the tenant); the login limits are counted by the action (docs/mail.md)
  'post /auth/reset': { action: 'AuthController.reset', middlewares: ['auth'] },
  'post /auth/reset/confirm': { action: 'AuthController.resetConfirm', middlewares: ['auth'] },
  'post /auth/logout': { action: 'AuthController.logout', middlewares: authenticated },
  'post /auth/as/:id': { action: 'AuthController.as', middlewares: authenticated },
  'get /auth/me': { action: 'AuthController.me', middlewares: authenticated },
  'get /auth/roles': { action: 'AuthController.roles', middlewares: authenticated },

  ...crudRoutes('team', 'TeamController', authenticated),
  'post /user/avatar/:id': {
    action: 'UserController.uploadAvatar',
    middlewares: authenticated,
    file: 'avatar',
  },
  'get /user/avatar/:id': { action: 'UserController.getAvatar', middlewares: authenticated },
  ...crudRoutes('user', 'UserController', authenticated),
  // the CSV file is read by the action (multipart field `file`, HTTP only), after its permission check
  'post /import/users': { action: 'ImportController.users', middlewares: authenticated },

  ...crudRoutes('alert', 'AlertController', authenticated),
  'put /alert/:id/users': { action: 'AlertController.updateAssignedUsers', middlewares: authenticated },
  'post /alert/:id/acknowledge': { action: 'AlertController.acknowledge', middlewares: authenticated },

  ...crudRoutes('alertbutton', 'AlertButtonController', authenticated),
  'post /alertbutton/:id/alert': { action: 'AlertButtonController.raiseAlert', middlewares: authenticated },

  'get /message/channels': { action: 'MessageController.channels', middlewares: authenticated },
  ...crudRoutes('message', 'MessageController', authenticated),

  'post /upload/presign': { action: 'UploadController.presign', middlewares: authenticated },
  'post /upload/confirm': { action: 'UploadController.confirm', middlewares: authenticated },
  'get /upload': { action: 'UploadController.find', middlewares: authenticated },
  'get /upload/:id': { action: 'UploadController.get', middlewares: authenticated },

  'post /tenant': { action: 'TenantController.create', middlewares: authenticated },
  'get /tenant': { action: 'TenantController.find', middlewares: authenticated },
  'get /tenant/:id': { action: 'TenantController.get', middlewares: authenticated },
  'put /tenant/:id/settings': { action: 'TenantController.updateSettings', middlewares: authenticated },
  'get /tenant/:id/usage': { action: 'TenantController.usage', middlewares: authenticated },

  // Server-Sent Events: HTTP only, a socket subscribes instead (docs/protocol.md §8)
  'get /events': { action: 'EventController.stream', middlewares: authenticated, httpOnly: true },

  'post /session/subscribe': { action: 'SessionController.subscribe', middlewares: authenticated },
  'post /session/unsubscribe': { action: 'SessionController.unsubscribe', middlewares: authenticated },
  'get /session': { action: 'SessionController.find', middlewares: authenticated },
  'get /session/:id': { action: 'SessionController.get', middlewares: authenticated },

  'get /stats': { action: 'StatsController.read', middlewares: authenticated },

  'get /job': { action: 'JobController.find', middlewares: authenticated },
  'get /job/:id': { action: 'JobController.get', middlewares: authenticated },
  'delete /session/:id': { action: 'SessionController.destroy', middlewares: authenticated },
} satisfies RouteTable;
