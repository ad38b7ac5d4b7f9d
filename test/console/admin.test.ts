import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
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
import { adminLogin, createTeamWithUser, createTenant, expectStatus } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';

/** Accepts the next `confirm()` of the page (a delete or a revoke asks first). */
function acceptNextConfirm(page: Page): void {
  page.once('dialog', (dialog) => void dialog.accept());
}

/** Opens an admin page through the administration's own navigation. */
async function openAdmin(page: Page, label: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Admin' }).click();
  await page
    .getByRole('navigation', { name: 'Administration' })
    .getByRole('link', { name: label, exact: true })
    .click();
  await page.getByRole('heading', { level: 1, name: new RegExp(`^${label}`) }).waitFor();
}

describe.skipIf(!chromiumPath)(
  'the console administration in Chromium',
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
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

    it('When an admin revokes the bar tablet’s session on the Sessions page, then the tablet is back on the sign-in page', async () => {
      const { userId } = await createTeamWithUser(
        admin,
        { name: 'Bar Revoked', role: 'bar', group: 'bars' },
        { login: 'tablet1', password: 'tablet1-password' },
      );
      // other devices of the event, signed in meanwhile (the list shows what they are)
      const devices = {
        'bar-ipad':
          'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
        'desk-pc': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
      };
      for (const [login, agent] of Object.entries(devices)) {
        await createTeamWithUser(
          admin,
          { name: `Team ${login}`, role: 'bar' },
          { login, password: `${login}-password` },
        );
        expectStatus(
          await httpTransport(server.url).request(
            'POST',
            '/auth/login',
            { login, password: `${login}-password` },
            { 'user-agent': agent },
          ),
          200,
        );
      }
      const tablet = await openConsole(browser, server, PHONE);
      await signIn(tablet.page, 'tablet1', 'tablet1-password');
      const desk = await openConsole(browser, server, DESK);
      await signIn(desk.page, 'admin', ADMIN_PASSWORD);
      await openAdmin(desk.page, 'Sessions');

      // the tablet's open session, live in the list (it signed in before the page opened)
      const sessions = expectStatus<Array<{ id: number; userId: number; revokedAt: string | null }>>(
        await admin.request('GET', '/session', { filters: { userId, revokedAt: null } }),
        200,
      );
      expect(sessions).toHaveLength(1);
      const row = desk.page.locator(`tr[data-session-id="${sessions[0]!.id}"]`);
      await row.waitFor();
      await row.locator('[data-label="User"]', { hasText: 'tablet1' }).waitFor();
      expect(await row.locator('[data-label="Device"]').textContent()).toMatch(/^Chrome \d+ on Linux$/);

      acceptNextConfirm(desk.page);
      await row.getByRole('button', { name: 'Revoke the session of tablet1' }).click();
      await tablet.page.getByText('Your session was ended').waitFor();
      await tablet.page.getByLabel('Password').waitFor();
      // the revoked session leaves the list of open ones, and shows as revoked among all
      await row.waitFor({ state: 'detached' });
      await desk.page.getByLabel('Show revoked sessions').check();
      await row.locator('.badge', { hasText: 'Revoked' }).waitFor();
      expect(
        await desk.page.locator('tr', { hasText: 'bar-ipad' }).locator('[data-label="Device"]').textContent(),
      ).toBe('Safari 17 on iOS');
      expect(
        await desk.page.locator('tr', { hasText: 'desk-pc' }).locator('[data-label="Device"]').textContent(),
      ).toBe('Firefox 128 on Windows');
      await screenshot(desk.page, 'sessions');
      expect([...tablet.errors, ...desk.errors]).toEqual([]);
      await tablet.context.close();
      await desk.context.close();
    });

    it('When an admin imports a CSV file with bad lines, then the page shows the progress and the failed lines', async () => {
      await createTeamWithUser(
        admin,
        { name: 'Import Bar', role: 'bar' },
        { login: 'importlead', password: 'importlead-password' },
      );
      // enough lines for the job to report many whole percents; three bad ones (header = line 1)
      const lines = ['login,name,team,email'];
      for (let i = 1; i <= 1_500; i++)
        lines.push(`volunteer${i},Volunteer ${i},Import Bar,v${i}@example.org`);
      lines[4] = 'volunteer4,Volunteer 4,Bar 99,v4@example.org'; // line 5: no such team
      lines[9] = 'volunteer9,Volunteer 9,Import Bar,not-an-address'; // line 10: bad e-mail
      lines[20] = 'volunteer3,Volunteer 3 again,Import Bar,'; // line 21: login already on line 4
      const { page, errors } = await openConsole(browser, server, DESK);
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await openAdmin(page, 'Import users');

      // every value the progress bar takes, as the page shows it
      await page.evaluate(`(() => {
      window.seenProgress = [];
      new MutationObserver(() => {
        const bar = document.querySelector('[role="progressbar"]');
        const value = bar && Number(bar.getAttribute('aria-valuenow'));
        if (bar && window.seenProgress.at(-1) !== value) window.seenProgress.push(value);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    })()`);
      await page.getByLabel('CSV file').setInputFiles({
        name: 'volunteers.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(`${lines.join('\n')}\n`),
      });
      await page.getByRole('button', { name: 'Import' }).click();
      await page.locator('[role="progressbar"][aria-valuenow="100"]').waitFor({ timeout: 30_000 });
      const failed = page.getByRole('table', { name: 'Lines that failed' });
      await failed.waitFor({ timeout: 15_000 });

      const seen = (await page.evaluate('window.seenProgress')) as number[];
      expect(seen.at(-1)).toBe(100);
      expect(
        seen.some((value) => value > 0 && value < 100),
        `progress seen: ${seen.join(', ')}`,
      ).toBe(true);
      expect(seen).toEqual([...seen].sort((a, b) => a - b)); // it never went back
      expect(await failed.locator('tbody th').allTextContents()).toEqual(['5', '10', '21']);
      expect(await failed.locator('tr[data-line="5"] td').textContent()).toContain('Bar 99');
      const figures = await page.locator('.import-figures dd').allTextContents();
      expect(figures).toEqual(['1497', '0', '0', '3']);
      await screenshot(page, 'import');

      // the job is in the completed list of the Jobs page
      await openAdmin(page, 'Jobs');
      await page.getByLabel('State').selectOption('completed');
      await page.locator('tr[data-job-id^="importUsers."]').waitFor();
      expect(errors).toEqual([]);
      await page.context().close();
    }, 60_000);

    it('When an admin creates a team and a user through the forms, then the live lists show them; a team without team/admin has no Teams page until its role gives it', async () => {
      const { page, errors } = await openConsole(browser, server, DESK);
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await openAdmin(page, 'Teams');
      await page.getByRole('button', { name: 'New team' }).click();
      const teamDialog = page.getByRole('dialog', { name: 'New team' });
      // a refusal of the server is shown in the dialog, which stays open
      await teamDialog.getByLabel('Name').fill('Bar Form');
      await teamDialog.getByLabel('Role').selectOption('bar');
      await teamDialog.getByLabel(/^Group/).fill('bars');
      await teamDialog.getByLabel('Location').fill('Main stage, left');
      await teamDialog.getByLabel('Location').press('Enter');
      await teamDialog.waitFor({ state: 'hidden' });
      const teamRow = page.locator('tr', {
        has: page.getByRole('rowheader', { name: 'Bar Form', exact: true }),
      });
      await teamRow.waitFor();
      expect(await teamRow.locator('[data-label="Location"]').textContent()).toBe('Main stage, left');

      // a second team with the same name: the server's refusal is shown next to the form, Escape closes it
      await page.getByRole('button', { name: 'New team' }).click();
      await teamDialog.getByLabel('Name').fill('Bar Form');
      await teamDialog.getByRole('button', { name: 'Create team' }).click();
      await teamDialog.getByRole('alert').waitFor();
      await page.keyboard.press('Escape');
      await teamDialog.waitFor({ state: 'hidden' });

      await openAdmin(page, 'Users');
      await page.getByRole('button', { name: 'New user' }).click();
      const userDialog = page.getByRole('dialog', { name: 'New user' });
      await userDialog.getByLabel('Login').fill('formbar');
      await userDialog.getByLabel('Password').fill('formbar-password');
      await userDialog.getByLabel('Name').fill('Form Bar Lead');
      await userDialog.getByLabel('Team').selectOption({ label: 'Bar Form (bar)' });
      await userDialog.getByLabel('E-mail').fill('formbar@example.org');
      await userDialog.getByRole('button', { name: 'Create user' }).click();
      await userDialog.waitFor({ state: 'hidden' });
      const userRow = page.locator('tr', { has: page.getByText('formbar', { exact: true }) });
      await userRow.waitFor();
      expect(await userRow.locator('[data-label="Team"]').textContent()).toBe('Bar Form');
      expect(await userRow.locator('[data-label="E-mail"]').textContent()).toBe('formbar@example.org');

      // the new user signs in: a bar has no administration at all
      const bar = await openConsole(browser, server, PHONE);
      await signIn(bar.page, 'formbar', 'formbar-password');
      const barNav = bar.page.getByRole('navigation', { name: 'Pages' });
      await barNav.getByRole('link', { name: 'Alerts' }).waitFor();
      expect(await barNav.getByRole('link', { name: 'Admin' }).count()).toBe(0);
      await bar.page.goto('/console/admin/teams');
      await bar.page.getByText('Your team has no administration permission.').waitFor();
      expect(await bar.page.getByRole('link', { name: 'Teams' }).count()).toBe(0);
      // back on its board, whose live lists are told when what the team may read changes
      await barNav.getByRole('link', { name: 'Alerts' }).click();
      await bar.page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();

      // the admin gives the team the role coord: the Teams page appears on the open tablet, no reload
      await openAdmin(page, 'Teams');
      await teamRow.getByRole('button', { name: 'Edit Bar Form' }).click();
      const editDialog = page.getByRole('dialog', { name: 'Edit Bar Form' });
      await editDialog.getByLabel('Role').selectOption('coord');
      await editDialog.getByRole('button', { name: 'Save' }).click();
      await teamRow.locator('[data-label="Role"]', { hasText: 'coord' }).waitFor();
      await barNav.getByRole('link', { name: 'Admin' }).click();
      await bar.page
        .getByRole('navigation', { name: 'Administration' })
        .getByRole('link', { name: 'Teams' })
        .waitFor();
      await bar.page.getByRole('heading', { level: 1, name: /^Teams/ }).waitFor();
      expect([...errors, ...bar.errors]).toEqual([]);
      await bar.context.close();
      await page.context().close();
    });

    it('When an admin uploads an avatar for a user, then the list shows the image', async () => {
      const { userId } = await createTeamWithUser(
        admin,
        { name: 'Avatar Team', role: 'bar' },
        { login: 'avatared', password: 'avatared-password' },
      );
      const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#2e7d32' } })
        .png()
        .toBuffer();
      const { page, errors } = await openConsole(browser, server, DESK);
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await openAdmin(page, 'Users');
      const row = page.locator(`tr[data-user-id="${userId}"]`);
      expect(await row.locator('img').count()).toBe(0);
      await row.getByRole('button', { name: 'Edit avatared' }).click();
      const dialog = page.getByRole('dialog', { name: 'Edit avatared' });
      await dialog
        .getByLabel(/^Avatar/)
        .setInputFiles({ name: 'face.png', mimeType: 'image/png', buffer: png });
      // the new avatar is published (avatarUpdatedAt): the row's image loads from a blob: URL
      const image = row.locator(`img[data-avatar="${userId}"]`);
      await image.waitFor();
      expect(await image.getAttribute('src')).toMatch(/^blob:/);
      await page.waitForFunction(
        (id) =>
          (
            globalThis as unknown as {
              document: { querySelector(s: string): { naturalWidth: number } | null };
            }
          ).document.querySelector(`tr[data-user-id="${id}"] img`)?.naturalWidth === 64,
        userId,
      );
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it('When the platform admin picks another event, then the sign-in page opens with its slug', async () => {
      await createTenant(admin, {
        name: 'Summer Fest',
        slug: 'summer-fest',
        adminPassword: 'summer-password',
      });
      const { page, errors } = await openConsole(browser, server, DESK);
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await openAdmin(page, 'Events');
      const row = page.locator('tr[data-tenant="summer-fest"]');
      await row.getByRole('button', { name: 'Show usage' }).click();
      await row.getByText(/1 users · 1 teams/).waitFor();
      await row.getByRole('button', { name: 'Sign in to Summer Fest' }).click();
      await page.getByLabel('Password').waitFor();
      expect(await page.getByLabel('Event').inputValue()).toBe('summer-fest');
      await page.getByLabel('Login').fill('admin');
      await page.getByLabel('Password').fill('summer-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('.brand', { hasText: 'Summer Fest' }).waitFor();
      // the event's own admin is no platform operator: no Events page
      await openAdmin(page, 'Teams');
      expect(await page.getByRole('link', { name: 'Events' }).count()).toBe(0);
      expect(errors).toEqual([]);
      await page.context().close();
    });
  },
);
