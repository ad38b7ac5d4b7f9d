import { PGlite } from '@electric-sql/pglite';
const opts = process.argv[2] ? JSON.parse(process.argv[2]) : {};
const r0 = process.memoryUsage().rss;
const db = await PGlite.create(new URL('../data/rss-test', import.meta.url).pathname, opts);
await db.query('select 1');
const sb = (await db.query('show shared_buffers')).rows[0].shared_buffers;
console.log(JSON.stringify(opts), `shared_buffers=${sb}`, `rss ${Math.round(r0 / 1e6)} → ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
await db.close();
