import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { type AddressInfo, Server as NetServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as RedisAdapter from '@socket.io/redis-adapter';
import bytes from 'bytes';
import type { Express, RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Sequelize } from 'sequelize';
import { Server as SocketServer } from 'socket.io';
import { allowedHostsWarning, hostChecker } from './allowedHosts.js';
import {
  ConfigError,
  checkBuiltConfig,
  configFromEnv,
  envOverrides,
  type FluxConfig,
  loadConfigDir,
  mergeConfig,
  type PlainObject,
  validateConfig,
} from './config.js';
import { openDatabase, textColumnsNotIn, tuneDatabase } from './database.js';
import { EventStreams, subscribableModels } from './eventStreams.js';
import { buildExpressApp, coreMiddlewares, httpMessageClasses } from './expressApp.js';
import { FairQueue } from './fairQueue.js';
import type { FluxMiddleware } from './http.js';
import { type HttpConnections, trackHttpConnections } from './httpConnections.js';
import { type JobProgressPayload, type JobStarter, Jobs, loadJobs, resolveJobStore } from './jobs.js';
import { lazyHandlers } from './lazyHandlers.js';
import { Lifecycle } from './lifecycle.js';
import { createRateLimiter, type LimiterOptions } from './limits.js';
import {
  loadBootstrap,
  loadConfigSchema,
  loadControllers,
  loadMiddlewares,
  loadModels,
  loadReactions,
} from './loader.js';
import { Logger, type LogLevel } from './log.js';
import type { FluxModelClass } from './ModelController.js';
import { createMailer, type Mailer } from './mail.js';
import { Metrics, metricsListener, requestCounts } from './metrics.js';
import { requestLifecycle } from './middlewares/requestLifecycle.js';
import { createMigrator, hasPendingMigrations } from './migrator.js';
import { attachPublishHooks } from './modelHooks.js';
import { buildOpenApi } from './openapi.js';
import { parseRoles } from './permissions.js';
import { type Bus, LocalBus, PubSub } from './pubsub.js';
import { failFastWhenDisconnected, openRedis, pingEach, RedisBus } from './redis.js';
import { ReferenceRules, readForeignKeys } from './references.js';
import { RevocationList } from './revocation.js';
import { parseRouteTable, type RouteRecord } from './routes.js';
import { readOrCreateSecret } from './secretFile.js';
import { singlePageApp } from './singlePageApp.js';
import { SocketTransport } from './socket/transport.js';
import type { FluxServer } from './socket/types.js';
import type { Dispatch } from './socket/virtualRequest.js';
import { acquireStartupLock, type ReleaseLock } from './startupLock.js';
import { Stats } from './stats.js';
import { uploadMiddleware } from './upload.js';

/**
 * The Flux singleton: one object, importable anywhere, always the same instance.
 * `Flux.start()` loads config, opens the database, loads models (and checks their references), runs
 * migrations (and checks the references against the foreign keys), loads controllers and middlewares,
 * checks the route table and roles, runs `api/bootstrap.ts`, listens, then opens the job store and starts
 * the workers (`/ready` answers 503 until then).
 * Models are also reachable as `Flux.<Model>` (typed through {@link FluxModels}).
 */

/**
 * Registry of the application's models, filled by declaration merging in `api/models/index.ts`, so that
 * `Flux.User` is typed as the User model class.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface FluxModels {}

/** Options of {@link FluxApp.start}. */
export interface StartOptions {
  /** Config merged over files and environment (tests: `{ server: { port: 0 } }`). */
  config?: PlainObject;
  /** False for tools (CLI, scripts): everything is loaded and migrated, nothing listens. Default true. */
  listen?: boolean;
  /** False to leave the schema alone (the `migrate` command drives migrations itself). Default true. */
  migrate?: boolean;
  /** False to skip `api/bootstrap.ts` (first-start data). Default true. */
  bootstrap?: boolean;
}

/**
 * The application config: the validated keys (the framework's and those `api/configSchema.ts` registers)
 * plus every other `config/X.ts`. `jwt.secret` is always set once loaded (from the config, or the file of
 * `jwt.secretFile`).
 */
export type AppConfig = FluxConfig & { jwt: { secret: string } } & Record<string, unknown>;

/** The signing secret `config/jwt.ts` once shipped: public, so never used. */
const publishedSecret = 'flux-development-secret-do-not-use-in-production';

/** Where the application's modules are loaded from: the project, or its build output (`dist/`). */
const defaultCodedir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The name of the build output folder (`tsconfig.build.json` `outDir`). */
const BUILD_DIR = 'dist';

/**
 * The application root: `FLUX_ROOT`, else the project — the folder of the code, or the one holding the
 * build output when running from it, so that `npm start` and `node dist/app.js` use the same `data/`,
 * `logs/` and `uploads/`, never folders inside the build output.
 */
export function applicationRoot(codedir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLUX_ROOT) return path.resolve(env.FLUX_ROOT);
  return path.basename(codedir) === BUILD_DIR ? path.dirname(codedir) : codedir;
}

/**
 * How long at most a stopping server waits for the connections that have sent nothing yet before closing
 * those still idle (see `stop`): their first request may be on its way. Milliseconds.
 */
const FRESH_CONNECTION_GRACE_MS = 100;

export class FluxApp {
  /**
   * Absolute path of the application root (no trailing `/`): `data/`, `logs/` and `uploads/` are
   * relative to it. `FLUX_ROOT`, else the project folder, whether Flux runs from the sources or the build.
   */
  rootdir = applicationRoot(defaultCodedir);
  /**
   * Absolute path the application's modules are loaded from (`api/`, `config/`, `migrations/`): the
   * project folder with tsx, its `dist/` when running the build.
   */
  codedir = defaultCodedir;
  /** `NODE_ENV`, `development` when unset. */
  env = process.env.NODE_ENV || 'development';
  config = {} as AppConfig;
  log = new Logger({ level: (process.env.LOG_LEVEL as LogLevel) || 'info', dir: false });
  models: Record<string, FluxModelClass> = {};
  /** The models' declared references (`static references`) and their rules on delete. */
  references = new ReferenceRules({});
  controllers: Record<string, object> = {};
  middlewares: Record<string, FluxMiddleware> = {};
  routes: RouteRecord[] = [];
  /** Role name → permission set, from `config/roles.ts`. */
  roles = new Map<string, Set<string>>();
  sequelize!: Sequelize;
  express!: Express;
  /** How socket virtual requests run through {@link express} (lib/expressApp.ts). */
  virtualDispatch!: Dispatch;
  server!: HttpServer;
  /**
   * The listener of `GET /metrics` when `metrics.port` is set (its `address()` gives the bound port),
   * else undefined; closed by `stop()`.
   */
  metricsServer?: HttpServer;
  io!: FluxServer;
  pubsub!: PubSub;
  /**
   * The Server-Sent Events streams of this instance (`GET /events`, lib/eventStreams.ts): subscribers of
   * `pubsub` like sockets; `endSession` ends those of a revoked session, `stop()` ends them all.
   */
  eventStreams!: EventStreams;
  /**
   * Admission of expensive reads (a `find` with patterns, a count, an offset, a sort, a large page),
   * one user's after another: `config.query.expensive`.
   */
  queryGate!: FairQueue;
  /** Prometheus metrics of this instance (`GET /metrics`). */
  metrics!: Metrics;
  /**
   * Live statistics: the `stats` event of the admins rooms and `GET /stats` (lib/stats.ts, docs/stats.md);
   * undefined with `stats.intervalMs` 0 and in tools (a start that does not listen).
   */
  stats?: Stats;
  /** Carries model changes and application topics to every instance. */
  bus!: Bus;
  /**
   * The background jobs of `api/jobs/` (lib/jobs.ts, docs/jobs.md): `Flux.jobs.add(name, data)`; their
   * workers run on every instance started to listen (not in the CLI).
   */
  jobs!: Jobs;
  /**
   * The mailer of `config.mail` (lib/mail.ts, docs/mail.md), made by a start that listens (a server, which
   * runs the mail jobs): SMTP, or `.eml` files outside production; closed by `stop()`.
   */
  mailer?: Mailer;
  /** Revoked sessions, shared through Redis when configured. */
  revocations = new RevocationList();
  /** The Redis connection when `REDIS_URL` is set. */
  redis?: Redis;
  private stopHooks: Array<() => void | Promise<void>> = [];
  private redisClients: Redis[] = [];
  private openapiDocument?: Record<string, unknown>;
  /**
   * Where the server is in its life (`starting`, `running`, `draining`, `stopping`, `stopped`) and the
   * requests it is serving, HTTP and socket alike (lib/lifecycle.ts).
   */
  readonly lifecycle = new Lifecycle();
  /** Background work `stop()` lets finish before closing Redis and the database (see `waitUntil`). */
  private readonly background = new Set<Promise<unknown>>();
  sockets!: SocketTransport;
  private startOptions: StartOptions = {};
  private unknownConfigFiles: string[] = [];

  /** True while `stop()` drains requests: `/ready` answers 503, then new socket requests 503. */
  get stopping(): boolean {
    return this.lifecycle.leaving;
  }

  /**
   * (Re)loads `config/`: files in the order of docs/reference.md#configuration, then environment variables,
   * then start options; validates.
   * @throws ConfigError naming the invalid key.
   */
  async configReload(): Promise<AppConfig> {
    if (this.codedir !== this.projectdir())
      checkBuiltConfig(path.join(this.projectdir(), 'config'), path.join(this.codedir, 'config'), this.env);
    const loaded = await loadConfigDir(path.join(this.codedir, 'config'), this.env, {
      bustCache: this.lifecycle.state === 'running',
    });
    this.unknownConfigFiles = loaded.unknownFiles;
    // the application's own keys and environment variables (lib/config.ts ConfigSchema)
    const registered = await loadConfigSchema(path.join(this.codedir, 'api'));
    const fromEnv = configFromEnv(process.env, { ...envOverrides, ...registered.env });
    const merged = mergeConfig(loaded.config, fromEnv, this.startOptions.config ?? {});
    const core = validateConfig(merged, registered);
    if (this.env === 'production') {
      if (!process.env.JWT_SECRET || (core.jwt.secret ?? '').length < 32) {
        throw new ConfigError(
          'jwt.secret: NODE_ENV=production needs JWT_SECRET set to at least 32 characters',
        );
      }
      if (core.jwt.secret === publishedSecret) {
        throw new ConfigError(
          'jwt.secret: JWT_SECRET is the public development secret once shipped in config/jwt.ts',
        );
      }
    }
    // the constant config/jwt.ts once shipped is public: a leftover local config setting it counts as unset
    if (core.jwt.secret === publishedSecret) {
      this.log.warn('jwt.secret: ignoring the development secret once shipped in config/jwt.ts (public)');
      core.jwt.secret = undefined;
    }
    if (core.jwt.secret === undefined) {
      const file = path.resolve(this.rootdir, core.jwt.secretFile);
      const kept = await readOrCreateSecret(file).catch((err: Error) => {
        throw new ConfigError(`jwt.secretFile: ${err.message}`);
      });
      core.jwt.secret = kept.secret;
      const where = path.relative(this.rootdir, file) || file;
      this.log.warn(
        `JWT_SECRET is not set: tokens are signed with the random secret ${kept.created ? 'just made in' : 'of'} ${where} ` +
          '(fine for development; instances sharing a database need the same JWT_SECRET)',
      );
      if (kept.exposed) this.log.warn(`${where} is readable by other users: chmod 600 it`);
    }
    const hosts = allowedHostsWarning(core.server.allowedHosts, this.env);
    if (hosts) this.log.warn(hosts);
    this.config = { ...merged, ...core } as AppConfig;
    this.log.configure({
      level: this.config.log.level,
      dir: this.config.log.dir === false ? false : path.resolve(this.rootdir, this.config.log.dir),
    });
    return this.config;
  }

  /**
   * Starts the server, in the steps below, each undone by `stop()` (or by a failed start).
   * @returns the bound address (use `server: { port: 0 }` in tests for a free port); port 0 with
   *   `listen: false`.
   * @throws ConfigError, RouteTableError or a role error: the server does not start.
   */
  async start(options: StartOptions = {}): Promise<AddressInfo> {
    if (this.lifecycle.state !== 'stopped') throw new Error('Flux is already started');
    this.lifecycle.to('starting');
    this.startOptions = options;
    try {
      await this.loadConfig();
    } catch (err) {
      this.lifecycle.to('stopped'); // nothing was opened yet
      throw err;
    }
    let releaseStartupLock: ReleaseLock | undefined;
    try {
      releaseStartupLock = await this.openStorage(options);
      await this.loadApplication();
      await this.openMessaging();
      await this.openJobs(options);
      this.buildTransports();
      await this.messagingReady();
      if (options.listen !== false) this.mailer = createMailer(this.config, this.rootdir, this.log, this.env);
      if (options.bootstrap !== false) await this.runBootstrap();
      await releaseStartupLock?.();
      if (options.listen !== false) {
        await this.listen();
        // the job store opens once the server listens: the embedded one (PGlite, PostgreSQL in WebAssembly)
        // is most of a start's CPU (docs/performance.md). Until it is open, /ready answers 503 and what needs
        // a job waits for it; a store that cannot be opened still fails the start. Workers write (and
        // publish, and mail) from here on.
        await this.jobs.start();
        await this.startStats();
      }
    } catch (err) {
      this.lifecycle.to('stopping');
      await releaseStartupLock?.();
      await this.release();
      this.lifecycle.to('stopped');
      throw err;
    }
    this.lifecycle.to('running');
    if (options.listen === false) return { address: '', family: '', port: 0 };
    return this.server.address() as AddressInfo;
  }

  /** Start step: loads and validates `config/` (see {@link configReload}), warns of unknown files. */
  private async loadConfig(): Promise<void> {
    await this.configReload();
    for (const file of this.unknownConfigFiles)
      this.log.warn(`config/${file}: not a config file name (X.ts, X.<env>.ts, X.local.ts)`);
  }

  /**
   * Start step: opens the database, takes the startup lock, loads the models (and checks their
   * references) and the roles, migrates (and checks the references against the foreign keys).
   * @returns the release of the startup lock, held until the first-start data is written
   */
  private async openStorage(options: StartOptions): Promise<ReleaseLock | undefined> {
    this.sequelize = openDatabase(this.config.database, this.rootdir, this.log);
    this.queryGate = new FairQueue({
      ...this.config.query.expensive,
      busyMessage: 'Too many expensive reads at once: retry in a moment',
      tooManyMessage:
        'Too many expensive reads (searches, counts, sorted or large pages) at once: wait for your previous ones',
    });
    await this.sequelize.authenticate();
    // instances starting together on one database migrate and create first-start data one at a time
    const releaseStartupLock = await this.startupLock();
    try {
      await tuneDatabase(this.sequelize);
      await this.loadModels();
      this.roles = parseRoles(
        (this.config.roles ?? {}) as Record<string, unknown>,
        this.permissionNamespaces(),
      );
      if (options.migrate !== false) {
        if (await hasPendingMigrations(this.sequelize, path.join(this.codedir, 'migrations')))
          await this.migrator().up();
        // the schema is current: every foreign key between models must be declared, and the reverse
        const foreignKeys = await readForeignKeys(this.sequelize);
        if (foreignKeys) this.references.checkForeignKeys(foreignKeys);
        // strings compare by code point on every database, as clients evaluating filters expect
        const uncollated = await textColumnsNotIn(this.sequelize, 'C');
        if (uncollated.length) {
          const names = uncollated.map(({ table, column }) => `${table}.${column}`).join(', ');
          throw new Error(
            `Text columns without the collation "C": ${names}. End the migration that added them with ` +
              "setTextCollation(sequelize, 'C') (lib/database.ts, docs/extending.md)",
          );
        }
      }
    } catch (err) {
      await releaseStartupLock?.();
      throw err;
    }
    return releaseStartupLock;
  }

  /**
   * Start step: loads the controllers and middlewares of `api/`, checks the route table against them and
   * the global middlewares named by `server.middlewares`.
   */
  private async loadApplication(): Promise<void> {
    await this.loadControllers();
    await this.loadMiddlewares();
    this.openapiDocument = undefined;
    this.routes = parseRouteTable(this.config.routes ?? {}, {
      controllers: this.controllers,
      middlewares: new Set(Object.keys(this.middlewares)),
    });
    for (const name of this.config.server.middlewares) {
      if (!this.middlewares[name]) throw new ConfigError(`server.middlewares: unknown middleware "${name}"`);
    }
    for (const name of this.config.openapi.securedBy) {
      if (!this.middlewares[name]) throw new ConfigError(`openapi.securedBy: unknown middleware "${name}"`);
    }
  }

  /**
   * Start step: connects to Redis when `redis.url` is set (failing the start when it cannot be reached),
   * and opens the bus and the revocation list over it (in-process without Redis).
   */
  private async openMessaging(): Promise<void> {
    const { redis: redisConfig } = this.config;
    this.redis = redisConfig.url ? openRedis(redisConfig.url, this.log) : undefined;
    if (this.redis) {
      // fail the start clearly rather than limp along: the bus, revocations and limits need Redis
      await this.redis.ping().catch((err: Error) => {
        throw new ConfigError(`redis.url: Redis is not reachable (${err.message})`);
      });
    }
    this.bus = this.redis ? new RedisBus(this.redis, redisConfig.prefix, this.log) : new LocalBus();
    this.revocations = new RevocationList(this.redis, redisConfig.prefix);
  }

  /**
   * Start step: the queues of `api/jobs/` (lib/jobs.ts), opened later in the start; an instance started to
   * listen also runs the jobs, unless `jobs.workers` is false. A job's progress reaches its starter's
   * sockets on every instance, over the bus.
   */
  private async openJobs(options: StartOptions): Promise<void> {
    const { jobs, database, redis } = this.config;
    const engine = {
      ...jobs,
      store: resolveJobStore(jobs, {
        redisUrl: redis.url,
        databaseUrl: database.url,
        sqliteStorage: database.storage,
        rootdir: this.rootdir,
      }),
      namespace: redis.prefix,
      definitions: await loadJobs(path.join(this.codedir, 'api', 'jobs')),
      log: this.log,
      onProgress: (event: JobProgressPayload, startedBy: JobStarter) => {
        this.waitUntil(
          Promise.resolve(this.bus.publish('job:progress', { userId: startedBy.userId, event })),
        ).catch((err: unknown) => this.log.warn('could not announce a job progress:', err));
      },
    };
    // opened once the bus and the publishing of changes are ready (see start), by a tool (listen: false)
    // only if it uses a job: the CLI must not take the PGlite folder of a running server
    this.jobs = new Jobs({ ...engine, workers: jobs.workers && options.listen !== false });
    this.bus.subscribe('job:progress', ({ userId, event }) => {
      for (const socket of this.sockets?.socketsOfUser(userId) ?? []) socket.emit('job:progress', event);
    });
  }

  /**
   * Start step: builds the HTTP server and socket.io on it (with the Redis adapter when configured), the
   * publisher of model changes and its hooks, the event streams, the metrics, the Express app and the
   * socket transport.
   * Nothing listens yet.
   */
  private buildTransports(): void {
    this.transportsOpen = true;
    // requests and responses born with the Express app's prototypes (httpMessageClasses)
    const messageClasses = httpMessageClasses();
    this.server = createServer(messageClasses);
    const allowedOrigin = originChecker(this.config.server.cors.origin);
    const allowedHost = hostChecker(this.config.server.allowedHosts);
    this.io = new SocketServer(this.server, {
      path: this.config.socket.path,
      cors: { origin: this.config.server.cors.origin, credentials: true },
      serveClient: false,
      // Cross-site WebSocket hijacking: a browser page of another origin may not open a socket; nor may one
      // whose host name is not served (DNS rebinding, lib/allowedHosts.ts). Once a stop has closed the port,
      // a handshake still arriving on a kept-alive connection is refused too (its socket would be closed
      // moments later): the client tries again, and reaches another instance.
      allowRequest: (req, callback) => {
        if (this.lifecycle.leaving && !this.server?.listening) callback('Server shutting down', false);
        else
          callback(
            null,
            allowedHost(req.headers.host) && allowedOrigin(req.headers.origin, req.headers.host),
          );
      },
    });
    // after socket.io: engine.io wraps the `request` listeners it finds, and calls them for other paths only
    this.httpConnections = trackHttpConnections(this.server, this.config.socket.path);
    if (this.redis) {
      // loaded with Redis only (docs/performance.md)
      const { createAdapter } = createRequire(import.meta.url)(
        '@socket.io/redis-adapter',
      ) as typeof RedisAdapter;
      this.io.adapter(
        createAdapter(this.redisClient(), this.redisClient(), { key: `${this.config.redis.prefix}io` }),
      );
    }
    this.pubsub = new PubSub(this.io, this.bus, {
      onError: (err) => this.log.error('could not publish a change:', err),
      // a publish in flight when stop() begins still reaches the bus before it closes
      waitUntil: (sent) => this.waitUntil(sent),
    });
    this.eventStreams = new EventStreams({
      pubsub: this.pubsub,
      log: this.log,
      heartbeatMs: this.config.events.heartbeatMs,
      maxStreamsPerUser: this.config.events.maxStreamsPerUser,
      models: subscribableModels(this.routes, this.controllers),
    });
    this.metrics = new Metrics(this.io, this.pubsub, this.eventStreams, this.jobs);
    attachPublishHooks(this.sequelize, this.pubsub);
    this.references.attach(this.sequelize);
    const apps = buildExpressApp({
      routes: this.routes,
      controllers: this.controllers,
      middlewares: this.middlewares,
      routeMiddlewares: this.config.server.middlewares,
      bodyLimit: this.config.server.bodyLimit,
      corsOrigin: this.config.server.cors.origin,
      allowedHost: this.config.server.allowedHosts === true ? undefined : allowedHost,
      trustProxy: this.config.server.trustProxy,
      messageClasses,
      first: [
        requestLifecycle({
          started: () => this.lifecycle.requestStarted(),
          ended: (req, res, seconds) => {
            this.lifecycle.requestEnded();
            if (seconds !== undefined) this.metrics.observeRequest(req, res, seconds);
            if (seconds !== undefined) this.stats?.observeRequest(res, seconds);
          },
        }),
      ],
      mounts: [
        [
          '/docs',
          [
            lazyHandlers(async () => {
              const { default: swaggerUi } = await import('swagger-ui-express');
              return [
                ...swaggerUi.serve,
                swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } }),
              ];
            }),
          ],
          // an operator page, like /openapi.json: a proxy can block it by path for HTTP, not in a socket
          { httpOnly: true },
        ],
        // the web console (docs/console.md): its build, served as files like /docs
        ...(this.config.console.enabled
          ? [
              [
                '/console',
                singlePageApp(path.resolve(this.rootdir, this.config.console.dir), 'npm run console:build'),
                { httpOnly: true },
              ] satisfies [string, RequestHandler[], { httpOnly: boolean }],
            ]
          : []),
      ],
      rateLimiter: this.rateLimiter({ name: 'global', ...this.config.rateLimit }),
      maxDepth: this.config.server.maxDepth,
      upload: (field) => this.uploadMiddleware(field),
      log: this.log,
    });
    this.express = apps.app;
    this.virtualDispatch = apps.dispatch;
    // socket.io answers the requests under its path itself (HTTP long-polling, handshakes): Express must not
    // answer them a second time (ERR_HTTP_HEADERS_SENT) nor count them against the rate limit
    const socketPath = `${this.config.socket.path.replace(/\/$/, '')}/`;
    this.server.on('request', (req, res) => {
      if (!req.url?.startsWith(socketPath)) this.express(req, res);
    });
    this.sockets = new SocketTransport({
      io: this.io,
      dispatch: this.virtualDispatch,
      pubsub: this.pubsub,
      log: this.log,
      lifecycle: this.lifecycle,
      handshakeAuth: this.config.socket.handshakeAuth,
      trustProxy: this.config.server.trustProxy,
      maxBodyBytes: bytes.parse(this.config.server.bodyLimit) ?? 100 * 1024,
      maxDepth: this.config.server.maxDepth,
      maxInFlight: this.config.socket.maxInFlight,
      maxConnectionsPerAddress: this.config.socket.maxConnectionsPerAddress,
    });
  }

  /**
   * Start step: waits until the bus's subscriptions (made by the steps above) are active, then lets Redis
   * commands fail fast while it is unreachable (see `failFastWhenDisconnected`).
   */
  private async messagingReady(): Promise<void> {
    if (this.bus instanceof RedisBus) await this.bus.whenReady();
    // once every connection made from it is up (duplicates copy its options)
    if (this.redis) failFastWhenDisconnected(this.redis);
  }

  /**
   * Start step: the statistics of the admins rooms (lib/stats.ts), unless `stats.intervalMs` is 0; stopped
   * first by `stop()`, while the bus is open.
   */
  private async startStats(): Promise<void> {
    const { intervalMs, windowMs } = this.config.stats;
    if (intervalMs === 0) return;
    const stats = new Stats({
      io: this.io,
      bus: this.bus,
      log: this.log,
      intervalMs,
      windowMs,
      requestCounts: () => requestCounts(this.metrics),
      publishedCount: () => this.pubsub.stats.published,
      jobCounts: () => this.jobs.counts(),
      sequelize: this.sequelize,
      waitUntil: (work) => this.waitUntil(work),
    });
    this.stats = stats;
    this.onStop(async () => {
      this.stats = undefined;
      await stats.stop();
    });
    await stats.start();
  }

  /** Start step: listens on `server.port`, and on `metrics.port` when set; logs the addresses. */
  private async listen(): Promise<void> {
    const { port, host, backlog } = this.config.server;
    await listen(this.server, port, host, backlog);
    const { metrics } = this.config;
    if (metrics.port !== undefined) {
      this.metricsServer = createServer(metricsListener(this.metrics, this.log));
      await listen(this.metricsServer, metrics.port, metrics.host ?? this.config.server.host);
    }
    const address = this.server.address() as AddressInfo;
    this.log.info(
      `Flux listening on http://${address.address}:${address.port} (${this.env}, ${this.sequelize.getDialect()})`,
    );
    if (this.metricsServer) {
      const metricsAddress = this.metricsServer.address() as AddressInfo;
      this.log.info(`Metrics on http://${metricsAddress.address}:${metricsAddress.port}/metrics`);
    }
  }

  /**
   * Graceful stop (docs/operations.md §8). With `server.drainDelayMs`, first keeps serving that long as
   * usual, `/ready` failing; then stops accepting connections (event streams end with `server:shutdown`).
   * After a drain, every HTTP response closes its connection and the idle ones are left to their clients
   * to close, for at most the server's `keepAliveTimeout` and half of `server.shutdownTimeoutMs`; then a
   * connection that has sent nothing yet gets at most {@link FRESH_CONNECTION_GRACE_MS} to deliver its
   * request (socket.io's long polls are not waited for: they end with the sockets). Then closes the idle
   * connections, answers new socket requests 503 `ShuttingDown` and lets those in flight (HTTP and socket
   * alike) finish — at most `server.shutdownTimeoutMs` from the port's closing; past it, socket requests
   * still running are answered 503 `ShuttingDown` and HTTP connections still open are closed — then tells
   * every socket `server:shutdown` and closes it, closes Redis and the database. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.lifecycle.state !== 'running') return;
    this.lifecycle.to('draining');
    try {
      const drainDelayMs = this.config.server?.drainDelayMs ?? 0;
      const draining = drainDelayMs > 0 && this.server?.listening === true;
      if (draining) {
        // the load balancer's turn: /ready fails, requests are still served, and connections stay alive —
        // a proxy that keeps reusing its own has no reason to open new ones, which closing the port below
        // would reset (see there)
        this.log.info(`Draining for ${drainDelayMs} ms before closing`);
        await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
      }
      // the wait for requests in flight counts from here, the waits for connections below included
      const deadline = Date.now() + (this.config.server?.shutdownTimeoutMs ?? 8_000);
      // event streams never finish by themselves: each gets `server:shutdown` and ends (new ones are
      // refused with 503), so that the waits below are for real requests only
      this.eventStreams?.closeAll();
      if (this.server?.listening) {
        // Stop accepting, but not `http.Server#close` yet: it also closes the connections it deems idle.
        // The kernel resets the connections it has completed but the process not yet accepted: a POST a
        // proxy wrote on one gets a 502 it cannot retry (nginx resends only what it has not sent).
        NetServer.prototype.close.call(this.server);
        if (draining) {
          // A connection closed by the server while idle may cross a request its client is sending on it.
          // So each response now closes its connection (the proxy reuses none), and an idle one is left to
          // its client, whose idle timeout is shorter (nginx's upstream `keepalive_timeout`, 2 s in
          // deploy/nginx.conf) — or to Node's own `keepAliveTimeout`, the longest it stays idle anyway;
          // at most half of what is left for the requests in flight, which need the rest.
          this.server.prependListener('request', (_req: unknown, res: ServerResponse) =>
            res.setHeader('Connection', 'close'),
          );
          const keepAliveTimeout = this.server.keepAliveTimeout || Number.POSITIVE_INFINITY;
          await this.httpConnections?.closed(Math.min(keepAliveTimeout, (deadline - Date.now()) / 2));
        }
        // newer Node versions (26 here; 20 does not) count as idle a connection accepted a moment ago
        // whose request is still on its way — a load balancer writes it right after connecting
        await this.httpConnections?.served(FRESH_CONNECTION_GRACE_MS);
        this.server.closeIdleConnections();
      }
      // from here on, new socket requests are answered 503 ShuttingDown
      this.lifecycle.to('stopping');
      if (!(await this.lifecycle.settled(deadline))) {
        this.log.warn(`Stopping with ${this.lifecycle.inFlight} request(s) still in flight`);
        // past the deadline: a socket request still running gets its ack now (503), before its socket
        // closes; an HTTP request still running (a slow handler, a body still arriving) loses its
        // connection, which would otherwise keep the server open until the client gives up
        this.sockets?.abandonInFlight();
        this.server?.closeAllConnections?.();
      }
      for (const socket of this.io?.of('/').sockets.values() ?? [])
        socket.emit('server:shutdown', { reason: 'Server shutting down' });
      await this.flushSockets(1000);
      await this.release();
    } finally {
      this.lifecycle.to('stopped');
    }
    this.log.info('Flux stopped');
  }

  /**
   * Waits (at most `ms`) until every socket has handed its queued packets to the network: closing the
   * server drops what engine.io still buffers, e.g. a `server:shutdown` queued behind an ack being written.
   */
  private async flushSockets(ms: number): Promise<void> {
    const buffered = [...(this.io?.of('/').sockets.values() ?? [])]
      .map((socket) => socket.conn)
      .filter((conn) => (conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length > 0);
    if (buffered.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(buffered.map((conn) => new Promise((resolve) => conn.once('drain', resolve)))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  /** True from {@link buildTransports} until {@link release} closed what it built. */
  private transportsOpen = false;

  /** The server's HTTP connections, for `stop`. */
  private httpConnections?: HttpConnections;

  private async release(): Promise<void> {
    for (const hook of this.stopHooks.splice(0).reverse()) {
      try {
        await hook();
      } catch (err) {
        this.log.error('A stop hook failed:', err);
      }
    }
    // a start that fails before its transports were built must not close those of an earlier run again
    // (their Redis connections are closed: an unhandled rejection)
    const transportsOpen = this.transportsOpen;
    this.transportsOpen = false;
    // closing the connections (not `disconnectSockets`) lets clients reconnect on their own, to another
    // instance during a rolling restart; socket.io treats a server-side disconnect as final
    if (this.io && transportsOpen) this.io.engine.close();
    // before the server's `close`, which waits for every connection: what is left of HTTP (a client still
    // sending its headers) would hold it until Node's `headersTimeout`
    this.server?.closeAllConnections?.();
    if (this.io && transportsOpen) await new Promise<void>((resolve) => this.io.close(() => resolve()));
    else if (this.server?.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.metricsServer) {
      const metricsServer = this.metricsServer;
      this.metricsServer = undefined;
      if (metricsServer.listening) {
        const closed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        metricsServer.closeAllConnections();
        await closed;
      }
    }
    // closing the sockets starts writes (disconnections) whose commits publish, and writes add jobs: all
    // finish first
    const shutdownTimeoutMs = this.config?.server?.shutdownTimeoutMs ?? 10_000;
    await this.settleBackground(Date.now() + shutdownTimeoutMs);
    // active jobs finish (bounded by jobs.shutdownTimeoutMs) while the database and the bus are open; what
    // their writes start finishes too
    await this.jobs?.close();
    await this.settleBackground(Date.now() + shutdownTimeoutMs);
    this.mailer?.close();
    this.mailer = undefined;
    if (transportsOpen) await this.pubsub?.close();
    for (const client of [...this.redisClients.splice(0), this.redis]) {
      await client?.quit().catch(() => client.disconnect());
    }
    this.redis = undefined;
    await this.sequelize?.close();
  }

  /**
   * Resolves once every Redis connection of this instance answers (the commands', the bus's and the socket.io
   * adapter's, subscriptions renewed after a reconnection included: see {@link pingEach}); rejects when one is
   * not connected, or when Redis is not configured. `/ready` says ready only then: an instance whose bus has
   * not resubscribed yet would miss the events of other instances.
   */
  async pingRedis(): Promise<void> {
    if (!this.redis) throw new Error('Redis is not configured');
    const bus = this.bus instanceof RedisBus ? this.bus.connections : [];
    await pingEach([this.redis, ...this.redisClients, ...bus]);
  }

  /** The OpenAPI 3.1 document of the route table, built once per start (lib/openapi.ts). */
  openapi(): Record<string, unknown> {
    this.openapiDocument ??= buildOpenApi({
      title: 'Flux',
      version: process.env.npm_package_version ?? '0.1.0',
      routes: this.routes,
      controllers: this.controllers,
      securedBy: this.config.openapi.securedBy,
    });
    return this.openapiDocument;
  }

  /** Waits for the work passed to `waitUntil` (and the work it starts), at most until `deadline` (ms). */
  private async settleBackground(deadline: number): Promise<void> {
    while (this.background.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.log.warn(`Stopping with ${this.background.size} background task(s) unfinished`);
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(this.background),
        new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /**
   * A further connection to Redis (pub/sub needs its own), closed by `stop()`; without ready check, which
   * loses the subscriptions of a connection that subscribes while connecting (ioredis #2037).
   */
  private redisClient(): Redis {
    const client = this.redis!.duplicate({ enableReadyCheck: false });
    client.on('error', (err: Error) => this.log.error(`redis: ${err.message}`));
    this.redisClients.push(client);
    return client;
  }

  /**
   * Takes the startup lock of the database (lib/startupLock.ts) when it is PostgreSQL, so that schema
   * changes of several processes (instances starting, `flux migrate`) run one at a time.
   * @returns its release function; undefined for SQLite (one process by nature)
   */
  async startupLock(): Promise<ReleaseLock | undefined> {
    const url = this.config.database.url;
    if (this.sequelize.getDialect() !== 'postgres' || !url) return undefined;
    return acquireStartupLock(url, this.log);
  }

  /** The umzug migrator of `migrations/` over the open database. */
  migrator() {
    return createMigrator(this.sequelize, path.join(this.codedir, 'migrations'), this.log);
  }

  /**
   * Lets background work started outside a request's reply — a write after a disconnect, a session's
   * activity, an announcement on the bus — finish before `stop()` closes Redis and the database (it waits
   * at most `server.shutdownTimeoutMs`). Handle the promise's rejection yourself: `waitUntil` only waits.
   * Named after the service-worker `ExtendableEvent.waitUntil`. Returns `promise`.
   */
  waitUntil<T>(promise: Promise<T>): Promise<T> {
    const settled: Promise<unknown> = promise.then(
      () => this.background.delete(settled),
      () => this.background.delete(settled),
    );
    this.background.add(settled);
    return promise;
  }

  /** The project folder: `codedir`, or the folder holding it when it is the build output. */
  private projectdir(): string {
    return applicationRoot(this.codedir, {});
  }

  /** Registers cleanup run by `stop()` (timers, connections of the application), last registered first. */
  onStop(hook: () => void | Promise<void>): void {
    this.stopHooks.push(hook);
  }

  /**
   * A rate limiter (rate-limiter-flexible) answering 429 `TooManyRequests` with `Retry-After`, counted in
   * Redis when it is configured (all instances together), else in this process.
   */
  rateLimiter(options: Omit<LimiterOptions, 'redis' | 'prefix'>): RequestHandler {
    return createRateLimiter({ ...options, redis: this.redis, prefix: this.config.redis.prefix });
  }

  /** Runs `api/bootstrap.ts`'s `bootstrap(flux)` when the file exists (first-start data, warm-up). */
  private async runBootstrap(): Promise<void> {
    const bootstrap = await loadBootstrap<FluxApp>(path.join(this.codedir, 'api'));
    if (bootstrap) await bootstrap(this);
  }

  /** `<model>/<level>` namespaces: every model's levels plus `config.permissions` (e.g. `auth: ['as']`). */
  private permissionNamespaces(): Record<string, readonly string[]> {
    const namespaces: Record<string, readonly string[]> = {};
    for (const model of Object.values(this.models)) namespaces[model.publicName] = model.permissionLevels;
    const extra = (this.config.permissions ?? {}) as Record<string, string[]>;
    for (const [name, levels] of Object.entries(extra))
      namespaces[name] = [...(namespaces[name] ?? []), ...levels];
    return namespaces;
  }

  private async loadModels(): Promise<void> {
    this.models = await loadModels(path.join(this.codedir, 'api', 'models'), this.sequelize, this);
    this.references = new ReferenceRules(this.models);
    for (const model of Object.values(this.models)) {
      Object.defineProperty(this, model.name, { value: model, configurable: true, enumerable: false });
    }
    // the application's reactions to writes, whatever starts Flux (server, CLI, scripts, tests)
    const wireReactions = await loadReactions(path.join(this.codedir, 'api'));
    wireReactions?.(this.sequelize);
  }

  private async loadControllers(): Promise<void> {
    this.controllers = await loadControllers(path.join(this.codedir, 'api', 'controllers'), this);
  }

  private async loadMiddlewares(): Promise<void> {
    this.middlewares = {
      ...(coreMiddlewares as unknown as Record<string, FluxMiddleware>),
      ...(await loadMiddlewares(path.join(this.codedir, 'api', 'middlewares'))),
    };
  }

  /** The upload chain of one `file` route, with `config.upload` limits (lib/upload.ts). */
  private uploadMiddleware(field: string): RequestHandler[] {
    const upload = this.config.upload;
    return uploadMiddleware(field, {
      dir: path.resolve(this.rootdir, upload.dir),
      maxFileSize: upload.maxFileSize,
      maxFiles: upload.maxFiles,
      mimeTypes: upload.mimeTypes,
    });
  }
}

/**
 * Listens on `port` and `host` with an accept queue of `backlog` connections (Node's default, 511, when
 * not given); rejects with the server's error (e.g. EADDRINUSE).
 */
function listen(server: HttpServer, port: number, host: string, backlog?: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Whether a browser `Origin` may open a socket, from `server.cors.origin`: `true` any, `false` none, else
 * the listed origins. Requests without `Origin` (native apps, servers) are not cross-site: allowed. A page
 * of the server itself (the console at /console) is always allowed: its origin's host and port are the
 * request's `Host` (a proxy must pass the browser's Host on, port included, as deploy/nginx.conf does).
 * A page of another site whose name was made to resolve to this server (DNS rebinding) also sends its own
 * name as Host: `server.allowedHosts` is the defence against that (lib/allowedHosts.ts).
 */
export function originChecker(
  allowed: boolean | string | string[],
): (origin: string | undefined, host?: string) => boolean {
  const list = typeof allowed === 'string' ? [allowed] : Array.isArray(allowed) ? allowed : [];
  return (origin, host) =>
    origin === undefined || allowed === true || list.includes(origin) || sameHost(origin, host);
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const page = new URL(origin);
    // URL drops the scheme's default port from `host`; so does this, from the Host header
    const defaultPort = page.protocol === 'https:' ? ':443' : ':80';
    const requested = host.toLowerCase();
    return (
      page.host === (requested.endsWith(defaultPort) ? requested.slice(0, -defaultPort.length) : requested)
    );
  } catch {
    return false;
  }
}

const key = Symbol.for('flux.singleton');
const holder = globalThis as { [key]?: FluxApp };

/** The Flux singleton. */
holder[key] ??= new FluxApp();
export const Flux = holder[key] as FluxApp & FluxModels;
