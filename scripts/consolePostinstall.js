// `npm install` builds the web console (console/ → console/dist/, served at /console) so that `npm start`
// serves it with no extra step (docs/console.md "Building"). An install without the development packages
// (`npm ci --omit=dev`) has no Vite: it says so and leaves the build to `npm run build` on a full install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let vite;
try {
  vite = require.resolve('vite/package.json');
} catch {
  console.log('flux: Vite is not installed (production install): the console is not built here');
  process.exit(0);
}
if (!existsSync('console/vite.config.ts')) process.exit(0);
const result = spawnSync(
  process.execPath,
  [
    vite.replace(/package\.json$/, 'bin/vite.js'),
    'build',
    '--config',
    'console/vite.config.ts',
    '--logLevel',
    'warn',
  ],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
