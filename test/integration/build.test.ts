import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { httpTransport } from '../helpers/clients.js';
import { type NodeProcess, startNode, waitForOutput } from '../helpers/processes.js';

/**
 * One behaviour for both starts (docs/operations.md): `npm start` (the sources, through tsx) and the
 * production start (`node dist/app.js`, after `npm run build`) read the same config and use the same
 * `data/`, `logs/` and `uploads/` of the application root (`FLUX_ROOT`, else the project), never folders
 * inside the build output.
 */

let root: string;
const running: NodeProcess[] = [];

/** The environment of both starts: the embedded database of the root, no secret, no admin password. */
const env = () => ({
  NODE_ENV: 'development',
  FLUX_ROOT: root,
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_URL: '',
  REDIS_URL: '',
  JWT_SECRET: '',
  FLUX_ADMIN_PASSWORD: '',
  LOG_LEVEL: 'info',
});

async function start(script: string, tsx: boolean): Promise<{ process: NodeProcess; url: string }> {
  const child = startNode(script, [], env(), { tsx });
  running.push(child);
  const [, port] = await waitForOutput(child, /listening on http:\/\/[^:]+:(\d+)/, 60_000);
  return { process: child, url: `http://127.0.0.1:${port}` };
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'flux-root-'));
});

afterAll(async () => {
  for (const child of running) await child.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the built server and npm start', () => {
  it('When the built server starts on the root of a development start, then it uses the same data and the same admin logs in', async () => {
    const development = await start('app.ts', true);
    const [, password] = /Created the bootstrap user "admin" with password: (\S+)/.exec(
      development.process.output(),
    ) as RegExpExecArray;
    const first = await httpTransport(development.url).request('POST', '/auth/login', {
      login: 'admin',
      password,
    });
    expect(first.status).toBe(200);
    expect(await development.process.stop()).toBe(0);

    await promisify(execFile)(
      process.execPath,
      [path.join(Flux.rootdir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: Flux.rootdir },
    );
    const built = await start(path.join('dist', 'app.js'), false);
    // the same database: no new admin, and the first one's password works; the same secret file
    expect(built.process.output()).not.toContain('Created the bootstrap user');
    const again = await httpTransport(built.url).request('POST', '/auth/login', {
      login: 'admin',
      password,
    });
    expect(again.status).toBe(200);
    const token = (first.body as { jwt: string }).jwt;
    expect((await httpTransport(built.url, token).request('GET', '/auth/me')).status).toBe(200);
    for (const folder of ['data', 'logs']) {
      expect(existsSync(path.join(root, folder))).toBe(true);
      expect(existsSync(path.join(Flux.rootdir, 'dist', folder))).toBe(false);
    }
    expect(existsSync(path.join(root, 'data', 'jwt-secret'))).toBe(true);
    expect(await built.process.stop()).toBe(0);
  }, 180_000);
});
