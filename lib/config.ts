import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import deepmerge from 'deepmerge';
import { z } from 'zod';
import { DEFAULT_QUERY_LIMITS } from './query.js';

/**
 * Configuration loading (docs/reference.md#configuration): `config/X.ts` becomes `config.X`;
 * `X.<NODE_ENV>.ts` is deep-merged over it, then `X.local.ts`; environment variables override files; the
 * result is validated before `listen()`.
 */

export type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep merge of plain objects, later sources winning; arrays, class instances and functions replace.
 * @example mergeConfig({ a: { b: 1, c: [1] } }, { a: { c: [2] } }) // => { a: { b: 1, c: [2] } }
 */
export function mergeConfig(...sources: PlainObject[]): PlainObject {
  return deepmerge.all(sources, {
    arrayMerge: (_target, source) => source,
    isMergeableObject: isPlainObject,
  }) as PlainObject;
}

/** How a file in `config/` is used, from its name alone. */
export type ConfigFileRole =
  | { kind: 'base'; key: string }
  | { kind: 'env'; key: string; env: string }
  | { kind: 'local'; key: string }
  | { kind: 'ignored' }
  | { kind: 'unknown' };

const configFileName = /^([a-zA-Z][a-zA-Z0-9]*)(?:\.([a-zA-Z0-9-]+))?\.(?:ts|js|mjs)$/;

/** Classifies a file name of `config/`; `.dist` files and declaration files are ignored silently. */
export function classifyConfigFile(file: string): ConfigFileRole {
  if (/\.dist(\.[a-z]+)?$/.test(file) || file.endsWith('.d.ts') || file.endsWith('.map'))
    return { kind: 'ignored' };
  const match = configFileName.exec(file);
  if (!match) return { kind: 'unknown' };
  const [, key, qualifier] = match;
  if (!qualifier) return { kind: 'base', key };
  if (qualifier === 'local') return { kind: 'local', key };
  return { kind: 'env', key, env: qualifier };
}

/** Environment variable → the config key it sets (its path). */
export type EnvOverrides = Readonly<Record<string, readonly string[]>>;

/**
 * Environment variables of the framework's keys (docs/reference.md#running) and the config key each
 * overrides.
 */
export const envOverrides: EnvOverrides = {
  PORT: ['server', 'port'],
  HOST: ['server', 'host'],
  DATABASE_URL: ['database', 'url'],
  REDIS_URL: ['redis', 'url'],
  JWT_SECRET: ['jwt', 'secret'],
  LOG_LEVEL: ['log', 'level'],
  /** The reverse proxies to trust (Express `trust proxy`: `loopback`, addresses or subnets, comma-separated). */
  FLUX_TRUST_PROXY: ['server', 'trustProxy'],
  /** Several deployments on one Redis: each its own prefix of keys and channels. */
  FLUX_REDIS_PREFIX: ['redis', 'prefix'],
  /** Behind a load balancer: how long a stopping instance keeps serving first (docs/operations.md §8). */
  FLUX_DRAIN_DELAY_MS: ['server', 'drainDelayMs'],
  /** The accept queue's length (`server.backlog`), up to the kernel's `net.core.somaxconn`. */
  FLUX_LISTEN_BACKLOG: ['server', 'backlog'],
  /** The folder of the embedded job store (PGlite), e.g. on a volume of its own (docs/jobs.md). */
  FLUX_JOBS_DIR: ['jobs', 'dir'],
};

/**
 * The config object built from the environment variables that are set (empty strings count as unset).
 * @param overrides the variables read: the framework's, plus those an application registers
 *   ({@link ConfigSchema.env}).
 */
export function configFromEnv(env: NodeJS.ProcessEnv, overrides: EnvOverrides = envOverrides): PlainObject {
  const result: PlainObject = {};
  for (const [name, keyPath] of Object.entries(overrides)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let node = result;
    for (const key of keyPath.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as PlainObject;
    }
    node[keyPath[keyPath.length - 1]] = value;
  }
  return result;
}

const logLevels = ['error', 'warn', 'info', 'debug'] as const;
const mimeType = /^[\w.+-]+\/[\w.+-]+$/;
const defaultMimeTypes = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

/**
 * Schema of the keys the framework reads. The application's own keys are checked by the schema it
 * registers ({@link ConfigSchema}); those it leaves unregistered (e.g. `roles`) by their owners.
 */
export const coreConfigSchema = z.looseObject({
  server: z.object({
    port: z.coerce.number().int().min(0).max(65535).default(3000),
    host: z.string().default('0.0.0.0'),
    /** The accept queue, connections (`backlog` of `server.listen()`), up to `net.core.somaxconn`. */
    backlog: z.coerce.number().int().min(1).max(65_535).default(4096),
    /** Middleware names run on every route after `dataParser`, before the route's own. */
    middlewares: z.array(z.string()).default([]),
    /** Maximum JSON body, in bytes or a `bytes` string such as `'100kb'`. */
    bodyLimit: z.union([z.number().int().positive(), z.string()]).default('100kb'),
    cors: z
      .object({ origin: z.union([z.boolean(), z.string(), z.array(z.string())]).default(false) })
      .default({ origin: false }),
    /**
     * Host names this server answers to (`Host` of HTTP requests and socket handshakes; lib/allowedHosts.ts):
     * `true` any, or a list (`.example.org` includes subdomains). Set it where a browser can reach the
     * server (DNS rebinding).
     */
    allowedHosts: z.union([z.literal(true), z.array(z.string().min(1)).min(1)]).default(true),
    /** Express `trust proxy` setting: false, or the proxies' addresses. */
    trustProxy: z.union([z.boolean(), z.string(), z.array(z.string())]).default(false),
    /** Deepest nesting of objects and arrays accepted in a body or socket `data` (400 beyond). */
    maxDepth: z.number().int().min(1).max(1000).default(32),
    /** On stop (SIGTERM), how long in-flight HTTP and socket requests may take to finish, ms. */
    shutdownTimeoutMs: z.number().int().min(0).default(8_000),
    /**
     * On stop, how long to keep serving before closing the port, ms (env `FLUX_DRAIN_DELAY_MS`): `/ready`
     * answers 503, so a load balancer that probes it stops sending requests here. After it, the HTTP
     * connections still open are left to their clients to close (docs/operations.md §8). 0: close at once.
     */
    drainDelayMs: z.coerce.number().int().min(0).max(60_000).default(0),
  }),
  redis: z
    .object({
      /** `redis://…` (env `REDIS_URL`): shared bus, revocation list and rate limits for several instances. */
      url: z.string().optional(),
      /** Prefix of every Redis key and channel of this deployment. */
      prefix: z.string().default('flux:'),
    })
    .default({ prefix: 'flux:' }),
  rateLimit: z
    .object({
      /** Requests per address and window, HTTP and socket virtual requests alike (rate-limiter-flexible). */
      windowMs: z.number().int().positive().default(60_000),
      limit: z.number().int().positive().default(600),
    })
    .default({ windowMs: 60_000, limit: 600 }),
  database: z.object({
    url: z.string().optional(),
    storage: z.string().default('data/flux.sqlite'),
    logging: z.boolean().default(false),
    /** PostgreSQL connection pool of each instance (Sequelize `pool`); idle and acquire in ms. */
    pool: z
      .object({
        max: z.number().int().min(1).max(1000).default(10),
        min: z.number().int().min(0).default(0),
        idle: z.number().int().min(0).default(10_000),
        acquire: z.number().int().positive().default(60_000),
      })
      .refine((pool) => pool.min <= pool.max, { message: 'min must not exceed max' })
      .prefault({}),
    /**
     * Longest run of any one SQL statement, ms (PostgreSQL `statement_timeout`; SQLite interrupts it);
     * past it the request answers 503 `QueryTimeout`. 0: no timeout.
     */
    statementTimeoutMs: z.number().int().min(0).default(5_000),
  }),
  /** Bounds on `find` filters (400 `ValidationError` over one); defaults in `config/query.ts`. */
  query: z
    .object({
      /** Conditions in all: every object and every key of a filter, nested `and`/`or`/`not` included. */
      maxConditions: z.number().int().min(1).default(DEFAULT_QUERY_LIMITS.maxConditions),
      /** Characters in all the `like`/`notLike` patterns of one filter. */
      maxPatternLength: z.number().int().min(1).default(DEFAULT_QUERY_LIMITS.maxPatternLength),
      /** Wildcards (`%`, `_`) in all the `like`/`notLike` patterns of one filter. */
      maxWildcards: z.number().int().min(0).default(DEFAULT_QUERY_LIMITS.maxWildcards),
      /**
       * Rows a `find` with `count` counts at most; past it `X-Total-Count` is this number and
       * `X-Total-Count-Capped: true`.
       */
      maxCount: z.number().int().min(1).default(10_000),
      /**
       * Admission of expensive reads — a `find` with `like`/`notLike` patterns, or a page larger than
       * `largePage` — defaults in `config/query.ts`.
       */
      expensive: z
        .object({
          /** Pages larger than this many items are expensive reads. */
          largePage: z.number().int().min(1).default(100),
          /** Expensive reads running at once in the process. */
          concurrency: z.number().int().min(1).max(100).default(1),
          /** Expensive reads of all clients that may wait their turn; past it 503 `Busy`. */
          queueLength: z.number().int().min(0).default(32),
          /** Expensive reads of one client (session, or address) running at once. */
          perClient: z.number().int().min(1).default(1),
          /** Expensive reads of one client that may wait behind its own; past it 429. */
          perClientQueue: z.number().int().min(0).default(4),
        })
        .prefault({}),
    })
    .prefault({}),
  jwt: z.object({
    /**
     * HS256 signing secret (env `JWT_SECRET`). Unset (development, tests): the random secret of
     * `secretFile`, made on the first start. Required, at least 32 characters, with `NODE_ENV=production`.
     */
    secret: z.string().min(1).optional(),
    /** Where the generated secret is kept (mode 0600), relative to the root dir. */
    secretFile: z.string().min(1).default('data/jwt-secret'),
    /** Token lifetime, seconds or a `ms`-style string such as `'7d'`. */
    expiresIn: z.union([z.number().int().positive(), z.string()]).default('7d'),
  }),
  log: z.object({
    level: z.enum(logLevels).default('info'),
    /** Folder of `production.log` and `development.log`, relative to the root dir; `false` disables files. */
    dir: z.union([z.string(), z.literal(false)]).default('logs'),
  }),
  socket: z
    .object({
      path: z.string().default('/socket.io'),
      /** The route a handshake `auth.token` is replayed to, as `{ [tokenField]: token }`. */
      handshakeAuth: z.object({ url: z.string(), tokenField: z.string() }).optional(),
      /** Requests one socket may have in flight at once; more are answered 429 at once. */
      maxInFlight: z.number().int().positive().default(32),
      /**
       * socket.io connections one client address (the forwarded one behind a trusted proxy) may hold at
       * once on this instance; more are refused at the handshake with 429 `TooManyRequests`. 0: no cap.
       */
      maxConnectionsPerAddress: z.number().int().min(0).default(50),
    })
    .prefault({}),
  /** Server-Sent Events streams of model events (`GET /events`, lib/eventStreams.ts). */
  events: z
    .object({
      /**
       * Interval between two `: ping` comment lines of an open stream, ms: keeps proxies and clients from
       * taking a quiet stream for a dead one. Keep it under every idle timeout on the way (nginx
       * `proxy_read_timeout`: 60 s by default, 75 s in deploy/nginx.conf).
       */
      heartbeatMs: z.number().int().min(10).max(3_600_000).default(15_000),
      /**
       * Streams one user (all its sessions together) may hold open at once on this instance; more are
       * refused with 429 `TooManyRequests`. 0: no cap.
       */
      maxStreamsPerUser: z.number().int().min(0).default(10),
    })
    .prefault({}),
  /**
   * Background jobs (lib/jobs.ts, docs/jobs.md): BullMQ on Redis with `redis.url`, else on PostgreSQL with
   * a `postgres://` `database.url`, else on PGlite (PostgreSQL in WebAssembly) in a folder.
   */
  jobs: z
    .object({
      /** Where the queues live; `auto`: as above. */
      store: z.enum(['auto', 'redis', 'postgres', 'pglite']).default('auto'),
      /**
       * The PGlite folder; default: beside the SQLite file (`<database.storage>.jobs`), in memory for an
       * in-memory database. One process at a time (a lock file).
       */
      dir: z.string().min(1).optional(),
      /** Whether this process runs jobs (false: it only adds and reads them). */
      workers: z.boolean().default(true),
      /** Runs of a job before it fails for good, the first included. */
      attempts: z.number().int().min(1).max(100).default(3),
      /** Delay before the first retry, ms; doubled at each further one (exponential backoff). */
      backoffMs: z.number().int().min(0).default(1_000),
      /** Longest run of one attempt, ms: past it the attempt fails and its `signal` aborts. */
      timeoutMs: z.number().int().min(1).default(60_000),
      /**
       * How long an instance holds an active job without renewing its lock, ms (BullMQ `lockDuration`): a
       * job of an instance killed mid-run is given to another after at most this plus `stalledIntervalMs`.
       */
      lockDurationMs: z.number().int().min(100).default(30_000),
      /** Interval of the check for jobs whose holder died, ms (BullMQ `stalledInterval`). */
      stalledIntervalMs: z.number().int().min(100).default(30_000),
      /** On stop, how long active jobs may take to finish, ms; past it they return to the queue. */
      shutdownTimeoutMs: z.number().int().min(0).default(10_000),
      /** Completed jobs are kept this long, ms (then removed); failed ones are kept until removed. */
      keepCompletedMs: z.number().int().min(0).default(86_400_000),
    })
    .prefault({}),
  /** Prometheus metrics: by default `GET /metrics` on the main port (HTTP only). */
  metrics: z
    .object({
      /**
       * Serve `GET /metrics` on its own HTTP listener on this port instead (then 404 on the main port),
       * e.g. one that only the monitoring network reaches. Unset: the main port.
       */
      port: z.coerce.number().int().min(0).max(65535).optional(),
      /** Address of that listener; default `server.host`. */
      host: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Live statistics: the admins rooms' `stats` event and `GET /stats` (lib/stats.ts, docs/stats.md). */
  stats: z
    .object({
      /** ms between two `stats` events (and two reports of each instance on the bus), ≥ 50; 0: off. */
      intervalMs: z
        .number()
        .int()
        .min(0)
        .max(3_600_000)
        .refine((ms) => ms === 0 || ms >= 50, '0 (off) or at least 50')
        .default(2_000),
      /** ms of the sliding window of the rates and latency percentiles (whole intervals, at least one). */
      windowMs: z.number().int().min(1).max(3_600_000).default(10_000),
    })
    .prefault({}),
  /**
   * The web console (console/, docs/console.md): its build folder, served at `/console` over HTTP with the
   * page for every address under it. `enabled: false` answers 404 there.
   */
  console: z
    .object({
      enabled: z.boolean().default(true),
      /** The build folder (`npm run console:build`), relative to the project folder. */
      dir: z.string().min(1).default('console/dist'),
    })
    .prefault({}),
  /** The OpenAPI document of the route table (`GET /openapi.json`, lib/openapi.ts). */
  openapi: z
    .object({
      /**
       * Names of the middlewares that require credentials: the routes that use one are documented with the
       * bearer security scheme and 401/403 replies. Each must be a known middleware (the start fails).
       */
      securedBy: z.array(z.string()).default([]),
    })
    .prefault({}),
  /**
   * The files of `file` routes (multipart, lib/upload.ts): where they are stored and their limits. An
   * application may register more keys of `upload` for its own use of the files.
   */
  upload: z
    .object({
      dir: z.string().min(1).default('uploads'),
      /** Bytes. */
      maxFileSize: z
        .number()
        .int()
        .positive()
        .default(5 * 1024 * 1024),
      maxFiles: z.number().int().positive().default(1),
      mimeTypes: z
        .array(z.string().regex(mimeType, 'a media type such as image/png'))
        .min(1)
        .default([...defaultMimeTypes]),
    })
    .prefault({}),
});

export type CoreConfig = z.infer<typeof coreConfigSchema>;

/**
 * What an application registers on the config, in `api/configSchema.ts` (its `configSchema` export): the
 * schema of its own keys, checked with the framework's before `listen()`, and the environment variables
 * that set them. A key both define (e.g. `upload`) is checked by both, each on its own members.
 *
 * @example
 * export const configSchema = {
 *   schema: z.object({ mail: z.object({ from: z.email() }).prefault({}) }),
 *   env: { MAIL_FROM: ['mail', 'from'] },
 * } satisfies ConfigSchema;
 */
export interface ConfigSchema {
  /** The application's top-level keys; its output (defaults filled) is merged with the framework's. */
  schema?: z.ZodObject;
  /** Environment variable → the key it sets, besides the framework's {@link envOverrides}. */
  env?: EnvOverrides;
}

/**
 * The type of the application's registered keys, filled by declaration merging from the schema it
 * registers (`declare module '…/lib/config.js' { interface RegisteredConfig extends MyKeys {} }`), so that
 * `config.<key>` is typed wherever the config is read.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface RegisteredConfig {}

/** The validated config: the framework's keys and the application's registered ones. */
export type FluxConfig = CoreConfig & RegisteredConfig;

/** Thrown when the config cannot be loaded or does not validate; the message names the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Formats the first zod issues as `key.path: message`. */
export function describeIssues(error: z.ZodError, prefix: string[] = []): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${[...prefix, ...issue.path.map(String)].join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Validates the merged config against the framework's schema and the application's registered one.
 * @returns the keys of both schemas, defaults filled (a key of both holds the members of each)
 * @throws ConfigError naming the offending key.
 */
export function validateConfig(raw: PlainObject, registered: ConfigSchema = {}): FluxConfig {
  const parsed = coreConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeIssues(parsed.error)}`);
  if (!registered.schema) return parsed.data as FluxConfig;
  const own = registered.schema.safeParse(raw);
  if (!own.success) throw new ConfigError(`Invalid configuration: ${describeIssues(own.error)}`);
  const keys = Object.keys(registered.schema.shape);
  const appKeys = Object.fromEntries(Object.entries(own.data).filter(([key]) => keys.includes(key)));
  // the registered keys as their schema made them (coerced, transformed) over the raw values the core
  // schema lets through; a key of both keeps the core's members and takes the application's
  return mergeConfig(parsed.data, appKeys) as FluxConfig;
}

export interface LoadedConfig {
  config: PlainObject;
  /** Files of `config/` that fit no naming rule (the caller warns about them). */
  unknownFiles: string[];
}

async function importConfigFile(file: string, bustCache: boolean): Promise<PlainObject> {
  const url = pathToFileURL(file).href + (bustCache ? `?reload=${Date.now()}` : '');
  const mod = (await import(url)) as { default?: unknown };
  if (!isPlainObject(mod.default))
    throw new ConfigError(`${path.basename(file)} must default-export a plain object`);
  return mod.default;
}

/**
 * Reads every config file of `dir` for `env` and merges them in the order of docs/reference.md#configuration.
 * @throws ConfigError when a file does not default-export an object.
 */
export async function loadConfigDir(
  dir: string,
  env: string,
  { bustCache = false } = {},
): Promise<LoadedConfig> {
  const layers = new Map<string, { base?: PlainObject; env?: PlainObject; local?: PlainObject }>();
  const unknownFiles: string[] = [];
  for (const file of readdirSync(dir).sort()) {
    const role = classifyConfigFile(file);
    if (role.kind === 'ignored') continue;
    if (role.kind === 'unknown') {
      unknownFiles.push(file);
      continue;
    }
    if (role.kind === 'env' && role.env !== env) continue;
    const layer = layers.get(role.key) ?? {};
    layer[role.kind] = await importConfigFile(path.join(dir, file), bustCache);
    layers.set(role.key, layer);
  }
  const config: PlainObject = {};
  for (const [key, layer] of layers) {
    config[key] = mergeConfig(layer.base ?? {}, layer.env ?? {}, layer.local ?? {});
  }
  return { config, unknownFiles };
}

/**
 * When Flux runs from its build output, checks that the build holds every config file of the project as
 * it is now: a `config/X.local.ts` added or edited after `npm run build` would otherwise be ignored
 * without a word, and the production start would not read what `npm start` reads.
 * @param sourceDir the project's `config/` (skipped when it does not exist: a build deployed alone)
 * @param builtDir its compiled twin (`dist/config/`)
 * @throws ConfigError naming the first file missing from the build or newer than its compiled twin.
 */
export function checkBuiltConfig(sourceDir: string, builtDir: string, env: string): void {
  let sources: string[];
  try {
    sources = readdirSync(sourceDir);
  } catch {
    return;
  }
  for (const file of sources.sort()) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const role = classifyConfigFile(file);
    if (role.kind === 'ignored' || role.kind === 'unknown') continue;
    if (role.kind === 'env' && role.env !== env) continue;
    const built = path.join(builtDir, file.replace(/\.ts$/, '.js'));
    let builtAt: number;
    try {
      builtAt = statSync(built).mtimeMs;
    } catch {
      throw new ConfigError(`config/${file} is not in the build: run npm run build`);
    }
    if (statSync(path.join(sourceDir, file)).mtimeMs > builtAt) {
      throw new ConfigError(`config/${file} changed after the build: run npm run build`);
    }
  }
}
