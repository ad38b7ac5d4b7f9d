import { execFile, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import { builtFromSources } from '../../scripts/sources.js';
import { collect, connectSocket, httpTransport, settle, socketRequest, waitFor } from '../helpers/clients.js';
import { createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';
import { createTestDatabase } from '../helpers/server.js';

/**
 * Production (docs/operations.md). One behaviour for both starts: the sources (through tsx) and the
 * production start (`node dist/app.js`, after `npm run build`) read the same config and use the
 * same `data/`, `logs/` and `uploads/` of the application root (`FLUX_ROOT`, else the project), never
 * folders inside the build output; `npm start` runs the build only while it matches the sources. Then
 * the deployment: `deploy/cluster.sh` starts instances of that build behind nginx (with PostgreSQL and
 * Redis; CI installs nginx). One file: both use `dist/`, built once.
 */

let root: string;
const running: NodeProcess[] = [];

/** The environment of both starts: the embedded database of the root, no secret, no admin password. */
const env = () => ({
  NODE_ENV: 'development',
  FLUX_ROOT: root,
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_URL: '',
  REDIS_URL: '',
  JWT_SECRET: '',
  FLUX_ADMIN_PASSWORD: '',
  LOG_LEVEL: 'info',
});

async function start(script: string, tsx: boolean): Promise<{ process: NodeProcess; url: string }> {
  const child = startNode(script, [], env(), { tsx });
  running.push(child);
  const [, port] = await waitForOutput(child, /listening on http:\/\/[^:]+:(\d+)/, 60_000);
  return { process: child, url: `http://127.0.0.1:${port}` };
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'flux-root-'));
});

afterAll(async () => {
  for (const child of running) await child.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the built server and npm start', () => {
  it('When the built server starts on the root of a development start, then it uses the same data and the same admin logs in', async () => {
    const development = await start('app.ts', true);
    const [, password] = /Created the bootstrap user "admin" with password: (\S+)/.exec(
      development.process.output(),
    ) as RegExpExecArray;
    const first = await httpTransport(development.url).request('POST', '/auth/login', {
      login: 'admin',
      password,
    });
    expect(first.status).toBe(200);
    expect(await development.process.stop()).toBe(0);

    // `npm run build`'s server part: tsc, and the digest of the sources it compiled (for npm start)
    await promisify(execFile)(process.execPath, [path.join('scripts', 'buildServer.js')], {
      cwd: Flux.rootdir,
    });
    expect(builtFromSources(Flux.rootdir)).toBe(true);
    const built = await start(path.join('dist', 'app.js'), false);
    // the same database: no new admin, and the first one's password works; the same secret file
    expect(built.process.output()).not.toContain('Created the bootstrap user');
    const again = await httpTransport(built.url).request('POST', '/auth/login', {
      login: 'admin',
      password,
    });
    expect(again.status).toBe(200);
    const token = (first.body as { jwt: string }).jwt;
    expect((await httpTransport(built.url, token).request('GET', '/auth/me')).status).toBe(200);
    for (const folder of ['data', 'logs']) {
      expect(existsSync(path.join(root, folder))).toBe(true);
      expect(existsSync(path.join(Flux.rootdir, 'dist', folder))).toBe(false);
    }
    expect(existsSync(path.join(root, 'data', 'jwt-secret'))).toBe(true);
    expect(await built.process.stop()).toBe(0);
  }, 180_000);

  it('When npm start finds a build made from the current sources, then it runs the build; once a source differs, the sources (the digest: test/unit/sources.test.ts)', async () => {
    // a copy of the project (its packages linked) with the build of the test above: its sources may change
    const project = mkdtempSync(path.join(tmpdir(), 'flux-project-'));
    try {
      for (const entry of [
        ...(
          JSON.parse(readFileSync(path.join(Flux.rootdir, 'tsconfig.build.json'), 'utf8')) as {
            include: string[];
          }
        ).include,
        'tsconfig.json',
        'tsconfig.build.json',
        'package.json',
        'scripts',
        'dist',
      ])
        cpSync(path.join(Flux.rootdir, entry), path.join(project, entry), {
          recursive: true,
          preserveTimestamps: true,
        });
      symlinkSync(path.join(Flux.rootdir, 'node_modules'), path.join(project, 'node_modules'));
      // the copy is the build of the test above and its sources (run alone, this test needs that build)
      expect(builtFromSources(project)).toBe(true);
      const npmStart = async () => {
        const child = startNode(path.join('scripts', 'start.js'), [], env(), { tsx: false, cwd: project });
        running.push(child);
        const [, port] = await waitForOutput(child, /listening on http:\/\/[^:]+:(\d+)/, 60_000);
        const health = await httpTransport(`http://127.0.0.1:${port}`).request('GET', '/health');
        expect(await child.stop()).toBe(0);
        return { output: child.output(), status: (health.body as { status: string }).status };
      };
      const built = await npmStart();
      expect(built.output).toContain('flux: running the build in dist/');
      expect(built.status).toBe('ok');

      // an edit the build does not have: the sources run, with it
      const controller = path.join(project, 'api', 'controllers', 'SystemController.ts');
      const original = readFileSync(controller, 'utf8');
      expect(original).toContain("status: 'ok'");
      writeFileSync(controller, original.replace("status: 'ok'", "status: 'edited'"));
      const edited = await npmStart();
      expect(edited.output).not.toContain('running the build');
      expect(edited.status).toBe('edited');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 180_000);
});

describe.skipIf(spawnSync('systemd-analyze', ['--version']).status !== 0)(
  'the systemd units (deploy/systemd)',
  () => {
    it('When systemd checks the units, then it finds nothing to say, and their environment file names what deploy/cluster.sh requires', () => {
      const folder = path.join(Flux.rootdir, 'deploy', 'systemd');
      const units = ['flux@8081.service', 'flux-migrate.service', 'flux.target'].map((unit) =>
        path.join(folder, unit),
      );
      const verify = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
      expect(`${verify.stdout}${verify.stderr}`).toBe('');
      expect(verify.status).toBe(0);
      const keys = (file: string) =>
        [...readFileSync(file, 'utf8').matchAll(/^([A-Z_]+)=/gm)].map(([, key]) => key).sort();
      const required = [
        ...readFileSync(path.join(Flux.rootdir, 'deploy', 'cluster.sh'), 'utf8').matchAll(
          /: "\$\{([A-Z_]+):\?/g,
        ),
      ]
        .map(([, key]) => key)
        .sort();
      expect(keys(path.join(folder, 'flux.env'))).toEqual(required);
    });
  },
);

const nginx = spawnSync('nginx', ['-v']).status === 0;
const services = !!process.env.DATABASE_URL && !!process.env.REDIS_URL;

/** `GET|POST path` to `port` from the client address `from` (another loopback address than nginx's). */
function requestFrom(
  from: string,
  port: number,
  method: string,
  url: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        localAddress: from,
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text,
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * Reads and writes through nginx until `stop()`: each round a `GET /team` and a `POST /team`, from a
 * client address of its own (127.0.1.x, forwarded by nginx), so that the global rate limit of one
 * address is not what the test measures. A request that reaches no instance counts as status 0.
 */
function startLoad(port: number, token: string) {
  const statuses = new Map<number, number>();
  const acknowledged: number[] = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const from = `127.0.1.${(i % 250) + 1}`;
      const failed = { status: 0, body: null };
      const team = { name: `Load ${i}`, role: 'orga' };
      const [read, write] = await Promise.all([
        requestFrom(from, port, 'GET', '/team', undefined, token).catch(() => failed),
        requestFrom(from, port, 'POST', '/team', team, token).catch(() => failed),
      ]);
      for (const reply of [read, write]) statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (write.status === 201) acknowledged.push((write.body as { id: number }).id);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    statuses,
    acknowledged,
    async stop() {
      running = false;
      await done;
    },
  };
}

/**
 * A socket to `base` as a phone runs it: it reconnects by itself (quickly, for the tests), with its token,
 * and subscribes to teams again at each connection. Resolves once it is first connected.
 */
async function reconnectingSubscriber(base: string, token: string) {
  const socket = io(base, {
    transports: ['websocket'],
    auth: { token },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  const events = collect<ModelEventPayload>(socket, 'model:team');
  let connections = 0;
  socket.on('connect', () => {
    connections++;
    void socket.emitWithAck('request', { method: 'POST', url: '/team/subscribe' });
  });
  await waitFor(() => connections === 1, 5000, 'the first connection');
  return { socket, events, connections: () => connections };
}

/** The teams of `ids` that `GET /team` does not find (read by id, 500 at a time). */
async function notStored(base: string, token: string, ids: number[]): Promise<number[]> {
  const found = new Set<number>();
  for (let start = 0; start < ids.length; start += 500) {
    const filters = { id: { in: ids.slice(start, start + 500) } };
    const reply = await httpTransport(base, token).request('GET', '/team', { filters, limit: 1000 });
    for (const team of expectStatus<Array<{ id: number }>>(reply, 200)) found.add(team.id);
  }
  return ids.filter((id) => !found.has(id));
}

/** What a cluster test gets: nginx's port, the instances' ports, the run directory. */
interface Cluster {
  port: number;
  instances: number[];
  run: string;
  /** The environment `deploy/cluster.sh` was started with: the one to run it again with. */
  env: NodeJS.ProcessEnv;
}

/**
 * Runs `body` against `count` instances started by `deploy/cluster.sh` (the build of the first test) on
 * a fresh PostgreSQL database (or `env.DATABASE_URL`), then stops them and removes what they made. `env`
 * is added to theirs.
 */
async function withCluster(
  count: number,
  env: Record<string, string>,
  body: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const database = env.DATABASE_URL ? undefined : await createTestDatabase();
  const run = mkdtempSync(path.join(tmpdir(), 'flux-cluster-'));
  let clusterEnv: NodeJS.ProcessEnv = {};
  try {
    clusterEnv = {
      ...process.env,
      FLUX_SKIP_BUILD: '1',
      NODE_ENV: 'production',
      FLUX_ROOT: run,
      DATABASE_URL: database?.config.url as string,
      JWT_SECRET: 'a-cluster-secret-0123456789-0123456789-0123',
      FLUX_ADMIN_PASSWORD: CLUSTER_PASSWORD,
      // each cluster's database is new: revocations of its session ids must not come from an earlier one
      FLUX_REDIS_PREFIX: `flux-cluster-${path.basename(run)}:`,
      ...env,
    };
    const { stdout } = await promisify(execFile)(
      'bash',
      ['deploy/cluster.sh', 'start', run, String(count), '127.0.0.1:0'],
      { cwd: Flux.rootdir, env: clusterEnv },
    );
    const [port, ...instances] = (/^cluster ([\d ]+)$/m.exec(stdout) as RegExpExecArray)[1]
      .split(' ')
      .map(Number);
    expect(instances).toHaveLength(count);
    await body({ port, instances, run, env: clusterEnv });
  } finally {
    await promisify(execFile)('bash', ['deploy/cluster.sh', 'stop', run], { cwd: Flux.rootdir });
    expect(existsSync(path.join(run, 'instance-1.pid'))).toBe(false);
    rmSync(run, { recursive: true, force: true });
    await database?.drop();
  }
}

const CLUSTER_PASSWORD = 'cluster-admin-password';

/**
 * A PostgreSQL server of the test's own, to stop and start (Debian's postgresql-common: root only), so
 * that the restart does not disturb the tests running on the shared one.
 */
const privatePostgres =
  process.getuid?.() === 0 &&
  spawnSync('pg_createcluster', ['--help']).error === undefined &&
  existsSync('/usr/lib/postgresql');

function pg(command: string[]): void {
  const result = spawnSync(command[0], command.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command.join(' ')}: ${result.stderr}`);
}

/** Creates and starts a cluster on a free port, trusting local connections; `pg_dropcluster` removes it. */
async function createPostgresCluster(): Promise<{ version: string; name: string; port: number }> {
  const version = readdirSync('/usr/lib/postgresql')
    .sort((x, y) => Number(x) - Number(y))
    .at(-1) as string;
  const name = `flux-restart-${process.pid}`;
  const port = Number(
    (
      await promisify(execFile)(process.execPath, [
        '-e',
        "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})",
      ])
    ).stdout,
  );
  pg([
    'pg_createcluster',
    version,
    name,
    '-p',
    String(port),
    '--',
    '--auth-host=trust',
    '--auth-local=trust',
  ]);
  pg(['pg_ctlcluster', version, name, 'start']);
  return { version, name, port };
}

describe.skipIf(!nginx || !services)('several instances behind nginx (deploy/cluster.sh)', () => {
  it('When two instances run behind nginx, then clients log in and subscribe through it, a write reaches the sockets of both instances once, the client address is the forwarded one and /metrics stays inside', async () => {
    const sockets: Socket[] = [];
    await withCluster(2, {}, async ({ port, instances }) => {
      try {
        const login = await requestFrom('127.0.0.9', port, 'POST', '/auth/login', {
          login: 'admin',
          password: CLUSTER_PASSWORD,
        });
        expect(login.status).toBe(200);
        const token = (login.body as { jwt: string }).jwt;
        // the session records the client's address: the instance trusts nginx's X-Forwarded-For
        const sessions = await requestFrom('127.0.0.9', port, 'GET', '/session', undefined, token);
        expect((sessions.body as Array<{ ip: string }>).map((session) => session.ip)).toContain('127.0.0.9');
        // a socket through nginx (WebSocket upgrade), and one on each instance directly
        for (const url of [port, ...instances].map((p) => `http://127.0.0.1:${p}`)) {
          const socket = await connectSocket(url, { token });
          expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(
            200,
          );
          sockets.push(socket);
        }
        const received = sockets.map((socket) => collect<ModelEventPayload>(socket, 'model:team'));
        const team = { name: 'Through nginx', role: 'orga' };
        expect((await requestFrom('127.0.0.9', port, 'POST', '/team', team, token)).status).toBe(201);
        await waitFor(
          () => received.every((events) => events.length >= 1),
          5000,
          'the event on every socket',
        );
        await settle(200);
        for (const events of received) expect(events.map((event) => event.verb)).toEqual(['created']);
        // operator routes: not through nginx, on each instance's own port
        expect((await requestFrom('127.0.0.9', port, 'GET', '/metrics')).status).toBe(404);
        expect((await requestFrom('127.0.0.1', instances[0], 'GET', '/metrics')).status).toBe(200);
      } finally {
        for (const socket of sockets) socket.close();
      }
    });
  }, 120_000);

  it('When three instances run behind nginx, then each event reaches every socket once with the same permission filtering, and a role change, a revocation and the rate limit hold on all instances at once', async () => {
    const sockets: Socket[] = [];
    await withCluster(3, {}, async ({ port, instances }) => {
      try {
        const [a, b, c] = instances.map((instance) => `http://127.0.0.1:${instance}`);
        const adminToken = await login(`http://127.0.0.1:${port}`, 'admin', CLUSTER_PASSWORD);
        const admin = httpTransport(`http://127.0.0.1:${port}`, adminToken);
        const adminTeam = expectStatus<{ team: { id: number } }>(await admin.request('GET', '/auth/me'), 200)
          .team.id;
        const bar = await createTeamWithUser(
          admin,
          { name: 'Bar', role: 'bar', group: 'bars' },
          { login: 'bar', password: 'bar-password' },
        );
        const desk = await createTeamWithUser(
          admin,
          { name: 'Desk', role: 'orga' },
          { login: 'desk', password: 'desk-password' },
        );
        // the bar and the desk on instances b and c, the admin on a; each logs in on another instance
        const barToken = await login(c, 'bar', 'bar-password');
        const deskToken = await login(a, 'desk', 'desk-password');
        const subscribed = async (base: string, token: string) => {
          const socket = await connectSocket(base, { token });
          sockets.push(socket);
          expect((await socketRequest(socket, { method: 'POST', url: '/alert/subscribe' })).statusCode).toBe(
            200,
          );
          return {
            events: collect<ModelEventPayload>(socket, 'model:alert'),
            revoked: collect(socket, 'auth:revoked'),
            refreshed: collect(socket, 'subscription:refresh'),
          };
        };
        const bars = [await subscribed(b, barToken), await subscribed(c, barToken)];
        const desks = [await subscribed(b, deskToken), await subscribed(c, deskToken)];
        const admins = [await subscribed(a, adminToken)];

        // an alert of the bar and one of the admin team, written on different instances
        const ofBar = {
          title: 'Out of beer',
          severity: 'warning',
          senderTeamId: bar.teamId,
          receiverTeamId: null,
        };
        const ofAdmin = {
          title: 'Gate 3',
          severity: 'serious',
          senderTeamId: adminTeam,
          receiverTeamId: null,
        };
        const barAlert = expectStatus<{ id: number }>(
          await httpTransport(a, adminToken).request('POST', '/alert', ofBar),
          201,
        ).id;
        const adminAlert = expectStatus<{ id: number }>(
          await httpTransport(c, adminToken).request('POST', '/alert', ofAdmin),
          201,
        ).id;
        const ids = (events: ModelEventPayload[]) => events.map((event) => event.id).sort();
        await waitFor(
          () => [...desks, ...admins].every(({ events }) => events.length >= 2),
          5000,
          'both alerts on every desk and admin socket',
        );
        await settle(300);
        for (const { events } of [...desks, ...admins])
          expect(ids(events)).toEqual([barAlert, adminAlert].sort());
        for (const { events } of bars) expect(ids(events)).toEqual([barAlert]);

        // a role change on instance a holds at once on b and c: the desk, now a bar, reads no more
        expectStatus(
          await httpTransport(a, adminToken).request('PATCH', `/team/${desk.teamId}`, { role: 'bar' }),
          200,
        );
        for (const base of [b, c]) {
          expectStatus(await httpTransport(base, deskToken).request('GET', `/alert/${adminAlert}`), 404);
        }
        const later = expectStatus<{ id: number }>(
          await httpTransport(a, adminToken).request('POST', '/alert', { ...ofAdmin, title: 'Gate 4' }),
          201,
        ).id;
        await waitFor(() => admins[0].events.some((event) => event.id === later), 5000, 'the admin event');
        await settle(300);
        for (const { events, refreshed } of desks) {
          expect(events.map((event) => event.id)).not.toContain(later);
          expect(refreshed.length).toBeGreaterThanOrEqual(1);
        }

        // a logout on instance a: the token is refused on b and c at once, their sockets revoked
        expectStatus(await httpTransport(a, deskToken).request('POST', '/auth/logout'), 200);
        for (const base of [b, c]) {
          const refused = await httpTransport(base, deskToken).request('GET', '/auth/me');
          expect(expectStatus<{ _error: { code: string } }>(refused, 403)._error.code).toBe('TokenRevoked');
        }
        await waitFor(
          () => desks.every(({ revoked }) => revoked.length === 1),
          5000,
          'auth:revoked on b and c',
        );

        // one address's requests are counted together on every instance: 200 on each of the three use up
        // the limit (rateLimit.limit 600), the next one is refused wherever it goes
        for (const instance of instances) {
          for (let batch = 0; batch < 10; batch++) {
            const replies = await Promise.all(
              Array.from({ length: 20 }, () => requestFrom('127.0.0.77', instance, 'GET', '/health')),
            );
            expect(replies.every((reply) => reply.status === 200)).toBe(true);
          }
        }
        for (const instance of instances) {
          expect((await requestFrom('127.0.0.77', instance, 'GET', '/health')).status).toBe(429);
        }
        expect((await requestFrom('127.0.0.78', instances[0], 'GET', '/health')).status).toBe(200);
      } finally {
        for (const socket of sockets) socket.close();
      }
    });
  }, 180_000);

  it('When the instance a socket is on is killed (kill -9) under writes, then the socket reconnects through nginx to another, re-authenticates and re-subscribes, and every acknowledged write is in the database', async () => {
    let socket: Socket | undefined;
    await withCluster(2, {}, async ({ port, instances, run }) => {
      try {
        const login = await requestFrom('127.0.0.1', port, 'POST', '/auth/login', {
          login: 'admin',
          password: CLUSTER_PASSWORD,
        });
        const token = (login.body as { jwt: string }).jwt;
        const subscriber = await reconnectingSubscriber(`http://127.0.0.1:${port}`, token);
        socket = subscriber.socket;
        const { events } = subscriber;
        await settle(100);
        // the instance it is on: the one counting a socket
        const counts = await Promise.all(
          instances.map(async (instancePort) => {
            const metrics = await requestFrom('127.0.0.1', instancePort, 'GET', '/metrics');
            return Number(/^flux_sockets_connected (\d+)/m.exec(metrics.body as string)?.[1] ?? 0);
          }),
        );
        const victim = counts.findIndex((count) => count > 0);
        expect(victim).toBeGreaterThanOrEqual(0);

        // writes through nginx, before, during and after the kill; the acknowledged ones are kept
        const { acknowledged, stop } = startLoad(port, token);
        try {
          await waitFor(() => acknowledged.length >= 5, 5000, 'writes before the kill');
          process.kill(Number(readFileSync(path.join(run, `instance-${victim + 1}.pid`), 'utf8')), 'SIGKILL');
          await waitFor(() => subscriber.connections() === 2, 10_000, 'the reconnection through nginx');
          const before = acknowledged.length;
          await waitFor(() => acknowledged.length >= before + 5, 10_000, 'writes after the kill');
        } finally {
          await stop();
        }
        // the socket is live again: the last write reached it
        const last = acknowledged.at(-1) as number;
        await waitFor(() => events.some((event) => event.id === last), 5000, 'the event of the last write');
        expect(await notStored(`http://127.0.0.1:${port}`, token, acknowledged)).toEqual([]);
      } finally {
        socket?.close();
      }
    });
  }, 120_000);

  it('When the instances are restarted one at a time under load (an upgrade), then every request through nginx is answered, sockets move to the other instances and come back live, and every acknowledged write is stored', async () => {
    let socket: Socket | undefined;
    await withCluster(3, {}, async ({ port, run, env }) => {
      const base = `http://127.0.0.1:${port}`;
      const token = await login(base, 'admin', CLUSTER_PASSWORD);
      const subscriber = await reconnectingSubscriber(base, token);
      socket = subscriber.socket;
      const { events } = subscriber;

      const { statuses, acknowledged, stop } = startLoad(port, token);
      try {
        await waitFor(() => acknowledged.length >= 5, 10_000, 'writes before the restart');
        const { stdout } = await promisify(execFile)('bash', ['deploy/cluster.sh', 'restart', run], {
          cwd: Flux.rootdir,
          env,
        });
        expect(stdout.match(/^restarted /gm)).toHaveLength(3);
        // the instances run with the unit's environment: they drained before closing
        const previous = readFileSync(path.join(run, 'instance-1.previous.log'), 'utf8');
        expect(previous).toContain('Draining for 3000 ms before closing');
        expect(previous).toContain('Flux stopped');
        const before = acknowledged.length;
        await waitFor(() => acknowledged.length >= before + 5, 10_000, 'writes after the restart');
      } finally {
        await stop();
      }
      // what nginx said about any other status, but for the refused connections it retried elsewhere
      // (each instance's restart makes some)
      const nginxLog = path.join(run, 'nginx-error.log');
      const nginxSaid = existsSync(nginxLog)
        ? readFileSync(nginxLog, 'utf8')
            .split('\n')
            .filter((line) => !/connect\(\) failed \(111|upstream server temporarily disabled/.test(line))
            .slice(-20)
            .join('\n')
        : '';
      expect([...statuses.keys()].sort(), `nginx's error log ends with:\n${nginxSaid}`).toEqual([200, 201]);
      expect(subscriber.connections()).toBeGreaterThanOrEqual(2);
      const last = acknowledged.at(-1) as number;
      await waitFor(() => events.some((event) => event.id === last), 5000, 'the event of the last write');
      expect(await notStored(base, token, acknowledged)).toEqual([]);
    }).finally(() => socket?.close());
  }, 180_000);

  it.skipIf(!privatePostgres)(
    'When PostgreSQL restarts under use, then requests answer 503 while it is down (never 500), no instance exits, ready names the database, and full service returns',
    async () => {
      const { version, name, port: databasePort } = await createPostgresCluster();
      let socket: Socket | undefined;
      try {
        await withCluster(
          2,
          { DATABASE_URL: `postgres://postgres@127.0.0.1:${databasePort}/postgres` },
          async ({ port, instances: [one, two], run }) => {
            const base = `http://127.0.0.1:${port}`;
            const token = await login(base, 'admin', CLUSTER_PASSWORD);
            socket = await connectSocket(`http://127.0.0.1:${two}`, { token });
            const events = collect<ModelEventPayload>(socket, 'model:team');
            expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(
              200,
            );

            // reads and writes through nginx all along; what each answered, and the writes acknowledged
            const { statuses, acknowledged, stop } = startLoad(port, token);
            try {
              await waitFor(() => acknowledged.length >= 5, 10_000, 'writes before the stop');

              pg(['pg_ctlcluster', version, name, 'stop', '-m', 'fast']);
              await waitFor(() => (statuses.get(503) ?? 0) >= 4, 10_000, '503 while the database is down');
              const ready = await requestFrom('127.0.0.1', one, 'GET', '/ready');
              expect(ready.status).toBe(503);
              expect((ready.body as { _error: { message: string } })._error.message).toBe(
                'Not ready: database not reachable, Redis ok',
              );
              // the identity of a token is cached (with Redis): reads of data are not
              const read = await httpTransport(`http://127.0.0.1:${one}`, token).request('GET', '/team');
              expect(expectStatus<{ _error: { code: string } }>(read, 503)._error.code).toBe(
                'DatabaseUnavailable',
              );
              expect(read.headers['retry-after']).toBe('1');
              const overSocket = await socketRequest(socket, { method: 'GET', url: '/team' });
              expect(overSocket.statusCode).toBe(503);
              for (const i of [1, 2]) {
                const pid = Number(readFileSync(path.join(run, `instance-${i}.pid`), 'utf8'));
                expect(() => process.kill(pid, 0)).not.toThrow();
              }

              pg(['pg_ctlcluster', version, name, 'start']);
              for (const instance of [one, two]) {
                await vi.waitUntil(
                  async () => (await requestFrom('127.0.0.1', instance, 'GET', '/ready')).status === 200,
                  { timeout: 15_000, interval: 100 },
                );
              }
              const before = acknowledged.length;
              await waitFor(() => acknowledged.length >= before + 5, 10_000, 'writes after the restart');
            } finally {
              await stop();
            }
            expect([...statuses.keys()].sort()).toEqual([200, 201, 503]);

            // full service: every acknowledged write is stored, and the socket receives the last one
            const last = acknowledged.at(-1) as number;
            await waitFor(
              () => events.some((event) => event.id === last),
              5000,
              'the event of the last write',
            );
            expect(await notStored(base, token, acknowledged)).toEqual([]);
            expect(
              (
                await requestFrom('127.0.0.1', two, 'POST', '/auth/login', {
                  login: 'admin',
                  password: CLUSTER_PASSWORD,
                })
              ).status,
            ).toBe(200);
          },
        );
      } finally {
        socket?.close();
        pg(['pg_dropcluster', '--stop', version, name]);
      }
    },
    180_000,
  );

  it.skipIf(spawnSync('redis-server', ['--version']).status !== 0)(
    'When Redis stops under use and comes back, then requests keep being answered (ready says no), no instance exits, and events and revocations cross instances again',
    async () => {
      const redisPort = Number(
        (
          await promisify(execFile)(process.execPath, [
            '-e',
            "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})",
          ])
        ).stdout,
      );
      const redisUp = async () => {
        const started = spawn(
          'redis-server',
          ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
          { stdio: 'ignore' },
        );
        const ping = () =>
          spawnSync('redis-cli', ['-p', String(redisPort), 'ping'])
            .stdout?.toString()
            .trim();
        await waitFor(() => ping() === 'PONG', 5000, 'Redis');
        return started;
      };
      let redis = await redisUp();
      let socket: Socket | undefined;
      try {
        await withCluster(
          2,
          { REDIS_URL: `redis://127.0.0.1:${redisPort}` },
          async ({ port, instances: [one, two], run }) => {
            const credentials = { login: 'admin', password: CLUSTER_PASSWORD };
            const tokenOf = async (at: number) =>
              (
                (await requestFrom('127.0.0.1', at, 'POST', '/auth/login', credentials)).body as {
                  jwt: string;
                }
              ).jwt;
            const token = await tokenOf(port);
            socket = await connectSocket(`http://127.0.0.1:${two}`, { token });
            const events = collect<ModelEventPayload>(socket, 'model:team');
            expect((await socketRequest(socket, { method: 'POST', url: '/team/subscribe' })).statusCode).toBe(
              200,
            );

            redis.kill('SIGKILL');
            await new Promise((resolve) => redis.once('exit', resolve));
            // degraded, answered: limits count in memory, identities come from the database
            expect((await requestFrom('127.0.0.1', port, 'GET', '/health')).status).toBe(200);
            const ready = await requestFrom('127.0.0.1', one, 'GET', '/ready');
            expect(ready.status).toBe(503);
            expect((ready.body as { _error: { message: string } })._error.message).toBe(
              'Not ready: database ok, Redis not reachable',
            );
            expect((await requestFrom('127.0.0.1', port, 'GET', '/auth/me', undefined, token)).status).toBe(
              200,
            );
            const during = { name: 'During the outage', role: 'orga' };
            expect((await requestFrom('127.0.0.1', port, 'POST', '/team', during, token)).status).toBe(201);
            expect((await requestFrom('127.0.0.1', port, 'POST', '/auth/login', credentials)).status).toBe(
              200,
            );
            for (const i of [1, 2]) {
              const pid = Number(readFileSync(path.join(run, `instance-${i}.pid`), 'utf8'));
              expect(() => process.kill(pid, 0)).not.toThrow();
            }

            redis = await redisUp();
            for (const instance of [one, two]) {
              await vi.waitUntil(
                async () => (await requestFrom('127.0.0.1', instance, 'GET', '/ready')).status === 200,
                { timeout: 15_000, interval: 100 },
              );
            }
            // events cross instances again: a write on one reaches the socket on the other
            const afterTeam = { name: 'After the outage', role: 'orga' };
            const after = await requestFrom('127.0.0.1', one, 'POST', '/team', afterTeam, token);
            expect(after.status).toBe(201);
            const afterId = (after.body as { id: number }).id;
            await waitFor(
              () => events.some((event) => event.id === afterId),
              10_000,
              'the event across instances',
            );
            // and revocations: a logout on one is refused on the other at once
            const other = await tokenOf(one);
            expect((await requestFrom('127.0.0.1', two, 'GET', '/auth/me', undefined, other)).status).toBe(
              200,
            );
            expect(
              (await requestFrom('127.0.0.1', one, 'POST', '/auth/logout', undefined, other)).status,
            ).toBe(200);
            const refused = await requestFrom('127.0.0.1', two, 'GET', '/auth/me', undefined, other);
            expect((refused.body as { _error: { code: string } })._error.code).toBe('TokenRevoked');
          },
        );
      } finally {
        socket?.close();
        redis.kill('SIGKILL');
      }
    },
    120_000,
  );
});
