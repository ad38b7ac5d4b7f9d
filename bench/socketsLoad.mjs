// A load process of the sockets part (bench/sockets.ts): @flux/client clients (client/dist, built by
// `npm run client:build`), each with its own socket and one live query, as many as the orchestrator asks.
// Commands on stdin, one per line; answers on stdout as `<command> <json>`:
//   init <json>   {url, tokens: [{token, login}…] (one per client), live: {model, params}}
//   grow <n>      opens clients until n are open, each waiting for its live query's first read
//   mark <t>      a storm starts at t (ms since epoch): counters of reconnections, re-reads and changes restart
//   status        connected sockets, re-reads since the mark, errors
//   check         compares each live query's items with a fresh `find` over HTTP by the same token
//   seen <ids>    when each client's live query first showed one of these ids (after the orchestrator's write)
//   close         closes every client and exits
import { createInterface } from 'node:readline';
import { createClient, memoryStorage } from '../client/dist/index.js';

let job;
const clients = [];
let markAt = 0;
/** Refusals and failures that count as errors of the storm (not socket.io's retries while the server is down). */
const errors = { refused: 0, authEnded: 0, readFailed: 0, liveError: 0, other: [] };
let retries = 0;
/** When each retry of the storm happened and why (socket.io's `connect_error` message), since `mark`. */
let retryLog = [];
const reply = (command, value) => process.stdout.write(`${command} ${JSON.stringify(value)}\n`);
const idsOf = (items) => items.map((item) => item.id).join(',');

function open(index) {
  const { token, login } = job.tokens[index];
  const client = createClient({
    url: job.url,
    storage: memoryStorage(token),
    socket: { forceNew: true },
  });
  const state = {
    index,
    login,
    client,
    live: undefined,
    connects: 0,
    rereads: 0,
    rereadAt: 0,
    changes: 0,
    changedAt: 0,
    addedAt: new Map(),
  };
  client.on('auth', ({ type }) => {
    if (type === 'revoked' || type === 'expired') errors.authEnded++;
  });
  const socket = client.socket;
  socket.on('connect', () => {
    state.connects++;
  });
  socket.on('connect_error', (error) => {
    // a refusal by the server carries its error body; a refused TCP connection (server down) does not
    if (error.data) {
      errors.refused++;
      if (errors.other.length < 5) errors.other.push(JSON.stringify(error.data).slice(0, 200));
    } else {
      retries++;
      if (markAt) retryLog.push([Date.now(), error.message]);
    }
  });
  // the live query's reads (`find` with `subscribe: true`) go through client.request: count the re-reads
  const request = client.request.bind(client);
  client.request = (method, url, data, options) =>
    request(method, url, data, options).then(
      (response) => {
        if (method === 'GET' && data?.subscribe) {
          state.rereads++;
          state.rereadAt = Date.now();
        }
        return response;
      },
      (error) => {
        errors.readFailed++;
        if (errors.other.length < 5) errors.other.push(`${method} ${url}: ${error.status} ${error.code}`);
        throw error;
      },
    );
  state.live = client.live(job.live.model, job.live.params);
  state.live.subscribe((_items, { added }) => {
    const now = Date.now();
    state.changes++;
    state.changedAt = now;
    for (const item of added) if (!state.addedAt.has(item.id)) state.addedAt.set(item.id, now);
  });
  clients.push(state);
  return state.live.ready;
}

async function grow(count) {
  const started = Date.now();
  const target = Math.min(count, job.tokens.length);
  // 50 handshakes and first reads in flight at a time: a crowd of phones opening the app, not a flood
  while (clients.length < target) {
    const batch = [];
    while (clients.length < target && batch.length < 50) batch.push(open(clients.length));
    await Promise.all(batch);
  }
  return { clients: clients.length, seconds: (Date.now() - started) / 1000 };
}

function status() {
  const since = clients.filter((c) => c.rereadAt >= markAt && c.rereads > 0);
  return {
    clients: clients.length,
    connected: clients.filter((c) => c.client.connected).length,
    reconnected: clients.filter((c) => c.connects > 0).length,
    rereadSinceMark: markAt ? since.length : 0,
    retries,
    errors: {
      ...errors,
      liveError: clients.filter((c) => c.live.error).length,
    },
  };
}

/** Each live query's items against a fresh `find` over HTTP by its token (one `find` per token). */
async function check() {
  const fresh = new Map();
  const tokens = [...new Set(clients.map((c) => job.tokens[c.index].token))];
  const params = { ...job.live.params };
  for (let i = 0; i < tokens.length; i += 10) {
    await Promise.all(
      tokens.slice(i, i + 10).map(async (token) => {
        const url = `${job.url}/${job.live.model.toLowerCase()}?data=${encodeURIComponent(JSON.stringify(params))}`;
        // a server still busy with reconnections may leave a new connection in its backlog: try again
        for (let attempt = 1; ; attempt++) {
          try {
            const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
            if (response.status !== 200) throw new Error(`fresh find: ${response.status}`);
            fresh.set(token, idsOf(await response.json()));
            return;
          } catch (error) {
            if (attempt === 5) throw error;
            await new Promise((resolve) => setTimeout(resolve, 2000));
          }
        }
      }),
    );
  }
  let exact = 0;
  const mismatches = [];
  const changedAfterMark = [];
  for (const c of clients) {
    if (idsOf(c.live.items) === fresh.get(job.tokens[c.index].token)) exact++;
    else if (mismatches.length < 3)
      mismatches.push({
        login: c.login,
        items: idsOf(c.live.items),
        fresh: fresh.get(job.tokens[c.index].token),
      });
    if (markAt && c.changedAt >= markAt) changedAfterMark.push(c.changedAt - markAt);
  }
  return { clients: clients.length, exact, mismatches, changedAfterMark, freshFinds: tokens.length };
}

/** For each client, ms from `at` until its live query first showed one of `ids` (null: never). */
function seen(ids, at) {
  return clients.map((c) => {
    const times = ids.map((id) => c.addedAt.get(id)).filter((t) => t !== undefined);
    return times.length ? Math.min(...times) - at : null;
  });
}

const commands = {
  init: (arg) => {
    job = JSON.parse(arg);
    return { clients: job.tokens.length };
  },
  grow: (arg) => grow(Number(arg)),
  mark: (arg) => {
    markAt = Number(arg);
    retries = 0;
    retryLog = [];
    for (const c of clients) c.connects = 0;
    return { markAt };
  },
  status,
  /** The storm's retries from `since` (ms since epoch) on, by socket.io's `connect_error` message. */
  retries: (arg) => {
    const since = Number(arg);
    const byKind = {};
    for (const [at, kind] of retryLog) if (at >= since) byKind[kind] = (byKind[kind] ?? 0) + 1;
    return byKind;
  },
  check,
  seen: (arg) => {
    const { ids, at } = JSON.parse(arg);
    return seen(ids, at);
  },
  close: () => {
    for (const c of clients) c.client.close();
    setTimeout(() => process.exit(0), 100);
    return { closed: clients.length };
  },
};

const input = createInterface({ input: process.stdin });
// the orchestrator is gone: so are its clients
input.on('close', () => process.exit(0));
input.on('line', (line) => {
  const [command, ...rest] = line.split(' ');
  Promise.resolve()
    .then(() => commands[command](rest.join(' ')))
    .then(
      (value) => reply(command, value),
      (error) => reply(command, { error: String(error?.stack ?? error) }),
    );
});
reply('started', { pid: process.pid });
