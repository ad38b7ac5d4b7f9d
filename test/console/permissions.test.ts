import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BROWSER_TEST_TIMEOUT_MS,
  chromiumPath,
  DESK,
  launchBrowser,
  openConsole,
  PHONE,
  signIn,
  startConsoleServer,
} from '../helpers/browser.js';
import { httpTransport, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus } from '../helpers/fixtures.js';
import type { TestServer } from '../helpers/server.js';

const PASSWORD = 'permissions-test-password';

/** The row of an alert on the board. */
const row = (page: Page, id: number) => page.locator(`[data-alert-id="${id}"]`);
const button = (page: Page, id: number, name: string) =>
  row(page, id).getByRole('button', { name, exact: true });

describe.skipIf(!chromiumPath)(
  'the alert board follows permissions, in Chromium',
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    let server: TestServer;
    let browser: Browser;
    let admin: Transport;
    const teams = { logistics: 0, bar: 0, security: 0 };
    /** Bar → Logistics, Bar → Security, Logistics → Security. */
    const alerts = { ice: 0, fight: 0, pallet: 0 };

    const setRole = async (team: number, role: string) =>
      expectStatus(await admin.request('PATCH', `/team/${team}`, { role }), 200);

    beforeAll(async () => {
      server = await startConsoleServer();
      browser = await launchBrowser();
      admin = httpTransport(server.url, await adminLogin(server.url));
      const password = { password: PASSWORD };
      teams.logistics = (
        await createTeamWithUser(
          admin,
          { name: 'Logistics', role: 'logistics', group: 'logistics' },
          { login: 'logistics', ...password },
        )
      ).teamId;
      teams.bar = (
        await createTeamWithUser(
          admin,
          { name: 'Bar Sud', role: 'bar', group: 'bars' },
          { login: 'bar', ...password },
        )
      ).teamId;
      teams.security = (
        await createTeamWithUser(
          admin,
          { name: 'Security', role: 'security' },
          { login: 'security', ...password },
        )
      ).teamId;
      await createTeamWithUser(
        admin,
        { name: 'Welcome desk', role: 'orga', group: 'orga' },
        { login: 'orga', ...password },
      );
      expectStatus(
        await admin.request('POST', '/alertbutton', {
          title: 'Out of ice',
          senderGroup: 'bars',
          receiverTeamId: teams.logistics,
        }),
        201,
      );
      const create = async (title: string, severity: string, senderTeamId: number, receiverTeamId: number) =>
        expectStatus<{ id: number }>(
          await admin.request('POST', '/alert', { title, severity, senderTeamId, receiverTeamId }),
          201,
        ).id;
      alerts.ice = await create('Out of ice', 'warning', teams.bar, teams.logistics);
      alerts.fight = await create('Fight near the bar', 'serious', teams.bar, teams.security);
      alerts.pallet = await create('Pallet blocking the exit', 'warning', teams.logistics, teams.security);
    });
    afterAll(async () => {
      admin?.close();
      await browser?.close();
      await server?.stop();
    });

    it("When an admin changes a team's role while its user has the board open, then the alerts it may no longer read leave the board, and come back with the role", async () => {
      const { context, page, errors } = await openConsole(browser, server, DESK);
      await signIn(page, 'logistics', PASSWORD);
      // logistics: the alerts sent to it (restrictedReceiver) and by it (restrictedSender)
      await row(page, alerts.ice).waitFor();
      await row(page, alerts.pallet).waitFor();
      expect(await row(page, alerts.fight).count()).toBe(0);
      // the receiver acknowledges and handles the alert sent to it
      await button(page, alerts.ice, 'Acknowledge').waitFor();
      await button(page, alerts.ice, 'Mark done').waitFor();
      await page.evaluate(() => {
        (globalThis as unknown as { __marker: number }).__marker = 42;
      });

      // bar: only what the team sent
      await setRole(teams.logistics, 'bar');
      await row(page, alerts.ice).waitFor({ state: 'detached' });
      await row(page, alerts.pallet).waitFor();

      // back: the alert sent to it returns, with its actions
      await setRole(teams.logistics, 'logistics');
      await button(page, alerts.ice, 'Mark done').waitFor();

      // orga: reads every alert, changes none; members of the receiver team still acknowledge
      await setRole(teams.logistics, 'orga');
      await row(page, alerts.fight).waitFor();
      await button(page, alerts.ice, 'Mark done').waitFor({ state: 'detached' });
      expect(await button(page, alerts.ice, 'Assign…').count()).toBe(0);
      expect(await button(page, alerts.ice, 'Acknowledge').count()).toBe(1);
      expect(await button(page, alerts.fight, 'Acknowledge').count()).toBe(0);

      expect(await page.evaluate(() => (globalThis as unknown as { __marker?: number }).__marker)).toBe(42);
      expect(errors).toEqual([]);
      await setRole(teams.logistics, 'logistics');
      await context.close();
    });

    it('When a team may not take an action, then the board does not offer it', async () => {
      // orga reads every alert and every button, but handles no alert and has no button of its group
      const orga = await openConsole(browser, server, DESK);
      await signIn(orga.page, 'orga', PASSWORD);
      for (const id of Object.values(alerts)) await row(orga.page, id).waitFor();
      expect(await orga.page.getByRole('button', { name: /Acknowledge|Mark done|Assign/ }).count()).toBe(0);
      expect(await orga.page.getByRole('heading', { name: 'Raise an alert' }).count()).toBe(0);

      // the bar raises from its group's buttons and handles what it sent, but acknowledges nothing
      const bar = await openConsole(browser, server, PHONE);
      await signIn(bar.page, 'bar', PASSWORD);
      await bar.page.getByRole('button', { name: /Out of ice/ }).waitFor();
      await button(bar.page, alerts.ice, 'Mark done').waitFor();
      await row(bar.page, alerts.fight).waitFor();
      expect(await row(bar.page, alerts.pallet).count()).toBe(0);
      expect(await bar.page.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);

      // security receives the fight and the pallet: it acknowledges them; the bar's alert to Logistics
      // is not its to read
      const security = await openConsole(browser, server, DESK);
      await signIn(security.page, 'security', PASSWORD);
      await button(security.page, alerts.fight, 'Acknowledge').waitFor();
      await button(security.page, alerts.pallet, 'Acknowledge').waitFor();
      expect(await row(security.page, alerts.ice).count()).toBe(0);

      for (const device of [orga, bar, security]) {
        expect(device.errors).toEqual([]);
        await device.context.close();
      }
    });
  },
);
