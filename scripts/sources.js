// What `npm start` needs to know to run the build instead of the sources (docs/operations.md, "Starting"):
// whether `dist/` was compiled from exactly the sources the project has now. `npm run build` records a
// digest of those sources in `dist/` (scripts/buildServer.js); `npm start` (scripts/start.js) computes it
// again and runs `dist/app.js` only when both are the same.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the build records the digest of its sources, relative to the project. */
export const STAMP = path.join('dist', '.sources-sha256');

/**
 * The SHA-256 (hex) of every file the server build compiles or depends on, by path and content: the
 * entries of `tsconfig.build.json`'s `include` (files, and every file below folders, whatever its
 * extension), `tsconfig.json` and `tsconfig.build.json` themselves. Any added, removed, renamed or edited
 * file changes it; modification times do not.
 * @param root the project folder
 * @throws Error when an `include` entry is a pattern (`*`, `?`, `[`, `{`: only files and folders are
 *   followed here); what reading the files throws (no `tsconfig.build.json`, a file unreadable)
 */
export function sourcesDigest(root) {
  const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8'));
  const pattern = (build.include ?? []).find((entry) => /[*?[{]/.test(entry));
  if (pattern)
    throw new Error(`tsconfig.build.json includes a pattern ("${pattern}"): list files and folders`);
  const files = ['tsconfig.json', 'tsconfig.build.json'];
  const walk = (relative) => {
    let entries;
    try {
      entries = readdirSync(path.join(root, relative), { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOTDIR') files.push(relative);
      else if (err.code !== 'ENOENT') throw err;
      return;
    }
    for (const entry of entries) {
      const child = path.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else files.push(child);
    }
  };
  for (const entry of build.include ?? []) walk(entry);
  const hash = createHash('sha256');
  for (const file of [...new Set(files)].sort()) {
    hash.update(`${file.split(path.sep).join('/')}\0`);
    hash.update(readFileSync(path.join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Whether `root`'s `dist/` was built from its current sources: its recorded digest equals
 * {@link sourcesDigest}. False when nothing is recorded (no build, or one made by `tsc` alone), or when
 * the digest cannot be computed (then nothing proves that the build matches).
 */
export function builtFromSources(root) {
  try {
    return readFileSync(path.join(root, STAMP), 'utf8').trim() === sourcesDigest(root);
  } catch {
    return false;
  }
}

/** Records `digest` as the sources `root`'s `dist/` was built from. */
export function recordBuild(root, digest) {
  writeFileSync(path.join(root, STAMP), `${digest}\n`);
}

/** Forgets what `root`'s `dist/` was built from (before a build, which may fail half-way). */
export function forgetBuild(root) {
  rmSync(path.join(root, STAMP), { force: true });
}
