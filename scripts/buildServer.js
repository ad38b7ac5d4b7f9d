// `npm run build`, the server part: compiles the sources with tsc (tsconfig.build.json) into a new folder
// that then replaces `dist/` whole (no compiled file of a deleted or renamed source is left behind), and
// records what it was built from (scripts/sources.js), so that `npm start` runs the build while it
// matches the sources. The sources' digest is taken before and after tsc: a file edited during the build
// records nothing, and neither does a failed compilation (`npm start` then runs the sources).
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { forgetBuild, recordBuild, sourcesDigest } from './sources.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const digest = () => {
  try {
    return sourcesDigest(root);
  } catch (err) {
    console.warn(`flux: npm start will run the sources, not this build: ${err.message}`);
    return undefined;
  }
};

forgetBuild(root);
const before = digest();
const next = `${dist}.build-${process.pid}`;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', next], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  rmSync(next, { recursive: true, force: true });
  process.exit(result.status ?? 1);
}
const previous = `${dist}.old-${process.pid}`;
if (existsSync(dist)) renameSync(dist, previous);
renameSync(next, dist);
rmSync(previous, { recursive: true, force: true });
const after = digest();
if (before && before === after) recordBuild(root, before);
else if (before && after)
  console.warn('flux: sources changed during the build: npm start will run the sources');
