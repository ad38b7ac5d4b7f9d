import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { connectSocket, httpTransport, socketRequest } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Operations (docs/reference.md#operations): health, readiness, metrics, and the OpenAPI document with its
 * UI.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

describe('health and readiness', () => {
  it('When the process runs and the database answers, then /health and /ready are 200', async () => {
    expect(expectStatus(await httpTransport(server.url).request('GET', '/health'), 200)).toMatchObject({
      status: 'ok',
    });
    const ready = expectStatus(await httpTransport(server.url).request('GET', '/ready'), 200);
    expect(ready).toMatchObject({ status: 'ready', database: 'ok' });
    if (process.env.REDIS_URL) expect(ready).toMatchObject({ redis: 'ok' });
  });
});

describe('metrics', () => {
  const value = (text: string, name: string, labels: Record<string, string>): number => {
    const lines = text.split('\n').filter((line) => line.startsWith(`${name}{`));
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const line = lines.find((l) => wanted.every((w) => l.includes(w)));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const scrape = async () => (await fetch(`${server.url}/metrics`)).text();

  it('When requests run over HTTP and the socket, then the counters of their routes move, by transport', async () => {
    const token = await adminLogin(server.url);
    const route = { route: '/team/:id', status: '200' };
    const before = await scrape();
    const http = httpTransport(server.url, token);
    for (let i = 0; i < 3; i++) expectStatus(await http.request('GET', '/team/1'), 200);
    const socket = await connectSocket(server.url);
    for (let i = 0; i < 2; i++) {
      expect(
        (
          await socketRequest(socket, {
            method: 'GET',
            url: '/team/1',
            headers: { authorization: `Bearer ${token}` },
          })
        ).statusCode,
      ).toBe(200);
    }
    const events = await socketRequest(socket, {
      method: 'POST',
      url: '/team/subscribe',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(events.statusCode).toBe(200);
    expectStatus(await http.request('POST', '/team', { name: 'Metered', role: 'orga' }), 201);
    await new Promise((r) => setTimeout(r, 100));
    const after = await scrape();
    const count = 'flux_request_duration_seconds_count';
    expect(
      value(after, count, { ...route, transport: 'http' }) -
        value(before, count, { ...route, transport: 'http' }),
    ).toBe(3);
    expect(
      value(after, count, { ...route, transport: 'socket' }) -
        value(before, count, { ...route, transport: 'socket' }),
    ).toBe(2);
    expect(after).toMatch(/^flux_sockets_connected [1-9]/m);
    expect(after).toMatch(/^flux_subscriptions [1-9]/m);
    const published = (text: string) => Number(/^flux_events_published_total (\d+)/m.exec(text)?.[1] ?? 0);
    expect(published(after)).toBeGreaterThan(published(before));
    expect(after).toMatch(/^flux_events_delivered_total [1-9]/m);
    expect(after).toContain('process_cpu_user_seconds_total');
    socket.close();
  });
});

describe('OpenAPI', () => {
  it('When /openapi.json is fetched, then it is a valid OpenAPI 3.1 document listing every route of config/routes.ts', async () => {
    const document = expectStatus<Record<string, unknown>>(
      await httpTransport(server.url).request('GET', '/openapi.json'),
      200,
    );
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
    const paths = document.paths as Record<string, Record<string, unknown>>;
    for (const route of Flux.routes) {
      const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      expect(paths[path]?.[route.method], route.key).toBeDefined();
    }
    const login = paths['/auth/login'].post as {
      requestBody: { content: Record<string, { schema: { required: string[] } }> };
    };
    expect(login.requestBody.content['application/json'].schema.required).toEqual(['login', 'password']);
    // a controller's own documentation (static openapi): the event stream is not JSON
    const events = paths['/events'].get as {
      parameters: Array<{ name: string; in: string }>;
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    expect(events.parameters).toEqual([expect.objectContaining({ name: 'models', in: 'query' })]);
    expect(Object.keys(events.responses[200]!.content ?? {})).toEqual(['text/event-stream']);
    const schemas = (
      document.components as { schemas: Record<string, { properties: Record<string, unknown> }> }
    ).schemas;
    expect(Object.keys(schemas.User.properties)).not.toContain('password');
  });

  it('When /docs is opened, then the browsable UI loads', async () => {
    const response = await fetch(`${server.url}/docs/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('swagger-ui');
  });
});
