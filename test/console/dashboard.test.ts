import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BROWSER_TEST_TIMEOUT_MS,
  chromiumPath,
  launchBrowser,
  openConsole,
  screenshot,
  signIn,
  startConsoleServer,
} from '../helpers/browser.js';
import { connectClient, httpTransport, socketTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, createTenant, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';

/** The `data-value` of the dashboard's figure `stat` (the first one matching `extra`, if given); NaN if none. */
async function figure(page: Page, selector: string): Promise<number> {
  const found = page.locator(selector).first();
  if (!(await found.count())) return Number.NaN;
  return Number(await found.getAttribute('data-value'));
}

/** How many samples the chart of panel `chart` holds. */
async function points(page: Page, chart: string): Promise<number> {
  return Number(await page.locator(`[data-chart="${chart}"] .chart`).getAttribute('data-points'));
}

/** Resolves when `holds` does, read from the page every 100 ms; fails after 15 s saying `what`. */
async function until(what: string, holds: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await holds())) {
    if (Date.now() - started > 15_000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!chromiumPath)('the dashboard in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let server: TestServer;
  let browser: Browser;
  let admin: Transport;
  let bar: { teamId: number; userId: number };
  const opened: Transport[] = [];

  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await launchBrowser();
    admin = httpTransport(server.url, await adminLogin(server.url));
    bar = await createTeamWithUser(
      admin,
      { name: 'Bar North', role: 'bar' },
      { login: 'bar1', password: 'password-bar' },
    );
    await createTeamWithUser(
      admin,
      { name: 'Logistics', role: 'logistics' },
      { login: 'log1', password: 'password-log' },
    );
  });
  afterAll(async () => {
    for (const transport of opened) transport.close();
    await browser?.close();
    await server?.stop();
  });

  it('When requests are sent and a team opens sockets, then the figures and the charts move live', async () => {
    const { context, page, errors } = await openConsole(browser, server);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.locator('[data-stat="sockets"]').waitFor();
    expect(await page.locator('[data-stat="scope"]').getAttribute('data-value')).toBe('platform');
    // every panel is a chart in the platform's view
    expect(await page.locator('[data-platform-only]').count()).toBe(0);
    expect(await page.locator('[data-chart] .chart canvas').count()).toBeGreaterThanOrEqual(5);

    // the console's own requests (sign-in, /auth/me, /stats) leave the window: nothing to see yet
    await until('no request in the window', async () => (await figure(page, '[data-stat="requests"]')) === 0);
    expect(await page.locator(`[data-stat="team-sockets"][data-team-id="${bar.teamId}"]`).count()).toBe(0);
    const before = await points(page, 'sockets');

    // traffic: three sockets of Bar North's user, requests over HTTP and over sockets
    const barToken = await login(server.url, 'bar1', 'password-bar');
    const sockets: Transport[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = socketTransport(await connectClient(server.url));
      expectStatus(
        await socket.request('POST', '/auth/login', { login: 'bar1', password: 'password-bar' }),
        200,
      );
      sockets.push(socket);
      opened.push(socket);
    }
    const overHttp = httpTransport(server.url, barToken);
    opened.push(overHttp);
    for (let i = 0; i < 12; i++) {
      expectStatus(await overHttp.request('GET', '/auth/me'), 200);
      expectStatus(await sockets[i % 3]!.request('GET', '/alert'), 200);
    }

    const barSockets = `[data-stat="team-sockets"][data-team-id="${bar.teamId}"]`;
    await until("Bar North's three sockets", async () => (await figure(page, barSockets)) === 3);
    await until('the HTTP requests', async () => (await figure(page, '[data-stat="http-rate"]')) > 0);
    await until('the socket requests', async () => (await figure(page, '[data-stat="socket-rate"]')) > 0);
    expect(await figure(page, '[data-stat="requests"]')).toBeGreaterThan(0);
    expect(await page.locator(barSockets).textContent()).toContain('Bar North');
    // the admin's socket and Bar North's three at least
    expect(await figure(page, '[data-stat="authenticated"]')).toBeGreaterThanOrEqual(4);
    expect(await figure(page, '[data-stat="instances"]')).toBe(1);
    // the charts keep the history: more samples than when the traffic began, in every chart
    for (const chart of ['sockets', 'rates', 'latency', 'jobs', 'db'])
      await until(`the ${chart} chart to grow`, async () => (await points(page, chart)) > before + 5);
    expect(await page.locator('[data-stat="no-data"]').count()).toBe(0);
    await screenshot(page, 'dashboard');
    // dark mode: the charts are drawn again in its colours, with the samples they had
    const samples = await points(page, 'latency');
    await page.emulateMedia({ colorScheme: 'dark' });
    await until('the dark charts', async () => (await points(page, 'latency')) > samples);
    await screenshot(page, 'dashboard-dark');

    // a chart follows the width of its panel when the window changes (one column instead of three)
    const width = async (selector: string) => (await page.locator(selector).first().boundingBox())!.width;
    const wide = await width('[data-chart="rates"] canvas');
    await page.setViewportSize({ width: 700, height: 800 });
    await until('the chart to follow its panel', async () => {
      const chart = await width('[data-chart="rates"] canvas');
      return chart !== wide && Math.abs(chart - (await width('[data-chart="rates"] .chart'))) <= 1;
    });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('When the socket stops receiving stats, then the dashboard says for how long there has been no data', async () => {
    const { context, page, errors } = await openConsole(browser, server);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto('/console/dashboard');
    await page.locator('[data-stat="sockets"]').waitFor();
    await until('a few samples', async () => (await points(page, 'sockets')) > 3);
    await context.setOffline(true);
    await page.locator('[data-stat="no-data"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('[data-stat="no-data"]').textContent()).toMatch(/No data for \d+ s/);
    await context.setOffline(false);
    await page.locator('[data-stat="no-data"]').waitFor({ state: 'detached', timeout: 15_000 });
    expect(errors).toEqual([]);
    await context.close();
  });

  it("When an event's admin signs in, then the operator's figures are panels that say 'platform only', and its own figures move", async () => {
    await createTenant(admin, { name: 'Summer Fest', slug: 'summer', adminPassword: 'password-summer' });
    const { context, page, errors } = await openConsole(browser, server, { width: 390, height: 844 });
    // another event than the page's: the console opens another client, whose socket connects while the
    // login goes over HTTP (held here, so that the socket is surely connected, anonymous, before it ends)
    await page.route('**/auth/login', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await route.continue();
    });
    await signIn(page, 'admin', 'password-summer', 'summer');
    // through the link, not a reload: a reload would connect a new socket with the token
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.locator('[data-stat="sockets"]').waitFor();
    expect(await page.locator('[data-stat="scope"]').getAttribute('data-value')).toBe('tenant');
    for (const chart of ['rates', 'jobs', 'db'])
      expect(await page.locator(`[data-chart="${chart}"][data-platform-only]`).textContent()).toContain(
        'Platform only',
      );
    expect(await page.locator('[data-stat="requests"]').count()).toBe(0);
    // the stats events reach the socket (not only the first GET /stats): the charts grow
    await until('the stats events', async () => (await points(page, 'latency')) > 5);
    await screenshot(page, 'dashboard-event-phone');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('When a user without stats/read signs in, then there is no Dashboard link and the page shows none of the figures', async () => {
    const { context, page, errors } = await openConsole(browser, server);
    await signIn(page, 'bar1', 'password-bar');
    await page.getByRole('link', { name: 'Alerts' }).waitFor();
    expect(await page.getByRole('link', { name: 'Dashboard' }).count()).toBe(0);
    await page.goto('/console/dashboard');
    await page.getByText('does not include the statistics').waitFor();
    expect(await page.locator('[data-stat], [data-chart]').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});
