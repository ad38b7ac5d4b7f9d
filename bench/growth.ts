/**
 * The growth part of `npm run bench` (`BENCH_ONLY=growth`; also alone: `npx tsx bench/growth.ts`), on
 * PostgreSQL only (it says so and stops on SQLite): whether a request costs the same when the tables are
 * a hundred times larger.
 *
 * Two databases of its own, each seeded by Flux (bench/seed.mjs: migrations, the demo event, 2,000
 * messages) and then by SQL (INSERT … SELECT FROM generate_series) to their size: `small`, 10,000
 * messages and 1,000 users, and `large`, 1,000,000 messages and 100,000 users, in the demo tenant. Users
 * are spread over teams of 100 (extra teams with the demo's roles and groups); messages over every team's
 * public and private channel and every group's channel, a tenth of them in the coordination's public
 * channel (`public:2`, the busiest, and the one measured) and the rest skewed towards the first channels,
 * written by random users over the three days before the seed, in order, into their indexes. The two
 * are seeded at once. Seeding time is reported apart, step by step.
 *
 * One Flux (production build, bench/servers/flux.mjs) per database, both running at once, and alternating
 * rounds (bench/rounds.ts): each round measures one phase of every operation on `small` then `large`. The
 * operations, over the socket as the `coord` user (1 socket, 4 requests in flight: the query gate admits
 * 1 expensive read of a user at a time and 4 waiting), at a fixed rate each (below), one request each:
 * - `get`: `GET /message/<id>` of a message in the middle of the table;
 * - `list`: the newest 20 of `public:2` as the console asks them (`sort: ['-createdAt', '-id']`);
 * - `create`: `POST /message` in `public:2` (the rows it added are deleted after each phase and the
 *   table vacuumed and analyzed, so every phase reads the seeded data);
 * - `count`: `count: true` on the list of `public:2` (limit 20, by id) — 2,222 messages in `small`,
 *   109,031 in `large`; counted up to `query.maxCount` (10,000) + 1 rows (docs/protocol.md).
 * Per phase: server CPU per request (pidusage, user + system), the same net of the server's idle CPU
 * (measured for 3 s before the rounds: timers and job polling, which weigh on a slow operation's figure),
 * the CPU of the PostgreSQL backends of that database per request (not in the server's figure), latency
 * p50/p99. Per operation: medians over the rounds and the ratio large / small taken per round (median,
 * min–max); the target (≤ 1.3) is read on the gross server CPU.
 *
 *   DATABASE_URL=postgres://… BENCH_ONLY=growth npm run bench
 *   BENCH_GROWTH_SECONDS=2.5 (phase length, default 2.5)   BENCH_ROUNDS=5 (rounds, default 5)
 *   BENCH_GROWTH_KEEP=1   keep the two databases after the run and reuse them when they hold the seed
 *   BENCH_GROWTH_LOAD=closed   as fast as the servers answer instead of a fixed rate per operation
 *
 * Seeding took 48 s here, both side by side (Flux's seed 11 s each; then the large one's users 1.5 s,
 * messages 35 s, vacuum 0.7 s; one after the other it took 10 and 45 s); the rounds about 2 minutes (one
 * load process for all: bench/loadProcess.ts), plus the build (tsc, about 30 s; not made again when `npm
 * run build` made `dist/` from these sources, as `npm run bench` does first) and the servers' start.
 * Prints a `result {…}` line on stdout for bench/run.ts.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import pidusage from 'pidusage';
import { builtFromSources } from '../scripts/sources.js';
import { root, runNode } from './child.js';
import { LoadProcess } from './loadProcess.js';
import { type Comparison, describe, runRounds, type Sample, spread } from './rounds.js';

const SECONDS = Number(process.env.BENCH_GROWTH_SECONDS ?? 2.5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const KEEP = process.env.BENCH_GROWTH_KEEP === '1';
/**
 * The load: by default a fixed rate per operation (get 300 requests/s, list 200, create 150, count 60),
 * the same for both sizes, below what either answers on this machine; a server's CPU per request falls as
 * its load rises (more requests per wake-up of the event loop), so as-fast-as-possible phases would
 * charge a slower database to the server. BENCH_GROWTH_LOAD=closed: as fast as the server answers.
 */
const CLOSED = process.env.BENCH_GROWTH_LOAD === 'closed';
const SECRET = 'bench-secret-0123456789-0123456789-0123456789';
/** The ratio large / small each operation must stay under (issue 16). */
const TARGET = 1.3;

interface Size {
  name: 'small' | 'large';
  database: string;
  messages: number;
  users: number;
}
const SIZES: Size[] = [
  { name: 'small', database: 'bench_growth_small', messages: 10_000, users: 1_000 },
  { name: 'large', database: 'bench_growth_large', messages: 1_000_000, users: 100_000 },
];
/** What the seed leaves in a database: a database whose comment says so is reused with BENCH_GROWTH_KEEP. */
const seedMark = (size: Size) => `flux bench growth v1: ${size.messages} messages, ${size.users} users`;

const CHANNEL = 'public:2';
const LIST = { filters: { channel: CHANNEL }, sort: ['-createdAt', '-id'], limit: 20 };
const COUNT = { filters: { channel: CHANNEL }, limit: 20, count: true };

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function databaseUrl(name: string): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

/**
 * The SQL that grows a freshly seeded demo event to `size`: teams of 100 users, then the messages. The
 * password of every added user is coord's (bcrypt), so any of them could log in.
 */
function growthSql(size: Size): string[] {
  const extraTeams = Math.ceil(size.users / 100);
  return [
    `INSERT INTO "Teams" ("tenantId", name, "group", location, role, "createdAt", "updatedAt")
     SELECT 1, 'Team ' || g, (ARRAY['bars', 'food', 'logistics', 'safety', 'orga'])[1 + g % 5],
            'Zone ' || (g % 40), (ARRAY['bar', 'bar', 'logistics', 'security', 'orga'])[1 + g % 5], now(), now()
     FROM generate_series(1, ${extraTeams}) AS g`,
    `INSERT INTO "Users" ("tenantId", login, name, password, "teamId", preferences, "createdAt", "updatedAt")
     SELECT 1, 'user-' || g, 'User ' || g, coord.password, teams.ids[1 + g % array_length(teams.ids, 1)],
            '{}', now(), now()
     FROM generate_series(1, ${size.users} - (SELECT count(*) FROM "Users")) AS g,
          (SELECT password FROM "Users" WHERE login = 'coord') AS coord,
          (SELECT array_agg(id ORDER BY id) AS ids FROM "Teams" WHERE name LIKE 'Team %') AS teams`,
    `WITH channels AS (
       SELECT array_agg(channel ORDER BY n) AS names FROM (
         SELECT row_number() OVER (ORDER BY kind, id) AS n, channel FROM (
           SELECT 1 AS kind, id, 'public:' || id AS channel FROM "Teams" WHERE "tenantId" = 1
           UNION ALL SELECT 2, id, 'private:' || id FROM "Teams" WHERE "tenantId" = 1
           UNION ALL SELECT 3, min(id), 'group:' || "group" FROM "Teams"
             WHERE "tenantId" = 1 AND "group" IS NOT NULL GROUP BY "group"
         ) AS all_channels
       ) AS numbered
     ), users AS (SELECT min(id) AS low, max(id) AS high FROM "Users" WHERE "tenantId" = 1),
     total AS (SELECT ${size.messages} - count(*) AS n FROM "Messages")
     INSERT INTO "Messages" ("tenantId", text, channel, "userId", "createdAt", "updatedAt")
     SELECT 1, 'Message ' || g || ': ' || left(md5(g::text), (8 + g % 24)::int),
            CASE WHEN g % 10 = 0 THEN '${CHANNEL}'
                 ELSE channels.names[1 + floor(array_length(channels.names, 1) * random() ^ 2)::int] END,
            users.low + floor(random() * (users.high - users.low + 1))::int,
            now() - interval '3 days' + (interval '3 days' * g / total.n),
            now() - interval '3 days' + (interval '3 days' * g / total.n)
     FROM channels, users, total, generate_series(1, total.n) AS g`,
  ];
}

/** Creates and seeds the database of `size` (or reuses it with BENCH_GROWTH_KEEP); its seeding seconds. */
async function prepare(size: Size): Promise<number | 'reused'> {
  const admin = process.env.DATABASE_URL!;
  const url = databaseUrl(size.database);
  if (KEEP) {
    const mark = await withClient(admin, async (client) => {
      const { rows } = await client.query<{ mark: string | null }>(
        'SELECT shobj_description(oid, $1) AS mark FROM pg_database WHERE datname = $2',
        ['pg_database', size.database],
      );
      return rows[0]?.mark;
    });
    if (mark === seedMark(size)) return 'reused';
  }
  const started = Date.now();
  await withClient(admin, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${size.database}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${size.database}"`);
  });
  const seed = runNode('bench/seed.mjs', [], { BENCH_DB_URL: url, BENCH_JWT_SECRET: SECRET });
  if ((await exited(seed)) !== 0) throw new Error(`seeding ${size.database} failed`);
  const steps = [`Flux's seed ${((Date.now() - started) / 1000).toFixed(1)} s`];
  await withClient(url, async (client) => {
    // into their indexes, row after row, as a table that grew all weekend (indexes built once from sorted
    // rows would be denser than that: 14 s faster here, but fewer pages to read than a real event's)
    let at = Date.now();
    const step = (name: string) => {
      steps.push(`${name} ${((Date.now() - at) / 1000).toFixed(1)} s`);
      at = Date.now();
    };
    const [teams, users, messages] = growthSql(size);
    await client.query(teams);
    await client.query(users);
    step('users');
    await client.query(messages);
    step('messages');
    await client.query('VACUUM ANALYZE');
    step('vacuum');
  });
  log(`  ${size.database}: ${steps.join(', ')}`);
  await withClient(admin, (client) =>
    client.query(`COMMENT ON DATABASE "${size.database}" IS '${seedMark(size)}'`),
  );
  return (Date.now() - started) / 1000;
}

interface Server {
  size: Size;
  process: ChildProcess;
  url: string;
  token: string;
  /** The largest message id after the seed: the create phases' rows come after it. */
  seeded: number;
  /**
   * CPU the server spends with no request (timers, job polling), ms per second: at the 30 requests/s of
   * an exact count over 100,000 rows it would be a large part of the CPU per request.
   */
  idleCpuMsPerSecond: number;
}

async function startServer(size: Size): Promise<Server> {
  const url = databaseUrl(size.database);
  let port = 0;
  const child = runNode(
    'bench/servers/flux.mjs',
    [],
    { BENCH_DB_URL: url, BENCH_JWT_SECRET: SECRET, REDIS_URL: '' },
    (line) => {
      const match = /^ready (\d+)/.exec(line);
      if (match) port = Number(match[1]);
    },
  );
  const exit = exited(child).then((code) => {
    throw new Error(`Flux on ${size.database} exited with ${code}`);
  });
  while (!port) await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, 50))]);
  exit.catch(() => {});
  const base = `http://127.0.0.1:${port}`;
  const response = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'coord', password: 'festival-2026' }),
  });
  if (response.status !== 200) throw new Error(`login on ${size.database}: ${response.status}`);
  const { jwt } = (await response.json()) as { jwt: string };
  const seeded = await withClient(url, async (client) => {
    const { rows } = await client.query<{ id: number }>('SELECT max(id) AS id FROM "Messages"');
    return Number(rows[0].id);
  });
  return { size, process: child, url: base, token: jwt, seeded, idleCpuMsPerSecond: 0 };
}

async function stopServer(server: Server): Promise<void> {
  const done = exited(server.process);
  server.process.kill('SIGTERM');
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))]);
  server.process.kill('SIGKILL');
}

/**
 * The one connection that lists the backends at each mark (a connection per mark could meet the server's
 * `max_connections` on a machine shared with other runs).
 */
let monitor: pg.Client | undefined;

/** CPU time (ms) of the PostgreSQL backends serving `database`, by pid. */
async function backendCpu(database: string): Promise<Map<number, number>> {
  if (!monitor) {
    monitor = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await monitor.connect();
  }
  const { rows } = await monitor.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
    [database],
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const usage = await pidusage(pid).catch(() => undefined);
    if (usage) cpu.set(pid, usage.ctime);
  }
  return cpu;
}

/** Runs the phases, one after the other (bench/loadProcess.ts). */
const loadProcess = new LoadProcess();

/** A phase's sample, with the database's CPU per request. */
interface GrowthSample extends Sample {
  dbCpuUsPerRequest: number;
  /** Server CPU per request net of what the server spends idle (`Server.idleCpuMsPerSecond`). */
  netCpuUsPerRequest: number;
}

/**
 * One phase of `payload` over one socket with 4 requests in flight, at `rate` requests/s (or as fast as
 * the server answers with BENCH_GROWTH_LOAD=closed): server and database CPU, latency.
 */
async function phase(server: Server, payload: unknown, rate: number, seconds: number): Promise<GrowthSample> {
  const job = {
    url: server.url,
    mode: 'socket',
    kind: 'flux',
    token: server.token,
    op: { payload },
    sockets: 1,
    inFlight: 4,
    ...(CLOSED ? {} : { rate }),
    seconds,
  };
  const marks: Record<string, Promise<{ cpu: number; db: Map<number, number>; at: number }>> = {};
  const result = await loadProcess.run(job, (name) => {
    const pid = server.process.pid as number;
    const at = Date.now();
    marks[name] = Promise.all([pidusage(pid), backendCpu(server.size.database)]).then(([usage, db]) => ({
      cpu: usage.ctime,
      db,
      at,
    }));
    // awaited once the job is done; until then a failure must not end the process unhandled
    marks[name].catch(() => {});
  });
  const start = await marks.start;
  const end = await marks.end;
  let dbMs = 0;
  for (const [pid, cpu] of end.db) dbMs += cpu - (start.db.get(pid) ?? 0);
  const requests = Math.max(1, result.requests);
  return {
    rps: result.rps,
    p50: Number(result.p50.toFixed(2)),
    p99: Number(result.p99.toFixed(2)),
    cpuUsPerRequest: ((end.cpu - start.cpu) * 1000) / requests,
    netCpuUsPerRequest:
      (Math.max(0, end.cpu - start.cpu - (server.idleCpuMsPerSecond * (end.at - start.at)) / 1000) * 1000) /
      requests,
    dbCpuUsPerRequest: (dbMs * 1000) / requests,
    errors: result.errors,
  };
}

/** The server's CPU over `seconds` with no request, ms per second. */
async function idleCpu(server: Server, seconds: number): Promise<number> {
  const before = (await pidusage(server.process.pid as number)).ctime;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return ((await pidusage(server.process.pid as number)).ctime - before) / seconds;
}

/**
 * Puts the messages of `server`'s database back as seeded (after a create phase). `INDEX_CLEANUP ON`: a
 * plain VACUUM leaves the dead index entries in place when they are on under 2 % of the table's pages,
 * as the few thousand rows of a create phase are among 1,000,000, and the newest-first list of the
 * channel then stepped over them (356 buffers read instead of 23).
 */
async function reset(server: Server): Promise<void> {
  await withClient(databaseUrl(server.size.database), async (client) => {
    await client.query('DELETE FROM "Messages" WHERE id > $1', [server.seeded]);
    await client.query('VACUUM (ANALYZE, INDEX_CLEANUP ON) "Messages"');
  });
}

async function main(): Promise<unknown> {
  if (!process.env.DATABASE_URL?.startsWith('postgres')) {
    log('growth: PostgreSQL only (set DATABASE_URL=postgres://…); skipped');
    return { skipped: 'PostgreSQL only' };
  }
  // `npm run bench` has just built it: a build made from exactly these sources is not made again (8.5 s here)
  if (builtFromSources(root)) log('growth: Flux built from these sources (npm run build): not built again');
  else {
    log('growth: building Flux (scripts/buildServer.js, the server part of npm run build)…');
    execFileSync(process.execPath, [path.join('scripts', 'buildServer.js')], { cwd: root, stdio: 'inherit' });
  }
  const seeding: Record<string, number | 'reused'> = {};
  // both at once: the small one's Flux seed (a Node process) runs beside the large one's SQL (a backend);
  // each finishes before a failure of the other is thrown
  const seeded = await Promise.allSettled(
    SIZES.map(async (size) => {
      log(
        `growth: seeding ${size.database} (${size.messages.toLocaleString('en')} messages, ${size.users.toLocaleString('en')} users)…`,
      );
      seeding[size.name] = await prepare(size);
      log(
        `  ${size.database}: ${seeding[size.name] === 'reused' ? 'reused (BENCH_GROWTH_KEEP)' : `${seeding[size.name]} s`}`,
      );
    }),
  );
  for (const outcome of seeded) if (outcome.status === 'rejected') throw outcome.reason;
  const servers: Server[] = [];
  try {
    for (const size of SIZES) servers.push(await startServer(size));
    const middle = (server: Server) => Math.floor(server.size.messages / 2);
    const operations: Array<{ name: string; rate: number; payload: (server: Server) => unknown }> = [
      { name: 'get', rate: 300, payload: (server) => ({ method: 'GET', url: `/message/${middle(server)}` }) },
      { name: 'list', rate: 200, payload: () => ({ method: 'GET', url: '/message', data: LIST }) },
      {
        name: 'create',
        rate: 150,
        payload: () => ({
          method: 'POST',
          url: '/message',
          data: { channel: CHANNEL, text: 'Bench message' },
        }),
      },
      { name: 'count', rate: 60, payload: () => ({ method: 'GET', url: '/message', data: COUNT }) },
    ];
    const comparisons: Comparison[] = operations.map((operation) => ({
      scenario: operation.name,
      transport: 'socket',
      contenders: servers.map((server) => ({
        server: server.size.name,
        phase: (seconds: number) => phase(server, operation.payload(server), operation.rate, seconds),
      })),
      afterPhase:
        operation.name === 'create' ? () => Promise.all(servers.map(reset)).then(() => undefined) : undefined,
    }));
    // what an earlier run (BENCH_GROWTH_KEEP) added or left in the indexes
    await Promise.all(servers.map(reset));
    for (const server of servers) server.idleCpuMsPerSecond = await idleCpu(server, 3);
    log(
      `growth: idle server CPU, ms/s: ${servers.map((s) => `${s.size.name} ${s.idleCpuMsPerSecond.toFixed(1)}`).join(', ')}`,
    );
    const started = Date.now();
    log(
      `growth: ${ROUNDS} alternating rounds of ${comparisons.length * servers.length} phases of ${SECONDS} s`,
    );
    const samples = (await runRounds(comparisons, {
      rounds: ROUNDS,
      seconds: SECONDS,
      warmUpSeconds: 1,
      log,
    })) as GrowthSample[][][];
    const summary = (values: GrowthSample[]) => ({
      rps: spread(values.map((sample) => sample.rps)).median,
      p50: spread(values.map((sample) => sample.p50)),
      p99: spread(values.map((sample) => sample.p99)).median,
      cpuUsPerRequest: spread(values.map((sample) => sample.cpuUsPerRequest)),
      netCpuUsPerRequest: spread(values.map((sample) => sample.netCpuUsPerRequest)),
      dbCpuUsPerRequest: spread(values.map((sample) => sample.dbCpuUsPerRequest)),
      errors: values.reduce((sum, sample) => sum + sample.errors, 0),
    });
    const results = operations.map((operation, o) => {
      const [small, large] = samples[o];
      const ratio = (pick: (sample: GrowthSample) => number) =>
        spread(large.map((sample, round) => pick(sample) / pick(small[round])));
      return {
        operation: operation.name,
        small: summary(small),
        large: summary(large),
        cpuRatio: ratio((sample) => sample.cpuUsPerRequest),
        netCpuRatio: ratio((sample) => sample.netCpuUsPerRequest),
        dbCpuRatio: ratio((sample) => sample.dbCpuUsPerRequest),
        p50Ratio: ratio((sample) => sample.p50),
        met: ratio((sample) => sample.cpuUsPerRequest).median <= TARGET,
      };
    });
    const range = (s: { median: number; min: number; max: number }, digits = 0) =>
      `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
    log('');
    log(
      '| operation | server CPU µs/req small | large | × (min–max) | net of idle × | DB CPU µs/req small | large | × | p50 ms small | large | req/s small / large | met (≤ 1.3) |',
    );
    log('| --- | --: | --: | --- | --- | --: | --: | --- | --: | --: | --: | --- |');
    for (const row of results)
      log(
        `| ${row.operation} | ${range(row.small.cpuUsPerRequest)} | ${range(row.large.cpuUsPerRequest)} | **${range(row.cpuRatio, 2)}** | ${range(row.netCpuRatio, 2)} | ${range(row.small.dbCpuUsPerRequest)} | ${range(row.large.dbCpuUsPerRequest)} | ${range(row.dbCpuRatio, 2)} | ${row.small.p50.median} | ${row.large.p50.median} | ${Math.round(row.small.rps)} / ${Math.round(row.large.rps)} | ${row.met ? 'yes' : 'no'} |`,
      );
    const seconds = Math.round((Date.now() - started) / 1000);
    log(`growth: measured in ${seconds} s (seeding apart: ${JSON.stringify(seeding)})`);
    return {
      sizes: SIZES,
      seedingSeconds: seeding,
      measuredSeconds: seconds,
      rounds: ROUNDS,
      secondsPerPhase: SECONDS,
      results,
      samples: samples.map((byServer) => byServer.map((rounds) => rounds.map((sample) => describe(sample)))),
    };
  } finally {
    await loadProcess.close();
    for (const server of servers) await stopServer(server);
    await monitor?.end();
    if (!KEEP)
      await withClient(process.env.DATABASE_URL!, async (client) => {
        for (const size of SIZES)
          await client.query(`DROP DATABASE IF EXISTS "${size.database}" WITH (FORCE)`);
      });
  }
}

const result = await main();
process.stdout.write(`result ${JSON.stringify(result)}\n`);
process.exit(0);
