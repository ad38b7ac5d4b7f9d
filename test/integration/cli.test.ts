import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../cli/program.js';
import { Flux } from '../../lib/Flux.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import { collect, connectSocket, httpTransport, socketRequest, waitFor } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { runNode } from '../helpers/processes.js';
import {
  ADMIN_PASSWORD,
  createTestDatabase,
  shippedMigrations,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';

/**
 * The `flux` command (docs/reference.md#cli), each command in a temporary database, including failures.
 * Commands run in this process (cli/program.ts `run`) with the environment a process would get; a few run the
 * executable cli/flux.ts in a child process, to prove that it opens the database, prints and exits with
 * the code.
 */

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let url: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a `flux` run: this file's database, no Redis, the bootstrap password; `env` over it. */
function fluxEnv(env: Record<string, string>): Record<string, string> {
  return { NODE_ENV: 'test', DATABASE_URL: url, REDIS_URL: '', FLUX_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env };
}

/** The network connections of this process: a run that leaves one open leaks a database connection. */
const openSockets = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;

/**
 * Runs `flux …` in this process with `env` over the test's environment; resolves with its exit code and
 * output once the connections it opened are closed (fails otherwise).
 */
async function flux(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const sockets = openSockets();
  for (const [name, value] of Object.entries(fluxEnv(env))) vi.stubEnv(name, value);
  const result: Result = { code: -1, stdout: '', stderr: '' };
  try {
    result.code = await run(args, {
      stdout: (text) => {
        result.stdout += text;
      },
      stderr: (text) => {
        result.stderr += text;
      },
    });
  } finally {
    vi.unstubAllEnvs();
  }
  // a closed connection leaves the list on the next turns of the event loop
  await waitFor(() => openSockets() <= sockets, 2000, `the connections of flux ${args.join(' ')} to close`);
  return result;
}

/** Runs the executable, `node --import tsx cli/flux.ts …`, in a child process, as `npx flux …` does. */
function fluxProcess(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return runNode('cli/flux.ts', args, fluxEnv(env));
}

beforeAll(async () => {
  database = await createTestDatabase();
  url = (database.config.url as string | undefined) ?? `sqlite:${database.config.storage as string}`;
});

afterAll(async () => {
  await database?.drop();
});

describe('flux migrate', () => {
  it('When migrations are listed, applied and the latest reverted, then status follows; a bad action exits 1', async () => {
    // the migrations the code ships, in order: the test follows them rather than copying today's list
    const shipped = shippedMigrations();
    const [latest, beforeLatest] = [shipped.at(-1)!, shipped.at(-2)!];
    // the executable, end to end: it opens the database, prints, closes it and exits 0
    const fresh = await fluxProcess(['migrate', 'status']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain(shipped.map((name) => `pending  ${name}`).join('\n'));
    const up = await flux(['migrate', 'up']);
    expect(up).toMatchObject({ code: 0 });
    expect(up.stdout).toContain(`applied ${shipped.join(', ')}`);
    expect((await flux(['migrate'])).stdout).toContain('nothing to apply');
    const down = await flux(['migrate', 'down']);
    expect(down.stdout).toContain(`reverted ${latest}`);
    expect((await flux(['migrate', 'status'])).stdout).toMatch(
      new RegExp(`up\\s+${beforeLatest}\\npending\\s+${latest}`),
    );
    expect((await flux(['migrate', 'up'])).code).toBe(0);
    // the executable's exit code after a usage error
    const bad = await fluxProcess(['migrate', 'sideways']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected up, down or status');
  }, 60_000);

  it('When the arguments are wrong or help is asked for, then commander’s message and exit code, in this process too', async () => {
    const bad = await flux(['migrate', 'sideways']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected up, down or status');
    expect(bad.stderr).toContain('Usage: flux migrate'); // showHelpAfterError
    const help = await flux(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: flux /);
    expect(help.stdout).toContain('config:check');
    const none = await flux([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^Usage: flux /);
    expect((await flux(['teleport'])).stderr).toContain("unknown command 'teleport'");
  });
});

describe('flux users and teams', () => {
  it('When teams and users are created, then they exist; duplicates, unknown roles, teams and users exit 1', async () => {
    const team = await flux(['team:create', '--name', 'North Bar', '--role', 'bar', '--group', 'bars']);
    expect(team.code).toBe(0);
    expect(team.stdout).toContain('created team North Bar');
    const badRole = await flux(['team:create', '--name', 'X', '--role', 'pirate']);
    expect(badRole).toMatchObject({ code: 1 });
    expect(badRole.stderr).toContain('role must be one of');
    const user = await flux([
      'user:create',
      '--login',
      'bob',
      '--password',
      'bob-password',
      '--team',
      'North Bar',
    ]);
    expect(user.code).toBe(0);
    const again = await flux([
      'user:create',
      '--login',
      'bob',
      '--password',
      'bob-password',
      '--team',
      'North Bar',
    ]);
    expect(again.code).toBe(1);
    expect(
      (await flux(['user:create', '--login', 'eve', '--password', 'eve-password', '--team', 'Nowhere']))
        .stderr,
    ).toContain('no team "Nowhere"');
    expect(
      (await flux(['user:create', '--login', 'eve', '--password', 'short', '--team', 'North Bar'])).code,
    ).toBe(1);
    expect((await flux(['user:create', '--login', 'eve'])).code).toBe(1); // missing required options
    const admin = await flux(['user:make-admin', '-u', 'bob']);
    expect(admin.stdout).toContain('bob is now in the team Admin');
    expect((await flux(['user:make-admin', '-u', 'ghost'])).code).toBe(1);
    expect(
      (await flux(['team:create', '--name', 'X', '--role', 'bar', '--tenant', 'nowhere'])).stderr,
    ).toContain('no tenant');
  }, 90_000);

  it('When the demo event is loaded twice, then the second time changes nothing', async () => {
    expect((await flux(['fixtures'])).stdout).toContain('Loaded the demo event');
    expect((await flux(['fixtures'])).stdout).toContain('already loaded');
  }, 30_000);
});

/**
 * Flux started in this process on this file's database, listening, without Redis: the API next to the
 * CLI's writes (a `flux` run in this process waits until it is stopped; `fluxProcess` runs beside it).
 */
async function startServer(): Promise<string> {
  const address = await Flux.start({
    config: {
      server: { port: 0, host: '127.0.0.1' },
      database: database.config,
      redis: { url: undefined },
      bootstrap: { adminPassword: ADMIN_PASSWORD },
      log: { level: 'warn', dir: false },
    },
  });
  return `http://127.0.0.1:${address.port}`;
}

/** The teams and users a tenant has, as compared between the CLI and the API. */
async function startingRows(slug: string) {
  const tenant = await Flux.Tenant.findOne({ where: { slug } });
  expect(tenant, slug).not.toBeNull();
  const teams = await Flux.Team.findAll({ where: { tenantId: tenant!.id }, raw: true });
  const users = await Flux.User.findAll({ where: { tenantId: tenant!.id }, raw: true });
  return {
    teams: teams.map(({ name, role, group, location }) => ({ name, role, group, location })),
    users: users.map(({ login, name, teamId }) => ({
      login,
      name,
      team: teams.find((team) => team.id === teamId)?.name,
    })),
  };
}

describe('flux tenant:create and user:password, the rules of the API', () => {
  it('When a tenant is created by the CLI and one through the API, then both start with the same Admin team and admin', async () => {
    const created = await flux([
      'tenant:create',
      '--name',
      'From the CLI',
      '--slug',
      'cli-tenant',
      '--admin',
      'boss',
      '--password',
      'boss-password',
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(
      /^created tenant cli-tenant \(#\d+\) with team Admin \(admin\) and user boss$/m,
    );
    const taken = await flux([
      'tenant:create',
      '--name',
      'Again',
      '--slug',
      'cli-tenant',
      '--admin',
      'boss',
      '--password',
      'boss-password',
    ]);
    expect(taken.code).toBe(1);
    const badSlug = await flux([
      'tenant:create',
      '--name',
      'Bad',
      '--slug',
      'Bad Slug',
      '--admin',
      'boss',
      '--password',
      'boss-password',
    ]);
    expect(badSlug.code).toBe(1);
    expect(badSlug.stderr).toContain('slug: slug must be lower-case letters, digits and dashes');
    const short = await flux([
      'tenant:create',
      '--name',
      'S',
      '--slug',
      'short',
      '--admin',
      'a',
      '--password',
      'x',
    ]);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('password must have at least');

    const base = await startServer();
    try {
      const operator = httpTransport(base, await adminLogin(base));
      expectStatus(
        await operator.request('POST', '/tenant', {
          name: 'From the API',
          slug: 'api-tenant',
          admin: { login: 'boss', password: 'boss-password' },
        }),
        201,
      );
      const expected = {
        teams: [{ name: 'Admin', role: 'admin', group: null, location: null }],
        users: [{ login: 'boss', name: 'boss', team: 'Admin' }],
      };
      expect(await startingRows('api-tenant')).toEqual(expected);
      expect(await startingRows('cli-tenant')).toEqual(expected);
      // nothing of the refused runs was kept
      expect(await Flux.Tenant.count({ where: { slug: 'short' } })).toBe(0);
      // the CLI's admin logs into its tenant with its team's permissions, as the API's does
      for (const slug of ['cli-tenant', 'api-tenant']) {
        const me = httpTransport(base, await login(base, 'boss', 'boss-password', slug));
        expect(
          expectStatus<{ team: { role: string } }>(await me.request('GET', '/auth/me'), 200).team.role,
        ).toBe('admin');
      }
    } finally {
      await Flux.stop();
    }
  }, 60_000);

  it('When the CLI sets a user’s password, then the user’s sessions on a running server end and the new one logs in', async () => {
    const base = await startServer();
    try {
      const tokens = [
        await login(base, 'boss', 'boss-password', 'cli-tenant'),
        await login(base, 'boss', 'boss-password', 'cli-tenant'),
      ];
      // in a process of its own, as an operator runs it beside the server
      const changed = await fluxProcess([
        'user:password',
        '-u',
        'boss',
        '--tenant',
        'cli-tenant',
        '--password',
        'boss-new-password',
      ]);
      expect(changed.stderr).toBe('');
      expect(changed).toMatchObject({ code: 0 });
      expect(changed.stdout).toContain('boss has a new password');
      for (const token of tokens) {
        const me = await httpTransport(base, token).request('GET', '/auth/me');
        expect(expectStatus<{ _error: { code: string } }>(me, 403)._error.code).toBe('TokenRevoked');
      }
      const old = await httpTransport(base).request(
        'POST',
        '/auth/login',
        { login: 'boss', password: 'boss-password' },
        { 'x-tenant': 'cli-tenant' },
      );
      expect(old.status).toBe(401);
      await login(base, 'boss', 'boss-new-password', 'cli-tenant');
      // the other tenant's boss is another user: untouched
      await login(base, 'boss', 'boss-password', 'api-tenant');
    } finally {
      await Flux.stop();
    }
    const unknown = await flux(['user:password', '-u', 'ghost', '--password', 'ghost-password']);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain('no user "ghost"');
    expect((await flux(['user:password', '-u', 'admin', '--password', 'x'])).code).toBe(1);
  }, 60_000);
});

describe('flux routes and config:check', () => {
  it('When the route table is printed, then each route shows its action and middlewares in order', async () => {
    const routes = await flux(['routes']);
    expect(routes.code).toBe(0);
    // what the run loaded: every route of config/routes.ts has its line, after the global middlewares
    expect(routes.stdout.trimEnd().split('\n')).toHaveLength(
      Object.keys(Flux.config.routes as object).length,
    );
    const before = ['dataParser', ...Flux.config.server.middlewares].join(', ');
    expect(routes.stdout).toMatch(
      new RegExp(`^GET\\s+/user/:id\\s+UserController\\.get\\s+${before}, auth, requireAuth$`, 'm'),
    );
    expect(routes.stdout).toMatch(
      new RegExp(
        `^POST\\s+/user/avatar/:id\\s+UserController\\.uploadAvatar\\s+${before}, auth, requireAuth, upload\\(avatar\\)$`,
        'm',
      ),
    );
  }, 30_000);

  it('When the config is valid, then OK; when a value is invalid, then exit 1 naming the key', async () => {
    const ok = await flux(['config:check']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Configuration OK');
    const bad = await flux(['config:check'], { LOG_LEVEL: 'loud' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('log.level');
  }, 30_000);
});

describe.skipIf(!process.env.REDIS_URL)('CLI writes reach a running server', () => {
  let server: TestServer;
  // the server's and the CLI's: shared by the two, apart from other test files' and runs' (a session id of
  // this fresh database may be one revoked in another's)
  const prefix = `flux-cli-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
  beforeAll(async () => {
    server = await startTestServer({ redis: { url: process.env.REDIS_URL, prefix } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('When the CLI creates a team, then a subscriber of the running server receives it', async () => {
    const socket = await connectSocket(server.url);
    const events = collect<ModelEventPayload>(socket, 'model:team');
    await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'admin', password: ADMIN_PASSWORD },
    });
    expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(200);
    const serverUrl =
      (Flux.config.database.url as string | undefined) ?? `sqlite:${Flux.config.database.storage}`;
    // in a process of its own: this one's Flux is the server
    const created = await fluxProcess(['team:create', '--name', 'From the CLI', '--role', 'orga'], {
      DATABASE_URL: serverUrl,
      REDIS_URL: process.env.REDIS_URL!,
      FLUX_REDIS_PREFIX: prefix,
    });
    expect(created.code).toBe(0);
    await waitFor(() => events.length === 1, 5000, 'the CLI write');
    expect(events[0]).toMatchObject({ verb: 'created', data: { name: 'From the CLI' } });
    socket.close();
  }, 30_000);

  it('When the CLI sets a user’s password, then the user’s sockets on the running server are told and its cached tokens refused', async () => {
    const admin = httpTransport(server.url, await adminLogin(server.url));
    await createTeamWithUser(
      admin,
      { name: 'Live', role: 'bar' },
      { login: 'live', password: 'live-password' },
    );
    const token = await login(server.url, 'live', 'live-password');
    // used once: the server holds its identity in its cache
    expectStatus(await httpTransport(server.url, token).request('GET', '/auth/me'), 200);
    const socket = await connectSocket(server.url);
    const revoked = collect(socket, 'auth:revoked');
    const bound = await socketRequest(socket, {
      method: 'POST',
      url: '/auth/login',
      data: { login: 'live', password: 'live-password' },
    });
    expect(bound.statusCode).toBe(200);
    const serverUrl =
      (Flux.config.database.url as string | undefined) ?? `sqlite:${Flux.config.database.storage}`;
    const changed = await fluxProcess(['user:password', '-u', 'live', '--password', 'live-new-password'], {
      DATABASE_URL: serverUrl,
      REDIS_URL: process.env.REDIS_URL!,
      FLUX_REDIS_PREFIX: prefix,
    });
    expect(changed.code).toBe(0);
    await waitFor(() => revoked.length === 1, 5000, 'auth:revoked on the socket of the server');
    const me = await httpTransport(server.url, token).request('GET', '/auth/me');
    expect(expectStatus<{ _error: { code: string } }>(me, 403)._error.code).toBe('TokenRevoked');
    socket.close();
  }, 30_000);
});
