import { expect, it } from 'vitest';
import { httpTransport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Flux started again in the same process on another database (an in-process restart, tests): nothing
 * cached from the first run answers for the second — session ids of one database mean other users in
 * the other.
 */
it('When Flux starts again on another database, then a session id known from the first run is resolved afresh', async () => {
  const meOf = async (url: string, loginName: string, password: string) => {
    const token = await login(url, loginName, password);
    return expectStatus<{ user: { login: string } }>(
      await httpTransport(url, token).request('GET', '/auth/me'),
      200,
    ).user.login;
  };
  const runs: string[] = [];
  for (const name of ['alpha', 'beta']) {
    const server = await startTestServer();
    try {
      const admin = httpTransport(server.url, await adminLogin(server.url)); // session 1
      await createTeamWithUser(
        admin,
        { name: 'Bar', role: 'bar' },
        { login: name, password: `${name}-password` },
      );
      runs.push(await meOf(server.url, name, `${name}-password`)); // session 2 of each database
    } finally {
      await server.stop();
    }
  }
  expect(runs).toEqual(['alpha', 'beta']);
});
