import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumPath,
  launchBrowser,
  openConsole,
  screenshot,
  signIn,
  startConsoleServer,
} from '../helpers/browser.js';
import { httpTransport } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';

describe.skipIf(!chromiumPath)('the console in Chromium', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in and shows an alert raised meanwhile without a reload', async () => {
    const { page, errors } = await openConsole(browser, server);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    const admin = httpTransport(server.url, await adminLogin(server.url));
    const alert = expectStatus<{ id: number }>(
      await admin.request('POST', '/alert', { title: 'Glass broken at bar 2', severity: 'warning' }),
      201,
    );
    await page.locator(`[data-alert-id="${alert.id}"]`).waitFor();
    await screenshot(page, 'smoke');
    expect(errors).toEqual([]);
  });
});
