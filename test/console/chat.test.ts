import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { httpTransport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';

/** Types a message into the chat's box and sends it with Enter. */
async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /^Message to/ });
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until the open channel shows a message with exactly `text`. */
function shown(page: Page, text: string) {
  return page.locator('.messages .message .text', { hasText: text }).waitFor();
}

describe.skipIf(!chromiumPath)('the console chat in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
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

  it('When the desk and a bar tablet are in the bar channel, then what one sends appears in the other without a reload', async () => {
    const admin = httpTransport(server.url, await adminLogin(server.url));
    const { teamId } = await createTeamWithUser(
      admin,
      { name: 'Bar 1', role: 'bar', group: 'bars' },
      { login: 'bar1', password: 'bar1-password' },
    );
    const channel = `public:${teamId}`;

    const tablet = await openConsole(browser, server, PHONE);
    await signIn(tablet.page, 'bar1', 'bar1-password');
    const desk = await openConsole(browser, server, DESK);
    await signIn(desk.page, 'admin', ADMIN_PASSWORD);

    // the bar writes in its public channel only, and reads its group's: the first is opened at once
    await tablet.page.goto('/console/chat');
    await tablet.page.locator(`.channels [data-channel="${channel}"][aria-current="page"]`).waitFor();
    expect(
      await tablet.page
        .locator('.channels [data-channel]')
        .evaluateAll((links) => links.map((link) => [link.getAttribute('data-channel'), link.textContent])),
    ).toEqual([
      [channel, '#Bar 1'],
      ['group:bars', '#bars (read only)'],
    ]);
    // the desk (message/admin) sees every channel and picks the bar's
    await desk.page.goto('/console/chat');
    await desk.page.locator(`.channels [data-channel="${channel}"]`).click();
    await desk.page.locator(`.channels [data-channel="${channel}"][aria-current="page"]`).waitFor();
    await desk.page.getByText('No message yet').waitFor();

    await send(desk.page, 'Kegs are on their way, 10 minutes');
    await shown(tablet.page, 'Kegs are on their way, 10 minutes');
    await send(tablet.page, 'Thanks! Cups too please');
    await shown(desk.page, 'Thanks! Cups too please');
    await send(desk.page, 'Cups with the kegs.');
    await shown(tablet.page, 'Cups with the kegs.');

    // both show the whole conversation, in order, each author on their side
    const texts = (page: Page) => page.locator('.messages .message .text').allTextContents();
    const conversation = [
      'Kegs are on their way, 10 minutes',
      'Thanks! Cups too please',
      'Cups with the kegs.',
    ];
    expect(await texts(desk.page)).toEqual(conversation);
    expect(await texts(tablet.page)).toEqual(conversation);
    expect(await tablet.page.locator('.message.mine .text').allTextContents()).toEqual([
      'Thanks! Cups too please',
    ]);
    await screenshot(desk.page, 'chat');
    await screenshot(tablet.page, 'chat-phone');
    expect([...tablet.errors, ...desk.errors]).toEqual([]);
    await tablet.context.close();
    await desk.context.close();
  });
});
