import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeHtml, subjectLine } from '../../api/mail/layout.js';
import { resetPassword } from '../../api/mail/resetPassword.js';
import { seriousAlert } from '../../api/mail/seriousAlert.js';
import { createMailer, MailNotConfiguredError, mailConfigSchema } from '../../lib/mail.js';

/** lib/mail.ts on its own (no SMTP server: see test/integration/mail.test.ts) and the mail templates. */

const root = mkdtempSync(path.join(tmpdir(), 'flux-mail-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function capturingLog() {
  const lines: Array<[string, string]> = [];
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      void lines.push([level, args.map(String).join(' ')]);
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('createMailer', () => {
  it('When production has no mail.url, then an error line names mail.url and every send fails', async () => {
    const { lines, log } = capturingLog();
    const mailer = createMailer({ mail: { dir: 'logs/mail' } }, root, log, 'production');
    expect(mailer.mode).toBe('none');
    expect(lines.filter(([level]) => level === 'error').map(([, text]) => text)).toEqual([
      expect.stringContaining('mail.url is not set'),
    ]);
    await expect(mailer.send({ to: 'a@example.org', subject: 's', text: 't' })).rejects.toBeInstanceOf(
      MailNotConfiguredError,
    );
    expect(readdirSync(root)).toEqual([]);
  });

  it('When development has no mail.url, then messages are .eml files (0600) named by their Message-ID, and the log names the file only', async () => {
    const { lines, log } = capturingLog();
    const mailer = createMailer(
      { mail: { dir: 'mail', from: 'Flux <flux@example.org>' } },
      root,
      log,
      'development',
    );
    expect(mailer.mode).toBe('files');
    expect(mailer.domain).toBe('example.org');
    const message = {
      to: 'a@example.org',
      subject: 'Secret inside',
      text: 'the secret 1234',
      html: '<p>the secret 1234</p>',
      messageId: '<k-1.abc@example.org>',
    };
    const sent = await mailer.send(message);
    expect(sent).toEqual({
      messageId: '<k-1.abc@example.org>',
      accepted: ['a@example.org'],
      file: path.join(root, 'mail', 'k-1.abc@example.org.eml'),
    });
    const raw = readFileSync(sent.file!, 'utf8');
    expect(raw).toContain('Message-ID: <k-1.abc@example.org>');
    expect(raw).toContain('From: Flux <flux@example.org>');
    expect(raw).toContain('Content-Type: text/plain');
    expect(raw).toContain('Content-Type: text/html');
    expect(statSync(sent.file!).mode & 0o777).toBe(0o600);
    // the same message again overwrites its copy
    await mailer.send(message);
    expect(readdirSync(path.join(root, 'mail'))).toEqual(['k-1.abc@example.org.eml']);
    expect(lines.map(([, text]) => text).join('\n')).not.toContain('1234');
    expect(lines.map(([, text]) => text).join('\n')).not.toContain('Secret inside');
  });

  it('When mail.url is set, then it sends over SMTP; an unreachable server fails the send', async () => {
    const { log } = capturingLog();
    // a port nobody listens on
    const mailer = createMailer(
      { mail: { url: 'smtp://127.0.0.1:9?connectionTimeout=500' } },
      root,
      log,
      'production',
    );
    expect(mailer.mode).toBe('smtp');
    expect(mailer.domain).toBe('localhost');
    await expect(mailer.send({ to: 'a@example.org', subject: 's', text: 't' })).rejects.toThrow();
    mailer.close();
  });

  it('When production sends over smtp:// without requireTLS, then a warning says the mails may go in clear', () => {
    const warnings = (url: string) => {
      const { lines, log } = capturingLog();
      createMailer({ mail: { url, from: 'flux@example.org' } }, root, log, 'production').close();
      return lines.filter(([level]) => level === 'warn').map(([, text]) => text);
    };
    expect(warnings('smtp://mail.example.org:587')).toEqual([expect.stringContaining('requireTLS=true')]);
    expect(warnings('smtp://mail.example.org:587?requireTLS=true')).toEqual([]);
    expect(warnings('smtps://mail.example.org')).toEqual([]);
  });

  it('When mail.url is not an smtp:// or smtps:// URL, then the config is refused naming it', () => {
    for (const url of ['http://mail.example.org', 'smtp:/nope', 'mail.example.org:25', 'smtp://with space'])
      expect(mailConfigSchema.safeParse({ url }).error?.issues[0].path).toEqual(['url']);
    expect(mailConfigSchema.parse({ url: 'smtps://user:pw@mail.example.org:465' })).toMatchObject({
      url: 'smtps://user:pw@mail.example.org:465',
      dir: 'logs/mail',
    });
    expect(mailConfigSchema.parse(undefined)).toEqual({ dir: 'logs/mail' });
  });
});

describe('templates', () => {
  it('When values hold HTML, then the HTML part escapes every one and the text part keeps them as they are', () => {
    const evil = '<img src=x onerror=alert(1)> & "quotes" \'too\'';
    const mail = seriousAlert({
      name: evil,
      tenant: evil,
      alertId: 7,
      title: evil,
      message: `${evil}\nsecond line`,
      senderTeam: evil,
      receiverTeam: evil,
      raisedAt: new Date('2026-01-02T03:04:05Z'),
      escalated: false,
    });
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain(escapeHtml(evil));
    expect(mail.html).toContain('second line');
    expect(mail.text).toContain(evil);
    const reset = resetPassword({
      name: evil,
      login: evil,
      tenant: evil,
      token: 'T'.repeat(43),
      link: 'https://flux.example.org/reset#token=a&tenant=b"c',
      validMinutes: 60,
    });
    expect(reset.html).not.toContain('<img');
    expect(reset.html).toContain('href="https://flux.example.org/reset#token=a&amp;tenant=b&quot;c"');
    expect(reset.text).toMatch(/^T{43}$/m);
  });

  it('When a subject would hold line breaks or run long, then it is one line of at most 150 characters', () => {
    expect(subjectLine('a\r\nBcc: victim@example.org')).toBe('a Bcc: victim@example.org');
    expect(subjectLine('x'.repeat(300))).toHaveLength(150);
    expect(
      seriousAlert({
        name: 'n',
        tenant: 't',
        alertId: 1,
        title: 'line\nbreak',
        message: null,
        senderTeam: null,
        receiverTeam: 'r',
        raisedAt: new Date(),
        escalated: true,
      }).subject,
    ).toBe('[t] Serious alert: line break');
  });

  it('escapeHtml escapes the five characters', () => {
    expect(escapeHtml('<b>"Bar" & \'co\'</b>')).toBe('&lt;b&gt;&quot;Bar&quot; &amp; &#39;co&#39;&lt;/b&gt;');
  });
});
