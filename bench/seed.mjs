// Prepares the benchmark database with Flux itself (dist/): migrations, the demo event, and messages.
process.env.NODE_ENV = 'production';
process.env.JWT_SECRET = process.env.BENCH_JWT_SECRET;
process.env.DATABASE_URL = process.env.BENCH_DB_URL;
process.env.FLUX_ADMIN_PASSWORD = 'bench-admin-password';
const { Flux } = await import('../dist/lib/Flux.js');
const { loadDemoEvent } = await import('../dist/api/services/fixtures.js');
await Flux.start({ listen: false, config: { log: { level: 'error', dir: false } } });
await loadDemoEvent();
const coordination = await Flux.models.Team.findOne({ where: { name: 'Coordination' } });
const coord = await Flux.models.User.findOne({ where: { login: 'coord' } });
const rows = Array.from({ length: 2000 }, (_, i) => ({
  tenantId: 1,
  channel: i % 2 ? `public:${coordination.id}` : 'group:bars',
  text: `Message ${i}: keg delivery round at ${18 + (i % 5)}:00`,
  userId: coord.id,
}));
for (let i = 0; i < rows.length; i += 500) await Flux.models.Message.bulkCreate(rows.slice(i, i + 500));
process.stdout.write(`seeded ${rows.length} messages; channel public:${coordination.id}\n`);
await Flux.stop();
