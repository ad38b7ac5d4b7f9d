import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { z } from 'zod';
import type { Logger } from './log.js';

/**
 * Sending e-mail with nodemailer (https://nodemailer.com), from the `mail` config keys (docs/mail.md):
 * - `mail.url` set (`smtp://…` or `smtps://…`): messages go to that SMTP server;
 * - unset, outside production: each message is written as an `.eml` file (the raw RFC 5322 message, as
 *   nodemailer's stream transport builds it) under `mail.dir` — never into the application log;
 * - unset in production: nothing can be sent; {@link createMailer} logs an error naming `mail.url`, and
 *   every {@link Mailer.send} throws {@link MailNotConfiguredError}.
 * The mailer knows nothing of queues or retries: callers that must send once (a job) give each message a
 * stable `messageId` and record that it was sent.
 */

/** The `mail` config keys (registered by the application, see `api/configSchema.ts`). */
export const mailConfigSchema = z
  .object({
    /**
     * The SMTP server, `smtp://[user:password@]host[:port]` (STARTTLS when the server offers it) or
     * `smtps://…` (TLS from the start); nodemailer's SMTP options may follow as query parameters
     * (`?ignoreTLS=true`, `?tls.rejectUnauthorized=false`, `?pool=true`). Unset: see `dir`.
     */
    url: z
      .string()
      .regex(/^smtps?:\/\/\S+$/, 'an smtp:// or smtps:// URL')
      .optional()
      .describe(
        'The SMTP server: `smtp://[user:password@]host[:port]` (STARTTLS when offered) or `smtps://…`, ' +
          'nodemailer options as query parameters. Unset: `.eml` files in `dir` outside production, no mail in production.',
      ),
    /** The sender, `address` or `Name <address>`; default `Flux <flux@localhost>`. */
    from: z
      .string()
      .min(3)
      .max(320)
      .optional()
      .describe('The sender, `address` or `Name <address>`; default `Flux <flux@localhost>`.'),
    /** Without `url`, outside production: the folder of the `.eml` files, relative to the root dir. */
    dir: z
      .string()
      .min(1)
      .default('logs/mail')
      .describe(
        'Without `url`, outside production: the folder of the `.eml` files, relative to the root dir.',
      ),
  })
  .prefault({});

/** The `mail` config keys, as validated. */
export type MailConfig = z.infer<typeof mailConfigSchema>;

const DEFAULT_FROM = 'Flux <flux@localhost>';
/** nodemailer waits 2 minutes for a connection and 10 for a reply by default: far past a job's timeout. */
const smtpTimeouts = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/** One message. */
export interface MailMessage {
  /** One address, or several separated by commas. */
  to: string;
  subject: string;
  /** The plain-text part. */
  text: string;
  /** The HTML part, if any (the message is then `multipart/alternative`). */
  html?: string;
  /**
   * The `Message-ID` header, `<id@domain>`; default a random one. Give a stable one to a message that
   * may be sent again after a crash, so that the receiving side can tell the copies apart.
   */
  messageId?: string;
}

/** What a send did. */
export interface SentMail {
  messageId: string;
  /** SMTP: the addresses the server accepted. Files: every recipient. */
  accepted: string[];
  /** The `.eml` file written, absolute (files only). */
  file?: string;
}

/** Sending without a configured server in production. */
export class MailNotConfiguredError extends Error {
  constructor() {
    super('mail.url is not set: no e-mail can be sent');
    this.name = 'MailNotConfiguredError';
  }
}

/** How a mailer delivers: to an SMTP server, into `.eml` files, or not at all. */
export type MailMode = 'smtp' | 'files' | 'none';

/** The options of {@link Mailer}. */
export interface MailerOptions {
  /** See {@link mailConfigSchema} `url`. */
  url?: string;
  /** Default `Flux <flux@localhost>`. */
  from?: string;
  /** The absolute folder of the `.eml` files, used when `url` is unset; undefined: mail cannot be sent. */
  dir?: string;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

/** Sends messages through one nodemailer transport. Build it with {@link createMailer}. */
export class Mailer {
  readonly mode: MailMode;
  /** The sender of every message. */
  readonly from: string;
  /** The domain of message ids: the sender's, else `localhost`. */
  readonly domain: string;
  private readonly transport?: Transporter;
  private readonly dir?: string;
  private readonly log: MailerOptions['log'];

  constructor(options: MailerOptions) {
    this.log = options.log;
    this.from = options.from ?? DEFAULT_FROM;
    this.domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(this.from)?.[1]?.toLowerCase() ?? 'localhost';
    if (options.url) {
      this.mode = 'smtp';
      // the URL's own parameters win over these defaults (nodemailer merges them after)
      this.transport = nodemailer.createTransport({ ...smtpTimeouts, url: options.url } as never);
    } else if (options.dir) {
      this.mode = 'files';
      this.dir = options.dir;
      this.transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    } else {
      this.mode = 'none';
    }
  }

  /**
   * Sends `message` from {@link from}.
   * @returns its message id and accepted recipients (and the file written, without SMTP)
   * @throws MailNotConfiguredError when the mailer has no way to send; nodemailer's error when the SMTP
   *   server cannot be reached or refuses the message (its `responseCode`, e.g. 550); a file system error
   *   when the `.eml` file cannot be written.
   */
  async send(message: MailMessage): Promise<SentMail> {
    if (!this.transport) throw new MailNotConfiguredError();
    const info = (await this.transport.sendMail({
      from: this.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      messageId: message.messageId,
    })) as { messageId: string; accepted?: unknown[]; message?: Buffer; envelope?: { to?: string[] } };
    if (this.mode === 'smtp') {
      return { messageId: info.messageId, accepted: (info.accepted ?? []).map(String) };
    }
    // the same message id gives the same file: a message sent again overwrites its copy
    const name = `${info.messageId.replace(/^<|>$/g, '').replace(/[^A-Za-z0-9._@-]/g, '_')}.eml`;
    const file = path.join(this.dir!, name);
    await mkdir(this.dir!, { recursive: true, mode: 0o700 });
    // it may hold a secret (a reset token): readable by the server's user only; written under another
    // name, then renamed, so that a reader of the folder never sees half a message
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, info.message!, { mode: 0o600 });
    await rename(partial, file);
    // the file's name only: the application log holds no part of a message
    this.log.info(`mail: written to ${file} (no mail.url set)`);
    return { messageId: info.messageId, accepted: info.envelope?.to ?? [], file };
  }

  /**
   * Whether the SMTP server accepts a connection and the credentials (SMTP `NOOP` after the greeting and
   * the login); true for files.
   * @throws MailNotConfiguredError when the mailer cannot send; the connection's error.
   */
  async verify(): Promise<true> {
    if (!this.transport) throw new MailNotConfiguredError();
    if (this.mode === 'files') return true;
    return (await this.transport.verify()) as true;
  }

  /** Closes the transport's connections (a pooled SMTP transport keeps some open). Safe to call twice. */
  close(): void {
    this.transport?.close();
  }
}

/**
 * The mailer of an application, from its config (`mail`), root dir and environment (`NODE_ENV`).
 * Reports at once what it will do: in production without `mail.url`, an error line naming `mail.url`;
 * without `mail.url` elsewhere, an info line naming the folder of the `.eml` files.
 * @param config the application config; only `mail` is read (absent: all defaults)
 * @param rootdir the absolute root dir `mail.dir` is relative to
 * @param env `production` refuses the `.eml` fallback
 * @example Flux.mailer = createMailer(Flux.config, Flux.rootdir, Flux.log, Flux.env)
 */
export function createMailer(
  config: { mail?: Partial<MailConfig> },
  rootdir: string,
  log: MailerOptions['log'],
  env: string = process.env.NODE_ENV || 'development',
): Mailer {
  const mail = config.mail ?? {};
  if (mail.url) {
    if (env === 'production' && !mail.from)
      log.warn(`mail.from is not set: e-mails are sent from ${DEFAULT_FROM}, which servers may refuse`);
    // nodemailer upgrades smtp:// with STARTTLS when the server offers it, but a man in the middle can
    // strip the offer: the reset tokens would then cross the network in clear
    if (env === 'production' && /^smtp:/i.test(mail.url) && !/[?&]requireTLS=true\b/i.test(mail.url))
      log.warn(
        'mail.url: smtp:// without requireTLS=true may send in clear; use smtps:// or add ?requireTLS=true',
      );
    return new Mailer({ url: mail.url, from: mail.from, log });
  }
  if (env === 'production') {
    log.error(
      'mail.url is not set (env FLUX_MAIL_URL): no e-mail can be sent — password resets and alert ' +
        'e-mails fail until an SMTP server is configured (docs/mail.md)',
    );
    return new Mailer({ from: mail.from, log });
  }
  const dir = path.resolve(rootdir, mail.dir ?? 'logs/mail');
  log.info(`mail.url is not set: e-mails are written as .eml files in ${dir}`);
  return new Mailer({ from: mail.from, dir, log });
}
