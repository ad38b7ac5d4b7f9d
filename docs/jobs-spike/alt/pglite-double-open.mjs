// What happens when a second process opens a PGlite folder that another process has open?
// (e.g. a second `npm start`, or a CLI command, on the same data/ folder)
import { PGlite } from '@electric-sql/pglite';
import { fork } from 'node:child_process';
const dir = new URL('../data/double-open', import.meta.url).pathname;
const role = process.argv[2] ?? 'parent';
if (role === 'parent') {
  const db = await PGlite.create(dir);
  await db.exec('create table if not exists t (id serial primary key, who text)');
  await db.exec("insert into t (who) values ('parent-before')");
  console.log('parent: open, rows', (await db.query('select count(*)::int n from t')).rows[0].n);
  const c = fork(new URL(import.meta.url).pathname, ['child'], { stdio: 'inherit' });
  await new Promise((r) => c.on('exit', r));
  try {
    await db.exec("insert into t (who) values ('parent-after')");
    console.log('parent after child: rows', JSON.stringify((await db.query('select who from t order by id')).rows.map((r) => r.who)));
  } catch (e) { console.log('parent after child: error', e.message); }
  await db.close();
  const db2 = await PGlite.create(dir);
  console.log('reopened: rows', JSON.stringify((await db2.query('select who from t order by id')).rows.map((r) => r.who)));
  await db2.close();
} else {
  try {
    const db = await PGlite.create(dir);
    console.log('child: opened the same folder without error');
    await db.exec("insert into t (who) values ('child')");
    console.log('child: rows', JSON.stringify((await db.query('select who from t order by id')).rows.map((r) => r.who)));
    await db.close();
  } catch (e) { console.log('child: error', e.message); }
}
