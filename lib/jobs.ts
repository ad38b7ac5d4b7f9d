import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Job, JobsOptions, Queue, runMigrations, Worker } from 'bullmq';
import { ConfigError } from './config.js';
import { importDir } from './loader.js';
import type { Logger } from './log.js';
import type { JobProgressPayload, JobState } from './protocol.js';

/**
 * Background jobs on BullMQ (https://docs.bullmq.io), one engine on every setup (docs/jobs.md):
 * - `redis`: BullMQ's Redis backend (several instances: use it);
 * - `postgres`: BullMQ's PostgreSQL backend, schema `bullmq` of the application's PostgreSQL database;
 * - `pglite`: the same PostgreSQL backend over PGlite (PostgreSQL in WebAssembly, in this process) in a
 *   folder: the embedded default, no service to run.
 * Jobs are declared in `api/jobs/<name>.ts` ({@link defineJob}); each name is one BullMQ queue (named
 * `<namespace><name>`) with one worker per instance. Jobs are persistent, retried with exponential
 * backoff, time-limited, held by one worker at a time (re-run after a crash: handlers are idempotent).
 * BullMQ and the clients of its stores are loaded with the store, once the server listens: they are about
 * 300 modules (docs/performance.md).
 */

/**
 * Throw it from a handler to fail the job for good, without the retries left, e.g. when its input is gone.
 * BullMQ knows it by its name, as its own class of that name
 * (https://docs.bullmq.io/guide/retrying-failing-jobs#stop-retrying-jobs); this one loads no BullMQ.
 */
export class UnrecoverableError extends Error {
  constructor(message?: string) {
    super(message);
    this.name = 'UnrecoverableError';
  }
}
export type { JobProgressPayload, JobState } from './protocol.js';

/** A job's states, as `GET /job/:id` reports them (BullMQ's `prioritized` and `waiting-children` count as `waiting`). */
export const jobStates: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed'];

/** Who started a job: that user reads it (`GET /job/:id`) and gets its `job:progress` events. */
export interface JobStarter {
  userId: number;
  tenantId: number;
}

/** What one run of a job sees (the handler's argument). */
export interface JobRun<Data = unknown> {
  /** The job's public id (`<name>.<BullMQ id>`). */
  id: string;
  name: string;
  data: Data;
  /** 1 on the first run, 2 on the first retry… */
  attempt: number;
  /** Who started it, when a user did. */
  startedBy?: JobStarter;
  /** Aborted at the job's timeout or a forced stop: a handler stops early (and must stay idempotent). */
  signal: AbortSignal;
  /** Records the progress (0–100, rounded) and pushes `job:progress` to the starter's sockets. */
  progress(percent: number): Promise<void>;
  /** Replaces the job's stored data (kept for its retries): mark a step done, drop a secret. */
  update(data: Data): Promise<void>;
}

/** A job kind, the default export of `api/jobs/<name>.ts`. */
export interface JobDefinition<Data = unknown, Result = unknown> {
  /** The file's name: letters, digits, `_` and `-`. */
  name: string;
  /** Runs before it fails for good, the first included; default `jobs.attempts`. */
  attempts?: number;
  /** Delay before the first retry, ms, doubled at each further one; default `jobs.backoffMs`. */
  backoffMs?: number;
  /** Longest run of one attempt, ms; default `jobs.timeoutMs`. */
  timeoutMs?: number;
  /** Jobs of this name run at once on each instance; default 1. */
  concurrency?: number;
  /**
   * Repeatable: the job runs once per period (`everyMs`) or cron slot (`pattern`, five or six fields,
   * https://github.com/harrisiirak/cron-parser) across all instances, with `{}` as data.
   */
  repeat?: { everyMs: number } | { pattern: string };
  /** How long a completed job stays readable, ms; default `jobs.keepCompletedMs`. */
  keepCompletedMs?: number;
  /** The work; what it returns (JSON) is the job's `result`. Throwing fails the attempt. */
  run(job: JobRun<Data>): Promise<Result>;
}

/** Declares a job kind (identity function, for its types). */
export function defineJob<Data = unknown, Result = unknown>(
  definition: JobDefinition<Data, Result>,
): JobDefinition<Data, Result> {
  return definition;
}

/** A job as `GET /job/:id` answers it; dates are ISO 8601 strings. */
export interface JobStatus {
  id: string;
  name: string;
  state: JobState;
  /** 0–100. */
  progress: number;
  /** Runs started so far. */
  attempts: number;
  result?: unknown;
  /** The last failure's message. */
  error?: string;
  createdAt: string;
  finishedAt?: string;
  /** Who started it (not part of the reply: for permission checks). */
  startedBy?: JobStarter;
}

/** Options of {@link Jobs.add}. */
export interface AddJobOptions {
  /**
   * Idempotency key (letters, digits, `_`, `-`, `.`; at most 200): while a job of this name with this id
   * exists (until its removal), adding it again adds nothing and returns it. Default: a random id.
   */
  id?: string;
  /** Run no sooner than this from now, ms. */
  delayMs?: number;
  /** 1 (first) to 2,097,152; jobs without a priority go before those with one (BullMQ). */
  priority?: number;
  startedBy?: JobStarter;
  /**
   * At most one unfinished job per key (letters, digits, `_`, `-`, `.`): while a job added with this key
   * is waiting, delayed or active, adding another returns that one instead, with `added: false` (BullMQ
   * deduplication).
   */
  unique?: string;
}

/** Job counts of one queue (`/metrics`, `flux jobs`). */
export type QueueCounts = Record<JobState, number>;

/** Where the queues live (lib/config.ts `jobs.store` once resolved). */
export type JobStore =
  | { kind: 'redis'; url: string }
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dir: string | 'memory' };

/** Options of {@link Jobs.open}, from `config.jobs` (lib/config.ts). */
export interface JobEngineOptions {
  store: JobStore;
  /** Queue names are `<namespace><name>` (several deployments on one store). */
  namespace: string;
  definitions: JobDefinition[];
  /** Whether this process runs jobs (and schedules repeatable ones). */
  workers: boolean;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  shutdownTimeoutMs: number;
  keepCompletedMs: number;
  log: Logger;
  /** Called for each progress step and the final state of a job that has a starter. */
  onProgress?: (event: JobProgressPayload, startedBy: JobStarter) => void;
}

/** What is stored as a BullMQ job's data: the handler's data and who started it. */
interface Envelope {
  data: unknown;
  startedBy?: JobStarter;
}

const jobName = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const jobKey = /^[A-Za-z0-9_.-]{1,200}$/;
/** The names of BullMQ's own keys in a queue (Redis `<prefix>:<queue>:<name>`): never job ids. */
const reservedIds = new Set([
  'active',
  'wait',
  'waiting',
  'waiting-children',
  'paused',
  'id',
  'delayed',
  'prioritized',
  'stalled-check',
  'completed',
  'failed',
  'stalled',
  'repeat',
  'limiter',
  'meta',
  'events',
  'pc',
  'marker',
  'de',
]);
/** Failed jobs kept per queue (the oldest are removed past it). */
const keptFailed = 1000;

/** The queues of the application's jobs and, on an instance that runs them, their workers. */
export class Jobs {
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly definitions = new Map<string, JobDefinition>();
  /** Controllers of the runs in progress, aborted by a forced stop. */
  private readonly running = new Set<AbortController>();
  private closing?: Promise<void>;

  /** The store and its queues, open (or opening) once something needs them. */
  private opened?: Promise<StoreResources>;

  /**
   * The queues of `options.definitions`, not open yet: the store is opened by {@link start}, or by the
   * first method that needs it (a tool that never touches a job never opens it — the CLI must not take
   * the PGlite folder of a running server).
   * @throws ConfigError for an invalid definition
   */
  constructor(private readonly options: JobEngineOptions) {
    for (const definition of options.definitions) {
      checkDefinition(definition);
      this.definitions.set(definition.name, definition);
    }
  }

  /** `new Jobs(options)`, started. */
  static async open(options: JobEngineOptions): Promise<Jobs> {
    const jobs = new Jobs(options);
    await jobs.start();
    return jobs;
  }

  /**
   * Opens the store (migrating BullMQ's PostgreSQL schema when needed) and a queue per definition; with
   * `workers`, schedules the repeatable jobs and starts a worker per definition.
   * @throws ConfigError when the store cannot be opened (unreachable, a PGlite folder in use)
   */
  async start(): Promise<void> {
    await this.ready();
  }

  private ready(): Promise<StoreResources> {
    this.opened ??= this.openOnce();
    return this.opened;
  }

  private async openOnce(): Promise<StoreResources> {
    const { options } = this;
    const resources = await openStore(options.store, options.definitions.length, options.log);
    try {
      for (const definition of options.definitions) {
        const queue = new resources.Queue(
          this.queueName(definition.name) as never,
          { connection: resources.connection, defaultJobOptions: this.jobOptions(definition) } as never,
        );
        queue.on('error', (err: Error) => options.log.error(`jobs: queue ${definition.name}:`, err));
        this.queues.set(definition.name, queue);
      }
      if (options.workers) {
        for (const definition of options.definitions) {
          await this.schedule(definition);
          this.startWorker(definition, resources);
        }
      }
    } catch (err) {
      await this.closeOpen(resources);
      throw err;
    }
    return resources;
  }

  /** The store's kind: `redis`, `postgres` or `pglite`. */
  get store(): JobStore['kind'] {
    return this.options.store.kind;
  }

  /** The names of the declared jobs. */
  get names(): string[] {
    return [...this.definitions.keys()];
  }

  /**
   * Adds a job of `name` with `data` (JSON).
   * @returns its public id (an existing job's when `options.id` or `options.unique` names one) and whether
   *   it was added: false when `unique` matched an unfinished job (an existing `id` is not reported)
   * @throws Error for an unknown name or an invalid `options.id` (a programming error, not a client's)
   */
  async add(
    name: string,
    data: unknown,
    options: AddJobOptions = {},
  ): Promise<{ id: string; added: boolean }> {
    const queue = await this.queue(name);
    for (const key of [options.id, options.unique]) {
      if (key !== undefined && (!jobKey.test(key) || reservedIds.has(key)))
        throw new Error(`jobs: invalid job id or key "${key}"`);
    }
    for (const [key, value] of [
      ['delayMs', options.delayMs],
      ['priority', options.priority],
    ] as const) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0))
        throw new Error(`jobs: ${key} must be a whole number ≥ 0, not ${String(value)}`);
    }
    const envelope: Envelope = { data, startedBy: options.startedBy };
    const jobId = options.id ?? randomUUID();
    const job = await queue.add(name, envelope, {
      jobId,
      delay: options.delayMs,
      priority: options.priority,
      ...(options.unique ? { deduplication: { id: options.unique } } : {}),
    });
    // `unique` matched an unfinished job: BullMQ returns it, under its own id
    return { id: `${name}.${job.id}`, added: job.id === jobId };
  }

  /** The job of public id `id`; undefined when there is none (or it was removed). */
  async get(id: string): Promise<JobStatus | undefined> {
    const found = this.parseId(id);
    if (!found) return undefined;
    const queue = await this.queue(found.name);
    // the state first, then the job: a job read before it finished would show a finished state without
    // its result or error
    const state = await queue.getJobState(found.jobId);
    if (state === 'unknown') return undefined;
    const job = await queue.getJob(found.jobId);
    return job ? this.status(job, publicState(state)) : undefined;
  }

  /**
   * Jobs in `state`, newest first, at most `limit`, of every queue (or those `filter` keeps): reads at
   * most `scan` jobs per queue.
   */
  async list(
    state: JobState,
    {
      limit = 50,
      scan = 1000,
      filter,
    }: { limit?: number; scan?: number; filter?: (job: JobStatus) => boolean } = {},
  ): Promise<JobStatus[]> {
    await this.ready();
    const types = state === 'waiting' ? ['waiting', 'prioritized', 'waiting-children'] : [state];
    const found: JobStatus[] = [];
    for (const queue of this.queues.values()) {
      const jobs = await queue.getJobs(types as never, 0, scan - 1, false);
      for (const job of jobs) {
        if (!job) continue;
        const status = await this.status(job, state);
        if (!filter || filter(status)) found.push(status);
      }
    }
    return found.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }

  /**
   * Runs a failed job again (its attempts start over).
   * @returns false when there is no such job or it is not failed
   */
  async retry(id: string): Promise<boolean> {
    const job = await this.job(id);
    if (!job || (await job.getState()) !== 'failed') return false;
    await job.retry('failed');
    return true;
  }

  /**
   * Removes a job that is not running.
   * @returns false when there is no such job or it is active
   */
  async remove(id: string): Promise<boolean> {
    const job = await this.job(id);
    if (!job || (await job.getState()) === 'active') return false;
    await job.remove();
    return true;
  }

  /** Job counts of each queue, by name. */
  async counts(): Promise<Record<string, QueueCounts>> {
    const result: Record<string, QueueCounts> = {};
    await this.ready();
    for (const [name, queue] of this.queues) {
      const counts = await queue.getJobCounts(
        'waiting',
        'prioritized',
        'waiting-children',
        'delayed',
        'active',
        'completed',
        'failed',
      );
      result[name] = {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0),
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      };
    }
    return result;
  }

  /**
   * Stops: workers take no new job; active ones may finish within `shutdownTimeoutMs`, past it their
   * `signal` aborts and they are left to return to the queue (another instance, or this one after a
   * restart, runs them again once their lock expires). Then closes the queues and the store. Safe to
   * call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const resources = await this.opened?.catch(() => undefined);
      if (resources) await this.closeOpen(resources);
    })();
    return this.closing;
  }

  private async closeOpen(resources: StoreResources): Promise<void> {
    const { log, shutdownTimeoutMs } = this.options;
    const gentle = Promise.all(this.workers.map((worker) => worker.close()));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      gentle.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      log.warn(`jobs: stopping with ${this.running.size} job(s) still running; they will run again`);
      for (const controller of this.running) controller.abort(new Error('Server shutting down'));
      await Promise.all(this.workers.map((worker) => worker.close(true).catch(() => {})));
    }
    for (const queue of this.queues.values()) await queue.close().catch(() => {});
    await resources.close();
  }

  private async queue(name: string): Promise<Queue> {
    if (!this.definitions.has(name)) throw new Error(`jobs: no job named "${name}" (api/jobs/${name}.ts)`);
    await this.ready();
    return this.queues.get(name) as Queue;
  }

  private queueName(name: string): string {
    return `${this.options.namespace.replaceAll(':', '.')}${name}`;
  }

  /** The BullMQ job of a public id, if any. */
  private async job(id: string): Promise<Job | undefined> {
    const found = this.parseId(id);
    if (!found) return undefined;
    const queue = await this.queue(found.name);
    return (await queue.getJob(found.jobId)) ?? undefined;
  }

  /**
   * The job name and BullMQ id of a public id (`<name>.<id>`); undefined for another string, and for the
   * names of BullMQ's own keys (`meta`, `stalled-check`…), which are not jobs.
   */
  private parseId(id: string): { name: string; jobId: string } | undefined {
    const dot = id.indexOf('.');
    if (dot < 1 || id.length > 300 || !this.definitions.has(id.slice(0, dot))) return undefined;
    const jobId = id.slice(dot + 1);
    if (jobId === '' || reservedIds.has(jobId)) return undefined;
    return { name: id.slice(0, dot), jobId };
  }

  private async status(job: Job, knownState?: JobState): Promise<JobStatus> {
    const state = knownState ?? publicState(await job.getState());
    const envelope = (job.data ?? {}) as Envelope;
    const status: JobStatus = {
      id: `${job.name}.${job.id}`,
      name: job.name,
      state,
      // a completed job is done, whether or not its handler reported progress
      progress: state === 'completed' ? 100 : typeof job.progress === 'number' ? job.progress : 0,
      attempts: job.attemptsStarted ?? job.attemptsMade,
      createdAt: new Date(job.timestamp).toISOString(),
    };
    if (state === 'completed') status.result = job.returnvalue ?? null;
    if (job.failedReason) status.error = job.failedReason;
    if (job.finishedOn && (state === 'completed' || state === 'failed'))
      status.finishedAt = new Date(job.finishedOn).toISOString();
    if (envelope.startedBy) status.startedBy = envelope.startedBy;
    return status;
  }

  private jobOptions(definition: JobDefinition): JobsOptions {
    const { options } = this;
    return {
      attempts: definition.attempts ?? options.attempts,
      backoff: { type: 'exponential', delay: definition.backoffMs ?? options.backoffMs },
      removeOnComplete: { age: Math.ceil((definition.keepCompletedMs ?? options.keepCompletedMs) / 1000) },
      removeOnFail: { count: keptFailed },
    };
  }

  /** Creates or updates the job scheduler of a repeatable definition (BullMQ job schedulers). */
  private async schedule(definition: JobDefinition): Promise<void> {
    if (!definition.repeat) return;
    const repeat =
      'everyMs' in definition.repeat
        ? { every: definition.repeat.everyMs }
        : { pattern: definition.repeat.pattern };
    // called while opening: the queue exists, `queue()` would wait for the opening to end
    await (this.queues.get(definition.name) as Queue).upsertJobScheduler(definition.name, repeat, {
      name: definition.name,
      data: { data: {} } satisfies Envelope,
    });
  }

  private startWorker(definition: JobDefinition, resources: StoreResources): void {
    const { options } = this;
    const processor = (job: Job, _token?: string, signal?: AbortSignal) =>
      this.process(definition, job, signal);
    const worker = new resources.Worker(
      this.queueName(definition.name) as never,
      processor as never,
      {
        connection: resources.connection,
        concurrency: definition.concurrency ?? 1,
        lockDuration: options.lockDurationMs,
        stalledInterval: options.stalledIntervalMs,
      } as never,
    );
    worker.on('error', (err: Error) => options.log.error(`jobs: worker ${definition.name}:`, err));
    worker.on('completed', (job: Job) => this.announceEnd(job, 'completed'));
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job) return;
      // by name: this module's class or BullMQ's own (which it throws itself, e.g. past maxStartedAttempts)
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) {
        options.log.warn(`jobs: ${definition.name}.${job.id} failed: ${err.message}`);
        this.announceEnd(job, 'failed');
      } else {
        options.log.info(
          `jobs: ${definition.name}.${job.id} attempt ${job.attemptsMade} failed: ${err.message}`,
        );
      }
    });
    this.workers.push(worker);
  }

  /** One attempt: the handler under the job's timeout, its signal aborted at the timeout or a forced stop. */
  private async process(definition: JobDefinition, job: Job, workerSignal?: AbortSignal): Promise<unknown> {
    const envelope = (job.data ?? {}) as Envelope;
    const timeoutMs = definition.timeoutMs ?? this.options.timeoutMs;
    const controller = new AbortController();
    const onWorkerAbort = () => controller.abort(workerSignal?.reason);
    workerSignal?.addEventListener('abort', onWorkerAbort, { once: true });
    this.running.add(controller);
    const id = `${definition.name}.${job.id}`;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`Job timed out after ${timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    const run: JobRun = {
      id,
      name: definition.name,
      data: envelope.data,
      attempt: job.attemptsMade + 1,
      startedBy: envelope.startedBy,
      signal: controller.signal,
      progress: async (percent) => {
        const progress = Math.max(0, Math.min(100, Math.round(percent)));
        await job.updateProgress(progress);
        if (envelope.startedBy)
          this.options.onProgress?.(
            { id, name: definition.name, state: 'active', progress },
            envelope.startedBy,
          );
      },
      update: async (data) => {
        envelope.data = data;
        await job.updateData({ ...envelope, data } satisfies Envelope);
      },
    };
    try {
      // the attempt fails at the deadline even when the handler ignores its signal
      return await Promise.race([definition.run(run), timedOut]);
    } finally {
      clearTimeout(timer);
      workerSignal?.removeEventListener('abort', onWorkerAbort);
      this.running.delete(controller);
    }
  }

  private announceEnd(job: Job, state: 'completed' | 'failed'): void {
    const envelope = (job.data ?? {}) as Envelope;
    if (!envelope.startedBy) return;
    const progress = state === 'completed' ? 100 : typeof job.progress === 'number' ? job.progress : 0;
    this.options.onProgress?.(
      { id: `${job.name}.${job.id}`, name: job.name, state, progress },
      envelope.startedBy,
    );
  }
}

/** BullMQ's state names → the public ones. */
function publicState(state: string): JobState {
  if (state === 'prioritized' || state === 'waiting-children' || state === 'unknown') return 'waiting';
  return (jobStates as readonly string[]).includes(state) ? (state as JobState) : 'waiting';
}

function checkDefinition(definition: JobDefinition): void {
  if (!jobName.test(definition.name ?? ''))
    throw new ConfigError(`jobs: "${definition.name}" is not a job name (letters, digits, _ and -)`);
  if (typeof definition.run !== 'function') throw new ConfigError(`jobs: ${definition.name} has no run()`);
}

/**
 * The job definitions of `dir` (`api/jobs/`): each file's default export (or its export named like the
 * file), whose `name` must be the file's name.
 * @throws ConfigError for a file without a definition or with another name
 */
export async function loadJobs(dir: string): Promise<JobDefinition[]> {
  const definitions: JobDefinition[] = [];
  for (const [file, exports] of await importDir(dir)) {
    const definition = (exports.default ?? exports[file]) as JobDefinition | undefined;
    if (!definition || typeof definition.run !== 'function')
      throw new ConfigError(`api/jobs/${file}: no job definition exported (export default defineJob({...}))`);
    if (definition.name !== file)
      throw new ConfigError(`api/jobs/${file}: the job is named "${definition.name}", not like its file`);
    definitions.push(definition);
  }
  return definitions;
}

/**
 * The store `config.jobs` names: `auto` is Redis with `redisUrl`, else PostgreSQL with a `postgres://`
 * `databaseUrl`, else PGlite in `dir` (default: beside the SQLite file, in memory for `:memory:`).
 * @throws ConfigError when the named store lacks its URL
 */
export function resolveJobStore(
  config: { store: 'auto' | 'redis' | 'postgres' | 'pglite'; dir?: string },
  {
    redisUrl,
    databaseUrl,
    sqliteStorage,
    rootdir,
  }: { redisUrl?: string; databaseUrl?: string; sqliteStorage: string; rootdir: string },
): JobStore {
  const postgresUrl = databaseUrl && /^postgres(ql)?:/.test(databaseUrl) ? databaseUrl : undefined;
  const store =
    config.store === 'auto' ? (redisUrl ? 'redis' : postgresUrl ? 'postgres' : 'pglite') : config.store;
  if (store === 'redis') {
    if (!redisUrl) throw new ConfigError('jobs.store: "redis" needs redis.url');
    return { kind: 'redis', url: redisUrl };
  }
  if (store === 'postgres') {
    if (!postgresUrl) throw new ConfigError('jobs.store: "postgres" needs a postgres:// database.url');
    return { kind: 'postgres', url: postgresUrl };
  }
  if (config.dir) return { kind: 'pglite', dir: path.resolve(rootdir, config.dir) };
  // an SQLite URL (`sqlite:/path/file.sqlite`, `sqlite::memory:`) names the file instead of `storage`
  const storage = databaseUrl?.startsWith('sqlite:')
    ? databaseUrl.slice(7).replace(/^\/\//, '')
    : sqliteStorage;
  if (storage === ':memory:' || storage === '') return { kind: 'pglite', dir: 'memory' };
  return { kind: 'pglite', dir: `${path.resolve(rootdir, storage)}.jobs` };
}

/** What a store gives the queues: BullMQ's classes for its backend, their connection, its closing. */
interface StoreResources {
  Queue: new (...args: never[]) => Queue;
  Worker: new (...args: never[]) => Worker;
  connection: unknown;
  close(): Promise<void>;
}

async function openStore(store: JobStore, queues: number, log: Logger): Promise<StoreResources> {
  const {
    Queue: RedisQueue,
    Worker: RedisWorker,
    createPostgresBackend,
    withBackend,
  } = await import('bullmq');
  if (store.kind === 'redis') {
    const { Redis } = await import('ioredis');
    // BullMQ's workers need commands that wait rather than fail while Redis reconnects
    const connection = new Redis(store.url, { maxRetriesPerRequest: null, lazyConnect: true });
    connection.on('error', (err: Error) => log.error(`jobs: redis: ${err.message}`));
    await connection.connect().catch((err: Error) => {
      connection.disconnect();
      throw new ConfigError(`jobs: Redis is not reachable (${err.message})`);
    });
    return {
      Queue: RedisQueue as StoreResources['Queue'],
      Worker: RedisWorker as StoreResources['Worker'],
      connection,
      close: async () => {
        await connection.quit().catch(() => connection.disconnect());
      },
    };
  }
  const { Queue, Worker } = withBackend(createPostgresBackend);
  if (store.kind === 'postgres') {
    const { default: pg } = await import('pg');
    // one pool for every queue and worker of this instance; each worker holds one of its connections to
    // LISTEN for new jobs, so it has room for those plus the queries
    const pool = new pg.Pool({
      connectionString: store.url,
      max: queues + 4,
      options: `-c search_path="${schema}"`,
      keepAlive: true,
    });
    pool.on('error', (err: Error) => log.error(`jobs: postgres: ${err.message}`));
    // every queue and worker listens to the shared pool's errors
    pool.setMaxListeners(queues * 4 + 10);
    try {
      const client = await pool.connect();
      try {
        await migrateStore(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => {});
      throw new ConfigError(`jobs: the PostgreSQL job store cannot be opened (${(err as Error).message})`);
    }
    return { Queue: Queue as never, Worker: Worker as never, connection: pool, close: () => pool.end() };
  }
  const release = store.dir === 'memory' ? () => {} : lockFolder(store.dir);
  try {
    const [{ PGlite }, { PGlitePool }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('./pglitePool.js'),
    ]);
    const started = Date.now();
    // 16 MB instead of 128 MB of shared buffers: about 130 MB less resident memory, ample for job rows
    const settings = { postgresqlconf: ['shared_buffers=16MB'] } as Parameters<typeof PGlite.create>[1];
    const db = await PGlite.create(store.dir === 'memory' ? 'memory://' : store.dir, settings);
    const pool = new PGlitePool(db);
    const client = await pool.connect();
    try {
      await migrateStore(client as never);
    } finally {
      client.release();
    }
    // BullMQ's SQL names its tables unqualified; PGlite is one session, so this holds for every query
    await db.exec(`SET search_path TO "${schema}"`);
    log.debug(`jobs: PGlite job store open in ${Date.now() - started} ms`);
    return {
      Queue: Queue as never,
      Worker: Worker as never,
      connection: pool,
      close: async () => {
        await pool.end();
        await db.close().catch(() => {});
        release();
      },
    };
  } catch (err) {
    release();
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `jobs: the PGlite job store in ${store.dir} cannot be opened (${(err as Error).message})`,
    );
  }
}

/** BullMQ's schema on PostgreSQL (its default: the one its checks expect of a pool it did not make). */
const schema = 'bullmq';

/**
 * Brings BullMQ's schema up to date. On every start but the first it is: one read (BullMQ's own check of
 * the schema's and the server's versions) instead of its migration transaction, whose DDL costs about
 * 0.1 s of CPU on PGlite (docs/performance.md).
 */
async function migrateStore(client: Parameters<typeof runMigrations>[0]): Promise<void> {
  const { assertSchemaCompatibility, LATEST_SCHEMA_VERSION, runMigrations, SchemaMigrationRequiredError } =
    await import('bullmq');
  const version = await assertSchemaCompatibility(client, schema).catch((err: unknown) => {
    if (err instanceof SchemaMigrationRequiredError) return 0;
    throw err;
  });
  if (version < LATEST_SCHEMA_VERSION) await runMigrations(client, schema);
}

/**
 * Takes `<dir>/flux.lock` for this process: a PGlite folder opened by two processes loses writes.
 * @returns its release
 * @throws ConfigError when a live process holds it
 */
function lockFolder(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'flux.lock');
  let holder: number | undefined;
  try {
    holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    holder = undefined;
  }
  if (holder && holder !== process.pid && processAlive(holder)) {
    throw new ConfigError(
      `jobs: the job store ${dir} is in use by process ${holder} (one process at a time: stop it, or use GET /job)`,
    );
  }
  writeFileSync(file, String(process.pid));
  return () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
