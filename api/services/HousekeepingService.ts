import { lstat, opendir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Op } from 'sequelize';
import { Flux } from '../../lib/Flux.js';
import { claimForCleanup, expiredKeys, forget } from './PendingUploadService.js';
import { deleteObject, s3Config } from './StorageService.js';

/**
 * The clean-ups the repeatable housekeeping jobs run (`api/jobs/`, docs/escalation.md#housekeeping). Each
 * deletes at most `limit` things per call, the oldest first, and is idempotent: a call that finds nothing
 * left to delete changes nothing, and a call cut short is finished by the next one.
 */

/** When, and how much, one clean-up may delete. */
export interface CleanupBounds {
  /** The reference time; default now. */
  now?: Date;
  /** Most rows, files or objects deleted by the call. */
  limit: number;
  /** Stops the call early (between two deletions) when aborted: a job's timeout or a forced stop. */
  signal?: AbortSignal;
}

/**
 * Deletes the sessions of every tenant that ended — revoked, or whose token expired — more than
 * `retentionMs` ago, at most `limit` (lowest ids first). Through the Session model: each deletion is
 * published (`model:session` `destroyed`) and drops the identities cached from it on every instance.
 * @returns how many were deleted
 */
export async function deleteEndedSessions({
  now = new Date(),
  limit,
  retentionMs,
}: CleanupBounds & { retentionMs: number }): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionMs);
  const ended = { [Op.or]: [{ revokedAt: { [Op.lt]: cutoff } }, { expiresAt: { [Op.lt]: cutoff } }] };
  const rows = await Flux.Session.findAll({
    attributes: ['id'],
    where: ended,
    order: [['id', 'ASC']],
    limit,
  });
  if (!rows.length) return 0;
  return Flux.Session.destroy({ where: { [Op.and]: [{ id: rows.map((row) => row.id) }, ended] } });
}

/**
 * Removes the regular files of `dir` (the multipart uploads' `<upload.dir>/tmp`) last modified more than
 * `maxAgeMs` ago, at most `limit`: files a crash left behind (a request removes its own file, and a file
 * being received is modified as it arrives). Sub-folders and links are left alone; a file removed
 * meanwhile is skipped; a missing folder has nothing to remove. The folder is read as a stream, so its size
 * does not matter.
 * @returns how many files were removed
 */
export async function removeStaleTempFiles({
  now = new Date(),
  limit,
  signal,
  dir,
  maxAgeMs,
}: CleanupBounds & { dir: string; maxAgeMs: number }): Promise<number> {
  const cutoff = now.getTime() - maxAgeMs;
  let folder: Awaited<ReturnType<typeof opendir>>;
  try {
    folder = await opendir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  // iterating to the end (or `break`) closes the folder
  for await (const entry of folder) {
    if (removed >= limit || signal?.aborted) break;
    if (!entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    try {
      const stats = await lstat(file);
      if (!stats.isFile() || stats.mtimeMs >= cutoff) continue;
      await unlink(file);
      removed++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/** The temporary folder of multipart uploads: `<upload.dir>/tmp` (lib/upload.ts). */
export function uploadTempDir(): string {
  return path.join(path.resolve(Flux.rootdir, Flux.config.upload.dir), 'tmp');
}

/**
 * Deletes the objects uploaded with a pre-signed URL and never confirmed: the keys handed out by
 * `POST /upload/presign` (PendingUploadService) whose URL expired more than `graceMs` ago, at most `limit`,
 * the oldest first. Each key is first taken from confirmation (a confirmation racing with it fails with 400
 * rather than record an object about to go), then its object is deleted (nothing when none was uploaded),
 * then the key is forgotten; a run interrupted in between is finished by the next. Nothing when direct
 * uploads are off (the keys stay until they are on again).
 * @returns how many keys were cleaned up
 * @throws the storage's error (the job retries; the keys done so far stay done)
 */
export async function removeUnconfirmedUploads({
  now = new Date(),
  limit,
  signal,
  graceMs,
}: CleanupBounds & { graceMs: number }): Promise<number> {
  const config = s3Config();
  if (!config) return 0;
  let removed = 0;
  for (const key of await expiredKeys(new Date(now.getTime() - graceMs), limit)) {
    if (signal?.aborted) break;
    if (await claimForCleanup(key, now)) {
      await deleteObject(config, key);
      removed++;
    }
    await forget(key);
  }
  return removed;
}
