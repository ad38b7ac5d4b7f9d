/**
 * `npm run bench`: Flux against its peers on this machine, side by side, in one run.
 *
 * The servers, each in its own process on a loopback port: the physical ceilings (bare node:http, bare
 * socket.io ack), plain Express 5 + Sequelize, Feathers 5 (feathers-sequelize, REST + socket.io, JWT, a
 * channel), and Flux built for production (`npm run build`). All share one database (SQLite by default,
 * PostgreSQL when DATABASE_URL is set) seeded with Flux's demo event and 2,000 messages. Load comes from a
 * separate process (bench/load.mjs: autocannon, socket.io-client). Server CPU is read from the kernel
 * (pidusage) around each measured phase.
 *
 * The comparisons (get, list of 20 and create over HTTP and socket; the socket ceiling, bare socket.io ack
 * vs Flux's `/health`; the HTTP ceiling, bare node:http, has no Flux counterpart) run in alternating rounds
 * (bench/rounds.ts): every selected server runs at once, a warm-up phase of 1 s per server and scenario is
 * not recorded, then each of BENCH_ROUNDS rounds (default 5) measures one BENCH_SECONDS phase (default 3)
 * of each server in each scenario, the peers then Flux. A ratio of Flux to a peer is taken per round; the
 * table shows each server's medians over the rounds and each ratio's median with the min–max of its
 * rounds. The create scenarios delete their rows after each phase, so every phase reads the seeded data.
 * Prints the table and writes it to bench/results/<date>.json (<date>-2.json… for a day's next runs;
 * each row with `rounds` and its CPU per round, and for peers `fluxCpuRatio` / `fluxRpsRatio`: median,
 * min, max). A full PostgreSQL run without REDIS_URL (no scale part), every other part included, took
 * 13 min 36 s on 2 cores with the default 3 s phases (17 min 41 s with 5 s; docs/performance.md). Every
 * line it logs starts with the time elapsed since it began.
 *
 *   npm run bench                                  # SQLite
 *   DATABASE_URL=postgres://… npm run bench
 *   BENCH_SECONDS=5 BENCH_ROUNDS=7 npm run bench   # longer phases, more rounds
 *   BENCH_ONLY=ceilings,flux npm run bench  # some parts only (client, console, startup, ceilings,
 *                                           # express, feathers, flux, fanout, memory, publish, abuse,
 *                                           # scale, sockets, import, growth); prints, writes no results
 *                                           # file. A peer's part (ceilings, express, feathers) brings
 *                                           # Flux into its scenarios; `flux` alone measures Flux's
 *                                           # scenarios without a peer
 *
 * The client part (bench/client.ts, in its own process, first: no server, no database) measures the
 * browser bundle of @flux/client and the CPU a live query of 1,000 items spends on 1,000 events/s. The
 * console part (bench/console.ts, in its own process, next: its own Flux and Chromium) measures how long
 * an alert raised on the bar's tablet takes to appear on the desk's open board. The startup part
 * (bench/startup.ts, in its own process, next) times `npm start` on an existing SQLite database.
 *
 * The import part (last, on a fresh Flux process) sends a generated CSV of BENCH_IMPORT_LINES users (default
 * 10,000; no passwords) to `POST /import/users` and times it to the job's completion, then sends the same file
 * again (every line unchanged): lines/s and seconds of each run, and the server's CPU.
 *
 * The growth part (bench/growth.ts, in its own process, last; PostgreSQL only) measures get, list, create and
 * count on 10,000 vs 1,000,000 messages in databases of its own.
 *
 * The scale part (with REDIS_URL set and nginx installed; skipped otherwise) runs 1 instance, 2 with the
 * same load in all, and 2 with the same load on each, behind nginx (deploy/nginx.conf) sharing the
 * database and Redis, BENCH_SCALE_ROUNDS times in turn (default 5), and reports the median and range of
 * each 2-instance/1-instance ratio.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pidusage from 'pidusage';
import { Sequelize } from 'sequelize';
import { root, runNode } from './child.js';
import { LoadProcess } from './loadProcess.js';
import {
  type Comparison,
  describe,
  type Row,
  runRounds,
  type Sample,
  type Spread,
  spread,
  summarize,
} from './rounds.js';
import { socketsPart } from './sockets.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Alternating rounds of the comparisons (peer, Flux, peer, Flux…): each ratio is the median of these. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error(`BENCH_ROUNDS: a whole number ≥ 1, not "${process.env.BENCH_ROUNDS}"`);
const SECRET = 'bench-secret-0123456789-0123456789-0123456789';
const PARTS = [
  'client',
  'console',
  'startup',
  'ceilings',
  'express',
  'feathers',
  'flux',
  'fanout',
  'memory',
  'publish',
  'abuse',
  'scale',
  'sockets',
  'import',
  'growth',
];
/** Alternating rounds of the scale part (1 instance, 2 instances, 1, 2…): its ratios are their medians. */
const SCALE_ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 5);
/**
 * The load of the scale part: `closed` (default), as fast as the servers answer, which saturates a small
 * machine; `fixed`, a fixed rate per unit of load (HTTP 400 requests/s, socket 1,000/s), below saturation
 * here, so that the instances do not fight the load generator and the database for the cores.
 */
const SCALE_LOAD = process.env.BENCH_SCALE_LOAD === 'fixed' ? 'fixed' : 'closed';
const FIXED_RATE = { http: 400, socket: 1000 };
/** Users in the file of the import part. */
const IMPORT_LINES = Number(process.env.BENCH_IMPORT_LINES ?? 10_000);
const ONLY = process.env.BENCH_ONLY?.split(',').map((part) => part.trim());
const unknownPart = ONLY?.find((part) => !PARTS.includes(part));
if (unknownPart) throw new Error(`BENCH_ONLY: unknown part "${unknownPart}" (parts: ${PARTS.join(', ')})`);
/** Whether this run measures `part` (every part unless BENCH_ONLY names some). */
const runs = (part: string): boolean => !ONLY || ONLY.includes(part);

const rows: Row[] = [];
const extra: Record<string, unknown> = {};

/** When the run began: every line it logs starts with the minutes and seconds since. */
const runStarted = Date.now();

function log(line: string): void {
  const seconds = Math.round((Date.now() - runStarted) / 1000);
  const elapsed = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  process.stderr.write(`[${elapsed}] ${line}\n`);
}

async function cpuMs(pid: number): Promise<number> {
  return (await pidusage(pid)).ctime;
}

async function memoryBytes(pid: number): Promise<number> {
  return (await pidusage(pid)).memory;
}

interface Server {
  name: string;
  process: ChildProcess;
  url: string;
  token: string;
  /** Resolvers waiting for the server's next `memory {…}` line. */
  memoryWaiters: Array<(memory: { heapUsed: number; external: number; rss: number }) => void>;
}

/** Asks the server for its memory after a full GC (bench/servers/flux.mjs answers SIGUSR2). */
function probeMemory(server: Server): Promise<{ heapUsed: number; external: number; rss: number }> {
  return new Promise((resolve) => {
    server.memoryWaiters.push(resolve);
    server.process.kill('SIGUSR2');
  });
}

function startServer(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const memoryWaiters: Server['memoryWaiters'] = [];
    const child = runNode(
      script,
      [],
      env,
      (line) => {
        const match = /^ready (\d+) (\S+)/.exec(line);
        if (match)
          resolve({
            name,
            process: child,
            url: `http://127.0.0.1:${match[1]}`,
            token: match[2],
            memoryWaiters,
          });
        if (line.startsWith('memory ')) memoryWaiters.shift()?.(JSON.parse(line.slice(7)));
      },
      nodeArgs,
    );
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  server.process.kill('SIGKILL');
}

/** Runs the `http` and `socket` jobs of every part of this run, one after the other. */
const loadProcess = new LoadProcess();

/**
 * Runs one load job against `server`, sampling the server's CPU (and memory) at the job's marks, and
 * calling `onMarkToo` there too (e.g. to sample the database's processes).
 */
async function load(
  server: Server,
  job: Record<string, unknown>,
  onMarkToo?: (name: string) => Promise<void>,
  pids: number[] = [server.process.pid as number],
) {
  const marks: Record<string, { cpu: number; memory: number }> = {};
  const heap: Record<string, number> = {};
  const pending: Array<Promise<void>> = [];
  let result: Record<string, number> = {};
  const onMark = (name: string) => {
    if (job.mode === 'memory') {
      pending.push(
        probeMemory(server).then((m) => {
          heap[name] = m.heapUsed + m.external;
        }),
      );
    }
    // several instances: their CPU and memory summed
    pending.push(
      Promise.all(pids.map((pid) => Promise.all([cpuMs(pid), memoryBytes(pid)]))).then((samples) => {
        marks[name] = {
          cpu: samples.reduce((sum, [cpu]) => sum + cpu, 0),
          memory: samples.reduce((sum, [, memory]) => sum + memory, 0),
        };
      }),
    );
    if (onMarkToo) pending.push(onMarkToo(name));
  };
  const fullJob = { url: server.url, ...job };
  if (job.mode === 'http' || job.mode === 'socket') {
    // the phases of the comparisons and the scale part: one process runs them all (bench/loadProcess.ts)
    result = await loadProcess.run(fullJob, onMark).finally(() => Promise.all(pending));
    return { result, marks, heap };
  }
  const child = runNode('bench/load.mjs', [JSON.stringify(fullJob)], {}, (line) => {
    if (line.startsWith('mark ')) onMark(line.slice(5));
    else if (line.startsWith('result ')) result = JSON.parse(line.slice(7));
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  await Promise.all(pending);
  if (code !== 0) throw new Error(`load ${JSON.stringify(job)} failed`);
  return { result, marks, heap };
}

/**
 * One fan-out phase against `target`: `sockets` subscribers to `public:2` (half of them with the reader's
 * token) while the writer posts `rate` messages a second; the load's result, plus the server's CPU per
 * delivery (µs) and its cores over the load's measured interval (the writes and the 2 s after them, as
 * for the load's own cores).
 */
async function fanoutPhase(
  target: Server,
  sockets: number,
  rate: number,
  tokens: { reader: string; nonReader: string; writer: string },
  onMark?: (name: string) => Promise<void>,
) {
  const { result, marks } = await load(
    target,
    {
      mode: 'fanout',
      readers: sockets / 2,
      nonReaders: sockets / 2,
      readerToken: tokens.reader,
      nonReaderToken: tokens.nonReader,
      writerToken: tokens.writer,
      channel: 'public:2',
      rate,
      seconds: SECONDS,
    },
    onMark,
  );
  const cpu = (marks.end.cpu - marks.start.cpu) * 1000;
  return {
    sockets,
    writesPerSecond: rate,
    ...result,
    serverCpuUsPerDelivery: Math.round(cpu / Math.max(1, result.delivered)),
    serverCores: Math.round((cpu / 1000 / result.measuredMs) * 100) / 100,
  };
}

/** One phase of `job` against `server` (or the instances `pids`): its throughput, latency and server CPU. */
async function measure(server: Server, job: Record<string, unknown>, pids?: number[]): Promise<Sample> {
  const { result, marks } = await load(server, { seconds: SECONDS, ...job }, undefined, pids);
  const cpuUs = (marks.end.cpu - marks.start.cpu) * 1000;
  return {
    rps: result.rps,
    p50: Number(result.p50.toFixed(2)),
    p99: Number(result.p99.toFixed(2)),
    cpuUsPerRequest: cpuUs / Math.max(1, result.requests),
    errors: result.errors,
  };
}

async function login(url: string, login: string, password: string): Promise<string> {
  const response = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login, password }),
  });
  if (response.status !== 200) throw new Error(`login ${login}: ${response.status}`);
  return ((await response.json()) as { jwt: string }).jwt;
}

/**
 * Puts the `Messages` table back to what the seed left (the create scenarios add thousands of rows), so
 * that every server lists and reads the same data, whichever ran before it.
 */
async function resetMessages(url: string, seeded: number): Promise<void> {
  const sequelize = new Sequelize(url, { logging: false });
  try {
    await sequelize.query('DELETE FROM "Messages" WHERE id > :seeded', { replacements: { seeded } });
    if (sequelize.getDialect() === 'postgres') await sequelize.query('VACUUM ANALYZE "Messages"');
  } finally {
    await sequelize.close();
  }
}

async function lastMessageId(url: string): Promise<number> {
  const sequelize = new Sequelize(url, { logging: false });
  try {
    const [rows] = await sequelize.query('SELECT max(id) AS id FROM "Messages"');
    return Number((rows as Array<{ id: number | string }>)[0].id);
  } finally {
    await sequelize.close();
  }
}

async function prepareDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const pgUrl = process.env.DATABASE_URL;
  if (!pgUrl) {
    const dir = path.join(root, 'bench', '.data');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return {
      url: `sqlite:${path.join(dir, 'bench.sqlite')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `flux_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

/** 500 messages of 5,000 characters in the bars' group channel: rows a pattern must scan to the end. */
async function seedLongMessages(url: string): Promise<void> {
  const sequelize = new Sequelize(url, { logging: false });
  try {
    const now = new Date().toISOString();
    const [[coord]] = (await sequelize.query('SELECT id FROM "Users" WHERE login = \'coord\'')) as [
      Array<{ id: number }>,
      unknown,
    ];
    for (let batch = 0; batch < 5; batch++) {
      const values = Array.from({ length: 100 }, (_, i) => ({
        text: `${'a'.repeat(4990)}${String(batch * 100 + i).padStart(10, '0')}`,
      }));
      await sequelize.query(
        `INSERT INTO "Messages" ("tenantId", channel, text, "userId", "createdAt", "updatedAt") VALUES ${values
          .map((_, i) => `(1, 'group:bars', :text${i}, :userId, :now, :now)`)
          .join(', ')}`,
        {
          replacements: {
            userId: coord.id,
            now,
            ...Object.fromEntries(values.map((value, i) => [`text${i}`, value.text])),
          },
        },
      );
    }
  } finally {
    await sequelize.close();
  }
}

/**
 * CPU time (ms) of the PostgreSQL backends serving `url`'s database, by pid; empty for SQLite (its work is
 * in the server's own process, counted with the server's CPU).
 */
async function databaseCpu(url: string): Promise<Map<number, number>> {
  if (url.startsWith('sqlite')) return new Map();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: backends } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    const cpu = new Map<number, number>();
    for (const { pid } of backends) {
      const usage = await pidusage(pid).catch(() => undefined);
      if (usage) cpu.set(pid, usage.ctime);
    }
    return cpu;
  } finally {
    await client.end();
  }
}

/**
 * The abuse part: each request of the adversarial catalogue, first sent alone in a loop (its latency,
 * server CPU and PostgreSQL backend CPU per request), then by as many loops at once as one client may
 * run (4 HTTP connections, or `socket.maxInFlight` over one socket), with a prober timing `GET /alert` of
 * an unrelated user every 20 ms meanwhile. Server CPU per request is net of the prober's own cost
 * (measured alone first). The rate and login limits are lifted (they would answer 429 before the
 * requests cost anything); every per-request bound is as shipped.
 */
async function abuse(server: Server, databaseUrl: string) {
  const catalogue = './adversarial.mjs'; // plain JavaScript, shared with nothing typed
  const { adversarial } = (await import(catalogue)) as {
    adversarial: Array<{
      name: string;
      role: 'anonymous' | 'bar' | 'coord' | 'admin';
      transport: 'http' | 'socket';
      method: string;
      url: string;
      data?: unknown;
      upload?: string;
      why: string;
    }>;
  };
  const tokens = {
    anonymous: '',
    bar: await login(server.url, 'bar-sud', 'festival-2026'),
    coord: await login(server.url, 'coord', 'festival-2026'),
    admin: await login(server.url, 'admin', 'bench-admin-password'),
  };
  const barId = (
    (await (
      await fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${tokens.bar}` } })
    ).json()) as { user: { id: number } }
  ).user.id;
  const probe = { url: '/alert', token: await login(server.url, 'welcome', 'festival-2026') };
  // an image at the largest size an avatar may declare (upload.maxImagePixels, 4096×4096 by default)
  const image = path.join(os.tmpdir(), `flux-bench-avatar-${process.pid}.png`);
  const { default: sharp } = await import('sharp');
  await sharp({ create: { width: 4096, height: 4096, channels: 3, background: '#c0ffee' } })
    .png({ compressionLevel: 9 })
    .toFile(image);

  /** One phase: `attackers` loops send `attack` (none: the prober alone) while the prober runs. */
  const phase = async (attack?: Record<string, unknown>, attackers = 1) => {
    const db: Record<string, Map<number, number>> = {};
    const { result, marks } = await load(
      server,
      {
        mode: 'abuse',
        seconds: SECONDS,
        probe,
        probeEveryMs: 20,
        attackers,
        attack,
      },
      async (name) => {
        db[name] = await databaseCpu(databaseUrl);
      },
    );
    let dbCpu = 0;
    for (const [pid, end] of db.end ?? []) dbCpu += end - (db.start?.get(pid) ?? 0);
    return { result, cpuMs: marks.end.cpu - marks.start.cpu, dbCpuMs: dbCpu };
  };

  const baseline = await phase();
  const probeCpuPerSecond = baseline.cpuMs / SECONDS;
  log(
    `  baseline (prober alone): probe p99 ${baseline.result.probeP99.toFixed(1)} ms, ${probeCpuPerSecond.toFixed(0)} ms CPU/s`,
  );
  const entries: unknown[] = [];
  for (const entry of adversarial) {
    const attack = {
      transport: entry.transport,
      method: entry.method,
      url: entry.url.replace(':self', String(barId)),
      data: entry.data,
      token: tokens[entry.role],
      uploadFile: entry.upload ? image : undefined,
    };
    // alone, one at a time: what one admitted request costs (no refusal dilutes it)
    const solo = await phase(attack, 1);
    const soloAttacks = Math.max(1, solo.result.attacks as number);
    // flooded: as many at once as one client may send (4 HTTP connections; a socket's maxInFlight)
    const flood = await phase(attack, entry.transport === 'socket' ? 32 : 4);
    const row = {
      name: entry.name,
      role: entry.role,
      transport: entry.transport,
      status: Object.keys(solo.result.statuses).find((key) => !key.startsWith('warm-up')),
      latencyMs: Number((solo.result.attackP50 as number).toFixed(1)),
      serverCpuMsPerRequest: Number(
        Math.max(0, (solo.cpuMs - probeCpuPerSecond * SECONDS) / soloAttacks).toFixed(1),
      ),
      dbCpuMsPerRequest: databaseUrl.startsWith('sqlite')
        ? null
        : Number((solo.dbCpuMs / soloAttacks).toFixed(1)),
      floodStatuses: flood.result.statuses,
      probeP50Ms: Number((flood.result.probeP50 as number).toFixed(1)),
      probeP99Ms: Number((flood.result.probeP99 as number).toFixed(1)),
      probeMaxMs: Number((flood.result.probeMax as number).toFixed(1)),
      probeErrors: flood.result.probeErrors,
    };
    entries.push(row);
    log(`  ${entry.name} (${entry.role}, ${entry.transport}): ${JSON.stringify(row)}`);
  }
  rmSync(image, { force: true });
  // the table of docs/performance.md
  log(
    '| request | role | transport | status | latency ms | server CPU ms | database CPU ms | flooded: answers | prober p50 / p99 ms |',
  );
  log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of entries as Array<Record<string, unknown>>) {
    const answers = Object.entries(row.floodStatuses as Record<string, number>)
      .filter(([status]) => !status.startsWith('warm-up'))
      .map(([status, count]) => `${count} × ${status}`)
      .join(', ');
    log(
      `| ${row.name} | ${row.role} | ${row.transport} | ${row.status} | ${row.latencyMs} | ${row.serverCpuMsPerRequest} | ${row.dbCpuMsPerRequest ?? 'in server CPU'} | ${answers} | ${row.probeP50Ms} / ${row.probeP99Ms} |`,
    );
  }
  return {
    baseline: {
      probeP50Ms: Number(baseline.result.probeP50.toFixed(1)),
      probeP99Ms: Number(baseline.result.probeP99.toFixed(1)),
      probeCpuMsPerSecond: Math.round(probeCpuPerSecond),
    },
    entries,
  };
}

/** One configuration of the scale part: how many instances, and how much load on each. */
interface ScaleConfig {
  name: string;
  instances: number;
  /** HTTP connections (autocannon) and sockets (4 per instance of load) in all, spread by nginx. */
  load: number;
  fanout: boolean;
  /** Sharing Redis (events, revocations, limits), or independent processes sharing only the database. */
  redis: boolean;
}

/**
 * The scale part: `config.instances` Flux instances (bench/servers/flux.mjs, sharing the database and
 * Redis) behind nginx with deploy/nginx.conf — balanced round-robin instead of by client address, since
 * all the load comes from 127.0.0.1 — then server CPU per request (all instances summed) for HTTP get,
 * list and create (10 connections per `load`) and socket get (4 sockets per `load`) through nginx, and
 * the fan-out of 1,000 subscribed sockets (spread over the instances by nginx) at 40 writes/s written on
 * the first instance: 20,000 deliveries/s.
 */
async function scaleRound(config: ScaleConfig, env: NodeJS.ProcessEnv, tokens: Record<string, string>) {
  const count = config.instances;
  const run = path.join(os.tmpdir(), `flux-bench-scale-${process.pid}`);
  rmSync(run, { recursive: true, force: true });
  for (const folder of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(path.join(run, folder), { recursive: true });
  const instances: Server[] = [];
  const nginxPort = await freePort();
  const conf = path.join(run, 'nginx.conf');
  try {
    for (let i = 0; i < count; i++)
      instances.push(await startServer(`flux-${i + 1}`, 'bench/servers/flux.mjs', env));
    const servers = instances
      .map((instance) => `    server ${new URL(instance.url).host} max_fails=1 fail_timeout=2s;`)
      .join('\n');
    const template = readFileSync(path.join(root, 'deploy', 'nginx.conf'), 'utf8');
    writeFileSync(
      conf,
      template
        .replaceAll('@@RUN@@', run)
        .replaceAll('@@LISTEN@@', `127.0.0.1:${nginxPort}`)
        .replace('@@SERVERS@@', servers)
        .replace(/^\s*hash \$remote_addr consistent;$/m, ''),
    );
    execFileSync('nginx', ['-c', conf, '-p', run]);
    const url = `http://127.0.0.1:${nginxPort}`;
    const front: Server = { ...instances[0], url, name: config.name };
    const pids = instances.map((instance) => instance.process.pid as number);
    const list = { filters: { channel: 'public:2' }, limit: 20 };
    const http = (method: string, target: string, body?: unknown) => ({
      mode: 'http',
      method,
      url: `${url}${target}`,
      token: tokens.coord,
      body,
      connections: 10 * config.load,
      ...(SCALE_LOAD === 'fixed' ? { rate: FIXED_RATE.http * config.load } : {}),
    });
    const jobs: Record<string, Record<string, unknown>> = {
      'get http': http('GET', '/message/1'),
      'list http': http('GET', `/message?data=${encodeURIComponent(JSON.stringify(list))}`),
      'create http': http('POST', '/message', { channel: 'public:2', text: 'Scale' }),
      'get socket': {
        mode: 'socket',
        kind: 'flux',
        token: tokens.coord,
        sockets: 4 * config.load,
        ...(SCALE_LOAD === 'fixed' ? { rate: FIXED_RATE.socket * config.load } : {}),
        op: { payload: { method: 'GET', url: '/message/1' } },
      },
    };
    const cost: Record<string, number> = {};
    for (const [scenario, job] of Object.entries(jobs)) {
      const sample = await measure(front, job, pids);
      log(`  ${scenario} ${config.name}: ${describe(sample)}`);
      cost[scenario] = Math.round(sample.cpuUsPerRequest);
    }
    if (!config.fanout) {
      log(`  ${config.name}: CPU µs/req ${JSON.stringify(cost)}`);
      return { cost, fanout: undefined };
    }
    const { result } = await load(
      front,
      {
        mode: 'fanout',
        readers: 500,
        nonReaders: 500,
        readerToken: tokens.reader,
        nonReaderToken: tokens.nonReader,
        writerToken: tokens.coord,
        writeUrl: instances[0].url,
        channel: 'public:2',
        rate: 40,
        seconds: SECONDS,
      },
      undefined,
      pids,
    );
    const fanout = {
      p50: result.p50,
      p99: result.p99,
      lost: result.lost,
      leaked: result.nonReaderDeliveries,
    };
    log(`  ${config.name}: CPU µs/req ${JSON.stringify(cost)}; fan-out 20,000/s ${JSON.stringify(fanout)}`);
    return { cost, fanout };
  } finally {
    try {
      execFileSync('nginx', ['-c', conf, '-p', run, '-s', 'quit']);
    } catch {
      // nginx did not start
    }
    for (const instance of instances) await stopServer(instance);
    rmSync(run, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** SCALE_ROUNDS alternating rounds of 1 and 2 instances; the ratios (2 over 1) per round, summarized. */
async function scale(env: NodeJS.ProcessEnv, reset: () => Promise<void>) {
  const redisUrl = process.env.REDIS_URL;
  let nginx = true;
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
  } catch {
    nginx = false;
  }
  if (!redisUrl || !nginx) {
    log('scale: skipped (needs REDIS_URL and nginx)');
    return undefined;
  }
  const shared = { ...env, BENCH_REDIS_URL: redisUrl, BENCH_REDIS_PREFIX: `flux-bench-${process.pid}:` };
  // tokens from one instance: every instance shares the secret, the sessions and the revocation list
  await reset();
  const first = await startServer('flux', 'bench/servers/flux.mjs', shared);
  const tokens = {
    coord: await login(first.url, 'coord', 'festival-2026'),
    reader: await login(first.url, 'welcome', 'festival-2026'),
    nonReader: await login(first.url, 'bar-sud', 'festival-2026'),
  };
  await stopServer(first);
  // the same load in all on 1 and on 2 instances (each of the two then runs at half load), and the same
  // load on each instance (the 2 instances then carry twice the load): a process's CPU per request grows
  // as its load falls (fewer events per turn of its event loop), so only the second compares like with
  // like. The control: the same two without Redis, processes that share nothing but the database — what
  // two processes cost on this machine whatever they run; the ratio of the two ratios is what sharing
  // through Redis adds
  const configs: ScaleConfig[] = [
    { name: '1 instance', instances: 1, load: 1, fanout: true, redis: true },
    { name: '2 instances, same load in all', instances: 2, load: 1, fanout: true, redis: true },
    { name: '2 instances, same load on each', instances: 2, load: 2, fanout: false, redis: true },
    { name: '1 instance without Redis', instances: 1, load: 1, fanout: false, redis: false },
    {
      name: '2 instances without Redis, same load on each',
      instances: 2,
      load: 2,
      fanout: false,
      redis: false,
    },
  ];
  // at a fixed rate the fan-out (already at a fixed rate) adds nothing new
  if (SCALE_LOAD === 'fixed') for (const config of configs) config.fanout = false;
  log(`scale: ${SCALE_LOAD} load`);
  const rounds: Array<Record<string, Awaited<ReturnType<typeof scaleRound>>>> = [];
  for (let round = 1; round <= SCALE_ROUNDS; round++) {
    log(`scale round ${round} of ${SCALE_ROUNDS}`);
    const results: Record<string, Awaited<ReturnType<typeof scaleRound>>> = {};
    for (const config of configs) {
      await reset();
      const configEnv = config.redis ? shared : { ...shared, BENCH_REDIS_URL: '' };
      results[config.name] = await scaleRound(config, configEnv, tokens);
    }
    rounds.push(results);
  }
  const [one, ...others] = configs.map((config) => config.name);
  const scenarios = Object.keys(rounds[0][one].cost);
  const byScenario = (f: (round: (typeof rounds)[number], scenario: string) => number) =>
    Object.fromEntries(scenarios.map((scenario) => [scenario, spread(rounds.map((r) => f(r, scenario)))]));
  const [, , sameLoad, alone, aloneTwice] = configs.map((config) => config.name);
  const summary = {
    rounds: SCALE_ROUNDS,
    load: SCALE_LOAD === 'fixed' ? { ...FIXED_RATE, unit: 'requests/s per unit of load' } : 'closed',
    cpuPerRequestRatioTo1: Object.fromEntries(
      others
        .filter((name) => name !== alone && name !== aloneTwice)
        .map((name) => [name, byScenario((r, scenario) => r[name].cost[scenario] / r[one].cost[scenario])]),
    ),
    controlRatioWithoutRedis: byScenario(
      (r, scenario) => r[aloneTwice].cost[scenario] / r[alone].cost[scenario],
    ),
    sharingOverhead: byScenario(
      (r, scenario) =>
        r[sameLoad].cost[scenario] /
        r[one].cost[scenario] /
        (r[aloneTwice].cost[scenario] / r[alone].cost[scenario]),
    ),
    cpuUsPerRequest: Object.fromEntries(
      configs.map(({ name }) => [name, byScenario((r, scenario) => r[name].cost[scenario])]),
    ),
    fanout: Object.fromEntries(
      configs
        .filter((config) => config.fanout)
        .map(({ name }) => [
          name,
          {
            p99Ms: spread(rounds.map((r) => r[name].fanout?.p99 ?? 0)),
            lost: rounds.reduce((sum, r) => sum + (r[name].fanout?.lost ?? 0), 0),
            leaked: rounds.reduce((sum, r) => sum + (r[name].fanout?.leaked ?? 0), 0),
          },
        ]),
    ),
  };
  log(`scale: ${JSON.stringify(summary)}`);
  return summary;
}

/** A ratio's median and, in brackets, the min–max of its rounds. */
function showSpread(spread: Spread | undefined): string {
  return spread ? `${spread.median.toFixed(2)} (${spread.min.toFixed(2)}–${spread.max.toFixed(2)})` : '';
}

/** The comparisons' table on stdout: each server's medians over the rounds, and Flux's ratios to each peer. */
function printTable(): void {
  const header = [
    'scenario',
    'transport',
    'server',
    'req/s',
    'p50 ms',
    'p99 ms',
    'CPU µs/req',
    'Flux CPU × (min–max)',
    'Flux req/s × (min–max)',
  ];
  const lines = [header];
  for (const row of rows) {
    lines.push([
      row.scenario,
      row.transport,
      row.server,
      String(row.rps),
      String(row.p50),
      String(row.p99),
      String(row.cpuUsPerRequest),
      showSpread(row.fluxCpuRatio),
      showSpread(row.fluxRpsRatio),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((line) => line[i].length)));
  process.stdout.write(`medians of ${ROUNDS} alternating rounds of ${SECONDS} s phases\n`);
  for (const line of lines)
    process.stdout.write(`${line.map((cell, i) => cell.padEnd(widths[i])).join('  ')}\n`);
}

/**
 * The import part: a CSV of `IMPORT_LINES` new users (login, name, team, e-mail; no passwords) spread over the
 * demo event's teams but Admin, sent to `POST /import/users` as the coordination desk (`user/admin`), timed
 * from the request to the job's completion (`GET /job/:id` every 50 ms); then the same file again, where
 * every line is unchanged. The job runs in the server process, so its CPU is the import's.
 */
async function importUsers(server: Server): Promise<Record<string, unknown>> {
  const token = await login(server.url, 'coord', 'festival-2026');
  const headers = { authorization: `Bearer ${token}` };
  const teams = (
    (await (await fetch(`${server.url}/team`, { headers })).json()) as Array<{ name: string; role: string }>
  ).filter((team) => team.role !== 'admin');
  const lines = Array.from(
    { length: IMPORT_LINES },
    (_, i) => `bench-${i},"Bench User ${i}",${teams[i % teams.length].name},bench-${i}@example.org`,
  );
  const csv = `login,name,team,email\n${lines.join('\n')}\n`;
  const runs: Record<string, unknown> = { lines: IMPORT_LINES, bytes: Buffer.byteLength(csv) };
  for (const run of ['first', 'rerun']) {
    const cpuBefore = await cpuMs(server.process.pid as number);
    const started = performance.now();
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'users.csv');
    const reply = await fetch(`${server.url}/import/users`, { method: 'POST', headers, body: form });
    const accepted = (await reply.json()) as { jobId?: string };
    if (reply.status !== 202 || !accepted.jobId)
      throw new Error(`import: ${reply.status} ${JSON.stringify(accepted)}`);
    const acceptedMs = performance.now() - started;
    let status: { state: string; result?: Record<string, unknown>; error?: string };
    do {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await (
        await fetch(`${server.url}/job/${accepted.jobId}`, { headers })
      ).json()) as typeof status;
    } while (status.state !== 'completed' && status.state !== 'failed');
    const seconds = (performance.now() - started) / 1000;
    if (status.state !== 'completed') throw new Error(`import ${run}: ${status.error}`);
    const { created, updated, unchanged, failedCount } = status.result ?? {};
    const entry = {
      seconds: Number(seconds.toFixed(2)),
      linesPerSecond: Math.round(IMPORT_LINES / seconds),
      acceptedMs: Math.round(acceptedMs),
      serverCpuSeconds: Number((((await cpuMs(server.process.pid as number)) - cpuBefore) / 1000).toFixed(2)),
      result: { created, updated, unchanged, failedCount },
    };
    runs[run] = entry;
    log(
      `  ${run}: ${entry.seconds} s to completion (${entry.linesPerSecond} lines/s; 202 after ${entry.acceptedMs} ms), server CPU ${entry.serverCpuSeconds} s, ${JSON.stringify(entry.result)}`,
    );
  }
  return runs;
}

/**
 * The client and console parts: bench/client.ts or bench/console.ts in a process of its own (nothing else
 * runs in it while it measures).
 */
async function ownProcess(script: string): Promise<unknown> {
  log(`${script}…`);
  let result: unknown;
  const child = runNode(
    script,
    [],
    {},
    (line) => {
      if (line.startsWith('result ')) result = JSON.parse(line.slice(7));
    },
    ['--import', 'tsx'],
  );
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0 || !result) throw new Error(`${script} failed`);
  return result;
}

/** bench/results/<date>.json, or <date>-2.json, -3… when a run of that day is already recorded there. */
function resultsFile(date: string): string {
  const folder = path.join(root, 'bench', 'results');
  mkdirSync(folder, { recursive: true });
  let file = path.join(folder, `${date}.json`);
  for (let n = 2; existsSync(file); n++) file = path.join(folder, `${date}-${n}.json`);
  return file;
}

async function main(): Promise<void> {
  const started = Date.now();
  if (runs('client')) extra.client = await ownProcess('bench/client.ts');
  if (runs('console')) extra.console = await ownProcess('bench/console.ts');
  const serverParts = PARTS.some(
    (part) => !['client', 'console', 'startup', 'growth'].includes(part) && runs(part),
  );
  // the servers run the build; `npm start` runs it too when it matches the sources (scripts/start.js)
  if (serverParts || runs('startup')) {
    log('building Flux for production (npm run build)…');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  }
  if (runs('startup')) extra.startup = await ownProcess('bench/startup.ts');
  if (serverParts) await servers();
  // its own databases (1,000,000 messages) and servers, PostgreSQL only (bench/growth.ts)
  if (runs('growth')) extra.growth = await ownProcess('bench/growth.ts');

  if (rows.length) printTable();
  process.stdout.write(`\n${JSON.stringify(extra, null, 2)}\n`);
  if (ONLY) {
    log(`BENCH_ONLY=${ONLY.join(',')}: partial run, no results file written`);
    return;
  }
  const file = resultsFile(new Date().toISOString().slice(0, 10));
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: {
          cpus: os.cpus().length,
          model: os.cpus()[0]?.model,
          memoryGiB: Math.round(os.totalmem() / 2 ** 30),
          node: process.version,
        },
        database: process.env.DATABASE_URL ? 'postgresql' : 'sqlite',
        secondsPerPhase: SECONDS,
        rounds: ROUNDS,
        rows,
        ...extra,
        durationSeconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    )}\n`,
  );
  log(`written ${path.relative(root, file)} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** The scenarios of the comparisons, in the order of each round (and of the table). */
const SCENARIOS = [
  'ceiling http',
  'ceiling socket',
  'get http',
  'list http',
  'create http',
  'get socket',
  'list socket',
  'create socket',
] as const;
type Scenario = (typeof SCENARIOS)[number];
/** The load job of one scenario against `server`, authenticated with `token` where the server checks one. */
type JobFor = (server: Server, token: string) => Record<string, unknown>;

const LIST = { filters: { channel: 'public:2' }, limit: 20 };
const CREATED = { channel: 'public:2', text: 'Bench message' };
const http =
  (method: string, target: string, body?: unknown): JobFor =>
  (server, token) => ({ mode: 'http', method, url: `${server.url}${target}`, token, body });
const fluxSocket =
  (method: string, url: string, data?: unknown): JobFor =>
  (_server, token) => ({ mode: 'socket', kind: 'flux', token, op: { payload: { method, url, data } } });
const feathersSocket =
  (method: string, args: unknown[]): JobFor =>
  (_server, token) => ({ mode: 'socket', kind: 'feathers', token, op: { method, args } });

/**
 * Every server of the comparisons: its script, the BENCH_ONLY part that selects it, and what it is asked in
 * each scenario it has (each with its own URLs and protocol). Flux, the reference, is last: each round
 * measures the peers of a scenario, then Flux.
 */
const CONTENDERS: Record<
  string,
  { label: string; script: string; part: string; jobs: Partial<Record<Scenario, JobFor>> }
> = {
  'bare-http': {
    label: 'bare node:http',
    script: 'bench/servers/bare-http.mjs',
    part: 'ceilings',
    jobs: { 'ceiling http': http('GET', '/') },
  },
  'bare-socketio': {
    label: 'bare socket.io',
    script: 'bench/servers/bare-socketio.mjs',
    part: 'ceilings',
    jobs: {
      'ceiling socket': () => ({
        mode: 'socket',
        kind: 'bare',
        op: { payload: { method: 'GET', url: '/' } },
      }),
    },
  },
  express: {
    label: 'Express 5 + Sequelize',
    script: 'bench/servers/express-sequelize.mjs',
    part: 'express',
    jobs: {
      'get http': http('GET', '/messages/1'),
      'list http': http('GET', '/messages?channel=public:2&limit=20'),
      'create http': http('POST', '/messages', CREATED),
    },
  },
  feathers: {
    label: 'Feathers 5',
    script: 'bench/servers/feathers.mjs',
    part: 'feathers',
    jobs: {
      'get http': http('GET', '/messages/1'),
      'list http': http('GET', '/messages?channel=public:2&$limit=20'),
      'create http': http('POST', '/messages', CREATED),
      'get socket': feathersSocket('get', [1, {}]),
      'list socket': feathersSocket('find', [{ channel: 'public:2', $limit: 20 }]),
      'create socket': feathersSocket('create', [CREATED, {}]),
    },
  },
  flux: {
    label: 'Flux (production build)',
    script: 'bench/servers/flux.mjs',
    part: 'flux',
    jobs: {
      'get http': http('GET', '/message/1'),
      'list http': http('GET', `/message?data=${encodeURIComponent(JSON.stringify(LIST))}`),
      'create http': http('POST', '/message', CREATED),
      'get socket': fluxSocket('GET', '/message/1'),
      'list socket': fluxSocket('GET', '/message', LIST),
      'create socket': fluxSocket('POST', '/message', CREATED),
      'ceiling socket': fluxSocket('GET', '/health'),
    },
  },
};

/** Starts every peer BENCH_ONLY selects (all of them by default), side by side. */
async function startPeers(env: NodeJS.ProcessEnv): Promise<Server[]> {
  const peers: Server[] = [];
  for (const [name, peer] of Object.entries(CONTENDERS))
    if (name !== 'flux' && runs(peer.part)) {
      log(peer.label);
      peers.push(await startServer(name, peer.script, env));
    }
  return peers;
}

/**
 * The comparisons of the running `peers` and Flux: each scenario that a selected server has, with Flux in
 * it when the `flux` part is selected or a peer is (a ratio needs both). The create scenarios put the
 * messages back as seeded after each phase, so that every phase reads the same rows.
 */
function comparisons(peers: Server[], flux: { server: Server; token: string }, reset: () => Promise<void>) {
  const contender = (server: Server, token: string, job: JobFor) => ({
    server: server.name,
    phase: (seconds: number) => measure(server, { ...job(server, token), seconds }),
  });
  return SCENARIOS.flatMap((scenario): Comparison[] => {
    const contenders = peers
      .filter((peer) => CONTENDERS[peer.name].jobs[scenario])
      .map((peer) => contender(peer, peer.token, CONTENDERS[peer.name].jobs[scenario] as JobFor));
    const fluxJob = CONTENDERS.flux.jobs[scenario];
    if (fluxJob && (runs('flux') || contenders.length))
      contenders.push(contender(flux.server, flux.token, fluxJob));
    if (!contenders.length) return [];
    const [name, transport] = scenario.split(' ') as [string, 'http' | 'socket'];
    return [{ scenario: name, transport, contenders, afterPhase: name === 'create' ? reset : undefined }];
  });
}

/** Runs the comparisons in ROUNDS alternating rounds and adds their rows to the table. */
async function compare(peers: Server[], flux: { server: Server; token: string }, reset: () => Promise<void>) {
  const selected = comparisons(peers, flux, reset);
  if (!selected.length) return;
  const phases = selected.reduce((sum, comparison) => sum + comparison.contenders.length, 0);
  log(`comparisons: ${ROUNDS} alternating rounds of ${phases} phases of ${SECONDS} s`);
  const samples = await runRounds(selected, { rounds: ROUNDS, seconds: SECONDS, warmUpSeconds: 1, log });
  for (const [c, comparison] of selected.entries()) {
    const summary = summarize(comparison, samples[c]);
    rows.push(...summary);
    for (const row of summary.filter((row) => row.fluxCpuRatio))
      log(
        `${comparison.scenario} ${comparison.transport}: Flux CPU/req ${showSpread(row.fluxCpuRatio)} × ${row.server}`,
      );
  }
}

/** The parts with servers (Flux's build made by `main`): the database, then each server in turn. */
async function servers(): Promise<void> {
  const database = await prepareDatabase();
  // REDIS_URL is for the scale part only: the other servers run alone (Flux's own part included)
  const env = { BENCH_DB_URL: database.url, BENCH_JWT_SECRET: SECRET, REDIS_URL: '' };
  try {
    log(`seeding ${database.url.startsWith('sqlite') ? 'SQLite' : 'PostgreSQL'}…`);
    await new Promise((resolve, reject) =>
      runNode('bench/seed.mjs', [], env, log).once('exit', (code) =>
        code ? reject(new Error('seed failed')) : resolve(code),
      ),
    );

    const seeded = await lastMessageId(database.url);
    const reset = () => resetMessages(database.url, seeded);
    await reset();
    const peers = await startPeers(env);
    log('Flux (production build)');
    let server = await startServer('flux', 'bench/servers/flux.mjs', env);
    const coord = await login(server.url, 'coord', 'festival-2026');
    const reader = await login(server.url, 'welcome', 'festival-2026');
    const nonReader = await login(server.url, 'bar-sud', 'festival-2026');
    try {
      await compare(peers, { server, token: coord }, reset);
    } finally {
      for (const peer of peers) await stopServer(peer);
    }
    await reset();

    if (runs('fanout')) {
      log('fan-out (Flux)');
      const fanout: unknown[] = [];
      // the issue's grid (200 and 1,000 sockets at 20 and 100 writes/s), plus 1,000 sockets at 40 writes/s:
      // 500 readers × 40 = the 20,000 deliveries/s of the target
      const grid: Array<[number, number]> = [
        [200, 20],
        [200, 100],
        [1000, 20],
        [1000, 40],
        [1000, 100],
      ];
      for (const [sockets, rate] of grid) {
        // the server's event-loop delay over the measured part (bench/servers/flux.mjs), probed at its marks
        let loopDelayMs: unknown;
        const probeLoop = async (name: string) => {
          const probed = (await probeMemory(server)) as { loopDelayMs?: unknown };
          if (name === 'end') loopDelayMs = probed.loopDelayMs;
        };
        const entry = {
          ...(await fanoutPhase(server, sockets, rate, { reader, nonReader, writer: coord }, probeLoop)),
          serverLoopDelayMs: loopDelayMs,
        };
        fanout.push(entry);
        log(`  ${sockets} sockets, ${rate} writes/s: ${JSON.stringify(entry)}`);
      }
      extra.fanout = fanout;
      // the target's phase on bare socket.io (bench/servers/bare-fanout.mjs: one broadcast per message
      // written, no database, token or permission): what this machine allows any socket.io server
      const bare = await startServer('bare-fanout', 'bench/servers/bare-fanout.mjs', env);
      try {
        const tokens = { reader: 'reader', nonReader: 'other', writer: '-' };
        extra.fanoutBare = await fanoutPhase(bare, 1000, 100, tokens);
        log(`  bare socket.io, 1000 sockets, 100 writes/s: ${JSON.stringify(extra.fanoutBare)}`);
      } finally {
        await stopServer(bare);
      }
    }

    // on a fresh process: after the fan-out phases the heap has room to spare and RSS would not move
    await stopServer(server);
    server = await startServer('flux', 'bench/servers/flux.mjs', env, ['--expose-gc']);
    if (runs('memory')) {
      log('memory per idle authenticated socket (Flux, 2,000 sockets, fresh process)');
      const memory = await load(server, { mode: 'memory', count: 2000, token: reader });
      extra.memoryPerSocketKB =
        Math.round(((memory.heap.connected - memory.heap.baseline) / 2000 / 1024) * 10) / 10;
      extra.rssPerSocketKB =
        Math.round(((memory.marks.connected.memory - memory.marks.baseline.memory) / 2000 / 1024) * 10) / 10;
      log(
        `  ${extra.memoryPerSocketKB} KB per socket (heap + external after GC; RSS: ${extra.rssPerSocketKB} KB)`,
      );
    }

    if (runs('publish')) {
      log('publish cost with 10 vs 2,000 subscribers who may not read the item (Flux)');
      const publish: Record<string, number> = {};
      for (const count of [10, 2000]) {
        const { result, marks } = await load(server, {
          mode: 'publish',
          nonReaders: count,
          nonReaderToken: nonReader,
          writerToken: coord,
          channel: 'public:2',
          writes: 300,
        });
        publish[count] = Math.round(((marks.end.cpu - marks.start.cpu) * 1000) / result.writes);
        log(`  ${count} non-readers: ${publish[count]} µs CPU per write`);
      }
      extra.publishCpuUsPerWrite = publish;
      extra.publishRatio2000to10 = Number((publish[2000] / publish[10]).toFixed(2));
    }

    await stopServer(server);

    if (runs('scale')) {
      log(`scale (Flux): 1 vs 2 instances behind nginx sharing Redis, ${SCALE_ROUNDS} alternating rounds`);
      extra.scale = await scale(env, () => resetMessages(database.url, seeded));
    }

    if (runs('abuse')) {
      log('abuse (Flux with its shipped limits): the adversarial catalogue of bench/adversarial.mjs');
      await resetMessages(database.url, seeded);
      await seedLongMessages(database.url);
      server = await startServer('flux', 'bench/servers/flux.mjs', { ...env, BENCH_ABUSE: '1' });
      extra.abuse = await abuse(server, database.url);
      await stopServer(server);
      // its 500 messages of 5,000 characters (group:bars) would otherwise be the newest that the bars' live
      // queries of the sockets part read: 100 KB per reply instead of the 4 KB the part measures alone
      await resetMessages(database.url, seeded);
    }

    // 10,000 sockets and their reconnect storm (bench/sockets.ts); adds 1,000 users
    if (runs('sockets')) extra.sockets = await socketsPart({ env, databaseUrl: database.url, log });

    // last: the 10,000 users it adds would be in every later part's data
    if (runs('import')) {
      log(`CSV import of ${IMPORT_LINES.toLocaleString('en')} users (Flux, fresh process)`);
      server = await startServer('flux', 'bench/servers/flux.mjs', env);
      extra.import = await importUsers(server);
      await stopServer(server);
    }
  } finally {
    await loadProcess.close();
    await database.drop();
  }
}

main().catch((err: unknown) => {
  log(`bench: ${(err as Error).stack}`);
  process.exit(1);
});
