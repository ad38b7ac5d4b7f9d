// Flux built for production (dist/, `npm run build`), with limits out of the way of the load generator.
import { writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';

process.env.NODE_ENV = 'production';
process.env.JWT_SECRET = process.env.BENCH_JWT_SECRET;
process.env.DATABASE_URL = process.env.BENCH_DB_URL;
const { Flux } = await import('../../dist/lib/Flux.js');
// BENCH_PROBE (the sockets part): the memory line also carries, since the server listened, its CPU time, the
// SQL statements it ran (by statement and table) and the sockets its room broadcasts visited (publish
// O(rooms)), the engine.io connections it accepted and the socket.io sockets that connected (one namespace,
// one socket per connection here: the difference closed or was refused before connecting, such as a
// client that gave up while its connection waited in the accept queue — work for nobody), and when it
// listened. Flux.start resolves after the job store opened, while clients are
// already served: the counters start at the listening itself.
const probe = process.env.BENCH_PROBE === '1' ? await startProbe() : undefined;
// BENCH_ABUSE: the abuse part measures the shipped per-request bounds (query limits, statement timeout,
// image limits, in-flight requests per socket); only the rate and login limits, which would answer the
// attackers 429 before their requests cost anything, stay out of the way
const abuse = process.env.BENCH_ABUSE === '1';
const address = await Flux.start({
  config: {
    // BENCH_PORT: the sockets part restarts the server on the same port (its clients reconnect there)
    server: { port: Number(process.env.BENCH_PORT ?? 0), host: '127.0.0.1' },
    rateLimit: { windowMs: 60_000, limit: 1_000_000_000 },
    auth: {
      loginLimit: { windowMs: 60_000, perAccount: 1_000_000, perAddress: 1_000_000 },
      sessionTouchMs: 3_600_000,
    },
    // the load generator opens up to 2,000 sockets from one address
    socket: abuse ? {} : { maxInFlight: 10_000, maxConnectionsPerAddress: 0 },
    log: { level: 'error', dir: false },
    // the scale part: instances sharing Redis (events, revocations, limits), as behind nginx
    ...(process.env.BENCH_REDIS_URL
      ? { redis: { url: process.env.BENCH_REDIS_URL, prefix: process.env.BENCH_REDIS_PREFIX } }
      : {}),
  },
});
process.stdout.write(`ready ${address.port} -\n`);
// BENCH_HEAP_SNAPSHOTS=<folder>: each probe also writes a heap snapshot there (to compare two in DevTools)
let snapshots = 0;
// how late the event loop ran since the previous probe (the fan-out part: is the server's loop the tail?), in
// ms beyond the 10 ms sampling interval (the histogram records the interval plus the delay)
const RESOLUTION_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
loopDelay.enable();
// The benchmark asks for the heap after a full GC (run with --expose-gc): RSS alone hides garbage and
// memory V8 keeps from the OS.
process.on('SIGUSR2', () => {
  const ms = (ns) => Math.max(0, Math.round(ns / 1e5 - RESOLUTION_MS * 10) / 10);
  const delay = {
    p50: ms(loopDelay.percentile(50)),
    p99: ms(loopDelay.percentile(99)),
    max: ms(loopDelay.max),
  };
  loopDelay.reset();
  const counters = { ...probe?.(), loopDelayMs: delay };
  globalThis.gc?.();
  const folder = process.env.BENCH_HEAP_SNAPSHOTS;
  if (folder) writeHeapSnapshot(`${folder}/flux-${process.pid}-${++snapshots}.heapsnapshot`);
  const { heapUsed, external, rss } = process.memoryUsage();
  process.stdout.write(`memory ${JSON.stringify({ heapUsed, external, rss, ...counters })}\n`);
});
process.once('SIGTERM', () => {
  // BENCH_STOP_PROFILE=<file>: a CPU profile of the stop, from SIGTERM to exit
  const profiled = process.env.BENCH_STOP_PROFILE && profileUntilProbe(process.env.BENCH_STOP_PROFILE);
  Flux.stop().then(() => {
    // BENCH_PROBE: what the stop cost (the sockets part subtracts the counters of its last probe)
    if (probe) process.stdout.write(`stopped ${JSON.stringify(probe())}\n`);
    profiled?.();
    process.exit(0);
  });
});

async function startProbe() {
  const { Sequelize } = await import('sequelize');
  const queries = {};
  let queryCount = 0;
  // registered as Flux registers its own query hooks: lean statements (lib/leanQuery.ts) stay lean, and
  // call it with their SQL too
  const { addOwnQueryHook } = await import('../../dist/lib/leanQuery.js');
  Sequelize.addHook('afterInit', (sequelize) =>
    addOwnQueryHook(sequelize, 'afterQuery', (_options, query) => {
      queryCount++;
      // `SELECT … FROM "Sessions"`, `UPDATE "Sessions"`: the statement and its first table
      const sql = String(query?.sql ?? '');
      const kind = `${sql.slice(0, 6).toUpperCase()} ${/(?:FROM|UPDATE|INTO) "(\w+)"/i.exec(sql)?.[1] ?? '?'}`;
      queries[kind] = (queries[kind] ?? 0) + 1;
    }),
  );
  const rooms = { broadcasts: 0, socketsVisited: 0 };
  // counters only, no state per connection: the sockets part measures memory per socket
  const connections = { accepted: 0, connected: 0 };
  let listening;
  const poll = setInterval(() => {
    if (!Flux.server?.listening) return;
    clearInterval(poll);
    listening = {
      at: Date.now(),
      cpu: process.cpuUsage(),
      queryCount,
      queries: { ...queries },
      // BENCH_PROFILE=<file>: a CPU profile from listening to the first probe (the sockets part: the storm)
      profile: process.env.BENCH_PROFILE && profileUntilProbe(process.env.BENCH_PROFILE),
    };
    Flux.io.engine.on('connection', () => connections.accepted++);
    Flux.io.on('connection', () => connections.connected++);
    const adapter = Flux.io.of('/').adapter;
    const apply = adapter.apply.bind(adapter);
    adapter.apply = (opts, callback) => {
      rooms.broadcasts++;
      return apply(opts, (socket) => {
        rooms.socketsVisited++;
        callback(socket);
      });
    };
  }, 2);
  return () => {
    if (!listening) return undefined;
    listening.profile?.();
    const { user, system } = process.cpuUsage(listening.cpu);
    return {
      listeningAt: listening.at,
      cpuMs: (user + system) / 1000,
      queryCount: queryCount - listening.queryCount,
      queries: Object.fromEntries(
        Object.entries(queries)
          .map(([kind, n]) => [kind, n - (listening.queries[kind] ?? 0)])
          .filter(([, n]) => n > 0),
      ),
      sockets: Flux.io.of('/').sockets.size,
      rooms,
      connections,
    };
  };
}

function profileUntilProbe(file) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(file, JSON.stringify(result.profile));
      session.disconnect();
    });
  };
}
