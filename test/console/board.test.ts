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
import { httpTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';

/** Short enough for a test to watch a warning escalate on an open board (docs/escalation.md). */
const ESCALATE_AFTER_MS = 4_000;
const PASSWORD = 'board-test-password';

interface Alert {
  id: number;
}

/** The row of an alert on the board. */
const row = (page: Page, id: number) => page.locator(`[data-alert-id="${id}"]`);

/** Sets a value on the page's window: still there later means the page did not load again. */
async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as { __marker: number }).__marker = 42;
  });
}
const marker = (page: Page) => page.evaluate(() => (globalThis as unknown as { __marker?: number }).__marker);

/** The ids of the alerts on the board, top to bottom. */
const shownIds = (page: Page) =>
  page
    .locator('[data-alert-id]')
    .evaluateAll((rows) => rows.map((element) => Number(element.getAttribute('data-alert-id'))));

describe.skipIf(!chromiumPath)('the alert board in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let server: TestServer;
  let browser: Browser;
  let admin: Transport;
  const teams = { coord: 0, bar: 0, logistics: 0 };
  const users = { bar: 0 };

  const createAlert = async (body: Record<string, unknown>) =>
    expectStatus<Alert>(await admin.request('POST', '/alert', body), 201);

  beforeAll(async () => {
    server = await startConsoleServer({ alerts: { escalateAfterMs: ESCALATE_AFTER_MS } });
    browser = await launchBrowser();
    admin = httpTransport(server.url, await adminLogin(server.url));
    const password = { password: PASSWORD };
    teams.coord = (
      await createTeamWithUser(admin, { name: 'Coordination', role: 'coord' }, { login: 'desk', ...password })
    ).teamId;
    ({ teamId: teams.bar, userId: users.bar } = await createTeamWithUser(
      admin,
      { name: 'Bar Nord', role: 'bar', group: 'bars' },
      { login: 'barnord', ...password },
    ));
    teams.logistics = (
      await createTeamWithUser(
        admin,
        { name: 'Logistics', role: 'logistics', group: 'logistics' },
        { login: 'logistics', ...password },
      )
    ).teamId;
    for (const button of [
      {
        title: 'Glass broken',
        messageRequired: true,
        messagePrompt: 'Where exactly?',
        messageDefault: 'Bar Nord, ',
      },
      { title: 'Out of beer', messageDefault: 'Bar Nord needs kegs' },
      { title: 'Need change', messageDefault: 'Coins for the till' },
    ]) {
      expectStatus(
        await admin.request('POST', '/alertbutton', {
          ...button,
          senderGroup: 'bars',
          receiverTeamId: teams.coord,
        }),
        201,
      );
    }
  });
  afterAll(async () => {
    admin?.close();
    await browser?.close();
    await server?.stop();
  });

  it('signs in and shows the board', async () => {
    const { context, page, errors } = await openConsole(browser, server);
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Alerts', exact: true }).waitFor();
    expect(page.url()).toMatch(/\/console\/board$/);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('When the bar raises an alert from a button on its tablet, then the desk shows it live, acknowledges it, and the tablet shows it acknowledged', async () => {
    const desk = await openConsole(browser, server, DESK);
    await signIn(desk.page, 'desk', PASSWORD);
    await desk.page.getByRole('heading', { name: 'Alerts', exact: true }).waitFor();
    await markPage(desk.page);

    const tablet = await openConsole(browser, server, PHONE);
    await signIn(tablet.page, 'barnord', PASSWORD);
    // the buttons come first on the tablet: above the list
    const glass = tablet.page.getByRole('button', { name: /Glass broken/ });
    await glass.waitFor();
    const buttonTop = (await glass.boundingBox())!.y;
    const headingTop = (await tablet.page
      .getByRole('heading', { name: 'Alerts', exact: true })
      .boundingBox())!.y;
    expect(buttonTop).toBeLessThan(headingTop);
    expect(buttonTop + 40).toBeLessThan(PHONE.height);

    // the button asks for a message: its prompt, prefilled with its default text
    await glass.click();
    const message = tablet.page.getByRole('dialog').getByLabel('Where exactly?');
    await message.waitFor();
    expect(await message.inputValue()).toBe('Bar Nord, ');
    await message.fill('Bar Nord, counter 2: shards behind the till');
    await tablet.page.getByRole('button', { name: 'Send alert' }).click();
    await tablet.page
      .getByRole('status')
      .filter({ hasText: 'Sent “Glass broken” to Coordination.' })
      .waitFor();

    // the desk shows it without a reload
    const onDesk = desk.page.locator('[data-alert-id]', { hasText: 'counter 2: shards behind the till' });
    await onDesk.waitFor({ timeout: 15_000 });
    expect(await marker(desk.page)).toBe(42);
    const id = Number(await onDesk.getAttribute('data-alert-id'));
    expect(await onDesk.locator('.alert-title').textContent()).toBe('Glass broken');
    expect(await onDesk.locator('.alert-route').textContent()).toContain('Bar Nord → Coordination');
    expect(await onDesk.getAttribute('data-acknowledged')).toBe('false');

    // the tablet shows its own alert, which the bar (its sender) may not acknowledge
    const onTablet = row(tablet.page, id);
    await onTablet.waitFor();
    expect(await onTablet.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);

    await onDesk.getByRole('button', { name: 'Acknowledge' }).click();
    await tablet.page
      .locator(`[data-alert-id="${id}"][data-acknowledged="true"]`)
      .waitFor({ timeout: 15_000 });
    // the bar cannot read the desk's users: the time only
    const ackOnTablet = await onTablet.locator('.alert-ack').textContent();
    expect(ackOnTablet).toMatch(/^✓ Acknowledged /);
    expect(ackOnTablet).not.toContain(' by ');
    // acknowledged, the desk names who did and no longer offers it
    await desk.page.locator(`[data-alert-id="${id}"][data-acknowledged="true"]`).waitFor();
    expect(await onDesk.locator('.alert-ack').textContent()).toMatch(/^✓ Acknowledged .+ by desk$/);
    expect(await onDesk.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);

    // a button without a prompt raises at once
    await tablet.page.getByRole('button', { name: /Out of beer/ }).click();
    await desk.page
      .locator('[data-alert-id]', { hasText: 'Bar Nord needs kegs' })
      .waitFor({ timeout: 15_000 });
    expect(await marker(desk.page)).toBe(42);

    await tablet.page.getByRole('status').filter({ hasText: 'Out of beer' }).waitFor();
    await tablet.page.emulateMedia({ reducedMotion: 'reduce' });
    await screenshot(tablet.page, 'tablet');
    expect(desk.errors).toEqual([]);
    expect(tablet.errors).toEqual([]);
    await desk.context.close();
    await tablet.context.close();
  });

  it('When a warning nobody acknowledges escalates, then the open board marks it escalated', async () => {
    const { context, page, errors } = await openConsole(browser, server, DESK);
    await signIn(page, 'desk', PASSWORD);
    const alert = await createAlert({
      title: 'Ice machine leaking',
      severity: 'warning',
      message: 'Water on the floor behind Bar Nord',
      senderTeamId: teams.bar,
      receiverTeamId: teams.logistics,
    });
    await page
      .locator(`[data-alert-id="${alert.id}"][data-severity="warning"][data-escalated="false"]`)
      .waitFor();
    await page
      .locator(`[data-alert-id="${alert.id}"][data-severity="serious"][data-escalated="true"]`)
      .waitFor({ timeout: ESCALATE_AFTER_MS + 15_000 });
    expect(await row(page, alert.id).locator('.escalated-badge').textContent()).toBe('Escalated');
    expect(await row(page, alert.id).locator('.escalated-at').textContent()).toMatch(/^escalated /);
    expect(errors).toEqual([]);
    await context.close();
  }, 40_000);

  it('When the desk sets filters, then the list narrows to the matching alerts, and back', async () => {
    const { context, page, errors } = await openConsole(browser, server, DESK);
    await signIn(page, 'desk', PASSWORD);
    const fight = await createAlert({
      title: 'Fight at the entrance',
      severity: 'serious',
      message: 'Two guests, security on the way',
      senderTeamId: teams.bar,
      receiverTeamId: teams.coord,
    });
    const cups = await createAlert({
      title: 'Out of cups',
      severity: 'warning',
      message: 'Reusable cups: 2 crates left',
      senderTeamId: teams.logistics,
      receiverTeamId: teams.coord,
    });
    const child = await createAlert({
      title: 'Lost child found',
      severity: 'done',
      message: 'Back with the parents at the welcome desk',
      senderTeamId: teams.coord,
      receiverTeamId: null,
    });
    expectStatus(await admin.request('POST', `/alert/${cups.id}/acknowledge`), 200);
    for (const alert of [fight, cups, child]) await row(page, alert.id).waitFor();

    /** Waits until the board shows `expected` and none of `absent`. */
    const expectShown = async (expected: number[], absent: number[]) => {
      await expect
        .poll(
          async () => {
            const ids = await shownIds(page);
            return {
              shown: expected.filter((id) => ids.includes(id)),
              hidden: absent.filter((id) => !ids.includes(id)),
            };
          },
          { timeout: 8_000 },
        )
        .toEqual({ shown: expected, hidden: absent });
    };

    // severity: serious only
    await page.getByRole('checkbox', { name: 'Warning' }).uncheck();
    await page.getByRole('checkbox', { name: 'Done' }).uncheck();
    await expectShown([fight.id], [cups.id, child.id]);
    const severities = await page
      .locator('[data-alert-id]')
      .evaluateAll((rows) => rows.map((element) => element.getAttribute('data-severity')));
    expect(new Set(severities)).toEqual(new Set(['serious']));
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expectShown([fight.id, cups.id, child.id], []);

    // team: sent by Logistics
    await page.getByLabel('Team', { exact: true }).selectOption({ label: 'Logistics' });
    await page.getByLabel('As', { exact: true }).selectOption('sender');
    await expectShown([cups.id], [fight.id, child.id]);
    await page.getByLabel('As', { exact: true }).selectOption('receiver');
    await expectShown([], [fight.id, cups.id, child.id]);
    await page.getByLabel('Team', { exact: true }).selectOption({ label: 'Every team' });

    // acknowledgement
    await page.getByLabel('Acknowledged').selectOption('no');
    await expectShown([fight.id, child.id], [cups.id]);
    await page.getByLabel('Acknowledged').selectOption('yes');
    await expectShown([cups.id], [fight.id, child.id]);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expectShown([fight.id, cups.id, child.id], []);

    // newest first
    const ids = await shownIds(page);
    expect(ids.indexOf(child.id)).toBeLessThan(ids.indexOf(cups.id));
    expect(ids.indexOf(cups.id)).toBeLessThan(ids.indexOf(fight.id));

    // assigning users: the desk picks one of the users it reads
    await row(page, fight.id).getByRole('button', { name: 'Assign…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Assign users: Fight at the entrance' });
    await dialog.getByLabel('Search users').fill('bar');
    await dialog.getByRole('checkbox', { name: /barnord/ }).check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row(page, fight.id).locator('.person', { hasText: 'barnord' }).waitFor();
    const assigned = expectStatus<{ users: number[] }>(await admin.request('GET', `/alert/${fight.id}`), 200);
    expect(assigned.users).toEqual([users.bar]);

    // the desk's screen, with one fresh warning on top
    const keys = await createAlert({
      title: 'Keys of the storage room missing',
      severity: 'warning',
      message: 'Logistics asks who has them',
      senderTeamId: teams.logistics,
      receiverTeamId: teams.coord,
    });
    await row(page, keys.id).waitFor();
    // without the flash of the rows that just arrived
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await screenshot(page, 'board');
    expect(errors).toEqual([]);
    await context.close();
  });
});
