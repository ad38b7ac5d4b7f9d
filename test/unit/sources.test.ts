import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtFromSources, forgetBuild, recordBuild, sourcesDigest } from '../../scripts/sources.js';

/**
 * What `npm start` compares to choose the build or the sources (scripts/sources.js): the digest changes
 * with any source file's path or content, never with its modification time alone.
 */

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'flux-sources-'));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  write('tsconfig.json', '{ "compilerOptions": {} }');
  write('tsconfig.build.json', JSON.stringify({ include: ['app.ts', 'lib', 'config', 'missing'] }));
  write('app.ts', 'import "./lib/a.js";');
  write('lib/a.ts', 'export const a = 1;');
  write('lib/deep/b.ts', 'export const b = 2;');
  write('config/settings.json', '{}');
  write('package.json', '{ "type": "module" }');
  write('other/c.ts', 'not compiled');
  mkdirSync(path.join(root, 'dist'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('the digest of the sources', () => {
  it('When a compiled file is edited, added, removed or renamed, then the digest changes; outside the build, or touched only, it does not', () => {
    const first = sourcesDigest(root);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(sourcesDigest(root)).toBe(first);

    writeFileSync(path.join(root, 'other/c.ts'), 'still not compiled');
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(root, 'lib/a.ts'), later, later);
    expect(sourcesDigest(root)).toBe(first);

    writeFileSync(path.join(root, 'lib/deep/b.ts'), 'export const b = 3;');
    const edited = sourcesDigest(root);
    expect(edited).not.toBe(first);
    writeFileSync(path.join(root, 'lib/deep/b.ts'), 'export const b = 2;');
    expect(sourcesDigest(root)).toBe(first);

    writeFileSync(path.join(root, 'lib/new.ts'), '');
    expect(sourcesDigest(root)).not.toBe(first);
    rmSync(path.join(root, 'lib/new.ts'));
    expect(sourcesDigest(root)).toBe(first);

    renameSync(path.join(root, 'lib/a.ts'), path.join(root, 'lib/a2.ts'));
    expect(sourcesDigest(root)).not.toBe(first);
    renameSync(path.join(root, 'lib/a2.ts'), path.join(root, 'lib/a.ts'));

    rmSync(path.join(root, 'config/settings.json'));
    expect(sourcesDigest(root)).not.toBe(first);
    writeFileSync(path.join(root, 'config/settings.json'), '{}');

    writeFileSync(path.join(root, 'package.json'), '{ "type": "commonjs" }');
    expect(sourcesDigest(root)).not.toBe(first);
    writeFileSync(path.join(root, 'package.json'), '{ "type": "module" }');

    writeFileSync(path.join(root, 'tsconfig.json'), '{ "compilerOptions": { "strict": true } }');
    expect(sourcesDigest(root)).not.toBe(first);
  });

  it('When anything writes to dist/ after the build recorded it, then the build no longer matches', () => {
    writeFileSync(path.join(root, 'dist', 'app.js'), 'built');
    recordBuild(root, sourcesDigest(root));
    expect(builtFromSources(root)).toBe(true);
    // tsc run by hand after an edit since undone: the sources match, the output is not the build's
    writeFileSync(path.join(root, 'dist', 'app.js'), 'built again');
    expect(builtFromSources(root)).toBe(false);
    recordBuild(root, sourcesDigest(root));
    writeFileSync(path.join(root, 'dist', 'extra.js'), '');
    expect(builtFromSources(root)).toBe(false);
  });

  it('When the build recorded the digest, then the build matches until a source changes or the record is forgotten', () => {
    expect(builtFromSources(root)).toBe(false);
    recordBuild(root, sourcesDigest(root));
    expect(builtFromSources(root)).toBe(true);
    writeFileSync(path.join(root, 'app.ts'), 'import "./lib/deep/b.js";');
    expect(builtFromSources(root)).toBe(false);
    recordBuild(root, sourcesDigest(root));
    expect(builtFromSources(root)).toBe(true);
    forgetBuild(root);
    expect(builtFromSources(root)).toBe(false);
  });

  it('When the build config names its inputs otherwise than by files and folders, then the digest refuses it', () => {
    const refused: Array<[object, RegExp]> = [
      [{ include: ['app.ts', 'lib/**/*'] }, /includes a pattern \("lib\/\*\*\/\*"\)/],
      [{}, /has no "include"/],
      [{ include: [] }, /has no "include"/],
      [{ include: ['lib'], files: ['app.ts'] }, /has "files" or "references"/],
      [{ include: ['lib'], references: [{ path: 'client' }] }, /has "files" or "references"/],
    ];
    for (const [config, message] of refused) {
      writeFileSync(path.join(root, 'tsconfig.build.json'), JSON.stringify(config));
      expect(() => sourcesDigest(root)).toThrow(message);
    }
  });
});
