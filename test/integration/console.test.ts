import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket, socketRequest } from '../helpers/clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * How the server serves the web console's build at /console (lib/singlePageApp.ts, docs/console.md): the
 * files, the page for the console's own addresses, caching, the Content-Security-Policy, HTTP only; a
 * missing build and a disabled console. A build made here (a page and one asset) stands for Vite's.
 */

const page =
  '<!doctype html><title>console</title><script type="module" src="/console/assets/app-1a2b.js"></script>';

function fakeBuild(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flux-console-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), page);
  writeFileSync(path.join(dir, 'assets', 'app-1a2b.js'), 'console.log("console")');
  writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return dir;
}

describe('a built console', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = fakeBuild();
    server = await startTestServer({ console: { dir } });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('When the console or any address under it is asked for, then the page is answered, never cached, with its policy', async () => {
    for (const address of ['/console', '/console/', '/console/board', '/console/admin/users?x=1']) {
      const reply = await fetch(`${server.url}${address}`);
      expect(reply.status, address).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await reply.text()).toBe(page);
      expect(reply.headers.get('cache-control')).toBe('no-cache');
      const policy = reply.headers.get('content-security-policy')!;
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("connect-src 'self'");
      // over plain HTTP (a venue's LAN) the page must reach its own server: no upgrade of its requests
      expect(policy).not.toContain('upgrade-insecure-requests');
    }
  });

  it('When a hashed asset is asked for, then it is cached for a year; a missing one is a 404, not the page', async () => {
    const asset = await fetch(`${server.url}/console/assets/app-1a2b.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toBe('console.log("console")');
    const missing = await fetch(`${server.url}/console/assets/app-old.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ _error: { status: 404, code: 'NotFound' } });
    const icon = await fetch(`${server.url}/console/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('When a path leaves the build folder, then nothing outside it is served', async () => {
    for (const address of [
      '/console/..%2Fpackage.json',
      '/console/%2e%2e/%2e%2e/etc/passwd',
      '/console/assets/..%2f..%2findex.html',
    ]) {
      const reply = await fetch(`${server.url}${address}`);
      const body = await reply.text();
      expect(body, address).not.toContain('"dependencies"');
      expect(body, address).not.toContain('root:');
      expect([200, 400, 403, 404], address).toContain(reply.status);
    }
  });

  it('When a write is sent to the console, then it is not served the page', async () => {
    const reply = await fetch(`${server.url}/console/board`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(reply.status).toBe(404);
  });

  it('When a socket asks for the console, then it is refused like any HTTP-only page', async () => {
    const socket = await connectSocket(server.url);
    try {
      const reply = await socketRequest(socket, { method: 'GET', url: '/console/board' });
      expect(reply.statusCode).toBe(404);
      expect(JSON.stringify(reply.data)).not.toContain('<!doctype');
    } finally {
      socket.close();
    }
  });
});

describe('a console without a build, and a disabled console', () => {
  it('When the folder holds no build, then the console answers 503 with the command that builds it', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'flux-console-'));
    const server = await startTestServer({ console: { dir: empty } });
    try {
      const reply = await fetch(`${server.url}/console/board`);
      expect(reply.status).toBe(503);
      expect(await reply.text()).toContain('npm run console:build');
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      await server.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('When console.enabled is false, then /console is a 404 like any unknown address', async () => {
    const dir = fakeBuild();
    const server = await startTestServer({ console: { enabled: false, dir } });
    try {
      const reply = await fetch(`${server.url}/console/`);
      expect(reply.status).toBe(404);
      expect(await reply.json()).toMatchObject({ _error: { status: 404, code: 'NotFound' } });
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
