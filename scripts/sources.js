// What `npm start` needs to know to run the build instead of the sources (docs/operations.md,
// "Production checklist"): whether `dist/` is what `npm run build` compiled from exactly the sources the
// project has now. The build (scripts/buildServer.js) records two digests in `dist/`: of the sources it
// compiled, and of the files it wrote; `npm start` (scripts/start.js) computes both again and runs
// `dist/app.js` only when both match.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What `npm start` prints first when it runs the build (the start-up benchmark reads it). */
export const RUNNING_BUILD = 'flux: running the build in dist/';

/** Where the build records its digests, relative to the project. */
export const STAMP = path.join('dist', '.sources-sha256');

/**
 * Every file below `root`/`relative` (the entry itself when it is a file; nothing when it does not exist),
 * as paths relative to `root`. Symbolic links are followed.
 */
function filesBelow(root, relative, files = []) {
  let entries;
  try {
    entries = readdirSync(path.join(root, relative), { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOTDIR') files.push(relative);
    else if (err.code !== 'ENOENT') throw err;
    return files;
  }
  for (const entry of entries) filesBelow(root, path.join(relative, entry.name), files);
  return files;
}

/**
 * The SHA-256 (hex) of every file the server build compiles or depends on, by path and content: the
 * entries of `tsconfig.build.json`'s `include` (files, and every file below folders, whatever its
 * extension), `tsconfig.json`, `tsconfig.build.json` and `package.json` (its `type` decides what tsc
 * writes). Any added, removed, renamed or edited file changes it; modification times do not.
 * @param root the project folder
 * @throws Error when the build's inputs are not only the listed files and folders: `include` missing,
 *   empty or holding a pattern (`*`, `?`, `[`, `{`), `files` or `references` present; what reading
 *   throws (`tsconfig.build.json` missing or not plain JSON, a file unreadable)
 */
export function sourcesDigest(root) {
  const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8'));
  const include = build.include;
  if (!Array.isArray(include) || include.length === 0)
    throw new Error('tsconfig.build.json has no "include": list the files and folders it compiles');
  const pattern = include.find((entry) => /[*?[{]/.test(entry));
  if (pattern)
    throw new Error(`tsconfig.build.json includes a pattern ("${pattern}"): list files and folders`);
  if (build.files || build.references)
    throw new Error('tsconfig.build.json has "files" or "references": only "include" is followed');
  const files = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];
  for (const entry of include) filesBelow(root, entry, files);
  return digestOf(root, files);
}

/** The SHA-256 (hex) of `files` (relative to `root`), by path and content, in path order. */
function digestOf(root, files) {
  const hash = createHash('sha256');
  for (const file of [...new Set(files)].sort()) {
    hash.update(`${file.split(path.sep).join('/')}\0`);
    hash.update(readFileSync(path.join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * The SHA-256 (hex) of what is in `root`'s `dist/` but the stamp, by path and content. Anything that
 * writes there after the build — `tsc` run by hand, an edit — changes it; a copy of the folder does not.
 */
export function outputDigest(root) {
  return digestOf(
    root,
    filesBelow(root, 'dist').filter((file) => file !== STAMP),
  );
}

/**
 * Whether `root`'s `dist/` is what `npm run build` made from its current sources: the recorded digests
 * equal {@link sourcesDigest} and {@link outputDigest}. False when nothing is recorded (no build, or one
 * made by `tsc` alone), or when a digest cannot be computed (nothing proves that the build matches).
 */
export function builtFromSources(root) {
  try {
    const recorded = JSON.parse(readFileSync(path.join(root, STAMP), 'utf8'));
    return recorded.sources === sourcesDigest(root) && recorded.output === outputDigest(root);
  } catch {
    return false;
  }
}

/**
 * Records that `root`'s `dist/` was built from sources whose digest is `sources` (its output digest is
 * taken now: call it once the build has written everything).
 */
export function recordBuild(root, sources) {
  writeFileSync(path.join(root, STAMP), `${JSON.stringify({ sources, output: outputDigest(root) })}\n`);
}

/** Forgets what `root`'s `dist/` was built from. */
export function forgetBuild(root) {
  rmSync(path.join(root, STAMP), { force: true });
}
