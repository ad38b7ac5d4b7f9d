/**
 * A live feed for an operator, written with `@flux/client` (docs/client.md): it logs in, opens a live query
 * on a model (`user` by default) and prints one line for each item that enters, changes in or leaves the
 * list.
 *
 *   npm run example:live-feed -- --login admin --password <password> [--url http://localhost:3000]
 *                                 [--model user] [--tenant <slug>] [--filters <json>] [--sort=<keys>]
 *
 *   --filters '{"severity":"serious"}'   the filters of `find` (docs/protocol.md), as JSON
 *   --sort=-createdAt,title              sort keys, comma-separated (`=` because the value starts with `-`)
 *
 * Output:
 *
 *   ready 4 items (alert, logged in as coord)
 *   added 5 {"id":5,"title":"Out of beer",…}
 *   changed 5 severity,updatedAt {"id":5,"title":"Out of beer","severity":"done",…}
 *   removed 5 {"id":5,…}               (the item as it was last seen)
 *
 * Why differences of the list rather than the raw `model:<name>` events: what an operator watches is the
 * list `find` would give now — with its filters, for this user — and the lines say how that list changes.
 * Consecutive lists from `live.subscribe` are compared by id, so an event that leaves the list as it was
 * prints nothing, and after a reconnection (the live query reads the list again) only what changed while
 * the feed was away is printed, never the whole list again. The raw events stay one listener away:
 * `client.socket?.on('model:alert', (event) => …)`.
 *
 * The client refreshes its token before it expires, so the feed runs for as long as the session lasts; it
 * stops when the session is revoked or expires. A dropped connection is retried by socket.io.
 */
import { parseArgs } from 'node:util';
import { createClient, type FluxClient, FluxError, type ModelName } from '../client/src/index.js';

const usage =
  'usage: live-feed --login <login> --password <password> [--url URL] [--model user] [--tenant slug]\n' +
  '                 [--filters <json>] [--sort=<key,-key>]\n';

function parseCli() {
  try {
    return parseArgs({
      options: {
        url: { type: 'string', default: 'http://localhost:3000' },
        login: { type: 'string' },
        password: { type: 'string' },
        model: { type: 'string', default: 'user' },
        tenant: { type: 'string' },
        filters: { type: 'string' },
        sort: { type: 'string' },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

const values = parseCli();
if (!values.login || !values.password) {
  process.stderr.write(usage);
  process.exit(2);
}
const login = values.login;
const model = values.model as ModelName; // the server answers 404 for a model it does not have

type LiveParams = NonNullable<Parameters<typeof FluxClient.prototype.live<ModelName>>[1]>;
const params: LiveParams = {};
if (values.filters) {
  try {
    params.filters = JSON.parse(values.filters) as LiveParams['filters'];
  } catch (error) {
    process.stderr.write(`--filters is not JSON: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}
if (values.sort) {
  const keys = values.sort.split(',').filter(Boolean) as Array<Extract<LiveParams['sort'], string>>;
  params.sort = keys.length === 1 ? keys[0] : keys;
}

const print = (line: string) => process.stdout.write(`${line}\n`);
const describe = (error: unknown) =>
  error instanceof FluxError ? `${error.status} ${error.code}: ${error.message}` : String(error);

const client = createClient({ url: values.url, tenant: values.tenant });

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  client.close();
  process.exit(1);
}

/** Waits for the first connection; fails at the first refusal instead of retrying forever. */
function firstConnection(): Promise<void> {
  const socket = client.socket!;
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      socket.off('connect', onConnect);
      reject(error);
    };
    const onConnect = () => {
      socket.off('connect_error', onError);
      resolve();
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

/** What is printed of an item, and what is compared between two lists. */
const json = (item: unknown) => JSON.stringify(item);

/** The attributes whose values differ between two versions of an item. */
function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => json(before[key]) !== json(after[key]));
}

async function main(): Promise<void> {
  await firstConnection().catch((error: Error) => fail(`cannot connect to ${values.url}: ${error.message}`));
  // over the connected socket: the login binds it, so the feed follows the session (its end included)
  await client.login(login, values.password!).catch((error) => fail(`login failed: ${describe(error)}`));
  client.on('auth', ({ type }) => {
    if (type !== 'revoked' && type !== 'expired') return;
    print(`session ${type}: the feed stops`);
    client.close();
    process.exit(1);
  });

  const live = client.live(model, params);
  await live.ready.catch((error) => fail(`cannot read ${model}: ${describe(error)}`));
  let previous = new Map(live.items.map((item) => [item.id, item as Record<string, unknown>]));
  print(`ready ${previous.size} items (${model}, logged in as ${login})`);

  live.subscribe((items) => {
    if (!client.token) return; // the session ended (the list empties): the `auth` listener reports it
    const current = new Map(items.map((item) => [item.id, item as Record<string, unknown>]));
    for (const [id, item] of current) {
      const before = previous.get(id);
      if (!before) print(`added ${id} ${json(item)}`);
      else if (json(before) !== json(item))
        print(`changed ${id} ${changedKeys(before, item).join(',')} ${json(item)}`);
    }
    for (const [id, item] of previous) if (!current.has(id)) print(`removed ${id} ${json(item)}`);
    previous = current;
  });

  let lost = false;
  client.socket!.on('disconnect', (reason) => {
    if (reason === 'io client disconnect') return; // our own close()
    if (reason === 'io server disconnect') fail('the server closed the connection'); // not retried
    lost = true;
    print(`disconnected (${reason}), reconnecting`);
  });
  client.socket!.on('connect', () => {
    if (lost) print('reconnected');
    lost = false;
  });

  const stop = () => {
    live.close();
    client.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main();
