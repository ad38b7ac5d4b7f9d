import { execFile, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * @flux/client stands on its own (docs/client.md "Install and import"): built by its own tsconfig (browser
 * and ES2022 libraries only, no Node types), the package imports nothing but itself and socket.io-client,
 * and a project outside this repository that depends on it type-checks against its declarations (a wrong
 * attribute does not compile) and talks to a real server with it.
 */

const execFileAsync = promisify(execFile);
const root = process.cwd();
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flux-client-package-'));
  // installed as npm would install it: a copy in the consumer's node_modules, next to socket.io-client
  const pkg = path.join(dir, 'consumer', 'node_modules', '@flux', 'client');
  mkdirSync(pkg, { recursive: true });
  const build = spawnSync(
    tsc,
    ['-p', path.join(root, 'client', 'tsconfig.json'), '--outDir', path.join(pkg, 'dist')],
    {
      encoding: 'utf8',
    },
  );
  expect(build.status, build.stdout + build.stderr).toBe(0);
  copyFileSync(path.join(root, 'client', 'package.json'), path.join(pkg, 'package.json'));
  server = await startTestServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function files(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(path.join(folder, entry.name)) : [path.join(folder, entry.name)],
  );
}

describe('the @flux/client package', () => {
  it('When built, then its JavaScript and declarations import only their own files and socket.io-client', () => {
    const dist = path.join(dir, 'consumer', 'node_modules', '@flux', 'client', 'dist');
    const emitted = files(dist).filter((file) => /\.(js|d\.ts)$/.test(file));
    expect(emitted.map((file) => path.relative(dist, file))).toEqual(
      expect.arrayContaining(['index.js', 'index.d.ts', 'LiveQuery.js', 'generated/models.d.ts']),
    );
    const outside: string[] = [];
    for (const file of emitted) {
      const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        if (specifier === 'socket.io-client') continue;
        const target = path.resolve(path.dirname(file), specifier!);
        if (!specifier!.startsWith('.') || !target.startsWith(dist))
          outside.push(`${path.relative(dist, file)}: ${specifier}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it('When a project outside this repository depends on it, then it type-checks against the declarations and works with a server', async () => {
    const consumer = path.join(dir, 'consumer');
    symlinkSync(
      path.join(root, 'node_modules', 'socket.io-client'),
      path.join(consumer, 'node_modules', 'socket.io-client'),
    );
    writeFileSync(
      path.join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', type: 'module', private: true }),
    );
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          types: [],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
        },
        include: ['check.ts'],
      }),
    );
    writeFileSync(
      path.join(consumer, 'check.ts'),
      [
        "import { createClient, type FluxError, type Item, type ModelEventPayload } from '@flux/client';",
        "const client = createClient({ url: 'http://localhost:3000' });",
        "export const teams: Promise<Item<'team'>[]> = client.service('team').find({ filters: { name: { like: 'Bar%' } }, sort: '-name' });",
        "export const live = client.live('alert', { filters: { severity: 'serious' }, sort: '-createdAt', limit: 10 });",
        "export const created = client.service('team').create({ name: 'Bar', role: 'bar' });",
        'export function handle(event: ModelEventPayload, error: FluxError): string {',
        "  return event.verb + ' ' + error.code;",
        '}',
        'export function wrong() {',
        '  // @ts-expect-error `colour` is not an attribute of team',
        "  return client.service('team').find({ filters: { colour: 'red' } });",
        '}',
      ].join('\n'),
    );
    const check = spawnSync(tsc, ['-p', path.join(consumer, 'tsconfig.json')], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);

    writeFileSync(
      path.join(consumer, 'run.mjs'),
      [
        "import { createClient } from '@flux/client';",
        'const client = createClient({ url: process.env.URL, socket: false });',
        "await client.login('admin', process.env.PASSWORD);",
        "const teams = await client.service('team').find({ sort: 'name' });",
        'process.stdout.write(JSON.stringify({ teams: teams.map((team) => team.name) }));',
        'client.close();',
      ].join('\n'),
    );
    // not spawnSync: the server runs in this process and must answer meanwhile
    const { stdout } = await execFileAsync(process.execPath, [path.join(consumer, 'run.mjs')], {
      cwd: consumer,
      env: { ...process.env, URL: server.url, PASSWORD: ADMIN_PASSWORD },
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toEqual({ teams: ['Admin'] });
  }, 60_000);
});
