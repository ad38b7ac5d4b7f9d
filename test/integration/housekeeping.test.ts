import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteEndedSessions,
  removeStaleTempFiles,
  removeUnconfirmedUploads,
} from '../../api/services/HousekeepingService.js';
import { claimForCleanup } from '../../api/services/PendingUploadService.js';
import { headObject, s3Config } from '../../api/services/StorageService.js';
import { Flux } from '../../lib/Flux.js';
import type { JobStatus } from '../../lib/jobs.js';
import type { ModelEventPayload } from '../../lib/pubsub.js';
import {
  collect,
  connectSocket,
  httpTransport,
  socketRequest,
  type Transport,
  waitFor,
} from '../helpers/clients.js';
import { adminLogin, client, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { type LocalS3, startLocalS3 } from '../helpers/s3.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Housekeeping as repeatable jobs (docs/escalation.md#housekeeping): ended sessions, stale temporary upload
 * files and S3 objects uploaded but never confirmed are deleted once older than their limit, newer ones
 * stay; each run is bounded and a second run finds nothing more. The S3 store is a local s3rver.
 */

const DAY_MS = 24 * 3_600_000;
const HOUR_MS = 3_600_000;

let server: TestServer;
let s3: LocalS3;
let uploadDir: string;
let admin: Transport;
let bar: { teamId: number; userId: number };

beforeAll(async () => {
  uploadDir = mkdtempSync(path.join(tmpdir(), 'flux-housekeeping-'));
  s3 = await startLocalS3('flux-housekeeping');
  server = await startTestServer({ upload: { dir: uploadDir, s3: { ...s3.config, expiresIn: 60 } } });
  admin = httpTransport(server.url, await adminLogin(server.url));
  bar = await createTeamWithUser(
    admin,
    { name: 'Bar', role: 'bar' },
    { login: 'bar', password: 'bar-password' },
  );
  // each repeatable job runs once at start, then every hour: the scenarios below start after that run, so
  // that what they count is theirs
  for (const name of ['cleanEndedSessions', 'removeStaleTempFiles', 'removeUnconfirmedUploads']) {
    await waitForJob(
      async () => (await Flux.jobs.list('completed', { filter: (job) => job.name === name }))[0],
    );
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await s3?.stop();
  rmSync(uploadDir, { recursive: true, force: true });
});

/** Polls `find` until it gives a completed or failed job; fails the test past `timeoutMs`. */
async function waitForJob(
  find: () => Promise<JobStatus | undefined>,
  timeoutMs = 20_000,
): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await find();
    if (status?.state === 'completed' || status?.state === 'failed') return status;
    if (Date.now() > deadline) throw new Error(`no finished job: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Adds a run of the repeatable job `name` now and waits for its end. */
async function runJob(name: string): Promise<JobStatus> {
  const { id } = await Flux.jobs.add(name, {});
  return waitForJob(() => Flux.jobs.get(id));
}

describe('ended sessions', () => {
  const session = (ended: { revokedAt?: Date; expiresAt?: Date | null }) =>
    Flux.Session.create({
      tenantId: 1,
      userId: bar.userId,
      ip: null,
      userAgent: null,
      socketId: null,
      lastAction: null,
      disconnectedAt: null,
      revokedAt: ended.revokedAt ?? null,
      expiresAt: ended.expiresAt === undefined ? new Date(Date.now() + DAY_MS) : ended.expiresAt,
    });

  it('When sessions ended more than 30 days ago, then the job deletes them, publishes it, and keeps the others', async () => {
    const watcher = await connectSocket(server.url, { token: await adminLogin(server.url) });
    const events = collect<ModelEventPayload>(watcher, 'model:session');
    expect((await socketRequest(watcher, { method: 'POST', url: '/session/subscribe' })).statusCode).toBe(
      200,
    );
    const now = Date.now();
    const gone = [
      await session({ revokedAt: new Date(now - 31 * DAY_MS) }),
      await session({ expiresAt: new Date(now - 31 * DAY_MS) }),
    ];
    const kept = [
      await session({ revokedAt: new Date(now - 29 * DAY_MS) }),
      await session({ expiresAt: new Date(now - 2 * DAY_MS) }),
      await session({}),
      await session({ expiresAt: null }),
    ];

    expect(await runJob('cleanEndedSessions')).toMatchObject({ state: 'completed', result: { deleted: 2 } });
    for (const row of gone) expect(await Flux.Session.findByPk(row.id)).toBeNull();
    for (const row of kept) expect(await Flux.Session.findByPk(row.id)).not.toBeNull();
    await waitFor(
      () => events.filter((e) => e.verb === 'destroyed').length === 2,
      5000,
      'the destroyed events',
    );
    const destroyed = events.filter((e) => e.verb === 'destroyed').map((e) => Number(e.id));
    expect(destroyed.sort((x, y) => x - y)).toEqual(gone.map((row) => row.id));
    expect(await runJob('cleanEndedSessions')).toMatchObject({ result: { deleted: 0 } });
    watcher.close();
  });

  it('When more sessions ended than one run may delete, then each run deletes at most its limit', async () => {
    const ended = new Date(Date.now() - 40 * DAY_MS);
    for (let i = 0; i < 3; i++) await session({ revokedAt: ended });
    const bounds = { retentionMs: 30 * DAY_MS, limit: 2 };
    expect(await deleteEndedSessions(bounds)).toBe(2);
    expect(await deleteEndedSessions(bounds)).toBe(1);
    expect(await deleteEndedSessions(bounds)).toBe(0);
  });
});

describe('stale temporary upload files', () => {
  /** A file of `dir` last modified `ageMs` ago. */
  function file(dir: string, name: string, ageMs: number): string {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    writeFileSync(file, 'partial upload');
    const time = new Date(Date.now() - ageMs);
    utimesSync(file, time, time);
    return file;
  }

  it('When files of <upload.dir>/tmp are older than an hour, then the job removes them and keeps the rest', async () => {
    const tmp = path.join(uploadDir, 'tmp');
    const stale = file(tmp, 'a3f1c0de9b8e7d6c5b4a39281706f5e4', 2 * HOUR_MS);
    const fresh = file(tmp, '0f1e2d3c4b5a69788796a5b4c3d2e1f0', 10 * 60_000);
    const nested = file(path.join(tmp, 'folder'), 'inside', 2 * HOUR_MS);
    const folderTime = new Date(Date.now() - 2 * HOUR_MS);
    utimesSync(path.join(tmp, 'folder'), folderTime, folderTime);

    expect(await runJob('removeStaleTempFiles')).toMatchObject({
      state: 'completed',
      result: { removed: 1 },
    });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(nested)).toBe(true);
    expect(await runJob('removeStaleTempFiles')).toMatchObject({ result: { removed: 0 } });
  });

  it('When more files are stale than one run may remove, then each run removes at most its limit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flux-housekeeping-tmp-'));
    for (const name of ['a', 'b', 'c']) file(dir, name, 2 * HOUR_MS);
    const bounds = { dir, maxAgeMs: HOUR_MS, limit: 2 };
    expect(await removeStaleTempFiles(bounds)).toBe(2);
    expect(await removeStaleTempFiles(bounds)).toBe(1);
    expect(await removeStaleTempFiles(bounds)).toBe(0);
    expect(await removeStaleTempFiles({ ...bounds, dir: path.join(dir, 'missing') })).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('S3 objects uploaded and never confirmed', () => {
  /** Presigns a key as `bar` and, unless `upload` is false, PUTs a small PDF to it. */
  async function presigned(transport: Transport, upload = true): Promise<string> {
    const content = Buffer.from('%PDF-1.4 housekeeping');
    const { uploadUrl, key } = expectStatus<{ uploadUrl: string; key: string }>(
      await transport.request('POST', '/upload/presign', {
        filename: 'report.pdf',
        contentType: 'application/pdf',
        size: content.length,
      }),
      200,
    );
    if (upload) {
      const put = await fetch(uploadUrl, {
        method: 'PUT',
        headers: { 'content-type': 'application/pdf' },
        body: content,
      });
      expect(put.status).toBe(200);
    }
    return key;
  }

  /** Makes the pre-signed URL of `key` expired long ago. */
  async function expireLongAgo(key: string): Promise<void> {
    await Flux.sequelize.query('UPDATE "PendingUploads" SET "expiresAt" = :past WHERE "key" = :key', {
      replacements: { past: new Date(Date.now() - 2 * HOUR_MS), key },
    });
  }

  const stored = async (key: string) => (await headObject(s3Config()!, key)) !== null;

  it.each(['http', 'socket'] as const)(
    'When an upload was never confirmed past its URL expiry plus the grace, then the job deletes its object and it cannot be confirmed over %s',
    async (kind) => {
      const user = await client(server.url, kind, 'bar', 'bar-password');
      const abandoned = await presigned(user);
      const neverUploaded = await presigned(user, false);
      const confirmedLate = await presigned(user);
      const recent = await presigned(user);
      for (const key of [abandoned, neverUploaded, confirmedLate]) await expireLongAgo(key);
      // confirmed after its URL expired, before the clean-up: it stays
      expectStatus(await user.request('POST', '/upload/confirm', { key: confirmedLate }), 201);

      expect(await runJob('removeUnconfirmedUploads')).toMatchObject({
        state: 'completed',
        result: { removed: 2 },
      });
      expect(await stored(abandoned)).toBe(false);
      expect(await stored(confirmedLate)).toBe(true);
      expect(await stored(recent)).toBe(true);
      expect(await Flux.Upload.count({ where: { key: confirmedLate } })).toBe(1);
      // the key was taken from confirmation before its object went
      const refused = expectStatus<{ _error: { code: string } }>(
        await user.request('POST', '/upload/confirm', { key: abandoned }),
        400,
      );
      expect(refused._error.code).toBe('ValidationError');
      expect(await runJob('removeUnconfirmedUploads')).toMatchObject({ result: { removed: 0 } });
      // the recent one is still the client's to confirm
      expectStatus(await user.request('POST', '/upload/confirm', { key: recent }), 201);
      user.close();
    },
  );

  it('When a clean-up took a key and stopped before deleting its object, then the key cannot be confirmed and the next run deletes it', async () => {
    const user = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const key = await presigned(user);
    await expireLongAgo(key);
    // a run interrupted right after taking the key
    expect(await claimForCleanup(key, new Date())).toBe(true);
    expect(await stored(key)).toBe(true);
    expectStatus(await user.request('POST', '/upload/confirm', { key }), 400);
    expect(await Flux.Upload.count({ where: { key } })).toBe(0);
    expect(await removeUnconfirmedUploads({ graceMs: HOUR_MS, limit: 10 })).toBe(1);
    expect(await stored(key)).toBe(false);
  });

  it('When more uploads are abandoned than one run may delete, then each run deletes at most its limit', async () => {
    const user = httpTransport(server.url, await login(server.url, 'bar', 'bar-password'));
    const keys = [await presigned(user), await presigned(user), await presigned(user)];
    for (const key of keys) await expireLongAgo(key);
    const bounds = { graceMs: HOUR_MS, limit: 2 };
    expect(await removeUnconfirmedUploads(bounds)).toBe(2);
    expect(await removeUnconfirmedUploads(bounds)).toBe(1);
    expect(await removeUnconfirmedUploads(bounds)).toBe(0);
    for (const key of keys) expect(await stored(key)).toBe(false);
  });
});
