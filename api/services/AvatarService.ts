import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Flux } from '../../lib/Flux.js';

/**
 * Avatars (SPEC §14): resized with sharp to fit in 512×512 (never enlarged), stored as WebP at
 * `<upload.dir>/avatars/<tenantId>/<userId>.webp` — a path built from ids only, outside any served folder.
 */
export const AVATAR_SIZE = 512;
/** Refuses images whose pixel count would exhaust memory while decoding (decompression bombs). */
const MAX_INPUT_PIXELS = 40_000_000;

export function avatarPath(tenantId: number, userId: number): string {
  return path.resolve(Flux.rootdir, Flux.config.upload.dir, 'avatars', String(tenantId), `${userId}.webp`);
}

/** Resizes the uploaded image at `source` into the user's avatar (atomically replacing the old one). */
export async function storeAvatar(source: string, tenantId: number, userId: number): Promise<void> {
  const target = avatarPath(tenantId, userId);
  await mkdir(path.dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await sharp(source, { limitInputPixels: MAX_INPUT_PIXELS })
      .rotate()
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 85 })
      .toFile(partial);
    await rename(partial, target);
  } finally {
    await unlink(partial).catch(() => undefined);
  }
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
