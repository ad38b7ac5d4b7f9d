import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { httpTransport } from '../helpers/clients.js';
import { expectStatus, login } from '../helpers/fixtures.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * Start-up (docs/reference.md#running, #configuration, #routes-and-middlewares): checks that stop the server
 * before it listens, and the first-start admin.
 */

const base = { server: { port: 0, host: '127.0.0.1' }, bootstrap: { adminPassword: 'startup-password' } };

afterEach(async () => {
  await Flux.stop();
  vi.restoreAllMocks();
});

describe('refusing to start', () => {
  it.each([
    [
      { routes: { 'get /x': { action: 'NoSuchController.find' } } },
      /Route "get \/x": unknown controller "NoSuchController"/,
    ],
    [{ routes: { 'get /x': { action: 'UserController.fly' } } }, /Route "get \/x": unknown action "fly"/],
    [
      { routes: { 'get /x': { action: 'UserController.find', middlewares: ['nope'] } } },
      /Route "get \/x": unknown middleware "nope"/,
    ],
    [{ routes: { 'fetch /x': { action: 'UserController.find' } } }, /Route "fetch \/x"/],
    [{ server: { port: 'eighty' } }, /server\.port/],
    [{ log: { level: 'verbose' } }, /log\.level/],
    [{ server: { middlewares: ['nope'] } }, /server\.middlewares: unknown middleware "nope"/],
    [{ roles: { broken: ['user/fly'] } }, /roles\.broken: "user\/fly" is not a level of user/],
  ])('When the config has %j, then start fails naming it and nothing listens', async (overrides, message) => {
    const database = await createTestDatabase();
    try {
      await expect(
        Flux.start({ config: { ...base, database: database.config, ...overrides } }),
      ).rejects.toThrow(message);
      expect(Flux.server?.listening ?? false).toBe(false);
    } finally {
      await database.drop();
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)('text collation on PostgreSQL', () => {
  it('When a text column lacks the collation "C" (a migration forgot it), then start fails naming it', async () => {
    const database = await createTestDatabase();
    try {
      await Flux.start({ config: { ...base, database: database.config } });
      // what migration 0008 did, undone for one column, as a later migration adding a column would leave it
      await Flux.sequelize.query(
        'ALTER TABLE "Teams" ALTER COLUMN "location" TYPE varchar(200) COLLATE "default"',
      );
      await Flux.stop();
      await expect(Flux.start({ config: { ...base, database: database.config } })).rejects.toThrow(
        /Text columns without the collation "C": Teams\.location\. .*setTextCollation/,
      );
    } finally {
      await Flux.stop();
      await database.drop();
    }
  });
});

describe('secrets in production', () => {
  it('When NODE_ENV=production has no JWT_SECRET, or a short one, then the server refuses to start', async () => {
    const database = await createTestDatabase();
    const env = Flux.env;
    const secret = process.env.JWT_SECRET;
    try {
      Flux.env = 'production';
      delete process.env.JWT_SECRET;
      await expect(Flux.start({ config: { ...base, database: database.config } })).rejects.toThrow(
        /JWT_SECRET/,
      );
      process.env.JWT_SECRET = 'too-short';
      await expect(Flux.start({ config: { ...base, database: database.config } })).rejects.toThrow(
        /at least 32/,
      );
      process.env.JWT_SECRET = 'a-production-secret-that-is-long-enough-0123456789';
      await Flux.start({ config: { ...base, database: database.config } });
      expect(Flux.config.jwt.secret).toBe(process.env.JWT_SECRET);
    } finally {
      Flux.env = env;
      if (secret === undefined) delete process.env.JWT_SECRET;
      else process.env.JWT_SECRET = secret;
      await Flux.stop();
      await database.drop();
    }
  });
});

describe('the accept queue', () => {
  /** The accept queue's length of the socket listening on `port`, as the kernel has it (`ss`, Send-Q). */
  const acceptQueue = (port: number): number => {
    const line = execFileSync('ss', ['-ltnH', 'src', `127.0.0.1:${port}`], { encoding: 'utf8' }).trim();
    return Number(line.split(/\s+/)[2]);
  };

  it.runIf(process.platform === 'linux')(
    'When server.backlog is set, then the listening socket queues that many connections (4096 by default, not 511), up to the kernel cap',
    async () => {
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      const database = await createTestDatabase();
      try {
        let address = await Flux.start({ config: { ...base, database: database.config } });
        expect(acceptQueue(address.port)).toBe(Math.min(4096, somaxconn));
        await Flux.stop();

        // below Node's 511 and any kernel's cap: only a backlog passed on gives it
        const config = { ...base, server: { ...base.server, backlog: 100 }, database: database.config };
        address = await Flux.start({ config });
        expect(acceptQueue(address.port)).toBe(100);
      } finally {
        await Flux.stop();
        await database.drop();
      }
    },
  );
});

describe('first start', () => {
  it('When no password is configured, then a random admin password is printed once and works; a restart creates nothing', async () => {
    const database = await createTestDatabase();
    const printed: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return write(chunk as string, ...(rest as []));
    });
    try {
      const config = { ...base, bootstrap: { adminPassword: undefined }, database: database.config };
      const address = await Flux.start({ config });
      const line = printed.join('').match(/user "admin" with password: (\S+)/);
      expect(line).not.toBeNull();
      const url = `http://127.0.0.1:${address.port}`;
      const token = await login(url, 'admin', line![1]);
      const me = expectStatus(await httpTransport(url, token).request('GET', '/auth/me'), 200);
      expect(me).toMatchObject({
        user: { login: 'admin' },
        team: { name: 'Admin', role: 'admin' },
        tenant: { slug: 'default' },
      });
      await Flux.stop();

      printed.length = 0;
      await Flux.start({ config });
      expect(printed.join('')).not.toContain('password:');
      expect(await Flux.User.count()).toBe(1);
      expect(await Flux.Team.count()).toBe(1);
      expect(await Flux.Tenant.count()).toBe(1);
    } finally {
      await Flux.stop();
      await database.drop();
    }
  });
});
