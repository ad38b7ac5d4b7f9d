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
    server: { port: 0, host: '127.0.0.1' },
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
// The benchmark asks for the heap after a full GC (run with --expose-gc): RSS alone hides garbage and
// memory V8 keeps from the OS.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const { heapUsed, external, rss } = process.memoryUsage();
  process.stdout.write(`memory ${JSON.stringify({ heapUsed, external, rss })}\n`);
});
process.once('SIGTERM', () => Flux.stop().then(() => process.exit(0)));
