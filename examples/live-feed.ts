/**
 * A real Flux client: logs in over socket.io with a login and password, subscribes to a model (`user` by
 * default) and prints every event it receives, one line each.
 *
 *   npm run example:live-feed -- --login admin --password <password> [--url http://localhost:3000]
 *                                 [--model user] [--tenant <slug>]
 *
 * Output lines: `ready …` once subscribed, then `event model:user {"verb":"updated","id":5,"data":{…}}`.
 */
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:3000' },
    login: { type: 'string' },
    password: { type: 'string' },
    model: { type: 'string', default: 'user' },
    tenant: { type: 'string' },
  },
});

if (!values.login || !values.password) {
  process.stderr.write(
    'usage: live-feed --login <login> --password <password> [--url URL] [--model user] [--tenant slug]\n',
  );
  process.exit(2);
}

interface Ack {
  statusCode: number;
  data: unknown;
}

const socket = io(values.url, { transports: ['websocket'] });
const headers: Record<string, string> = values.tenant ? { 'x-tenant': values.tenant } : {};
const request = (method: string, url: string, data?: unknown): Promise<Ack> =>
  socket.timeout(10_000).emitWithAck('request', { method, url, data, headers });

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  socket.close();
  process.exit(1);
}

socket.on('connect_error', (err) => fail(`cannot connect to ${values.url}: ${err.message}`));

socket.on(`model:${values.model}`, (event: unknown) => {
  process.stdout.write(`event model:${values.model} ${JSON.stringify(event)}\n`);
});
for (const name of ['auth:revoked', 'auth:expired']) {
  socket.on(name, () => process.stdout.write(`${name}: the session ended, the feed stops\n`));
}

socket.once('connect', async () => {
  const login = await request('POST', '/auth/login', { login: values.login, password: values.password });
  if (login.statusCode !== 200) fail(`login failed: ${JSON.stringify(login.data)}`);
  // `subscribe: true` joins the rooms before reading, so nothing between the read and the events is lost.
  const found = await request('GET', `/${values.model}`, { subscribe: true });
  if (found.statusCode !== 200) fail(`subscribe failed: ${JSON.stringify(found.data)}`);
  process.stdout.write(
    `ready: logged in as ${values.login}, ${(found.data as unknown[]).length} ${values.model}(s) visible, waiting for events\n`,
  );
});

process.once('SIGINT', () => {
  socket.close();
  process.exit(0);
});
