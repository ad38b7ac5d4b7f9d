/**
 * The browser bundle of `@flux/client`, as a bundler would build it: one ESM file for the browser,
 * minified. Shared by test/client/bundle.test.ts (what may be in it, and its size) and the client part of
 * `npm run bench` (its size, with and without socket.io-client).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildResult, build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type ClientBuild = BuildResult<{ write: false; metafile: true }>;

/**
 * Bundles client/src/index.ts (`bundle`, `minify`, `format: 'esm'`, `platform: 'browser'`). With
 * `platform: 'browser'`, an import of a Node module anywhere in its runtime path fails the build.
 * @param options.withSocketIo include socket.io-client (default: leave it external, as the app's bundler
 *   would share it with anything else that uses it)
 */
export function bundleClient(options: { withSocketIo?: boolean } = {}): Promise<ClientBuild> {
  return build({
    entryPoints: [path.join(root, 'client/src/index.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    metafile: true,
    external: options.withSocketIo ? [] : ['socket.io-client'],
    logLevel: 'silent',
    absWorkingDir: root,
  });
}

/** Bytes of the bundle's output: minified, and minified then gzipped (level 9). */
export function bundleSize(result: ClientBuild): { minified: number; gzipped: number } {
  const contents = result.outputFiles[0]!.contents;
  return { minified: contents.length, gzipped: gzipSync(contents, { level: 9 }).length };
}
