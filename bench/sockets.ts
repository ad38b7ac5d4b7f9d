/**
 * The sockets part of `npm run bench` (`BENCH_ONLY=sockets`; docs/performance.md): 10,000 idle,
 * authenticated, subscribed sockets on one Flux instance, and the storm of their reconnections when it
 * restarts.
 *
 * - Users: BENCH_SOCKETS / BENCH_SOCKETS_PER_USER (default 10,000 / 10 = 1,000) users added to ten teams of
 *   the demo event (bars, logistics, security, organisers), their password hashed once at bcrypt cost 4 so
 *   that logging them in costs little; each logs in once over HTTP and its token serves
 *   BENCH_SOCKETS_PER_USER clients (each its own socket, so its own session binding on the server).
 * - Clients: `@flux/client` (client/dist) in load processes of at most 2,500 clients each
 *   (bench/socketsLoad.mjs), each client with its socket (handshake token) and one live query, the last 20
 *   messages the user may read (`sort: '-id'`, a subscribed `find`).
 * - Server: Flux built for production (bench/servers/flux.mjs with `--expose-gc`, BENCH_PROBE, a fixed
 *   port), which answers SIGUSR2 with its heap + external after a full GC, its CPU time since it
 *   listened, the SQL statements it ran since (by statement and table) and the sockets its room broadcasts
 *   visited.
 *
 * Measured: memory per socket (heap + external after GC: from a fresh process, and from 100 to all
 * sockets); publish cost of a message none of the subscribers may read (server CPU per write and sockets
 * visited) with 100 and with all sockets; the storm: SIGTERM (SIGKILL after 30 s, an orchestrator's grace
 * period), the server starts again on the same port once the old one is gone, and while it is down two
 * messages are written in the database (the clients missed them); every client
 * reconnects with socket.io's backoff, is authenticated by its handshake token and reads its live query
 * again. Reported: the time until every live query re-read and until it equals a fresh `find`, the
 * server's CPU and SQL statements per reconnection, the errors (refused handshakes, ended sessions,
 * failed reads), the clients' retries once the server listened again (by socket.io's cause: a `timeout`
 * may leave the server a connection to serve for nobody), the engine.io connections it accepted against
 * the sockets that connected, and then the delivery of two new messages to every live query.
 *
 *   DATABASE_URL=postgres://… BENCH_ONLY=sockets npm run bench
 *   BENCH_SOCKETS=1000 …                        # fewer clients (BENCH_SOCKETS_PER_USER per token, default 10)
 *   BENCH_SOCKETS_PROFILE=storm.cpuprofile …    # the restarted server's CPU profile until all read again
 *   BENCH_STOP_PROFILE=stop.cpuprofile …        # a CPU profile of each stop (SIGTERM to exit; the last wins)
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import bcrypt from 'bcrypt';
import pidusage from 'pidusage';
import { Sequelize } from 'sequelize';
import { root } from './child.js';

const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000);
const PER_USER = Number(process.env.BENCH_SOCKETS_PER_USER ?? 10);
const PER_PROCESS = 2_500;
/** Subscribers of the small publish phase. */
const FEW = 100;
const PUBLISH_WRITES = 100;
const PUBLISH_ROUNDS = 3;
const PASSWORD = 'bench-sockets-password';
/** The teams the users join: every one may read at least one of the two channels written during the storm. */
const TEAMS = [
  'Bar Nord',
  'Bar Sud',
  'Bar Central',
  'Bar VIP',
  'Logistics',
  'Cleaning',
  'Security',
  'First aid',
  'Welcome desk',
  'Stage',
];
const LIVE = { model: 'message', params: { sort: '-id', limit: 20 } };
/**
 * Every live query must be exact again within 30 s of the restart (issue 16); the wait gives up at twice
 * that after the server listens again (BENCH_SOCKETS_STORM_SECONDS).
 */
const STORM_TIMEOUT_MS = Number(process.env.BENCH_SOCKETS_STORM_SECONDS ?? 60) * 1000;

interface Probe {
  /** When the server listened (ms since epoch); the counters below start there. */
  listeningAt: number;
  heapUsed: number;
  external: number;
  rss: number;
  cpuMs: number;
  queryCount: number;
  queries: Record<string, number>;
  sockets: number;
  rooms: { broadcasts: number; socketsVisited: number };
  /** engine.io connections accepted, socket.io sockets connected (the difference never connected). */
  connections: { accepted: number; connected: number };
}

interface Server {
  process: ChildProcess;
  url: string;
  probes: Array<(probe: Probe) => void>;
  /** The counters it printed when it stopped (BENCH_PROBE), once it has. */
  stopped?: Omit<Probe, 'heapUsed' | 'external' | 'rss'>;
}

export interface SocketsOptions {
  /** The environment of the bench's servers (database, JWT secret). */
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  log: (line: string) => void;
}

/** How many file descriptors a process may open: the soft and the hard limit of this shell. */
function fileLimits(): { soft: number; hard: number } {
  const read = (flag: string) => {
    const out = spawnSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).stdout.trim();
    return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

/** Spawns `node <args>` with at least `files` file descriptors (raising the soft limit in a shell if needed). */
function spawnNode(args: string[], env: NodeJS.ProcessEnv, files: number): ChildProcess {
  const { soft, hard } = fileLimits();
  if (hard < files) throw new Error(`sockets: ${files} file descriptors needed, the hard limit is ${hard}`);
  const options: SpawnOptions = {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  };
  if (soft >= files) return spawn(process.execPath, args, options);
  return spawn('sh', ['-c', `ulimit -n ${files} && exec "$0" "$@"`, process.execPath, ...args], options);
}

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  createInterface({ input: child.stdout! }).on('line', onLine);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function startServer(env: NodeJS.ProcessEnv, port: number, nodeArgs: string[] = []): Promise<Server> {
  const child = spawnNode(
    ['--expose-gc', ...nodeArgs, 'bench/servers/flux.mjs'],
    { ...env, BENCH_PORT: String(port), BENCH_PROBE: '1' },
    SOCKETS + 1_000,
  );
  const server: Server = { process: child, url: `http://127.0.0.1:${port}`, probes: [] };
  return new Promise((resolve, reject) => {
    lines(child, (line) => {
      if (line.startsWith('ready ')) resolve(server);
      if (line.startsWith('memory ')) server.probes.shift()?.(JSON.parse(line.slice(7)));
      if (line.startsWith('stopped ')) server.stopped = JSON.parse(line.slice(8));
    });
    child.once('exit', (code) => reject(new Error(`flux exited with ${code}`)));
  });
}

function probe(server: Server): Promise<Probe> {
  return new Promise((resolve) => {
    server.probes.push(resolve);
    server.process.kill('SIGUSR2');
  });
}

/**
 * SIGTERM, then SIGKILL after `graceMs`: Flux waits for its background writes up to twice
 * `server.shutdownTimeoutMs` (10 s by default), and each closed socket writes its session's disconnection.
 */
async function stopServer(server: Server, graceMs = 30_000): Promise<number> {
  const started = Date.now();
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, graceMs))]);
  server.process.kill('SIGKILL');
  return Date.now() - started;
}

/** A load process (bench/socketsLoad.mjs) and its commands. */
class Load {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, Array<(value: unknown) => void>>();

  constructor(url: string, tokens: Array<{ token: string; login: string }>) {
    this.child = spawnNode(['bench/socketsLoad.mjs'], {}, tokens.length + 200);
    lines(this.child, (line) => {
      const space = line.indexOf(' ');
      const command = line.slice(0, space);
      const value = JSON.parse(line.slice(space + 1));
      this.waiting.get(command)?.shift()?.(value);
    });
    // the tokens on stdin: 2,500 of them are past the size of one command-line argument
    void this.send('init', JSON.stringify({ url, tokens, live: LIVE }));
  }

  send<T>(command: string, arg = ''): Promise<T> {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(command) ?? [];
      queue.push((value) => {
        const failed = (value as { error?: string }).error;
        if (failed) reject(new Error(`load ${command}: ${failed}`));
        else resolve(value as T);
      });
      this.waiting.set(command, queue);
      this.child.stdin!.write(`${command} ${arg}\n`);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.send('close').catch(() => {});
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    this.child.kill('SIGKILL');
  }
}

interface Status {
  clients: number;
  connected: number;
  reconnected: number;
  rereadSinceMark: number;
  retries: number;
  errors: { refused: number; authEnded: number; readFailed: number; liveError: number; other: string[] };
}

/** Users in TEAMS, their password hashed once at cost 4 (the default cost would make 1,000 logins slow). */
async function seedUsers(
  databaseUrl: string,
  count: number,
): Promise<{ foodTeamId: number; coordTeamId: number }> {
  const sequelize = new Sequelize(databaseUrl, { logging: false });
  try {
    const [teams] = (await sequelize.query('SELECT id, name, "tenantId" FROM "Teams"')) as [
      Array<{ id: number; name: string; tenantId: number }>,
      unknown,
    ];
    const team = (name: string) => {
      const found = teams.find((t) => t.name === name);
      if (!found) throw new Error(`sockets: no team ${name}`);
      return found;
    };
    const [[seeded]] = (await sequelize.query(
      'SELECT count(*)::int AS n FROM "Users" WHERE login LIKE \'sock-%\'',
    )) as [Array<{ n: number }>, unknown];
    if (seeded.n < count) {
      const hash = await bcrypt.hash(PASSWORD, 4);
      const now = new Date().toISOString();
      for (let i = seeded.n; i < count; i += 500) {
        const rows = Array.from({ length: Math.min(500, count - i) }, (_, j) => i + j);
        await sequelize.query(
          `INSERT INTO "Users" ("tenantId", login, name, password, "teamId", preferences, "createdAt", "updatedAt") VALUES ${rows
            .map(
              (n) =>
                `(${team(TEAMS[n % TEAMS.length]).tenantId}, 'sock-${n}', 'Socket ${n}', :hash, ${team(TEAMS[n % TEAMS.length]).id}, '{}', :now, :now)`,
            )
            .join(', ')}`,
          { replacements: { hash, now } },
        );
      }
    }
    return { foodTeamId: team('Food court').id, coordTeamId: team('Coordination').id };
  } finally {
    await sequelize.close();
  }
}

/** Two messages written straight into the database (the server is down: nobody is told). */
async function writeWhileDown(databaseUrl: string, coordTeamId: number): Promise<void> {
  const sequelize = new Sequelize(databaseUrl, { logging: false });
  try {
    const now = new Date().toISOString();
    await sequelize.query(
      `INSERT INTO "Messages" ("tenantId", channel, text, "userId", "createdAt", "updatedAt") VALUES
       (1, 'group:bars', 'written while the server was down', NULL, :now, :now),
       (1, :public, 'written while the server was down', NULL, :now, :now)`,
      { replacements: { now, public: `public:${coordTeamId}` } },
    );
  } finally {
    await sequelize.close();
  }
}

async function login(url: string, user: string, password: string): Promise<string> {
  const response = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: user, password }),
  });
  if (response.status !== 200) throw new Error(`login ${user}: ${response.status}`);
  return ((await response.json()) as { jwt: string }).jwt;
}

async function post(url: string, token: string, channel: string, text: string): Promise<number> {
  const response = await fetch(`${url}/message`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, text }),
  });
  if (response.status !== 201) throw new Error(`write: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: number }).id;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
const kb = (bytes: number) => round(bytes / 1024);

/** Server CPU per write (ms) of PUBLISH_WRITES messages nobody subscribed may read, and the sockets visited. */
async function publishCost(server: Server, token: string, channel: string) {
  const rounds: Array<{ cpuUsPerWrite: number; idleCpuMsPerSecond: number; socketsVisitedPerWrite: number }> =
    [];
  for (let r = 0; r < PUBLISH_ROUNDS; r++) {
    const before = await probe(server); // with its full GC: settled before the CPU is read
    await sleep(300);
    const idleStart = await pidusage(server.process.pid as number);
    await sleep(1000);
    const start = await pidusage(server.process.pid as number);
    const started = Date.now();
    for (let i = 0; i < PUBLISH_WRITES; i++) await post(server.url, token, channel, `publish ${r}.${i}`);
    const end = await pidusage(server.process.pid as number);
    const seconds = (Date.now() - started) / 1000;
    const after = await probe(server);
    const idle = start.ctime - idleStart.ctime; // ms in one second
    rounds.push({
      cpuUsPerWrite: Math.round(((end.ctime - start.ctime - idle * seconds) * 1000) / PUBLISH_WRITES),
      idleCpuMsPerSecond: idle,
      socketsVisitedPerWrite: (after.rooms.socketsVisited - before.rooms.socketsVisited) / PUBLISH_WRITES,
    });
  }
  const cpu = rounds.map((r) => r.cpuUsPerWrite);
  return {
    cpuUsPerWrite: median(cpu),
    min: Math.min(...cpu),
    max: Math.max(...cpu),
    idleCpuMsPerSecond: median(rounds.map((r) => r.idleCpuMsPerSecond)),
    socketsVisitedPerWrite: Math.max(...rounds.map((r) => r.socketsVisitedPerWrite)),
  };
}

/** The sockets part: see the header. Returns its figures (also logged). */
export async function socketsPart({
  env,
  databaseUrl,
  log,
}: SocketsOptions): Promise<Record<string, unknown>> {
  const started = Date.now();
  log(`sockets (Flux): ${SOCKETS} clients of @flux/client with a live query each, then a restart`);
  try {
    execFileSync('npm', ['run', '--silent', 'client:build'], { cwd: root, stdio: 'inherit' });
  } catch {
    log('  client:build failed: the clients run the client/dist already there');
  }
  const users = Math.ceil(SOCKETS / PER_USER);
  const { foodTeamId, coordTeamId } = await seedUsers(databaseUrl, users);
  const port = await freePort();
  let server = await startServer(env, port);
  const loads: Load[] = [];
  try {
    const coord = await login(server.url, 'coord', 'festival-2026');
    let at = Date.now();
    const tokens: string[] = [];
    // 4 at once: one address may have 2 password checks running and 4 waiting (auth.hashPerAddress…)
    for (let i = 0; i < users; i += 4)
      tokens.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(4, users - i) }, (_, j) =>
            login(server.url, `sock-${i + j}`, PASSWORD),
          ),
        )),
      );
    log(
      `  ${users} users logged in in ${((Date.now() - at) / 1000).toFixed(1)} s (one token per ${PER_USER} sockets)`,
    );
    const clients = Array.from({ length: SOCKETS }, (_, n) => ({
      token: tokens[n % users],
      login: `sock-${n % users}`,
    }));
    for (let i = 0; i < SOCKETS; i += PER_PROCESS)
      loads.push(new Load(server.url, clients.slice(i, i + PER_PROCESS)));
    const each = <T>(command: string, arg?: (load: Load, i: number) => string) =>
      Promise.all(loads.map((load, i) => load.send<T>(command, arg?.(load, i))));

    // memory and publish cost: a fresh process, then FEW sockets, then all of them
    const channel = `private:${foodTeamId}`; // read by the coordination and admins only
    const fresh = await probe(server);
    await loads[0].send('grow', String(FEW));
    await sleep(2000);
    const few = await probe(server);
    const publishFew = await publishCost(server, coord, channel);
    log(`  publish with ${FEW} subscribers who may not read the item: ${JSON.stringify(publishFew)}`);
    at = Date.now();
    const cpuBefore = (await pidusage(server.process.pid as number)).ctime;
    const grown = await each<{ clients: number; seconds: number }>('grow', () => String(PER_PROCESS));
    const total = grown.reduce((sum, g) => sum + g.clients, 0);
    const connectCpuMs = (await pidusage(server.process.pid as number)).ctime - cpuBefore;
    const connectSeconds = (Date.now() - at) / 1000;
    log(
      `  ${total} clients connected with a live query each in ${connectSeconds.toFixed(1)} s (server CPU ${(connectCpuMs / (total - FEW)).toFixed(2)} ms per client)`,
    );
    await sleep(3000);
    const all = await probe(server);
    if (all.sockets < total)
      throw new Error(`sockets: ${all.sockets} sockets on the server, ${total} clients`);
    const perSocket = (from: Probe, count: number) =>
      kb((all.heapUsed + all.external - from.heapUsed - from.external) / count);
    const memory = {
      sockets: all.sockets,
      heapExternalPerSocketKB: perSocket(fresh, all.sockets),
      heapExternalPerSocketKBFrom100: perSocket(few, all.sockets - few.sockets),
      rssPerSocketKB: kb((all.rss - fresh.rss) / all.sockets),
      heapUsedMB: round(all.heapUsed / 2 ** 20),
      externalMB: round(all.external / 2 ** 20),
    };
    log(`  memory: ${JSON.stringify(memory)}`);
    const publishAll = await publishCost(server, coord, channel);
    log(`  publish with ${total} subscribers who may not read the item: ${JSON.stringify(publishAll)}`);

    // the storm
    const before = (await each<Status>('status')).reduce((sum, s) => sum + s.connected, 0);
    const lastProbe = await probe(server);
    const t0 = Date.now();
    await each('mark', () => String(t0));
    const old = server;
    const shutdownMs = await stopServer(old);
    const shutdown = old.stopped && {
      cpuMs: Math.round(old.stopped.cpuMs - lastProbe.cpuMs),
      queries: Object.fromEntries(
        Object.entries(old.stopped.queries)
          .map(([kind, n]) => [kind, n - (lastProbe.queries[kind] ?? 0)])
          .filter(([, n]) => n),
      ),
    };
    log(`  shutdown with ${before} sockets: ${shutdownMs} ms, ${JSON.stringify(shutdown)}`);
    await writeWhileDown(databaseUrl, coordTeamId);
    // BENCH_SOCKETS_PROFILE=<file>: a CPU profile of the restarted server until every live query read again
    const profile = process.env.BENCH_SOCKETS_PROFILE;
    server = await startServer(profile ? { ...env, BENCH_PROFILE: path.resolve(profile) } : env, port);
    const readyMs = Date.now() - t0;
    log(
      `  restart: SIGTERM to exit ${shutdownMs} ms, started again (job store open) ${readyMs} ms after SIGTERM`,
    );
    let statuses: Status[] = [];
    let done = false;
    let lastLog = 0;
    while (Date.now() - t0 < readyMs + STORM_TIMEOUT_MS) {
      statuses = await each<Status>('status');
      const reread = statuses.reduce((sum, s) => sum + s.rereadSinceMark, 0);
      const connected = statuses.reduce((sum, s) => sum + s.connected, 0);
      if (Date.now() - lastLog > 2000) {
        log(
          `    ${((Date.now() - t0) / 1000).toFixed(1)} s: ${connected} connected, ${reread} live queries read again`,
        );
        lastLog = Date.now();
      }
      if (reread >= total && connected >= total) {
        done = true;
        break;
      }
      await sleep(100);
    }
    const allReadMs = Date.now() - t0;
    const storm = await probe(server);
    // a server that did not get through the storm: no fresh finds (they would wait behind it)
    const checks = !done
      ? []
      : await each<{
          clients: number;
          exact: number;
          mismatches: unknown[];
          changedAfterMark: number[];
          freshFinds: number;
        }>('check');
    const changed = checks.flatMap((c) => c.changedAfterMark);
    const exact = checks.reduce((sum, c) => sum + c.exact, 0);
    const reconnects = statuses.reduce((sum, s) => sum + s.rereadSinceMark, 0);
    // the retries once the server listened again, by cause: a `timeout` is socket.io's connect timeout,
    // whose connection may still be served later from the accept queue (work for nobody)
    const retriesAfterListening: Record<string, number> = {};
    for (const byKind of await each<Record<string, number>>('retries', () => String(storm.listeningAt)))
      for (const [kind, n] of Object.entries(byKind))
        retriesAfterListening[kind] = (retriesAfterListening[kind] ?? 0) + n;
    const errors = statuses.reduce(
      (sum, s) => ({
        refused: sum.refused + s.errors.refused,
        authEnded: sum.authEnded + s.errors.authEnded,
        readFailed: sum.readFailed + s.errors.readFailed,
        liveError: sum.liveError + s.errors.liveError,
      }),
      { refused: 0, authEnded: 0, readFailed: 0, liveError: 0 },
    );
    const stormFigures = {
      sockets: before,
      done,
      reconnected: reconnects,
      shutdownMs,
      shutdown,
      listeningAfterMs: storm.listeningAt - t0,
      startResolvedAfterMs: readyMs,
      allReadAgainAfterMs: allReadMs,
      allReadAgainAfterListeningMs: allReadMs - (storm.listeningAt - t0),
      exactAfterCheck: exact,
      exactAfterMs: {
        p50: percentile(changed, 50),
        p99: percentile(changed, 99),
        max: changed.length ? Math.max(...changed) : null,
        changed: changed.length,
      },
      serverCpuMsPerReconnect: round(storm.cpuMs / reconnects, 2),
      serverCpuMs: Math.round(storm.cpuMs),
      queriesPerReconnect: round(storm.queryCount / reconnects, 2),
      queries: storm.queries,
      retries: statuses.reduce((sum, s) => sum + s.retries, 0),
      retriesAfterListening,
      connections: storm.connections,
      errors,
      errorSamples: statuses.flatMap((s) => s.errors.other).slice(0, 5),
      mismatches: checks.flatMap((c) => c.mismatches).slice(0, 3),
    };
    log(`  storm: ${JSON.stringify(stormFigures)}`);

    // after the storm: two writes, one per channel; every live query that may read one shows it
    if (!done)
      return {
        sockets: total,
        users,
        memory,
        publish: { [FEW]: publishFew, [total]: publishAll },
        storm: stormFigures,
      };
    const written = Date.now();
    const ids = [
      await post(server.url, coord, 'group:bars', 'after the restart'),
      await post(server.url, coord, `public:${coordTeamId}`, 'after the restart'),
    ];
    await sleep(3000);
    const delays = (
      await each<Array<number | null>>('seen', () => JSON.stringify({ ids, at: written }))
    ).flat();
    const shown = delays.filter((d): d is number => d !== null);
    const after = await each<{ exact: number }>('check');
    const delivery = {
      shown: shown.length,
      p50Ms: percentile(shown, 50),
      maxMs: Math.max(...shown),
      exact: after.reduce((sum, c) => sum + c.exact, 0),
    };
    log(`  after the storm, two writes: ${JSON.stringify(delivery)}`);
    return {
      sockets: total,
      users,
      socketsPerToken: PER_USER,
      loadProcesses: loads.length,
      memory,
      publish: { [FEW]: publishFew, [total]: publishAll },
      storm: stormFigures,
      afterStorm: delivery,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await Promise.all(loads.map((load) => load.close()));
    await stopServer(server);
  }
}

// Alone, on a database that bench/seed.mjs prepared (and dist/ built):
//   BENCH_DB_URL=postgres://…/bench_sockets BENCH_JWT_SECRET=… npx tsx bench/sockets.ts
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const databaseUrl = process.env.BENCH_DB_URL;
  if (!databaseUrl) throw new Error('BENCH_DB_URL: a database seeded by bench/seed.mjs');
  const env = { BENCH_DB_URL: databaseUrl, BENCH_JWT_SECRET: process.env.BENCH_JWT_SECRET, REDIS_URL: '' };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  socketsPart({ env, databaseUrl, log }).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (err: unknown) => {
      log(`sockets: ${(err as Error).stack}`);
      process.exit(1);
    },
  );
}
