// Cost of the engine on the host process: BACKEND=pglite|postgres|redis node alt/bench-eventloop.mjs [N]
// PGlite executes SQL synchronously in WASM on the main thread: how long does it block the event loop?
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openBackend } from '../lib/backends.mjs';
const N = Number(process.argv[2] ?? 300);
const rssBase = process.memoryUsage().rss;
const b = await openBackend();
const q = new b.Queue('bench', b.opts);
await q.obliterate({ force: true });
const h = monitorEventLoopDelay({ resolution: 1 });
const rss0 = process.memoryUsage().rss;
h.enable();
let last = performance.now(), maxGap = 0, gaps = [];
const iv = setInterval(() => { const now = performance.now(); const g = now - last - 5; last = now; gaps.push(g); if (g > maxGap) maxGap = g; }, 5);
const t0 = Date.now();
await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'n', data: { i } })));
const tAdd = Date.now() - t0;
let done = 0;
const fin = new Promise((r) => {
  const w = new b.Worker('bench', async () => 1, { ...b.opts, concurrency: 4 });
  w.on('completed', async () => { if (++done === N) { r(); await w.close(); } });
});
await fin;
const t = Date.now() - t0;
h.disable();
clearInterval(iv);
gaps.sort((a, b) => a - b);
const ms = (ns) => (ns / 1e6).toFixed(1);
console.log(`[${b.kind}] ${N} jobs: addBulk ${tAdd} ms, all completed in ${t} ms (${Math.round((N * 1000) / t)} jobs/s); event-loop delay p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms; [5 ms ticker: ${gaps.length} ticks, lag p99 ${gaps[Math.floor(gaps.length * 0.99)]?.toFixed(1)} ms, max ${maxGap.toFixed(1)} ms; histogram samples ${h.count}]; rss before open ${Math.round(rssBase / 1e6)} MB, after open ${Math.round(rss0 / 1e6)} → ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
await q.obliterate({ force: true });
await q.close();
await b.close();
