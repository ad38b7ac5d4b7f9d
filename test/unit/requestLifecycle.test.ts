import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requestLifecycle } from '../../lib/middlewares/requestLifecycle.js';
import { injectVirtualRequest, parseVirtualRequest } from '../../lib/socket/virtualRequest.js';

/** Counts requests in flight like Flux does for its graceful stop, and records how each one ended. */
function countingApp() {
  const state = { inFlight: 0, ended: [] as Array<number | undefined> };
  const app = express();
  app.use(
    requestLifecycle({
      started: () => {
        state.inFlight++;
      },
      ended: (_req, _res, seconds) => {
        state.inFlight--;
        state.ended.push(seconds);
      },
    }),
  );
  app.get('/slow', (_req, res) => {
    setTimeout(() => res.json({ slow: true }), 150);
  });
  app.get('/fast', (_req, res) => {
    res.json({ fast: true });
  });
  return { app, state };
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function listen(app: express.Express): Promise<number> {
  server = createServer(app);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('requestLifecycle', () => {
  it('ends every request once, answered or not, over HTTP and virtual requests', async () => {
    const { app, state } = countingApp();
    const port = await listen(app);
    expect((await fetch(`http://127.0.0.1:${port}/fast`)).status).toBe(200);
    await injectVirtualRequest(app, parseVirtualRequest({ method: 'GET', url: '/fast' }), {
      socketId: 's',
      remoteAddress: '127.0.0.1',
      properties: { isSocket: true },
    });
    await vi.waitUntil(() => state.ended.length === 2);
    expect(state.inFlight).toBe(0);
    expect(state.ended.every((seconds) => typeof seconds === 'number' && seconds >= 0)).toBe(true);
  });

  it('ends a pipelined request whose connection closed while it waited for its turn', async () => {
    const { app, state } = countingApp();
    const port = await listen(app);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // two requests in one write: the second is queued behind the slow first one
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitUntil(() => state.inFlight === 2);
    socket.destroy();
    await vi.waitUntil(() => state.ended.length === 2, { timeout: 2000 });
    expect(state.inFlight).toBe(0);
    // the slow one was cut off before it answered: no duration to record
    expect(state.ended).toContain(undefined);
  });
});
