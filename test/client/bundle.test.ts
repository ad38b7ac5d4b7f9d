import { expect, it } from 'vitest';
import { bundleClient, bundleSize } from '../../bench/clientBundle.js';

/**
 * Bundles `@flux/client` for the browser as a bundler would. With `platform: 'browser'`, an import of a
 * Node module (`node:*`, `events`, …) anywhere in its runtime path fails the build; `import type` of the
 * server's protocol and models is erased, so only files of `client/src` may end up in the bundle.
 */
it('When @flux/client is bundled for the browser, then it needs no Node module and only socket.io-client', async () => {
  const result = await bundleClient();
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
  expect(bundleSize(result).gzipped).toBeLessThan(10 * 1024);
});
