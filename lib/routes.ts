/**
 * The route table: `config/routes.ts` maps `'<method> <path>'` to
 * `{action, middlewares?, file?, httpOnly?}`.
 * It is parsed and checked once, at start, into typed records: an unknown controller, action or
 * middleware, or a malformed key, throws a {@link RouteTableError} naming the route, and the server does
 * not start. Pure: no Express in here.
 */

export const httpMethods = ['get', 'post', 'put', 'patch', 'delete'] as const;
export type HttpMethod = (typeof httpMethods)[number];

/** One entry of `config/routes.ts`. */
export interface RouteDefinition {
  /** `Controller.action`, e.g. `UserController.find`. */
  action: string;
  /** Names of middlewares run after the global ones, in order. */
  middlewares?: string[];
  /** Multipart field taken by multer (single file); the route then only accepts HTTP uploads. */
  file?: string;
  /**
   * Serve HTTP requests only: a socket virtual request to this route is answered 404 `NotFound` as if
   * the route did not exist. For operator routes (metrics, API description) that a reverse proxy can
   * block by path for HTTP, but not inside the socket.io connection it must pass.
   */
  httpOnly?: boolean;
}

export type RouteTable = Record<string, RouteDefinition>;

/** A checked route. */
export interface RouteRecord {
  key: string;
  method: HttpMethod;
  path: string;
  controller: string;
  action: string;
  middlewares: string[];
  file?: string;
  /** Set when socket virtual requests must not reach the route (see {@link RouteDefinition.httpOnly}). */
  httpOnly?: true;
}

export class RouteTableError extends Error {
  constructor(route: string, problem: string) {
    super(`Route "${route}": ${problem}`);
    this.name = 'RouteTableError';
  }
}

const keyPattern = /^(get|post|put|patch|delete) (\/[A-Za-z0-9_\-./:]*)$/;
const actionPattern = /^([A-Z][A-Za-z0-9]*Controller)\.([a-zA-Z_][A-Za-z0-9_]*)$/;
const fieldPattern = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const routeOptions = ['action', 'middlewares', 'file', 'httpOnly'];

/** What the table may refer to. */
export interface RouteTargets {
  /** Controller instances by name; an action must be a function property of one. */
  controllers: Readonly<Record<string, object>>;
  /** Names of the middlewares that exist. */
  middlewares: ReadonlySet<string>;
}

/**
 * Parses and checks a route table.
 * @throws RouteTableError for a malformed key, an unknown option, controller, action or middleware, a bad
 *   `file` or a non-boolean `httpOnly`.
 */
export function parseRouteTable(table: unknown, targets: RouteTargets): RouteRecord[] {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new RouteTableError('(table)', 'config/routes.ts must export an object');
  }
  return Object.entries(table as Record<string, unknown>).map(([key, raw]) => {
    const match = keyPattern.exec(key);
    if (!match) throw new RouteTableError(key, 'the key must be "<get|post|put|patch|delete> /path"');
    if (typeof raw !== 'object' || raw === null)
      throw new RouteTableError(key, 'must be {action, middlewares?, file?, httpOnly?}');
    const definition = raw as Partial<Record<keyof RouteDefinition, unknown>>;
    const unknownKeys = Object.keys(definition).filter((k) => !routeOptions.includes(k));
    if (unknownKeys.length) throw new RouteTableError(key, `unknown option "${unknownKeys[0]}"`);
    const actionMatch = typeof definition.action === 'string' ? actionPattern.exec(definition.action) : null;
    if (!actionMatch) throw new RouteTableError(key, 'action must be "SomethingController.action"');
    const [, controllerName, actionName] = actionMatch;
    const controller = targets.controllers[controllerName] as Record<string, unknown> | undefined;
    if (!controller) throw new RouteTableError(key, `unknown controller "${controllerName}"`);
    if (typeof controller[actionName] !== 'function' || actionName === 'constructor') {
      throw new RouteTableError(key, `unknown action "${actionName}" of ${controllerName}`);
    }
    const middlewares = definition.middlewares ?? [];
    if (!Array.isArray(middlewares) || middlewares.some((m) => typeof m !== 'string')) {
      throw new RouteTableError(key, 'middlewares must be a list of names');
    }
    for (const name of middlewares as string[]) {
      if (!targets.middlewares.has(name)) throw new RouteTableError(key, `unknown middleware "${name}"`);
    }
    if (
      definition.file !== undefined &&
      (typeof definition.file !== 'string' || !fieldPattern.test(definition.file))
    ) {
      throw new RouteTableError(key, 'file must be a multipart field name');
    }
    if (definition.httpOnly !== undefined && typeof definition.httpOnly !== 'boolean') {
      throw new RouteTableError(key, 'httpOnly must be true or false');
    }
    return {
      key,
      method: match[1] as HttpMethod,
      path: match[2],
      controller: controllerName,
      action: actionName,
      middlewares: middlewares as string[],
      ...(definition.file ? { file: definition.file as string } : {}),
      ...(definition.httpOnly ? { httpOnly: true as const } : {}),
    };
  });
}

/**
 * The generic CRUD routes of one model (docs/reference.md#generic-crud), for spreading into
 * `config/routes.ts`.
 * @example { ...crudRoutes('team', 'TeamController', ['auth', 'requireAuth']) }
 */
export function crudRoutes(path: string, controller: string, middlewares: string[]): RouteTable {
  const route = (action: string): RouteDefinition => ({ action: `${controller}.${action}`, middlewares });
  return {
    [`post /${path}/subscribe`]: route('subscribe'),
    [`post /${path}/unsubscribe`]: route('unsubscribe'),
    [`get /${path}`]: route('find'),
    [`get /${path}/:id`]: route('get'),
    [`post /${path}`]: route('create'),
    [`put /${path}/:id`]: route('update'),
    [`patch /${path}/:id`]: route('update'),
    [`delete /${path}/:id`]: route('destroy'),
  };
}
