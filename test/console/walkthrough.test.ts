import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, loadDemoEvent } from '../../api/services/fixtures.js';
import {
  BROWSER_TEST_TIMEOUT_MS,
  chromiumPath,
  DESK,
  launchBrowser,
  openConsole,
  PHONE,
  screenshot,
  signIn,
  startConsoleServer,
} from '../helpers/browser.js';
import type { TestServer } from '../helpers/server.js';

/**
 * The README's walkthrough, in the console, on the demo event (`npm run fixtures`): the coordination desk
 * watches the board, Bar Nord's tablet presses "Out of beer", the desk sees it at once, Logistics (the
 * receiver) acknowledges it on its own board and the desk sees that too. Its screenshots are the README's
 * and docs/console.md's (FLUX_UPDATE_SCREENSHOTS=1).
 */
describe.skipIf(!chromiumPath)(
  'the README walkthrough in the console',
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    let server: TestServer;
    let browser: Browser;

    beforeAll(async () => {
      server = await startConsoleServer();
      await loadDemoEvent('default');
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    });

    it('When Bar Nord presses “Out of beer”, then the desk sees it, Logistics acknowledges it, and the desk sees that', async () => {
      const desk = await openConsole(browser, server, DESK);
      await signIn(desk.page, 'coord', DEMO_PASSWORD);
      await desk.page.locator('[data-alert-id]').first().waitFor();
      const before = await desk.page.locator('[data-alert-id]').count();

      const tablet = await openConsole(browser, server, PHONE);
      await signIn(tablet.page, 'bar-nord', DEMO_PASSWORD);
      await tablet.page.getByRole('button', { name: /Out of beer/ }).click();
      const message = tablet.page.getByRole('dialog').getByLabel('Which beer?');
      await message.fill('4 kegs of stout');
      await tablet.page.getByRole('button', { name: 'Send alert' }).click();
      await tablet.page.getByRole('status').filter({ hasText: 'Sent “Out of beer” to Logistics.' }).waitFor();

      const onDesk = desk.page.locator('[data-alert-id]', { hasText: '4 kegs of stout' });
      await onDesk.waitFor({ timeout: 15_000 });
      expect(await desk.page.locator('[data-alert-id]').count()).toBe(before + 1);
      // newest first
      expect(await desk.page.locator('[data-alert-id]').first().getAttribute('data-alert-id')).toBe(
        await onDesk.getAttribute('data-alert-id'),
      );
      const id = await onDesk.getAttribute('data-alert-id');

      const logistics = await openConsole(browser, server, DESK);
      await signIn(logistics.page, 'logistics', DEMO_PASSWORD);
      const onLogistics = logistics.page.locator(`[data-alert-id="${id}"]`);
      await onLogistics.getByRole('button', { name: 'Acknowledge' }).click();
      await desk.page
        .locator(`[data-alert-id="${id}"][data-acknowledged="true"]`)
        .waitFor({ timeout: 15_000 });
      await tablet.page
        .locator(`[data-alert-id="${id}"][data-acknowledged="true"]`)
        .waitFor({ timeout: 15_000 });

      for (const { page } of [desk, tablet]) await page.emulateMedia({ reducedMotion: 'reduce' });
      await screenshot(desk.page, 'walkthrough-desk');
      await screenshot(tablet.page, 'walkthrough-tablet');
      expect([...desk.errors, ...tablet.errors, ...logistics.errors]).toEqual([]);
      for (const { context } of [desk, tablet, logistics]) await context.close();
    });
  },
);
