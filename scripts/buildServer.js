// `npm run build`, the server part: compiles the sources to `dist/` with tsc (tsconfig.build.json) and
// records the digest of the sources it compiled (scripts/sources.js), so that `npm start` runs the build
// while it matches them. The digest is taken before tsc runs: a file edited during the build makes the
// build not match. A failed compilation records nothing.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { forgetBuild, recordBuild, sourcesDigest } from './sources.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
forgetBuild(root);
let digest;
try {
  digest = sourcesDigest(root);
} catch (err) {
  console.log(`flux: npm start will run the sources, not this build: ${err.message}`);
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
if (digest) recordBuild(root, digest);
