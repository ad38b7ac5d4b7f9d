// Does LISTEN/NOTIFY reach the listening connection through pglite-socket's multiplexer?
import pg from 'pg';
const url = 'postgres://postgres@127.0.0.1:54329/postgres';
const a = new pg.Client(url), b = new pg.Client(url);
await a.connect(); await b.connect();
const got = [];
a.on('notification', (m) => got.push(`A got ${m.channel}:${m.payload}`));
b.on('notification', (m) => got.push(`B got ${m.channel}:${m.payload}`));
await a.query('LISTEN spike_ch');
await b.query("NOTIFY spike_ch, 'from-B'");
await new Promise((r) => setTimeout(r, 300));
await b.query('select 1');
await new Promise((r) => setTimeout(r, 300));
await a.query('select 1');
await new Promise((r) => setTimeout(r, 300));
console.log('A LISTENs, B NOTIFYs:', got.length ? got.join('; ') : 'nobody received it');
await a.query('UNLISTEN *'); await a.end(); await b.end();
