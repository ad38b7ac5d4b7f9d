import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { PlainObject } from '../../lib/config.js';
import { startTestServer, type TestServer } from './server.js';

/**
 * The time each browser scenario may take (`describe(…, { timeout })`): a scenario drives one or two pages
 * through a dozen steps, 7 s alone on the CI machine, and about three times that while other test files
 * run beside it (vitest's default there, 20 s, failed one on 2026-12-01).
 */
export const BROWSER_TEST_TIMEOUT_MS = 60_000;

/**
 * The Chromium the browser tests drive with playwright-core: Debian's `chromium` package (or
 * `CHROMIUM_PATH`), never a browser downloaded by Playwright. `.ci/run` installs it and sets
 * `FLUX_REQUIRE_BROWSER=1`, so that CI fails instead of skipping when it is missing.
 */
export const chromiumPath = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
].find((file): file is string => !!file && existsSync(file));
if (!chromiumPath && process.env.FLUX_REQUIRE_BROWSER)
  throw new Error('No Chromium: apt-get install chromium (or set CHROMIUM_PATH)');

/** A phone-sized screen (the bar's tablet held upright) and a coordination desk's screen, CSS pixels. */
export const PHONE = { width: 390, height: 844 };
export const DESK = { width: 1366, height: 800 };

/** Starts headless Chromium (no sandbox: CI runs as root). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
}

/**
 * A test server that serves the console built for this test run (test/globalSetup.ts). Statistics every
 * 200 ms unless `config` says otherwise, so that the dashboard moves within a test.
 */
export function startConsoleServer(config: PlainObject = {}): Promise<TestServer> {
  const dir = process.env.FLUX_TEST_CONSOLE_DIR;
  if (!dir)
    throw new Error('FLUX_TEST_CONSOLE_DIR is not set: run the tests with vitest (test/globalSetup.ts)');
  return startTestServer({ console: { dir }, stats: { intervalMs: 200, windowMs: 2_000 }, ...config });
}

/**
 * A new browser context (its own storage: another device) with a page on the console, its errors
 * collected in `errors` (a test can assert there were none).
 */
export async function openConsole(
  browser: Browser,
  server: TestServer,
  viewport = DESK,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport, baseURL: server.url });
  // shorter than a test's timeout, so that a wait that fails says what it waited for
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/console/');
  return { context, page, errors };
}

/** Signs in through the sign-in form and waits for the header (the socket live). */
export async function signIn(page: Page, login: string, password: string, tenant = ''): Promise<void> {
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Event').fill(tenant);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('[data-connection="live"]').waitFor();
}

/**
 * Writes a screenshot: into docs/console/ (the ones docs/console.md shows) when `FLUX_UPDATE_SCREENSHOTS`
 * is set, else into test/.screenshots/ (ignored by git) to look at after a run.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const root = path.resolve(import.meta.dirname, '../..');
  const dir = process.env.FLUX_UPDATE_SCREENSHOTS
    ? path.join(root, 'docs', 'console')
    : path.join(root, 'test', '.screenshots');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}
