import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../api/configSchema.js';
import authDefaults from '../../config/auth.js';
import {
  ConfigError,
  type ConfigSchema,
  checkBuiltConfig,
  classifyConfigFile,
  configFromEnv,
  envOverrides,
  mergeConfig,
  validateConfig,
} from '../../lib/config.js';
import { openDatabase, tuneDatabase } from '../../lib/database.js';
import { applicationRoot } from '../../lib/Flux.js';
import { Logger } from '../../lib/log.js';

describe('mergeConfig', () => {
  it('merges plain objects deeply, later sources winning', () => {
    const merged = mergeConfig(
      { server: { port: 1, host: 'a' }, log: { level: 'info' } },
      { server: { port: 2 } },
    );
    expect(merged).toEqual({ server: { port: 2, host: 'a' }, log: { level: 'info' } });
  });

  it('replaces arrays instead of concatenating them', () => {
    expect(mergeConfig({ m: ['a', 'b'] }, { m: ['c'] })).toEqual({ m: ['c'] });
  });

  it('merges three layers in order: base, env, local', () => {
    const merged = mergeConfig({ a: { x: 1, y: 1, z: 1 } }, { a: { y: 2, z: 2 } }, { a: { z: 3 } });
    expect(merged).toEqual({ a: { x: 1, y: 2, z: 3 } });
  });

  it('does not mutate its sources', () => {
    const base = { a: { b: 1 } };
    mergeConfig(base, { a: { b: 2 } });
    expect(base).toEqual({ a: { b: 1 } });
  });
});

describe('classifyConfigFile', () => {
  it('recognises base, environment and local files', () => {
    expect(classifyConfigFile('server.ts')).toEqual({ kind: 'base', key: 'server' });
    expect(classifyConfigFile('server.production.ts')).toEqual({
      kind: 'env',
      key: 'server',
      env: 'production',
    });
    expect(classifyConfigFile('server.local.ts')).toEqual({ kind: 'local', key: 'server' });
  });

  it('ignores .dist files and flags names that fit no rule', () => {
    expect(classifyConfigFile('server.local.ts.dist')).toEqual({ kind: 'ignored' });
    expect(classifyConfigFile('notes.txt')).toEqual({ kind: 'unknown' });
    expect(classifyConfigFile('a.b.c.ts')).toEqual({ kind: 'unknown' });
  });
});

describe('configFromEnv', () => {
  it('maps the environment variables onto config keys', () => {
    expect(
      configFromEnv({ PORT: '8080', DATABASE_URL: 'postgres://x', LOG_LEVEL: 'debug', JWT_SECRET: 's' }),
    ).toEqual({
      server: { port: '8080' },
      database: { url: 'postgres://x' },
      log: { level: 'debug' },
      jwt: { secret: 's' },
    });
  });

  it('treats empty variables as unset', () => {
    expect(configFromEnv({ PORT: '' })).toEqual({});
  });

  it("reads the variables an application registers, and only the framework's without them", () => {
    expect(configFromEnv({ FLUX_ADMIN_PASSWORD: 'p' })).toEqual({});
    expect(configFromEnv({ FLUX_ADMIN_PASSWORD: 'p' }, { ...envOverrides, ...configSchema.env })).toEqual({
      bootstrap: { adminPassword: 'p' },
    });
  });
});

const validateAppConfig = validateConfig;

describe('validateConfig', () => {
  const valid = { server: {}, database: {}, jwt: { secret: 'x' }, log: {} };

  it('applies defaults and coerces the port', () => {
    const config = validateConfig({ ...valid, server: { port: '4000' } });
    expect(config.server.port).toBe(4000);
    expect(config.server.bodyLimit).toBe('100kb');
    expect(config.jwt.expiresIn).toBe('7d');
  });

  it('takes the accept queue from FLUX_LISTEN_BACKLOG, 4096 without it, and refuses what listen() cannot take', () => {
    expect(validateConfig(valid).server.backlog).toBe(4096);
    const fromEnv = configFromEnv({ FLUX_LISTEN_BACKLOG: '1024' });
    expect(validateConfig({ ...valid, ...fromEnv }).server.backlog).toBe(1024);
    for (const backlog of ['0', '-1', '1.5', 'many', '65536'])
      expect(() => validateConfig({ ...valid, server: { backlog } })).toThrow(/server\.backlog/);
  });

  it('names the invalid key', () => {
    expect(() => validateConfig({ ...valid, server: { port: 'abc' } })).toThrow(ConfigError);
    expect(() => validateConfig({ ...valid, server: { port: 'abc' } })).toThrow(/server\.port/);
    expect(() => validateConfig({ ...valid, log: { level: 'loud' } })).toThrow(/log\.level/);
  });

  it('checks the keys an application registers with its own, a key of both holding the members of each', () => {
    const registered: ConfigSchema = {
      schema: z.object({
        mail: z.object({ from: z.string().default('noreply@example.org') }).prefault({}),
        upload: z.object({ thumbnails: z.boolean().default(true) }).prefault({}),
      }),
    };
    const config = validateConfig({ ...valid, upload: { maxFiles: 2 }, other: 1 }, registered) as Record<
      string,
      unknown
    >;
    expect(config.mail).toEqual({ from: 'noreply@example.org' });
    expect(config.upload).toMatchObject({ maxFiles: 2, dir: 'uploads', thumbnails: true });
    expect(config.other).toBe(1); // unregistered keys pass, for their owners to check
    expect(() => validateConfig({ ...valid, mail: { from: 3 } }, registered)).toThrow(/mail\.from/);
    expect(() => validateConfig({ ...valid, upload: { thumbnails: 'yes' } }, registered)).toThrow(
      /upload\.thumbnails/,
    );
    // the framework alone checks none of them
    expect(() => validateConfig({ ...valid, mail: { from: 3 } })).not.toThrow();
  });

  it('keeps what the registered schema made of a value (an environment string coerced to a number)', () => {
    const registered: ConfigSchema = {
      schema: z.object({
        alerts: z.object({ escalateAfterMs: z.coerce.number().int().default(300_000) }).prefault({}),
        upload: z.object({ maxImagePixels: z.coerce.number().default(1) }).prefault({}),
      }),
    };
    const raw = {
      ...valid,
      alerts: { escalateAfterMs: '3000' },
      upload: { maxImagePixels: '64', maxFiles: 2 },
    };
    const config = validateConfig(raw, registered) as Record<string, Record<string, unknown>>;
    expect(config.alerts.escalateAfterMs).toBe(3000);
    expect(config.upload).toMatchObject({ maxImagePixels: 64, maxFiles: 2 });
  });

  it('validates the auth and upload keys, with the defaults of config/auth.ts and config/upload.ts', () => {
    const validateConfig = (raw: Record<string, unknown>) => validateAppConfig(raw, configSchema);
    const config = validateConfig(valid);
    // the schema's defaults are those of the shipped file, key for key
    expect(config.auth).toEqual(authDefaults);
    expect(config.upload).toMatchObject({ dir: 'uploads', maxFileSize: 5 * 1024 * 1024, maxFiles: 1 });
    expect(config.upload.s3).toBeUndefined();
    expect(validateConfig({ ...valid, auth: { loginLimit: { perAccount: 3 } } }).auth.loginLimit).toEqual({
      windowMs: 900_000,
      perAccount: 3,
      perAddress: 100,
    });
    expect(() => validateConfig({ ...valid, auth: { bcryptRounds: '12' } })).toThrow(/auth\.bcryptRounds/);
    expect(() => validateConfig({ ...valid, auth: { bcryptRounds: 40 } })).toThrow(/auth\.bcryptRounds/);
    expect(() => validateConfig({ ...valid, auth: { sessionMaxAgeMs: -1 } })).toThrow(
      /auth\.sessionMaxAgeMs/,
    );
    expect(() => validateConfig({ ...valid, auth: { loginLimit: { windowMs: 0 } } })).toThrow(
      /auth\.loginLimit\.windowMs/,
    );
    expect(() => validateConfig({ ...valid, upload: { maxFileSize: '5mb' } })).toThrow(/upload\.maxFileSize/);
    expect(() => validateConfig({ ...valid, upload: { mimeTypes: ['png'] } })).toThrow(
      /upload\.mimeTypes\.0/,
    );
    expect(() => validateConfig({ ...valid, upload: { s3: { region: 'eu-west-3' } } })).toThrow(
      /upload\.s3\.bucket/,
    );
    expect(
      validateConfig({
        ...valid,
        upload: { s3: { bucket: 'b', region: 'r', endpoint: 'http://127.0.0.1:4569' } },
      }).upload.s3,
    ).toEqual({ bucket: 'b', region: 'r', endpoint: 'http://127.0.0.1:4569' });
  });

  it('sizes the PostgreSQL pool, refusing a minimum above the maximum', () => {
    expect(validateConfig(valid).database.pool).toEqual({ max: 10, min: 0, idle: 10_000, acquire: 60_000 });
    expect(validateConfig({ ...valid, database: { pool: { max: 40 } } }).database.pool.max).toBe(40);
    expect(() => validateConfig({ ...valid, database: { pool: { max: 0 } } })).toThrow(/database\.pool\.max/);
    expect(() => validateConfig({ ...valid, database: { pool: { max: 2, min: 5 } } })).toThrow(
      /database\.pool: min must not exceed max/,
    );
  });

  it('When the secret, the metrics port and the connection cap are not configured, then the secret stays unset for the start to fill, metrics stay on the main port and the cap is 50', () => {
    const config = validateConfig({ ...valid, jwt: {} });
    expect(config.jwt).toEqual({ secretFile: 'data/jwt-secret', expiresIn: '7d' });
    expect(config.metrics).toEqual({});
    expect(config.socket.maxConnectionsPerAddress).toBe(50);
    expect(validateConfig({ ...valid, metrics: { port: '9464' } }).metrics.port).toBe(9464);
    expect(() => validateConfig({ ...valid, metrics: { port: 70_000 } })).toThrow(/metrics\.port/);
    expect(() => validateConfig({ ...valid, socket: { maxConnectionsPerAddress: -1 } })).toThrow(
      /socket\.maxConnectionsPerAddress/,
    );
    expect(() => validateConfig({ ...valid, jwt: { secret: '' } })).toThrow(/jwt\.secret/);
  });

  it('When the query limits and the statement timeout are not configured, then the defaults of config/query.ts and config/database.ts apply; out-of-range values are refused naming the key', async () => {
    const shipped = {
      query: (await import('../../config/query.js')).default,
      database: (await import('../../config/database.js')).default,
    };
    const config = validateConfig(valid);
    expect(config.query).toEqual(shipped.query);
    expect(config.database.statementTimeoutMs).toBe(shipped.database.statementTimeoutMs);
    expect(
      validateConfig({ ...valid, database: { statementTimeoutMs: 0 } }).database.statementTimeoutMs,
    ).toBe(0);
    expect(() => validateConfig({ ...valid, database: { statementTimeoutMs: -1 } })).toThrow(
      /database\.statementTimeoutMs/,
    );
    expect(() => validateConfig({ ...valid, query: { maxConditions: 0 } })).toThrow(/query\.maxConditions/);
    expect(() => validateConfig({ ...valid, query: { maxPatternLength: 1.5 } })).toThrow(
      /query\.maxPatternLength/,
    );
    expect(validateConfig({ ...valid, query: { maxWildcards: 0 } }).query.maxWildcards).toBe(0);
  });

  it('keeps application keys it does not know', () => {
    expect(validateConfig({ ...valid, roles: { admin: [] } }).roles).toEqual({ admin: [] });
  });
});

describe('loadConfigDir', () => {
  it('merges X.ts, then X.<env>.ts, skipping other environments and .dist files, and reports unknown files', async () => {
    const { loadConfigDir } = await import('../../lib/config.js');
    const dir = new URL('../fixtures/config/', import.meta.url).pathname;
    const loaded = await loadConfigDir(dir, 'test');
    expect(loaded.config).toEqual({
      server: { port: 2, host: 'base', cors: { origin: true }, middlewares: ['c'] },
      roles: { admin: ['user/admin'] },
    });
    expect(loaded.unknownFiles).toEqual(['README.txt']);
    expect((await loadConfigDir(dir, 'production')).config.server).toMatchObject({
      port: 99,
      middlewares: ['a', 'b'],
    });
  });
});

describe('openDatabase', () => {
  it('gives PostgreSQL the configured pool', async () => {
    const sequelize = openDatabase(
      {
        url: 'postgres://flux:secret@127.0.0.1:1/flux',
        storage: 'unused',
        logging: false,
        pool: { max: 3, min: 1, idle: 5_000, acquire: 2_000 },
      },
      '/tmp',
      new Logger({ level: 'error', dir: false }),
    );
    expect(sequelize.getDialect()).toBe('postgres');
    expect(sequelize.config.pool).toMatchObject({ max: 3, min: 1, idle: 5_000, acquire: 2_000 });
    await sequelize.close();
  });

  it('When statementTimeoutMs is set, then every PostgreSQL connection gets it as statement_timeout; 0 sets none', async () => {
    const open = (statementTimeoutMs: number) =>
      openDatabase(
        {
          url: 'postgres://flux:secret@127.0.0.1:1/flux',
          storage: 'unused',
          logging: false,
          statementTimeoutMs,
        },
        '/tmp',
        new Logger({ level: 'error', dir: false }),
      );
    const timed = open(1_500);
    const untimed = open(0);
    expect(timed.config.dialectOptions).toMatchObject({ statement_timeout: 1_500 });
    expect(untimed.config.dialectOptions).not.toHaveProperty('statement_timeout');
    await Promise.all([timed.close(), untimed.close()]);
  });

  it('gives SQLite transactions the write lock at once: one that reads, then writes after another write, succeeds', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flux-sqlite-'));
    const sequelize = openDatabase(
      { storage: path.join(dir, 'lock.sqlite'), logging: false },
      dir,
      new Logger({ level: 'error', dir: false }),
    );
    try {
      await tuneDatabase(sequelize);
      await sequelize.query('CREATE TABLE counter (n INTEGER)');
      await sequelize.query('INSERT INTO counter VALUES (0)');
      let outside: Promise<unknown> = Promise.resolve();
      await sequelize.transaction(async (transaction) => {
        await sequelize.query('SELECT n FROM counter', { transaction });
        // a write of another connection while the transaction runs (a deferred one would let it commit
        // first, and then fail its own write with SQLITE_BUSY)
        outside = sequelize.query('UPDATE counter SET n = n + 100');
        await new Promise((r) => setTimeout(r, 100));
        await sequelize.query('UPDATE counter SET n = n + 1', { transaction });
      });
      await outside;
      const [rows] = await sequelize.query('SELECT n FROM counter');
      expect(rows).toEqual([{ n: 101 }]);
    } finally {
      await sequelize.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('running from the build', () => {
  it('When Flux runs from dist/, then the application root is the project; FLUX_ROOT wins', () => {
    expect(applicationRoot('/srv/flux/dist', {})).toBe('/srv/flux');
    expect(applicationRoot('/srv/flux', {})).toBe('/srv/flux');
    expect(applicationRoot('/srv/flux/dist', { FLUX_ROOT: '/var/lib/flux' })).toBe('/var/lib/flux');
  });

  it('When a config file of the project is missing from the build or newer than it, then the start fails naming it', () => {
    const project = mkdtempSync(path.join(tmpdir(), 'flux-built-'));
    const source = path.join(project, 'config');
    const built = path.join(project, 'dist', 'config');
    mkdirSync(source);
    mkdirSync(built, { recursive: true });
    try {
      const past = new Date(Date.now() - 60_000);
      for (const file of ['server.ts', 'server.production.ts', 'server.test.ts', 'server.ts.dist']) {
        writeFileSync(path.join(source, file), 'export default {};');
        utimesSync(path.join(source, file), past, past);
      }
      writeFileSync(path.join(built, 'server.js'), 'export default {};');
      writeFileSync(path.join(built, 'server.production.js'), 'export default {};');
      // files of another environment, and ignored ones, need not be built
      expect(() => checkBuiltConfig(source, built, 'production')).not.toThrow();
      writeFileSync(path.join(source, 'server.local.ts'), 'export default {};');
      expect(() => checkBuiltConfig(source, built, 'production')).toThrow(
        'config/server.local.ts is not in the build: run npm run build',
      );
      writeFileSync(path.join(built, 'server.local.js'), 'export default {};');
      expect(() => checkBuiltConfig(source, built, 'production')).not.toThrow();
      const later = new Date(Date.now() + 60_000);
      utimesSync(path.join(source, 'server.local.ts'), later, later);
      expect(() => checkBuiltConfig(source, built, 'production')).toThrow(
        'config/server.local.ts changed after the build: run npm run build',
      );
      // a build deployed without its sources is not checked
      expect(() => checkBuiltConfig(path.join(project, 'nowhere'), built, 'production')).not.toThrow();
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
