import http from 'node:http';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedHostsWarning, hostChecker } from '../../lib/allowedHosts.js';
import { originChecker } from '../../lib/Flux.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * `server.allowedHosts` (lib/allowedHosts.ts): the host names a server answers to, against DNS rebinding.
 * Requests are sent with the `Host` header a browser would send for each name.
 */

/** `GET path` to the server with the given `Host` header: status and JSON body. */
function get(server: TestServer, path: string, host: string): Promise<{ status: number; body: unknown }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let text = '';
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : null }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

/** Whether a socket handshake with the given `Host` (and the page's `Origin` of that host) is accepted. */
function handshake(server: TestServer, host: string): Promise<boolean> {
  const socket = io(server.url, {
    transports: ['websocket'],
    extraHeaders: { host, origin: `http://${host}` },
    forceNew: true,
    reconnection: false,
  });
  return new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', () => resolve(false));
  }).finally(() => socket.close());
}

describe('hostChecker', () => {
  it('When names are listed, then they match without port or case, a leading dot takes the subdomains, nothing else', () => {
    const allowed = hostChecker(['flux.example.org', '.events.example.org', '127.0.0.1', '[::1]']);
    for (const host of [
      'flux.example.org',
      'FLUX.example.org:443',
      'events.example.org',
      'summerfest.events.example.org:8080',
      '127.0.0.1:3000',
      '[::1]:3000',
    ])
      expect(allowed(host), host).toBe(true);
    for (const host of [
      undefined,
      '',
      'evil.example',
      'flux.example.org.evil.example',
      'xevents.example.org',
      'example.org',
      '127.0.0.2',
      '[::2]:3000',
    ])
      expect(allowed(host), String(host)).toBe(false);
    expect(hostChecker(true)('anything.example')).toBe(true);
  });

  it('When production starts without a list, then start-up warns; with one, or outside production, it does not', () => {
    expect(allowedHostsWarning(true, 'production')).toMatch(/allowedHosts is not set.*DNS rebinding/);
    expect(allowedHostsWarning(['flux.example.org'], 'production')).toBeUndefined();
    expect(allowedHostsWarning(true, 'development')).toBeUndefined();
  });
});

describe('originChecker: a page of the server itself', () => {
  it('When the Origin is the Host, port included (a default port written or not), then it is allowed; another port or name is not', () => {
    const allowed = originChecker(false);
    expect(allowed(undefined, 'flux.example.org')).toBe(true); // no Origin: not a browser page
    expect(allowed('https://flux.example.org', 'flux.example.org')).toBe(true);
    expect(allowed('https://flux.example.org', 'flux.example.org:443')).toBe(true);
    expect(allowed('http://flux.example.org', 'FLUX.example.org:80')).toBe(true);
    expect(allowed('http://flux.example.org:8080', 'flux.example.org:8080')).toBe(true);
    // nginx's $host drops the port: that is why deploy/nginx.conf passes $http_host
    expect(allowed('http://flux.example.org:8080', 'flux.example.org')).toBe(false);
    expect(allowed('http://flux.example.org:8081', 'flux.example.org:8080')).toBe(false);
    expect(allowed('https://flux.example.org', 'flux.example.org:80')).toBe(false);
    expect(allowed('https://evil.example', 'flux.example.org')).toBe(false);
    expect(allowed('not a url', 'flux.example.org')).toBe(false);
    expect(allowed('https://flux.example.org', undefined)).toBe(false);
    expect(originChecker(['https://app.example'])('https://app.example', 'flux.example.org')).toBe(true);
  });
});

describe('a server with allowedHosts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      server: { port: 0, host: '127.0.0.1', allowedHosts: ['127.0.0.1', '.flux.example.org'] },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('When a request names an allowed host, then it is served; another host gets 403 and no data', async () => {
    expect((await get(server, '/health', `127.0.0.1:${new URL(server.url).port}`)).status).toBe(200);
    expect((await get(server, '/health', 'summerfest.flux.example.org')).status).toBe(200);
    const refused = await get(server, '/auth/roles', 'rebound.evil.example');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ _error: { status: 403, code: 'Forbidden' } });
    expect(JSON.stringify(refused.body)).not.toContain('admin');
  });

  it('When a socket handshake names another host, then it is refused, even from a page of that host', async () => {
    expect(await handshake(server, 'summerfest.flux.example.org')).toBe(true);
    expect(await handshake(server, 'rebound.evil.example')).toBe(false);
  });
});
