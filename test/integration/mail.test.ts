import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailJobTesting } from '../../api/jobs/mail.js';
import { escalate } from '../../api/services/AlertService.js';
import {
  deliverMail,
  MAIL_ATTEMPTS,
  type MailJobData,
  messageIdOf,
  sendMail,
} from '../../api/services/MailService.js';
import { Flux } from '../../lib/Flux.js';
import type { JobStatus } from '../../lib/jobs.js';
import { createMailer } from '../../lib/mail.js';
import { httpTransport, settle, type Transport } from '../helpers/clients.js';
import { adminLogin, client, expectStatus, login } from '../helpers/fixtures.js';
import { ADMIN_PASSWORD, databaseChecksum, startTestServer, type TestServer } from '../helpers/server.js';
import { mailsTo, type ReceivedMail, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.js';

/**
 * E-mail (docs/mail.md) through the job queue and a real SMTP server (smtp-server, mailparser): the
 * users' `email`, the mails of serious alerts, and the `mail` job's promise to send each mail once.
 */

let server: TestServer;
let smtp: TestSmtpServer;
let admin: Transport;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The receiver team (three users, two with an e-mail) and another team (one user with an e-mail). */
const team: {
  security: number;
  logistics: number;
  users: Array<{ id: number; login: string; password: string; email: string | null; teamId: number }>;
} = { security: 0, logistics: 0, users: [] };
const withMail = () => team.users.filter((u) => u.teamId === team.security && u.email).map((u) => u.email);

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({
    mail: { url: smtp.url, from: 'Flux Test <flux@example.org>' },
    auth: { bcryptRounds: 4 },
    // escalation is driven by hand below
    alerts: { escalateAfterMs: 0 },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
  team.security = expectStatus<{ id: number }>(
    await admin.request('POST', '/team', { name: 'Security', role: 'security' }),
    201,
  ).id;
  team.logistics = expectStatus<{ id: number }>(
    await admin.request('POST', '/team', { name: 'Logistics', role: 'logistics' }),
    201,
  ).id;
  const members: Array<[string, number, string | null]> = [
    ['guard1', team.security, 'guard1@example.org'],
    ['guard2', team.security, 'guard2@example.org'],
    ['guard3', team.security, null],
    ['mover1', team.logistics, 'mover1@example.org'],
  ];
  for (const [name, teamId, email] of members) {
    const password = `${name}-password`;
    const created = expectStatus<{ id: number }>(
      await admin.request('POST', '/user', { login: name, name: `${name} <i>`, password, teamId, email }),
      201,
    );
    team.users.push({ id: created.id, login: name, password, email, teamId });
  }
});

afterAll(async () => {
  mailJobTesting.afterRecorded = undefined;
  await server?.stop();
  await smtp?.close();
});

/** The mails whose subject names `title`, once at least `count` arrived. */
async function mailsAbout(title: string, count: number): Promise<ReceivedMail[]> {
  const about = (all: ReceivedMail[]) => all.filter((mail) => mail.parsed.subject?.includes(title));
  return about(await smtp.waitFor((all) => about(all).length >= count));
}

/**
 * Raises a serious control alert for the security team and waits for its two mails: mails are sent in
 * order, so an earlier alert's mail that was going to come has come by then.
 */
async function mailControl(title: string): Promise<void> {
  expectStatus(
    await admin.request('POST', '/alert', { title, severity: 'serious', receiverTeamId: team.security }),
    201,
  );
  await mailsAbout(title, 2);
}

/** The status of job `id` once it is completed or failed. */
async function finished(id: string, timeoutMs = 30_000): Promise<JobStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await Flux.jobs.get(id);
    if (status?.state === 'completed' || status?.state === 'failed') return status;
    if (Date.now() > until) throw new Error(`job ${id} did not finish: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('User.email', () => {
  it('When e-mails are malformed, too long or taken in the tenant, then 400 ValidationError and nothing changes', async () => {
    const before = await databaseChecksum();
    const cases: unknown[] = [
      'not-an-address',
      'a@',
      '<script>@example.org',
      `${'x'.repeat(250)}@example.org`,
      42,
      'guard1@example.org', // guard1's
    ];
    for (const email of cases) {
      const reply = await admin.request('POST', '/user', {
        login: 'mailless',
        password: 'mailless-pass',
        email,
      });
      expect(reply.status, JSON.stringify(email)).toBe(400);
      expect((reply.body as { _error: { code: string } })._error.code).toBe('ValidationError');
    }
    expect(await databaseChecksum()).toBe(before);
  });

  it('When a user changes their own e-mail, then the current password is needed, as for a new password; an admin needs none', async () => {
    const user = team.users.find((u) => u.login === 'guard3')!;
    for (const kind of ['http', 'socket'] as const) {
      const self = await client(server.url, kind, user.login, user.password);
      const address = `guard3-${kind}@example.org`;
      const without = await self.request('PATCH', `/user/${user.id}`, { email: address });
      expect(
        expectStatus<{ _error: { validation: Array<{ path: string }> } }>(without, 400)._error.validation[0]
          .path,
      ).toBe('currentPassword');
      const wrong = await self.request('PATCH', `/user/${user.id}`, {
        email: address,
        currentPassword: 'nope-nope',
      });
      expectStatus(wrong, 400);
      const changed = await self.request('PATCH', `/user/${user.id}`, {
        email: address,
        currentPassword: user.password,
      });
      expect(expectStatus<{ email: string }>(changed, 200).email).toBe(address);
      // readable by who reads the user
      expect(expectStatus<{ email: string }>(await admin.request('GET', `/user/${user.id}`), 200).email).toBe(
        address,
      );
      self.close();
    }
    // back to none, by an admin: several users without e-mail are fine
    expect(
      expectStatus<{ email: null }>(await admin.request('PATCH', `/user/${user.id}`, { email: null }), 200)
        .email,
    ).toBeNull();
    expectStatus(await admin.request('POST', '/user', { login: 'nomail-a', password: 'nomail-pass' }), 201);
    expectStatus(
      await admin.request('POST', '/user', { login: 'nomail-b', password: 'nomail-pass', email: null }),
      201,
    );
  });
});

describe('serious alerts by e-mail', () => {
  for (const kind of ['http', 'socket'] as const) {
    it(`When an admin raises a serious alert over ${kind}, then exactly the receiver team's users with an e-mail get one mail each, text and HTML`, async () => {
      const sender = kind === 'http' ? admin : await client(server.url, 'socket', 'admin', ADMIN_PASSWORD);
      const title = `Fight at gate ${kind} <b>&</b>`;
      const alert = expectStatus<{ id: number }>(
        await sender.request('POST', '/alert', {
          title,
          severity: 'serious',
          message: 'Two people\n<script>alert(1)</script>',
          senderTeamId: team.logistics,
          receiverTeamId: team.security,
        }),
        201,
      );
      const mails = await mailsAbout(title, 2);
      expect(mails.flatMap((mail) => mail.to).sort()).toEqual(withMail().sort());
      for (const mail of mails) {
        expect(mail.parsed.subject).toBe(`[Default] Serious alert: ${title}`);
        expect(mail.parsed.from?.value).toEqual([{ address: 'flux@example.org', name: 'Flux Test' }]);
        expect(mail.parsed.messageId).toMatch(
          new RegExp(`^<alert-${alert.id}-serious-\\d+\\.[0-9a-z]+@example\\.org>$`),
        );
        expect(mail.parsed.text).toContain(`Alert #${alert.id}: ${title}`);
        expect(mail.parsed.text).toContain('From: Logistics');
        expect(mail.parsed.text).toContain('<script>alert(1)</script>');
        const html = String(mail.parsed.html);
        // every value escaped in the HTML part
        expect(html).toContain('Fight at gate');
        expect(html).toContain('&lt;b&gt;&amp;&lt;/b&gt;');
        expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
        expect(html).toContain('&lt;i&gt;');
        expect(html).not.toContain('<script>');
        expect(html).not.toContain('<i>');
      }
      // one each, and nobody else: later mails (the next scenario's) bring no second copy
      await settle(300);
      expect(await mailsAbout(title, 2)).toHaveLength(2);
      if (kind === 'socket') sender.close();
    });
  }

  it('When a receiver makes a warning serious, then its team is mailed once, even when it becomes serious again', async () => {
    const guard = team.users.find((u) => u.login === 'guard1')!;
    const receiver = httpTransport(server.url, await login(server.url, guard.login, guard.password));
    const title = 'Broken fence';
    const alert = expectStatus<{ id: number }>(
      await admin.request('POST', '/alert', { title, severity: 'warning', receiverTeamId: team.security }),
      201,
    );
    // a warning is not mailed: a serious alert raised after it is mailed, the warning not
    await mailControl('Control after the warning');
    expect(smtp.received.filter((mail) => mail.parsed.subject?.includes(title))).toEqual([]);

    expectStatus(await receiver.request('PATCH', `/alert/${alert.id}`, { severity: 'serious' }), 200);
    expect((await mailsAbout(title, 2)).flatMap((mail) => mail.to).sort()).toEqual(withMail().sort());
    // back to warning and serious again: no second mail
    expectStatus(await receiver.request('PATCH', `/alert/${alert.id}`, { severity: 'warning' }), 200);
    expectStatus(await receiver.request('PATCH', `/alert/${alert.id}`, { severity: 'serious' }), 200);
    // an update that leaves it serious sends nothing either
    expectStatus(await receiver.request('PATCH', `/alert/${alert.id}`, { message: 'still there' }), 200);
    await mailControl('Control after the changes');
    await settle(300);
    expect(smtp.received.filter((mail) => mail.parsed.subject?.includes(title))).toHaveLength(2);
  });

  it('When a warning escalates, then the receiver team is mailed that nobody acknowledged it', async () => {
    const title = 'Nobody answered';
    const alert = expectStatus<{ id: number }>(
      await admin.request('POST', '/alert', { title, severity: 'warning', receiverTeamId: team.security }),
      201,
    );
    expect(await escalate(alert.id, { now: new Date(Date.now() + 60_000), afterMs: 1 })).toBe('escalated');
    const mails = await mailsAbout(title, 2);
    expect(mails.flatMap((mail) => mail.to).sort()).toEqual(withMail().sort());
    expect(mails[0].parsed.text).toContain('was not acknowledged in time and is now serious');
  });

  it('When a serious alert has no receiver team, then nobody is mailed', async () => {
    const title = 'For nobody in particular';
    expectStatus(
      await admin.request('POST', '/alert', { title, severity: 'serious', receiverTeamId: null }),
      201,
    );
    await mailControl('Control after the one for nobody');
    await settle(300);
    expect(smtp.received.filter((mail) => mail.parsed.subject?.includes(title))).toEqual([]);
  });
});

describe('the mail job sends each mail once', () => {
  const content = (subject: string) => ({ subject, text: `${subject}, in text`, html: `<p>${subject}</p>` });

  it('When an attempt fails after the mail was sent, then the retry sends nothing and the job completes', async () => {
    const key = `once-after-crash-${Date.now()}`;
    let crashes = 0;
    mailJobTesting.afterRecorded = (data) => {
      if (data.key === key && crashes++ === 0) throw new Error('crash after the send');
    };
    const { id } = await sendMail({ key, to: 'crash@example.org', ...content('Crash after send') });
    const status = await finished(id);
    expect(status).toMatchObject({ state: 'completed', attempts: 2, result: { alreadySent: true } });
    expect(crashes).toBe(2);
    expect(mailsTo(smtp.received, 'crash@example.org')).toHaveLength(1);
    // adding the same key again queues nothing
    expect(await sendMail({ key, to: 'crash@example.org', ...content('Crash after send') })).toEqual({ id });
    await settle(300);
    expect(mailsTo(smtp.received, 'crash@example.org')).toHaveLength(1);
  });

  it('When the SMTP server refuses a mail for a while, then the job retries and the mail arrives once', async () => {
    smtp.refuseNext(1);
    const refusedBefore = smtp.refused();
    const { id } = await sendMail({
      key: `refused-${Date.now()}`,
      to: 'refused@example.org',
      ...content('Refused'),
    });
    const status = await finished(id);
    expect(status).toMatchObject({ state: 'completed', attempts: 2 });
    expect(smtp.refused()).toBe(refusedBefore + 1);
    const [mail] = mailsTo(smtp.received, 'refused@example.org');
    expect(mailsTo(smtp.received, 'refused@example.org')).toHaveLength(1);
    expect(mail.parsed.text).toBe('Refused, in text');
    expect(String(mail.parsed.html)).toContain('<p>Refused</p>');
  });

  it('When the handler runs twice on the same job state, then it sends once and keeps no body', async () => {
    const mailer = createMailer(
      { mail: { url: smtp.url, from: 'Flux <flux@example.org>' } },
      '/',
      quiet,
      'test',
    );
    let state: MailJobData = {
      key: 'twice',
      to: 'twice@example.org',
      queuedAt: 1_700_000_000_000,
      ...content('Twice'),
    };
    const run = () =>
      deliverMail(
        {
          data: state,
          attempt: 1,
          update: async (data) => {
            state = data;
          },
        },
        mailer,
      );
    const first = await run();
    const second = await run();
    expect(second).toEqual({ ...first, alreadySent: true });
    expect(mailsTo(smtp.received, 'twice@example.org')).toHaveLength(1);
    expect(mailsTo(smtp.received, 'twice@example.org')[0].parsed.messageId).toBe(
      messageIdOf({ key: 'twice', queuedAt: 1_700_000_000_000 }, 'example.org'),
    );
    expect(state).toEqual({
      key: 'twice',
      to: 'twice@example.org',
      subject: 'Twice',
      queuedAt: 1_700_000_000_000,
      sentAt: first.sentAt,
      messageId: first.messageId,
    });
    mailer.close();
  });

  it('When the last attempt of a secret mail fails, then its body leaves the job store', async () => {
    const mailer = createMailer({ mail: { url: smtp.url } }, '/', quiet, 'test');
    smtp.refuseNext(2);
    let state: MailJobData = {
      key: 'secret',
      to: 'secret@example.org',
      queuedAt: Date.now(),
      secret: true,
      ...content('Secret token 123'),
    };
    const run = (attempt: number) =>
      deliverMail(
        {
          data: state,
          attempt,
          update: async (data) => {
            state = data;
          },
        },
        mailer,
      );
    await expect(run(1)).rejects.toThrow();
    expect(state.text).toBe('Secret token 123, in text');
    await expect(run(MAIL_ATTEMPTS)).rejects.toThrow();
    expect(state.text).toBeUndefined();
    expect(state.html).toBeUndefined();
    expect(state.droppedAt).toBeDefined();
    expect(JSON.stringify(state)).not.toContain('123, in text');
    // a later retry cannot send what is gone
    await expect(run(MAIL_ATTEMPTS + 1)).rejects.toThrow('its body was dropped');
    expect(mailsTo(smtp.received, 'secret@example.org')).toEqual([]);
    mailer.close();
  });
});
