import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A secret read from, or just written to, its file. */
export interface FileSecret {
  secret: string;
  /** True when this call made the file. */
  created: boolean;
  /** True when the file's permissions let other users read it (POSIX mode bits beyond 0600). */
  exposed: boolean;
}

const MIN_LENGTH = 32;

/**
 * The secret kept in `file`, made on first use: 48 random bytes in base64url (64 characters), written
 * with mode 0600 (folders made with 0700). The file is created with the `wx` flag, so of several
 * processes starting together one creates it and the others read it.
 * @throws Error when the file cannot be created or read, or holds fewer than 32 characters (after waiting
 *   briefly for a writer that created it a moment ago).
 * @example const { secret } = await readOrCreateSecret('/srv/flux/data/jwt-secret');
 */
export async function readOrCreateSecret(file: string): Promise<FileSecret> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  try {
    await writeFile(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return { secret, created: true, exposed: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (let attempt = 0; ; attempt++) {
    const text = (await readFile(file, 'utf8')).trim();
    if (text.length >= MIN_LENGTH) {
      const { mode } = await stat(file);
      return { secret: text, created: false, exposed: process.platform !== 'win32' && (mode & 0o077) !== 0 };
    }
    // created by another process that has not written it yet, or left empty: wait a little, then give up
    if (attempt >= 20)
      throw new Error(`${file} holds no secret of at least ${MIN_LENGTH} characters: delete it to make one`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
