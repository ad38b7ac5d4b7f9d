import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { Browser } from 'playwright-core';
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
import { httpTransport, waitFor } from '../helpers/clients.js';
import { adminLogin, expectStatus } from '../helpers/fixtures.js';
import type { TestServer } from '../helpers/server.js';

/**
 * A forgotten password in the console (pages/SignIn.tsx "Forgot your password?", pages/ResetPassword.tsx):
 * the mail is asked from the sign-in page, its link opens the reset page, which drops the token from the
 * address, refuses two different passwords, and sets the new one.
 */
describe.skipIf(!chromiumPath)(
  'a password reset in the console',
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    let server: TestServer;
    let browser: Browser;
    const root = mkdtempSync(path.join(tmpdir(), 'flux-console-reset-'));
    const mailDir = path.join(root, 'mail');
    const emlFiles = () => {
      try {
        return readdirSync(mailDir).filter((file) => file.endsWith('.eml'));
      } catch {
        return [];
      }
    };

    beforeAll(async () => {
      server = await startConsoleServer({
        mail: { dir: mailDir },
        auth: { bcryptRounds: 4, resetUrl: 'https://flux.example.org/console/reset' },
      });
      browser = await launchBrowser();
      const admin = httpTransport(server.url, await adminLogin(server.url));
      expectStatus(
        await admin.request('POST', '/user', {
          login: 'night-manager',
          name: 'Night manager',
          password: 'forgotten-password',
          email: 'night@example.org',
        }),
        201,
      );
    });
    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      rmSync(root, { recursive: true, force: true });
    });

    it('When a user asks for a link from the sign-in page and follows it, then the new password signs in', async () => {
      const { page, errors } = await openConsole(browser, server, PHONE);
      await page.getByLabel('Login').fill('night-manager');
      await page.getByRole('button', { name: 'Forgot your password?' }).click();
      await page.getByRole('button', { name: /E-mail me a link/ }).click();
      await page.getByText('a link to choose a new password is on its way').waitFor();

      await waitFor(() => emlFiles().length === 1, 15_000, 'the reset mail');
      const mail = await simpleParser(readFileSync(path.join(mailDir, emlFiles()[0])));
      const link = /https:\/\/flux\.example\.org(\/console\/reset#token=[\w-]+)/.exec(mail.text ?? '')?.[1];
      expect(link).toBeDefined();
      await page.goto(link!);
      await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
      // the token left the address bar (and the history) as soon as the page read it
      expect(new URL(page.url()).hash).toBe('');

      await page.getByLabel('New password', { exact: true }).fill('remembered-password');
      await page.getByLabel('New password again').fill('another-password');
      await page.getByRole('button', { name: 'Set the password' }).click();
      expect(await page.getByRole('alert').textContent()).toBe('The two passwords differ.');

      await page.getByLabel('New password again').fill('remembered-password');
      await page.getByRole('button', { name: 'Set the password' }).click();
      await page.getByText('Your password is set').waitFor();
      await page.getByRole('link', { name: 'Sign in' }).click();
      await signIn(page, 'night-manager', 'remembered-password');
      expect(await page.getByRole('banner').textContent()).toContain('Night manager');
      expect(errors).toEqual([]);
    });

    it('When the link was already used, then the page says the code is not valid and nothing changes', async () => {
      const { page } = await openConsole(browser, server);
      await page.goto('/console/reset#token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      await page.getByLabel('New password', { exact: true }).fill('sneaky-password');
      await page.getByLabel('New password again').fill('sneaky-password');
      await page.getByRole('button', { name: 'Set the password' }).click();
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toMatch(/invalid|expired|used/i);
      // the account still signs in with its password
      expectStatus(
        await httpTransport(server.url).request('POST', '/auth/login', {
          login: 'night-manager',
          password: 'remembered-password',
        }),
        200,
      );
    });
  },
);
