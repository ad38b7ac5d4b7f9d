// Flux built for production (dist/, `npm run build`), with limits out of the way of the load generator.
process.env.NODE_ENV = 'production';
process.env.JWT_SECRET = process.env.BENCH_JWT_SECRET;
process.env.DATABASE_URL = process.env.BENCH_DB_URL;
const { Flux } = await import('../../dist/lib/Flux.js');
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
// BENCH_PROBE (the sockets part): the memory line also carries the process's CPU time since it listened,
// the SQL statements it ran since, by kind, and the sockets that room broadcasts visited (publish O(rooms))
const probe = process.env.BENCH_PROBE === '1' ? startProbe() : undefined;
process.stdout.write(`ready ${address.port} -\n`);
// The benchmark asks for the heap after a full GC (run with --expose-gc): RSS alone hides garbage and
// memory V8 keeps from the OS.
process.on('SIGUSR2', () => {
  const counters = probe?.();
  globalThis.gc?.();
  const { heapUsed, external, rss } = process.memoryUsage();
  process.stdout.write(`memory ${JSON.stringify({ heapUsed, external, rss, ...counters })}\n`);
});
process.once('SIGTERM', () =>
  Flux.stop().then(() => {
    // BENCH_PROBE: what the stop cost (the sockets part subtracts the counters of its last probe)
    if (probe) process.stdout.write(`stopped ${JSON.stringify(probe())}\n`);
    process.exit(0);
  }),
);

function startProbe() {
  const cpuAtReady = process.cpuUsage();
  const queries = {};
  let queryCount = 0;
  Flux.sequelize.addHook('afterQuery', (_options, query) => {
    queryCount++;
    // `SELECT … FROM "Sessions"`, `UPDATE "Sessions"`: the statement and its first table
    const sql = String(query?.sql ?? '');
    const kind = `${sql.slice(0, 6).toUpperCase()} ${/(?:FROM|UPDATE|INTO) "(\w+)"/i.exec(sql)?.[1] ?? '?'}`;
    queries[kind] = (queries[kind] ?? 0) + 1;
  });
  const adapter = Flux.io.of('/').adapter;
  const apply = adapter.apply.bind(adapter);
  const rooms = { broadcasts: 0, socketsVisited: 0 };
  adapter.apply = (opts, callback) => {
    rooms.broadcasts++;
    return apply(opts, (socket) => {
      rooms.socketsVisited++;
      callback(socket);
    });
  };
  return () => {
    const { user, system } = process.cpuUsage(cpuAtReady);
    return {
      cpuMs: (user + system) / 1000,
      queryCount,
      queries,
      sockets: Flux.io.of('/').sockets.size,
      rooms,
    };
  };
}
