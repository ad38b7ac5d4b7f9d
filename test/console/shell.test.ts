import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BROWSER_TEST_TIMEOUT_MS,
  chromiumPath,
  launchBrowser,
  openConsole,
  PHONE,
  signIn,
  startConsoleServer,
} from '../helpers/browser.js';
import { httpTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';

/**
 * The console's shell in Chromium (console/src/App.tsx, state.ts, pages/SignIn.tsx, docs/console.md):
 * signing in by password, by the device's address and into another event; staying signed in across a
 * reload; the keyboard alone; what the header says about the connection; what a team is offered.
 */
describe.skipIf(!chromiumPath)('the console shell', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let server: TestServer;
  let browser: Browser;
  let admin: Transport;

  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await launchBrowser();
    admin = httpTransport(server.url, await adminLogin(server.url));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const header = (page: Page) => page.getByRole('banner');

  it('When the password is wrong, then the form says so and stays; the right one signs in, and a reload stays signed in', async () => {
    const { context, page, errors } = await openConsole(browser, server);
    await page.getByLabel('Login').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/login or password/i);
    expect(await page.getByRole('banner').count()).toBe(0);

    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('[data-connection="live"]').waitFor();
    expect(await header(page).textContent()).toContain('Administrator');
    await page.reload();
    await page.locator('[data-connection="live"]').waitFor();
    expect(await header(page).textContent()).toContain('Administrator');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('When /auth/me cannot be read as the page starts, then the console says so and goes on by itself once it can', async () => {
    const { context, page } = await openConsole(browser, server, PHONE);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    // the server unreachable as the tablet starts again (a reload: the token is stored): /auth/me over HTTP,
    // and the socket over which it would otherwise go
    let down = true;
    const held: WebSocketRoute[] = [];
    await page.route('**/auth/me', (route) => (down ? route.abort('connectionrefused') : route.continue()));
    await page.routeWebSocket(/\/socket\.io\//, (ws) => (down ? held.push(ws) : ws.connectToServer()));
    await page.reload();
    const notice = page.getByRole('alert');
    await notice.getByRole('heading', { name: 'Not connected yet' }).waitFor();
    expect(await notice.textContent()).toMatch(/cannot be reached/);
    down = false;
    for (const ws of held) ws.connectToServer();
    // no click: the next attempt (1 s, then 2 s…) or the socket's connection reads it
    await page.locator('[data-connection="live"]').waitFor({ timeout: 15_000 });
    expect(await header(page).textContent()).toContain('Administrator');
    await context.close();
  });

  it('When another tab of the browser signs in as someone else, then this tab follows the new user rather than act as them under the old name', async () => {
    await createTeamWithUser(
      admin,
      { name: 'Bar west', role: 'bar' },
      { login: 'bar-west', password: 'bar-west-pw-1' },
    );
    const { context, page: first } = await openConsole(browser, server);
    await signIn(first, 'admin', ADMIN_PASSWORD);
    expect(await header(first).textContent()).toContain('Administrator');
    // a second tab: the same browser, so the same localStorage and token
    const second = await context.newPage();
    await second.goto('/console/');
    await second.getByRole('button', { name: 'Sign out' }).click();
    await signIn(second, 'bar-west', 'bar-west-pw-1');
    await header(first).filter({ hasText: 'bar-west' }).waitFor();
    expect(await header(first).textContent()).not.toContain('Administrator');
    await context.close();
  });

  it('When the tablet signs in by its address, then it is the user registered for that address', async () => {
    const { userId } = await createTeamWithUser(
      admin,
      { name: 'Bar by the stage', role: 'bar' },
      { login: 'stage-tablet', password: 'tablet-password-1' },
    );
    expectStatus(
      await admin.request('PATCH', `/user/${userId}`, { name: 'Stage tablet', ip: '127.0.0.1' }),
      200,
    );
    const { context, page } = await openConsole(browser, server, PHONE);
    try {
      await page.getByRole('button', { name: 'Sign in as this device' }).click();
      await page.locator('[data-connection="live"]').waitFor();
      expect(await header(page).textContent()).toContain('Stage tablet');
    } finally {
      expectStatus(await admin.request('PATCH', `/user/${userId}`, { ip: null }), 200);
      await context.close();
    }
  });

  it('When a user signs in to another event, then the console is that event’s, and the login is looked up in the event named', async () => {
    expectStatus(
      await admin.request('POST', '/tenant', {
        name: 'Summer Festival',
        slug: 'summerfest',
        admin: { login: 'festival-admin', password: 'festival-password-1' },
      }),
      201,
    );
    const { context, page } = await openConsole(browser, server);
    await signIn(page, 'festival-admin', 'festival-password-1', 'summerfest');
    expect(await page.locator('.brand').textContent()).toBe('Summer Festival');
    // the same login does not exist in the default event: the event field decides where it is looked up
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Login').fill('festival-admin');
    await page.getByLabel('Password').fill('festival-password-1');
    await page.getByLabel('Event').fill('');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    await context.close();
  });

  it('When only the keyboard is used, then the sign-in form and the navigation work', async () => {
    const { context, page } = await openConsole(browser, server);
    await page.getByLabel('Login').focus();
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.locator('[data-connection="live"]').waitFor();
    // the first Tab reaches the skip link, then the pages of the navigation in order
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Alerts');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/chat$/);
    await context.close();
  });

  it('When the socket is lost, then the header says reconnecting, offline without a network, and live again once it is back', async () => {
    const { context, page } = await openConsole(browser, server);
    // every socket of the page goes through this route: closing it is a lost connection
    let refuse = false;
    const open: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      if (refuse) return void ws.close();
      ws.connectToServer();
      open.push(ws);
    });
    await page.reload();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const badge = page.locator('.connection');

    refuse = true;
    for (const ws of open.splice(0)) await ws.close();
    await page.locator('[data-connection="reconnecting"]').waitFor();
    expect(await badge.textContent()).toBe('Reconnecting…');

    await context.setOffline(true);
    await page.locator('[data-connection="offline"]').waitFor();
    expect(await badge.textContent()).toBe('Offline');

    refuse = false;
    await context.setOffline(false);
    // socket.io's next attempt (its backoff grows to 5 s) reconnects
    await page.locator('[data-connection="live"]').waitFor({ timeout: 15_000 });
    await context.close();
  });

  it('When a team’s role changes while a page without live lists is open, then the pages offered follow without a reload', async () => {
    const { teamId } = await createTeamWithUser(
      admin,
      { name: 'Bar east', role: 'bar' },
      { login: 'bar-east', password: 'bar-east-pw-1' },
    );
    const { context, page } = await openConsole(browser, server);
    await signIn(page, 'bar-east', 'bar-east-pw-1');
    await page.goto('/console/admin/teams');
    await page.getByText('Your team has no administration permission.').waitFor();
    const nav = page.getByRole('navigation', { name: 'Pages' });
    expect(await nav.getByRole('link').allTextContents()).not.toContain('Admin');
    await page.evaluate(() => {
      (globalThis as unknown as { __marker: number }).__marker = 7;
    });

    expectStatus(await admin.request('PATCH', `/team/${teamId}`, { role: 'admin' }), 200);
    await nav.getByRole('link', { name: 'Admin' }).waitFor();
    await page.getByRole('heading', { name: 'Teams' }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { __marker?: number }).__marker)).toBe(7);

    expectStatus(await admin.request('PATCH', `/team/${teamId}`, { role: 'bar' }), 200);
    await page.getByText('Your team has no administration permission.').waitFor();
    await context.close();
  });

  it('When a team may only raise alerts, then it is offered the alert board and nothing of the administration', async () => {
    await createTeamWithUser(
      admin,
      { name: 'Bar north', role: 'bar' },
      { login: 'bar-north', password: 'bar-north-pw-1' },
    );
    const { context, page } = await openConsole(browser, server, PHONE);
    await signIn(page, 'bar-north', 'bar-north-pw-1');
    const links = await page.getByRole('navigation', { name: 'Pages' }).getByRole('link').allTextContents();
    expect(links).toContain('Alerts');
    expect(links).not.toContain('Dashboard');
    expect(links).not.toContain('Teams');
    await context.close();
  });
});
