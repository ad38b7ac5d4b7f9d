import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type sharpModule from 'sharp';
import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import { WorkQueue } from '../../lib/workQueue.js';

/**
 * Avatars (docs/reference.md#uploads): resized with sharp to fit in 512×512 (never enlarged), stored as WebP
 * at `<upload.dir>/avatars/<tenantId>/<userId>.webp` — a path built from ids only, outside any served folder.
 *
 * Decoding an image costs time on a libuv pool thread (4 by default, shared with file I/O, sqlite3 and
 * bcrypt) in proportion to its pixels, not its bytes: a 1.5 kB WebP may declare 6300×6300. So the
 * declared size is read from the header first (`upload.maxImagePixels`, 400 over it), and at most
 * `upload.imageConcurrency` images are processed at once, with at most `upload.imageQueueLength`
 * waiting (503 `Busy` with `Retry-After` past that).
 */
export const AVATAR_SIZE = 512;
/** Longest one image may be processed, seconds: sharp stops the work past it (400). */
const IMAGE_TIMEOUT_SECONDS = 10;

let loaded: Promise<typeof sharpModule> | undefined;

/** sharp (libvips), loaded by the first image: a start does not pay for it (docs/performance.md). */
function loadSharp(): Promise<typeof sharpModule> {
  loaded ??= import('sharp').then(({ default: sharp }) => {
    // one libvips thread per image: the image queue then bounds the CPU too, not only the pool threads
    sharp.concurrency(1);
    return sharp;
  });
  return loaded;
}

export function avatarPath(tenantId: number, userId: number): string {
  return path.resolve(Flux.rootdir, Flux.config.upload.dir, 'avatars', String(tenantId), `${userId}.webp`);
}

/**
 * Resizes the uploaded image at `source` into the user's avatar (atomically replacing the old one), in the
 * image queue.
 * @throws BadRequestError when the image declares more than `upload.maxImagePixels` pixels (checked from
 *   its header, before decoding) or cannot be read; ExpectedError 503 `Busy` when the queue is full.
 */
export async function storeAvatar(source: string, tenantId: number, userId: number): Promise<void> {
  const { maxImagePixels } = Flux.config.upload;
  const sharp = await loadSharp();
  await inImageQueue(async () => {
    // the header only: no pixel is decoded (so no pixel limit here: sharp's own would hide the size)
    const meta = await sharp(source, { limitInputPixels: false })
      .metadata()
      .catch(() => {
        throw new BadRequestError('The image could not be read');
      });
    const pixels = (meta.width ?? 0) * (meta.pageHeight ?? meta.height ?? 0);
    if (!pixels || pixels > maxImagePixels) {
      throw new BadRequestError(
        pixels
          ? `The image is too large: ${meta.width}×${meta.pageHeight ?? meta.height} pixels, at most ${maxImagePixels} in all`
          : 'The image could not be read',
      );
    }
    const target = avatarPath(tenantId, userId);
    await mkdir(path.dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.${Date.now()}.tmp`;
    try {
      // limitInputPixels again: the header read above and the decoder could disagree
      await sharp(source, { limitInputPixels: maxImagePixels })
        .timeout({ seconds: IMAGE_TIMEOUT_SECONDS })
        .rotate()
        .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 85 })
        .toFile(partial)
        .catch(() => {
          throw new BadRequestError('The image could not be read');
        });
      await rename(partial, target);
    } finally {
      await unlink(partial).catch(() => undefined);
    }
  });
}

/**
 * The image queue of the running server, made on first use, following `upload.imageConcurrency` (a new
 * one when Flux starts again, e.g. in tests).
 */
const imageQueues = new WeakMap<object, WorkQueue>();

/**
 * The image work of the running server: jobs running now, waiting now, and the most that ever ran at once.
 * Counted inside the jobs themselves, so it tells whether the queue really bounds them.
 */
export function imageWork(): { active: number; waiting: number; peak: number } {
  return imageQueues.get(Flux.express)?.stats() ?? { active: 0, waiting: 0, peak: 0 };
}

function inImageQueue<T>(job: () => Promise<T>): Promise<T> {
  const { imageConcurrency: concurrency, imageQueueLength: queueLength } = Flux.config.upload;
  let imageQueue = imageQueues.get(Flux.express);
  if (!imageQueue) {
    imageQueue = new WorkQueue({
      concurrency,
      queueLength,
      busyMessage: 'Too many images are being processed: retry in a moment',
    });
    imageQueues.set(Flux.express, imageQueue);
  }
  imageQueue.configure({ concurrency, queueLength });
  return imageQueue.run(job);
}

/** Bytes used by the avatars of a tenant. */
export async function avatarBytes(tenantId: number): Promise<number> {
  const dir = path.dirname(avatarPath(tenantId, 0));
  const files = await readdir(dir).catch(() => [] as string[]);
  let total = 0;
  for (const file of files) total += (await stat(path.join(dir, file)).catch(() => null))?.size ?? 0;
  return total;
}

/** The avatar file of a user, or null when there is none. */
export async function findAvatar(
  tenantId: number,
  userId: number,
): Promise<{ path: string; size: number } | null> {
  const file = avatarPath(tenantId, userId);
  const info = await stat(file).catch(() => null);
  return info?.isFile() ? { path: file, size: info.size } : null;
}
