/**
 * The console part of `npm run bench` (`BENCH_ONLY=console`; also alone: `npx tsx bench/console.ts`): how
 * long an alert raised on the bar's tablet takes to appear on the coordination desk's open board, in
 * Chromium (Debian's, as the browser tests: test/helpers/browser.ts; skipped without it).
 *
 * The console is built from the sources (Vite) into a temporary folder and served by a Flux started in
 * this process on a fresh SQLite database (test/helpers/server.ts), with a Coordination team and a bar
 * whose button "Out of beer" (no message asked) sends to it. Two browser contexts, as two devices: the
 * tablet (phone viewport, the bar's user) and the desk (desk viewport, a coord user), both signed in on
 * `/console/board`. Each round the tablet presses the button; the latency runs from the press (the
 * button's `pointerdown`, read with `Date.now()` in the tablet's page) to the first animation frame after
 * the new alert's row is in the desk's page (a `MutationObserver`, then `requestAnimationFrame`, read with
 * `Date.now()` there): the request over the tablet's socket, the insert, the publish, the desk's live
 * query and its render. Both pages read the same system clock. The board's open alerts grow by one per
 * round. BENCH_CONSOLE_ROUNDS rounds (default 9) after 2 of warm-up: median and min–max, in ms.
 *
 * Prints a `result {…}` line on stdout for bench/run.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { chromiumPath, DESK, launchBrowser, PHONE } from '../test/helpers/browser.js';
import { ADMIN_PASSWORD, startTestServer } from '../test/helpers/server.js';

const ROUNDS = Number(process.env.BENCH_CONSOLE_ROUNDS ?? 9);
const WARMUP = 2;
const PASSWORD = 'bench-console-password';
const root = path.resolve(import.meta.dirname, '..');

/** Sends a request as `token` and answers the JSON body; fails on any status ≥ 400. */
async function call(url: string, token: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(data)}`);
  return data;
}

/** Signs in through the console's form and waits for the board's list. */
async function signIn(page: Page, login: string): Promise<void> {
  await page.goto('/console/board');
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('[data-connection="live"]').waitFor();
  await page.getByRole('heading', { name: 'Alerts', exact: true }).waitFor();
}

/**
 * In the desk's page: `window.__shownAt`, the time of the first frame after a row of an alert it had not
 * seen appeared. Page scripts are strings: tsx would add helpers of its own to a function's source.
 */
const WATCH_ROWS = `(() => {
  const seen = new Set();
  window.__shownAt = null;
  const note = (record) => {
    for (const row of document.querySelectorAll('[data-alert-id]')) {
      const id = row.getAttribute('data-alert-id');
      if (seen.has(id)) continue;
      seen.add(id);
      if (record) requestAnimationFrame(() => { window.__shownAt ??= Date.now(); });
    }
  };
  note(false);
  new MutationObserver(() => note(true)).observe(document.body, { childList: true, subtree: true });
})()`;

/**
 * In the desk's page: waits for `__shownAt` (page.waitForFunction would `eval` a string, which the
 * console's CSP refuses).
 */
const SHOWN_AT = `new Promise((resolve) => {
  const check = () => (window.__shownAt === null ? setTimeout(check, 5) : resolve(window.__shownAt));
  check();
})`;

/** In the tablet's page: `window.__pressedAt`, the time of the last press (before any handler). */
const WATCH_PRESS = `document.addEventListener('pointerdown', () => { window.__pressedAt = Date.now(); }, { capture: true })`;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main(): Promise<unknown> {
  if (!chromiumPath) return { skipped: 'no Chromium (apt-get install chromium, or set CHROMIUM_PATH)' };
  const dir = mkdtempSync(path.join(tmpdir(), 'flux-bench-console-'));
  await build({
    configFile: path.join(root, 'console', 'vite.config.ts'),
    build: { outDir: dir, sourcemap: false },
    logLevel: 'warn',
  });
  const server = await startTestServer({ console: { dir }, log: { level: 'warn' } });
  const browser = await launchBrowser();
  try {
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'admin', password: ADMIN_PASSWORD }),
    });
    const admin = ((await login.json()) as { jwt: string }).jwt;
    const team = async (name: string, role: string, group: string | null, user: string) => {
      const { id } = await call(server.url, admin, 'POST', '/team', { name, role, group });
      await call(server.url, admin, 'POST', '/user', {
        login: user,
        name: user,
        password: PASSWORD,
        teamId: id,
      });
      return id as number;
    };
    const coord = await team('Coordination', 'coord', null, 'desk');
    await team('Bar Nord', 'bar', 'bars', 'barnord');
    await call(server.url, admin, 'POST', '/alertbutton', {
      title: 'Out of beer',
      senderGroup: 'bars',
      receiverTeamId: coord,
    });

    const open = async (viewport: typeof DESK) => {
      const context = await browser.newContext({ viewport, baseURL: server.url });
      context.setDefaultTimeout(10_000);
      return context.newPage();
    };
    const desk = await open(DESK);
    const tablet = await open(PHONE);
    await signIn(desk, 'desk');
    await signIn(tablet, 'barnord');
    const button = tablet.getByRole('button', { name: /Out of beer/ });
    await button.waitFor();

    await desk.evaluate(WATCH_ROWS);
    await tablet.evaluate(WATCH_PRESS);

    const latencies: number[] = [];
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      await desk.evaluate('window.__shownAt = null');
      await button.click();
      const shownAt = await desk.evaluate<number>(SHOWN_AT);
      const pressedAt = await tablet.evaluate<number>('window.__pressedAt');
      if (round >= WARMUP) latencies.push(shownAt - pressedAt);
      // the button is enabled again once the reply is in: the next press is a new one
      await tablet.locator('.raise-button:not([disabled])').first().waitFor();
    }
    const result = {
      rounds: ROUNDS,
      raiseToDeskMs: { median: median(latencies), min: Math.min(...latencies), max: Math.max(...latencies) },
      samplesMs: latencies,
    };
    process.stderr.write(
      `console: raise on the tablet → shown on the desk, median ${result.raiseToDeskMs.median} ms ` +
        `(min ${result.raiseToDeskMs.min}, max ${result.raiseToDeskMs.max}; ${ROUNDS} rounds)\n`,
    );
    return result;
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const result = await main();
process.stdout.write(`result ${JSON.stringify(result)}\n`);
process.exit(0);
