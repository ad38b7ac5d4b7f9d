import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import type { JobStatus } from '../../lib/jobs.js';
import { connectClient, httpTransport, socketTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A hostile look at the job API (docs/jobs.md "Status API"): ids that are not jobs' ids, and what one
 * list request makes the job store do.
 */

async function transport(url: string, kind: 'http' | 'socket', token: string): Promise<Transport> {
  return kind === 'http' ? httpTransport(url, token) : socketTransport(await connectClient(url), token);
}

let server: TestServer;
let tokens: { operator: string; user: string; tenantAdmin: string };

beforeAll(async () => {
  server = await startTestServer();
  tokens = { operator: await adminLogin(server.url) } as typeof tokens;
  const operator = httpTransport(server.url, tokens.operator);
  await createTeamWithUser(
    operator,
    { name: 'Bar', role: 'bar' },
    { login: 'someone', password: 'someone-password' },
  );
  tokens.user = await login(server.url, 'someone', 'someone-password');
  await createTenant(operator, { name: 'Listing', slug: 'listing', adminPassword: 'listing-admin-password' });
  tokens.tenantAdmin = await login(server.url, 'admin', 'listing-admin-password', 'listing');
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

// On Redis a job is the hash `bull:<queue>:<id>`, beside the queue's own keys (`meta`, `events`,
// `stalled-check`, `repeat:<scheduler>` …). Seen during this review, for any logged-in user, before a9be593
// made GET /job/:id read the job's state first: `GET /job/mail.meta` read the queue's meta hash as a job
// and failed on its missing timestamp (RangeError), and `mail.stalled-check` or `cleanEndedSessions.repeat`
// read a key of another type (WRONGTYPE): 500, with a stack in the log at each request. Kept as a
// regression test (it reaches Redis in the suite's PostgreSQL + Redis run).
describe('job ids', () => {
  for (const kind of ['http', 'socket'] as const) {
    it(`When a job id over ${kind} names one of the store's own keys, then 404 or 400, never 500, and real ids still read`, async () => {
      const ids = [
        'mail.meta',
        'cleanEndedSessions.meta',
        'mail.stalled-check',
        'cleanEndedSessions.repeat',
        'cleanEndedSessions.repeat:cleanEndedSessions',
        'mail.events',
        'mail.id',
        'mail.wait',
        'mail.marker',
        'escalateAlert.x:lock',
        'escalateAlert.x:logs',
        'mail.',
        'mail..',
        `mail.${'x'.repeat(10_000)}`,
        'mail.%00',
        'mail.%C3%A9',
        '%2e%2e.mail',
      ];
      for (const token of [tokens.user, tokens.operator]) {
        const client = await transport(server.url, kind, token);
        for (const id of ids) {
          const reply = await client.request('GET', `/job/${id}`);
          expect([400, 404], `${id.slice(0, 60)}: ${reply.status}`).toContain(reply.status);
        }
        client.close();
      }
      // the operator still reads a repeatable job, whose id has the form repeat:<name>:<time>
      const admin = await transport(server.url, kind, tokens.operator);
      const delayed = expectStatus<JobStatus[]>(
        await admin.request('GET', '/job?state=delayed&limit=100'),
        200,
      );
      const repeatable = delayed.find((job) => job.id.startsWith('cleanEndedSessions.repeat:'));
      expect(repeatable, JSON.stringify(delayed)).toBeDefined();
      expect(expectStatus<JobStatus>(await admin.request('GET', `/job/${repeatable!.id}`), 200).id).toBe(
        repeatable!.id,
      );
      admin.close();
    });
  }
});

// Measured before the fix on the embedded store (PGlite, in the server's thread): with 1,000 completed jobs
// in one queue, one `GET /job?state=completed` of a tenant's admin took 0.65 s, and five at once held the
// event loop for up to 3.3 s — every request and socket of every tenant waited. BullMQ reads a list as one
// query per job, and the request read up to 1,000 jobs of each of the 8 queues, whatever its `limit`.
describe('the cost of a list', () => {
  beforeAll(async () => {
    // 30 completed jobs of a user of the default tenant (an escalation of an alert that does not exist)
    const startedBy = { userId: 1, tenantId: 1 };
    const ids = await Promise.all(
      Array.from({ length: 30 }, () =>
        Flux.jobs.add('escalateAlert', { alertId: 2_000_000_000 }, { startedBy }),
      ),
    );
    await vi.waitUntil(
      async () => {
        const states = await Promise.all(ids.map(({ id }) => Flux.jobs.get(id)));
        return states.every((job) => job?.state === 'completed');
      },
      { timeout: 20_000, interval: 100 },
    );
  }, 30_000);

  /** Runs `during`, counting the jobs each list of the job engine reads, by job name. */
  async function countingReads(during: () => Promise<void>): Promise<Record<string, number>> {
    const reads: Record<string, number> = {};
    const list = Flux.jobs.list.bind(Flux.jobs);
    const spy = vi.spyOn(Flux.jobs, 'list').mockImplementation((state, options = {}) =>
      list(state, {
        ...options,
        filter: (job) => {
          reads[job.name] = (reads[job.name] ?? 0) + 1;
          return options.filter ? options.filter(job) : true;
        },
      }),
    );
    try {
      await during();
    } finally {
      spy.mockRestore();
    }
    return reads;
  }

  for (const kind of ['http', 'socket'] as const) {
    it(`When an admin lists jobs over ${kind}, then the store reads at most \`limit\` jobs of each queue`, async () => {
      for (const [token, expected] of [
        [tokens.tenantAdmin, 0],
        [tokens.operator, 5],
      ] as const) {
        const client = await transport(server.url, kind, token);
        const reads = await countingReads(async () => {
          const listed = expectStatus<JobStatus[]>(
            await client.request('GET', '/job?state=completed&limit=5'),
            200,
          );
          expect(listed).toHaveLength(expected);
        });
        for (const [name, count] of Object.entries(reads))
          expect({ name, count }).toEqual({ name, count: Math.min(count, 5) });
        expect(reads.escalateAlert).toBe(5);
        client.close();
      }
    });
  }
});
