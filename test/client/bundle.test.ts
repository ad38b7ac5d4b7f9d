import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * Bundles `@flux/client` for the browser as a bundler would. With `platform: 'browser'`, an import of a
 * Node module (`node:*`, `events`, …) anywhere in its runtime path fails the build; `import type` of the
 * server's protocol and models is erased, so only files of `client/src` may end up in the bundle.
 */
it('When @flux/client is bundled for the browser, then it needs no Node module and only socket.io-client', async () => {
  const result = await build({
    entryPoints: [path.join(root, 'client/src/index.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    metafile: true,
    external: ['socket.io-client'],
    logLevel: 'silent',
    absWorkingDir: root,
  });
  expect(result.errors).toEqual([]);
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.length).toBeGreaterThan(0);
  expect(inputs.filter((file) => !file.startsWith('client/src/'))).toEqual([]);
  const imports = Object.values(result.metafile.outputs).flatMap((output) =>
    output.imports.map((i) => i.path),
  );
  expect([...new Set(imports)]).toEqual(['socket.io-client']);
  // Node globals are not imports: look for them in the code itself
  const code = result.outputFiles[0]!.text;
  expect(code).not.toMatch(/\b(Buffer|process|require|__dirname)\b/);
  // issue 13: ≤ 10 KB minified + gzip without socket.io-client (the bench will report it too)
  expect(gzipSync(result.outputFiles[0]!.contents).length).toBeLessThan(10 * 1024);
});
