import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../cli/program.js';
import { Flux } from '../../lib/Flux.js';
import { defineJob, type JobStatus, Jobs, resolveJobStore } from '../../lib/jobs.js';
import { Logger } from '../../lib/log.js';
import type { JobProgressPayload } from '../../lib/protocol.js';
import {
  collect,
  connectClient,
  connectSocket,
  httpTransport,
  settle,
  socketTransport,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, createTestDatabase, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The jobs as the API shows them (docs/jobs.md): `GET /job/:id` for its starter, `job/admin` of its tenant
 * and the platform operator; `GET /job?state=` for `job/admin`; `job:progress` to the starter's sockets
 * only; the queue figures of `/metrics`; and `flux jobs` (list, retry, remove).
 */

let server: TestServer;
let ids: { starter: number; other: number; tenant: number };
let tokens: { admin: string; starter: string; other: string; otherTenantAdmin: string };

beforeAll(async () => {
  server = await startTestServer();
  tokens = { admin: await adminLogin(server.url) } as typeof tokens;
  const admin = httpTransport(server.url, tokens.admin);
  const bar = await createTeamWithUser(
    admin,
    { name: 'Bar', role: 'bar' },
    { login: 'starter', password: 'password-1' },
  );
  const other = await createTeamWithUser(
    admin,
    { name: 'Bar 2', role: 'bar' },
    { login: 'other', password: 'password-2' },
  );
  const me = expectStatus<{ user: { tenantId: number } }>(await admin.request('GET', '/auth/me'), 200);
  ids = { starter: bar.userId, other: other.userId, tenant: me.user.tenantId };
  tokens.starter = await login(server.url, 'starter', 'password-1');
  tokens.other = await login(server.url, 'other', 'password-2');
  await createTenant(admin, { name: 'Other event', slug: 'other-event', adminPassword: 'password-3' });
  tokens.otherTenantAdmin = await login(server.url, 'admin', 'password-3', 'other-event');
});

afterAll(async () => {
  await server?.stop();
});

/** Adds an escalation of an alert that does not exist (it completes, finding nothing) as `userId`. */
async function startJob(userId: number): Promise<string> {
  const { id } = await Flux.jobs.add(
    'escalateAlert',
    { alertId: 2_000_000_000 },
    { startedBy: { userId, tenantId: ids.tenant } },
  );
  return id;
}

async function completed(transport: Transport, id: string): Promise<JobStatus> {
  const until = Date.now() + 10_000;
  let job: JobStatus | undefined;
  while (Date.now() < until) {
    job = (await transport.request('GET', `/job/${id}`)).body as JobStatus;
    if (job?.state === 'completed') return job;
    await settle(50);
  }
  throw new Error(`job ${id} did not complete: ${JSON.stringify(job)}`);
}

describe.each(['http', 'socket'] as const)('jobs over %s', (kind) => {
  const as = async (token: keyof typeof tokens): Promise<Transport> =>
    kind === 'http'
      ? httpTransport(server.url, tokens[token])
      : socketTransport(await connectClient(server.url), tokens[token]);

  it('shows a job to its starter, job/admin of its tenant and the operator; to nobody else', async () => {
    const id = await startJob(ids.starter);
    const starter = await as('starter');
    const job = await completed(starter, id);
    expect(job).toMatchObject({ id, name: 'escalateAlert', state: 'completed', progress: 100, attempts: 1 });
    expect(job.result).toEqual({ outcome: 'missing' });
    expect(Object.keys(job).sort()).toEqual(
      ['attempts', 'createdAt', 'finishedAt', 'id', 'name', 'progress', 'result', 'state'].sort(),
    );
    expect(expectStatus(await (await as('admin')).request('GET', `/job/${id}`), 200)).toEqual(job);
    expectStatus(await (await as('other')).request('GET', `/job/${id}`), 404);
    expectStatus(await (await as('otherTenantAdmin')).request('GET', `/job/${id}`), 404);
    expectStatus(await starter.request('GET', '/job/escalateAlert.no-such-job'), 404);
    expectStatus(await starter.request('GET', '/job/nosuchqueue.1'), 404);
    expectStatus(await starter.request('GET', `/job/${encodeURIComponent('a b/../')}`), 400);
    starter.close();
  });

  it('lists the jobs of a state to job/admin only, bounded', async () => {
    const id = await startJob(ids.other);
    const admin = await as('admin');
    await completed(admin, id);
    const listed = expectStatus<JobStatus[]>(
      await admin.request('GET', '/job?state=completed&limit=100'),
      200,
    );
    expect(listed.map((job) => job.id)).toContain(id);
    expect(listed.every((job) => job.state === 'completed')).toBe(true);
    expect(
      expectStatus<JobStatus[]>(await admin.request('GET', '/job?state=completed&limit=1'), 200),
    ).toHaveLength(1);
    expectStatus(await admin.request('GET', '/job?state=failed'), 200);
    // another tenant's admin sees none of this tenant's
    const elsewhere = expectStatus<JobStatus[]>(
      await (await as('otherTenantAdmin')).request('GET', '/job?state=completed'),
      200,
    );
    expect(elsewhere.map((job) => job.id)).not.toContain(id);
    expectStatus(await (await as('starter')).request('GET', '/job?state=completed'), 403);
    for (const query of ['', '?state=finished', '?state=completed&limit=0', '?state=completed&limit=101'])
      expectStatus(await admin.request('GET', `/job${query}`), 400);
    expectStatus(await httpTransport(server.url).request('GET', '/job?state=completed'), 401);
    admin.close();
  });
});

describe('job:progress', () => {
  it("reaches the starter's sockets, not another user's", async () => {
    const starter = await connectSocket(server.url, { token: tokens.starter });
    const starterAgain = await connectSocket(server.url, { token: tokens.starter });
    const other = await connectSocket(server.url, { token: tokens.other });
    const admin = await connectSocket(server.url, { token: tokens.admin });
    const seen = [starter, starterAgain, other, admin].map((socket) =>
      collect<JobProgressPayload>(socket, 'job:progress'),
    );
    try {
      const id = await startJob(ids.starter);
      await waitFor(() => seen[0].length > 0 && seen[1].length > 0, 10_000, 'job:progress');
      await settle(300);
      expect(seen[0]).toEqual([{ id, name: 'escalateAlert', state: 'completed', progress: 100 }]);
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[2]).toEqual([]);
      expect(seen[3]).toEqual([]);
    } finally {
      for (const socket of [starter, starterAgain, other, admin]) socket.disconnect();
    }
  });
});

describe('/metrics', () => {
  it('counts the jobs of each queue by state', async () => {
    const reply = await fetch(`${server.url}/metrics`);
    const text = await reply.text();
    const completedEscalations = /flux_jobs\{queue="escalateAlert",state="completed"\} (\d+)/.exec(text);
    expect(Number(completedEscalations?.[1])).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/flux_jobs\{queue="escalateAlert",state="failed"\} 0/);
  });
});

describe('flux jobs', () => {
  it('lists failed jobs, retries and removes one, refuses a bad state', async () => {
    // a server of its own, stopped: the CLI boots the Flux singleton itself
    await server.stop();
    const database = await createTestDatabase();
    const url = (database.config.url as string | undefined) ?? `sqlite:${database.config.storage as string}`;
    const store = resolveJobStore(
      { store: 'auto' },
      { databaseUrl: url, sqliteStorage: '', rootdir: Flux.rootdir },
    );
    // the same queue, with a handler that fails: a failed job for the CLI to find
    const failing = await Jobs.open({
      store,
      namespace: 'flux:',
      definitions: [
        defineJob({
          name: 'escalateAlert',
          attempts: 1,
          async run() {
            throw new Error('the receiver is unreachable');
          },
        }),
      ],
      workers: true,
      attempts: 1,
      backoffMs: 10,
      timeoutMs: 5000,
      lockDurationMs: 5000,
      stalledIntervalMs: 5000,
      shutdownTimeoutMs: 1000,
      keepCompletedMs: 60_000,
      log: new Logger({ level: 'error', dir: false }),
    });
    const { id } = await failing.add('escalateAlert', { alertId: 1 });
    let state: string | undefined;
    await waitFor(
      () => {
        void failing.get(id).then((job) => {
          state = job?.state;
        });
        return state === 'failed';
      },
      10_000,
      'the job failed',
    );
    await failing.close();
    const flux = async (args: string[]) => {
      vi.stubEnv('DATABASE_URL', url);
      vi.stubEnv('REDIS_URL', '');
      vi.stubEnv('FLUX_ADMIN_PASSWORD', ADMIN_PASSWORD);
      const out = { code: -1, stdout: '', stderr: '' };
      try {
        out.code = await run(args, {
          stdout: (text) => {
            out.stdout += text;
          },
          stderr: (text) => {
            out.stderr += text;
          },
        });
      } finally {
        vi.unstubAllEnvs();
      }
      return out;
    };
    try {
      const listed = await flux(['jobs']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(
        new RegExp(`${id.replace('.', '\\.')}  failed  attempts 1  0%  .*the receiver is unreachable`),
      );
      expect((await flux(['jobs', '--state', 'completed'])).stdout).toBe('No completed job.\n');
      const bad = await flux(['jobs', '--state', 'finished']);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/expected one of waiting, delayed, active, completed, failed/);
      const missing = await flux(['jobs', 'retry', 'escalateAlert.nope']);
      expect([missing.code, missing.stderr]).toEqual([1, 'flux: no failed job escalateAlert.nope\n']);
      const retried = await flux(['jobs', 'retry', id]);
      expect([retried.code, retried.stdout]).toEqual([0, `Job ${id} is waiting to run again.\n`]);
      expect((await flux(['jobs', '--state', 'waiting'])).stdout).toContain(id);
      const removed = await flux(['jobs', 'remove', id]);
      expect([removed.code, removed.stdout]).toEqual([0, `Job ${id} removed.\n`]);
      expect((await flux(['jobs', '--state', 'waiting'])).stdout).toBe('No waiting job.\n');
    } finally {
      await database.drop();
    }
    // a job store opened, a job failed, seven CLI runs each booting Flux: 20 s was short on a busy machine
  }, 60_000);
});
