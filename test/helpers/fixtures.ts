import { expect } from 'vitest';
import { connectClient, httpTransport, type Reply, socketTransport, type Transport } from './clients.js';
import { ADMIN_PASSWORD } from './server.js';

/** Logs in over HTTP and returns the token. */
export async function login(
  base: string,
  loginName: string,
  password: string,
  tenant?: string,
): Promise<string> {
  const reply = await httpTransport(base).request(
    'POST',
    '/auth/login',
    { login: loginName, password },
    tenant ? { 'x-tenant': tenant } : {},
  );
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return (reply.body as { jwt: string }).jwt;
}

export const adminLogin = (base: string) => login(base, 'admin', ADMIN_PASSWORD);

/** Fails the test unless `reply` has `status`; returns the body. */
export function expectStatus<T = Record<string, unknown>>(reply: Reply, status: number): T {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  return reply.body as T;
}

/**
 * A logged-in client over the given transport: HTTP with a bearer token, or a socket bound by logging in
 * over the socket itself (so socket scenarios exercise the socket's session binding).
 */
export async function client(
  base: string,
  kind: 'http' | 'socket',
  loginName: string,
  password: string,
): Promise<Transport> {
  if (kind === 'http') return httpTransport(base, await login(base, loginName, password));
  const transport = socketTransport(await connectClient(base));
  const reply = await transport.request('POST', '/auth/login', { login: loginName, password });
  expectStatus(reply, 200);
  return transport;
}

/** Creates a team and a user in it through the API as `admin`; returns their ids. */
export async function createTeamWithUser(
  admin: Transport,
  team: { name: string; role: string; group?: string },
  user: { login: string; password: string },
): Promise<{ teamId: number; userId: number }> {
  const created = expectStatus<{ id: number }>(await admin.request('POST', '/team', team), 201);
  const member = expectStatus<{ id: number }>(
    await admin.request('POST', '/user', { ...user, name: user.login, teamId: created.id }),
    201,
  );
  return { teamId: created.id, userId: member.id };
}

/** Creates a tenant with its own `admin` through the API as an operator of the default tenant. */
export async function createTenant(
  operator: Transport,
  tenant: { name: string; slug: string; adminPassword: string },
): Promise<{ id: number } & Record<string, unknown>> {
  return expectStatus<{ id: number }>(
    await operator.request('POST', '/tenant', {
      name: tenant.name,
      slug: tenant.slug,
      admin: { login: 'admin', password: tenant.adminPassword },
    }),
    201,
  );
}

/** Fails the test unless the socket answers `method url` with the status and body HTTP gave. */
export async function expectSameReply(
  http: Transport,
  socket: Transport,
  method: string,
  url: string,
  data?: unknown,
): Promise<void> {
  const overHttp = await http.request(method, url, data);
  const overSocket = await socket.request(method, url, data);
  expect({ method, url, status: overSocket.status, body: overSocket.body }).toEqual({
    method,
    url,
    status: overHttp.status,
    body: overHttp.body,
  });
}
