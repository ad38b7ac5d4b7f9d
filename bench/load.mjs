// The load generator of `npm run bench`, always in a process of its own so that the server under test
// has the CPU it measures to itself. One JSON argument says what to do; it prints `mark <name>` lines
// when the orchestrator should sample the server, and a last line `result <json>`.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';
import { io } from 'socket.io-client';

// `--serve` (bench/loadProcess.ts): one JSON job per line on stdin, `http` and `socket` jobs only, run one
// after the other; a failed job prints `failed <message>` and ends the process (the next job gets a new one)
const serving = isMainThread && process.argv[2] === '--serve';
let job = serving ? undefined : isMainThread ? JSON.parse(process.argv[2]) : workerData;
const mark = (name) => process.stdout.write(`mark ${name}\n`);
const done = (result) => {
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  if (!serving) process.exit(0);
};

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function connect(url, auth) {
  const socket = io(url, { transports: ['websocket'], auth, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const emit = (socket, ...args) =>
  new Promise((resolve) => {
    socket.emit(...args, (...reply) => resolve(reply));
  });

/** One socket operation of each kind of server, resolving with true when it succeeded. */
function operation(kind, op) {
  if (kind === 'flux' || kind === 'bare') {
    return async (socket) => {
      const [reply] = await emit(socket, 'request', op.payload);
      return reply.statusCode < 300;
    };
  }
  // Feathers' socket protocol: (method, path, ...args, callback) with (error, result)
  return async (socket) => {
    const [error] = await emit(socket, op.method, 'messages', ...op.args);
    return !error;
  };
}

async function httpJob() {
  mark('start');
  const result = await autocannon({
    url: job.url,
    method: job.method,
    headers: { authorization: `Bearer ${job.token}`, 'content-type': 'application/json' },
    body: job.body ? JSON.stringify(job.body) : undefined,
    connections: job.connections ?? 10,
    // a fixed rate (requests/s in all) instead of as fast as the server answers
    ...(job.rate ? { overallRate: job.rate } : {}),
    duration: job.seconds,
  });
  mark('end');
  done({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  });
}

async function socketJob() {
  const sockets = [];
  for (let i = 0; i < (job.sockets ?? 4); i++) {
    const socket = await connect(job.url, job.kind === 'flux' ? { token: job.token } : undefined);
    if (job.kind === 'feathers')
      await emit(socket, 'create', 'authentication', { strategy: 'jwt', accessToken: job.token }, {});
    sockets.push(socket);
  }
  const run = operation(job.kind, job.op);
  const latencies = [];
  let errors = 0;
  const until = Date.now() + job.seconds * 1000;
  mark('start');
  // with job.rate, each of the workers sends its share of the rate, one request every 1000 × workers /
  // rate ms, whatever the previous one's latency (as long as it is below that period)
  const workers = sockets.length * (job.inFlight ?? 8);
  const period = job.rate ? (1000 * workers) / job.rate : 0;
  const worker = async (socket, index) => {
    let next = Date.now() + (period * index) / workers;
    while (Date.now() < until) {
      if (period) {
        if (next > Date.now()) await new Promise((r) => setTimeout(r, next - Date.now()));
        next += period;
      }
      const started = process.hrtime.bigint();
      if (!(await run(socket))) errors++;
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  await Promise.all(
    sockets.flatMap((socket, s) =>
      Array.from({ length: job.inFlight ?? 8 }, (_, i) => worker(socket, s * (job.inFlight ?? 8) + i)),
    ),
  );
  mark('end');
  latencies.sort((a, b) => a - b);
  for (const socket of sockets) socket.close();
  done({
    requests: latencies.length,
    rps: latencies.length / job.seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  });
}

/** Connects `count` sockets authenticated with `token`, each subscribed to messages. */
async function subscribers(count, token, onEvent) {
  const sockets = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const socket = await connect(job.url, { token });
        if (onEvent) socket.on('model:message', onEvent);
        const [reply] = await emit(socket, 'request', { method: 'POST', url: '/message/subscribe' });
        if (reply.statusCode !== 200) throw new Error(`subscribe: ${JSON.stringify(reply)}`);
        return socket;
      }),
    );
    sockets.push(...batch);
  }
  return sockets;
}

/** Writes a message as `job.writerToken`, on `job.writeUrl` (one instance of several) or `job.url`. */
async function post(text) {
  const response = await fetch(`${job.writeUrl ?? job.url}/message`, {
    method: 'POST',
    headers: { authorization: `Bearer ${job.writerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: job.channel, text }),
  });
  if (response.status !== 201) throw new Error(`write: ${response.status}`);
}

/**
 * The subscribers of a fan-out job, in a worker thread: a client process handles one socket.io message at a
 * time, and 500 receipts per write would queue behind each other there, so the receivers are spread over
 * `job.threads` threads (latency is `Date.now()` at receipt minus the writer's `Date.now()`, one clock).
 */
async function fanoutSubscribers() {
  const latencies = [];
  let nonReaderDeliveries = 0;
  const readers = await subscribers(job.readers, job.readerToken, (event) => {
    if (event.verb !== 'created') return;
    const { t, warmUp } = JSON.parse(event.data.text);
    if (!warmUp) latencies.push(Date.now() - t);
  });
  const others = await subscribers(job.nonReaders, job.nonReaderToken, () => {
    nonReaderDeliveries++;
  });
  parentPort.postMessage({ ready: true });
  parentPort.once('message', () => {
    for (const socket of [...readers, ...others]) socket.close();
    parentPort.postMessage({ latencies, nonReaderDeliveries });
  });
}

async function fanoutJob() {
  const threads = job.threads ?? 2;
  const share = (total, i) => Math.floor(total / threads) + (i < total % threads ? 1 : 0);
  const workers = Array.from(
    { length: threads },
    (_, i) =>
      new Worker(new URL(import.meta.url), {
        workerData: {
          ...job,
          mode: 'fanoutSubscribers',
          readers: share(job.readers, i),
          nonReaders: share(job.nonReaders, i),
        },
      }),
  );
  const next = (worker) =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  await Promise.all(workers.map(next));
  /** `count` writes at `job.rate` per second. */
  const write = async (count, warmUp) => {
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / job.rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      post(JSON.stringify({ t: Date.now(), i, warmUp })).catch((err) =>
        process.stderr.write(`${err.message}\n`),
      );
    }
  };
  // Warm-up, not measured: the writer's first HTTP connection, and the first runs of every code path
  // (V8 compiles hot functions after some calls) cost tens of ms that a running server does not pay.
  await write(Math.ceil(job.rate * (job.warmUpSeconds ?? 1)), true);
  await new Promise((r) => setTimeout(r, 500));
  mark('start');
  const startedAt = Date.now();
  const cpuAtStart = process.cpuUsage(); // the whole process: its receiving threads too
  const writes = job.rate * job.seconds;
  await write(writes, false);
  await new Promise((r) => setTimeout(r, 2000));
  const { user, system } = process.cpuUsage(cpuAtStart);
  const measuredMs = Date.now() - startedAt;
  const loadCores = (user + system) / 1000 / measuredMs;
  mark('end');
  const reports = await Promise.all(
    workers.map((worker) => {
      const report = next(worker);
      worker.postMessage('report');
      return report;
    }),
  );
  const latencies = reports.flatMap((report) => report.latencies).sort((a, b) => a - b);
  const nonReaderDeliveries = reports.reduce((sum, report) => sum + report.nonReaderDeliveries, 0);
  const expected = writes * job.readers;
  done({
    writes,
    expected,
    delivered: latencies.length,
    lost: expected - latencies.length,
    deliveriesPerSecond: expected / job.seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? 0,
    nonReaderDeliveries,
    measuredMs,
    loadCores: Math.round(loadCores * 100) / 100,
  });
}

async function memoryJob() {
  mark('baseline');
  await new Promise((r) => setTimeout(r, 1000)); // the server measures itself before the sockets come
  const sockets = [];
  for (let i = 0; i < job.count; i += 100) {
    sockets.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, job.count - i) }, () => connect(job.url, { token: job.token })),
      )),
    );
  }
  await new Promise((r) => setTimeout(r, 3000));
  mark('connected');
  await new Promise((r) => setTimeout(r, 2000)); // …and while they are all there
  for (const socket of sockets) socket.close();
  done({ sockets: sockets.length });
}

async function publishJob() {
  const others = await subscribers(job.nonReaders, job.nonReaderToken, null);
  for (let i = 0; i < 20; i++) await post(JSON.stringify({ t: Date.now(), i })); // warm-up
  mark('start');
  for (let i = 0; i < job.writes; i++) await post(JSON.stringify({ t: Date.now(), i }));
  mark('end');
  for (const socket of others) socket.close();
  done({ writes: job.writes, subscribers: others.length });
}

/** One request of the abuse catalogue over HTTP (`?data=` for GET, JSON or multipart otherwise). */
async function httpAttack(attack) {
  const headers = attack.token ? { authorization: `Bearer ${attack.token}` } : {};
  let url = `${job.url}${attack.url}`;
  let body;
  if (attack.method === 'GET' && attack.data)
    url += `?data=${encodeURIComponent(JSON.stringify(attack.data))}`;
  else if (attack.uploadFile) {
    body = new FormData();
    body.append('avatar', new Blob([readFileSync(attack.uploadFile)], { type: 'image/png' }), 'avatar.png');
  } else if (attack.data) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(attack.data);
  }
  const response = await fetch(url, { method: attack.method, headers, body });
  await response.arrayBuffer();
  return response.status;
}

/**
 * The abuse job: `job.attackers` loops send the adversarial request `job.attack` at once (over HTTP, or
 * over one socket with that many in flight) for `job.seconds`, while a prober sends the unrelated request
 * `job.probe` every `job.probeEveryMs` and times it. Without `job.attack`, the prober alone (baseline).
 */
async function abuseJob() {
  const attack = job.attack;
  const socket = attack?.transport === 'socket' ? await connect(job.url, { token: attack.token }) : undefined;
  const send = socket
    ? async () => {
        const [reply] = await emit(socket, 'request', {
          method: attack.method,
          url: attack.url,
          data: attack.data,
        });
        return reply.statusCode;
      }
    : () => httpAttack(attack);
  const statuses = {};
  const attackLatencies = [];
  if (attack) {
    const status = await send(); // warm-up, and what the request answers
    statuses[`warm-up ${status}`] = 1;
  }
  const probeLatencies = [];
  let probeErrors = 0;
  const until = Date.now() + job.seconds * 1000;
  mark('start');
  const attacker = async () => {
    while (Date.now() < until) {
      const started = process.hrtime.bigint();
      const status = await send().catch(() => 'error');
      attackLatencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  const prober = async () => {
    while (Date.now() < until) {
      const started = process.hrtime.bigint();
      const response = await fetch(`${job.url}${job.probe.url}`, {
        headers: { authorization: `Bearer ${job.probe.token}` },
      }).catch(() => undefined);
      if (response) await response.arrayBuffer();
      if (response?.status !== 200) probeErrors++;
      probeLatencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      await new Promise((r) => setTimeout(r, job.probeEveryMs ?? 20));
    }
  };
  await Promise.all([prober(), ...(attack ? Array.from({ length: job.attackers ?? 4 }, attacker) : [])]);
  mark('end');
  socket?.close();
  attackLatencies.sort((a, b) => a - b);
  probeLatencies.sort((a, b) => a - b);
  done({
    attacks: attackLatencies.length,
    statuses,
    attackP50: percentile(attackLatencies, 50),
    attackMax: attackLatencies.at(-1) ?? 0,
    probes: probeLatencies.length,
    probeP50: percentile(probeLatencies, 50),
    probeP99: percentile(probeLatencies, 99),
    probeMax: probeLatencies.at(-1) ?? 0,
    probeErrors,
  });
}

const jobs = {
  abuse: abuseJob,
  http: httpJob,
  socket: socketJob,
  fanout: fanoutJob,
  fanoutSubscribers,
  memory: memoryJob,
  publish: publishJob,
};
if (serving) {
  for await (const line of createInterface({ input: process.stdin })) {
    job = JSON.parse(line);
    try {
      if (job.mode !== 'http' && job.mode !== 'socket')
        throw new Error(`--serve runs http and socket jobs, not ${job.mode}`);
      await jobs[job.mode]();
    } catch (err) {
      // and end: what the failed job left (sockets, workers still sending) must not load the next phase
      process.stderr.write(`load: ${err.stack}\n`);
      process.stdout.write(`failed ${JSON.stringify(err.message)}\n`);
      process.exit(1);
    }
  }
  process.exit(0);
} else
  jobs[job.mode]().catch((err) => {
    process.stderr.write(`load: ${err.stack}\n`);
    process.exit(1);
  });
