import { expect } from 'vitest';
import { createClient, type FluxClient } from '../../client/src/index.js';

/**
 * Waits until `live.items` equals what `find()` returns now (ids, data and order), reading again every
 * 50 ms for at most `timeoutMs`; then fails with the difference. Live lists converge after the events of
 * a write arrive, so equality is awaited, never assumed at one instant.
 */
export async function expectLiveExact(
  live: { readonly items: readonly unknown[] },
  find: () => Promise<readonly unknown[]>,
  what = 'live query',
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let fresh = await find();
  while (JSON.stringify(live.items) !== JSON.stringify(fresh) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    fresh = await find();
  }
  expect(live.items, what).toEqual(fresh);
}

/**
 * A client of `url` logged in as `login` (in `tenant`, if given): over a connected socket that reconnects
 * quickly (100–500 ms, for tests that cut connections), or HTTP only with `socket: false`. Pushed on
 * `clients` so that the test closes it.
 */
export async function loggedInClient(
  url: string,
  login: string,
  password: string,
  options: { tenant?: string; socket?: boolean; clients: FluxClient[] },
): Promise<FluxClient> {
  const socket = options.socket ?? true;
  const client = createClient({
    url,
    tenant: options.tenant,
    ...(socket ? { socket: { reconnectionDelay: 100, reconnectionDelayMax: 500 } } : { socket: false }),
  });
  options.clients.push(client);
  if (socket) await client.connect();
  await client.login(login, password);
  return client;
}
