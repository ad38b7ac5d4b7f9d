import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config.js';
import { resolveJobStore } from '../../lib/jobs.js';

/** Where the job queues live (lib/jobs.ts `resolveJobStore`, docs/jobs.md). */
describe('resolveJobStore', () => {
  const base = { sqliteStorage: 'data/flux.sqlite', rootdir: '/srv/flux' };
  const auto = { store: 'auto' as const };

  it('takes Redis first, then PostgreSQL, then PGlite beside the SQLite file', () => {
    const redisUrl = 'redis://127.0.0.1:6379';
    const databaseUrl = 'postgres://u:p@db/flux';
    expect(resolveJobStore(auto, { ...base, redisUrl, databaseUrl })).toEqual({
      kind: 'redis',
      url: redisUrl,
    });
    expect(resolveJobStore(auto, { ...base, databaseUrl })).toEqual({ kind: 'postgres', url: databaseUrl });
    expect(resolveJobStore(auto, base)).toEqual({ kind: 'pglite', dir: '/srv/flux/data/flux.sqlite.jobs' });
    expect(resolveJobStore(auto, { ...base, databaseUrl: 'sqlite:/tmp/x.sqlite' })).toEqual({
      kind: 'pglite',
      dir: '/tmp/x.sqlite.jobs',
    });
    expect(resolveJobStore(auto, { ...base, sqliteStorage: ':memory:' })).toEqual({
      kind: 'pglite',
      dir: 'memory',
    });
    expect(resolveJobStore(auto, { ...base, databaseUrl: 'sqlite::memory:' })).toEqual({
      kind: 'pglite',
      dir: 'memory',
    });
  });

  it('honours a chosen store and folder, and refuses one without its URL', () => {
    expect(
      resolveJobStore(
        { store: 'pglite', dir: 'jobs' },
        { ...base, redisUrl: 'redis://r', databaseUrl: 'postgres://d' },
      ),
    ).toEqual({ kind: 'pglite', dir: '/srv/flux/jobs' });
    expect(
      resolveJobStore({ store: 'postgres' }, { ...base, redisUrl: 'redis://r', databaseUrl: 'postgres://d' }),
    ).toEqual({
      kind: 'postgres',
      url: 'postgres://d',
    });
    expect(() => resolveJobStore({ store: 'redis' }, base)).toThrow(ConfigError);
    expect(() => resolveJobStore({ store: 'postgres' }, { ...base, databaseUrl: 'sqlite:/x' })).toThrow(
      /postgres:\/\//,
    );
  });
});
