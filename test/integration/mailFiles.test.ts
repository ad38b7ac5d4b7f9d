import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux } from '../../lib/Flux.js';
import { httpTransport, type Transport, waitFor } from '../helpers/clients.js';
import { adminLogin, expectStatus, login } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Without `mail.url`, outside production (docs/mail.md): each mail is written as an `.eml` file under
 * `mail.dir`, and nothing of it reaches the application log — which, here, logs every request
 * (`reqLogger`, `resLogger`) at every level into its files.
 */

let server: TestServer;
let admin: Transport;
const root = mkdtempSync(path.join(tmpdir(), 'flux-mail-files-'));
const mailDir = path.join(root, 'mail');
const logDir = path.join(root, 'logs');

beforeAll(async () => {
  server = await startTestServer({
    server: { port: 0, host: '127.0.0.1', middlewares: ['reqLogger', 'resLogger'] },
    log: { level: 'error', dir: logDir },
    mail: { dir: mailDir },
    auth: { bcryptRounds: 4, resetUrl: 'https://flux.example.org/reset' },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
});

afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const emlFiles = () => {
  try {
    return readdirSync(mailDir).filter((file) => file.endsWith('.eml'));
  } catch {
    return [];
  }
};

describe('mail without an SMTP server', () => {
  it('When a reset is asked in development without mail.url, then the mail is an .eml file with the link of auth.resetUrl, the token works, and no log holds it', async () => {
    expect(Flux.env).not.toBe('production');
    const user = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', {
        login: 'eml-user',
        password: 'eml-user-password',
        email: 'eml-user@example.org',
      }),
      201,
    );
    const anonymous = httpTransport(server.url);
    expectStatus(await anonymous.request('POST', '/auth/reset', { login: 'eml-user' }), 202);
    await waitFor(() => emlFiles().length === 1, 15_000, 'the .eml file');
    const file = path.join(mailDir, emlFiles()[0]);
    // readable by the server's user only: it holds a secret
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const mail = await simpleParser(readFileSync(file));
    expect(JSON.stringify(mail.to)).toContain('eml-user@example.org');
    expect(mail.messageId).toMatch(new RegExp(`^<reset-${user.id}-[0-9a-f]{16}\\.[0-9a-z]+@localhost>$`));
    const token = /^([A-Za-z0-9_-]{43})$/m.exec(mail.text ?? '')?.[1];
    expect(token).toBeDefined();
    expect(String(mail.html)).toContain(token);
    // auth.resetUrl: a link with the token in its fragment (kept out of server logs and Referer headers)
    expect(mail.text).toContain(`https://flux.example.org/reset#token=${token}`);
    expect(String(mail.html)).toContain(`href="https://flux.example.org/reset#token=${token}"`);

    expectStatus(
      await anonymous.request('POST', '/auth/reset/confirm', { token, password: 'eml-new-password' }),
      200,
    );
    await login(server.url, 'eml-user', 'eml-new-password');

    // everything logged so far, both files: neither the token nor the body of the mail
    const logs = readdirSync(logDir).map((name) => readFileSync(path.join(logDir, name), 'utf8'));
    expect(logs.join('').length).toBeGreaterThan(0);
    expect(logs.join('')).toContain('POST /auth/reset/confirm');
    for (const text of logs) {
      expect(text).not.toContain(token);
      expect(text).not.toContain('reset code');
    }
  });
});
