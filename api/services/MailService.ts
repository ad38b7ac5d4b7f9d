import { Flux } from '../../lib/Flux.js';
import { createMailer, type Mailer } from '../../lib/mail.js';
import type { MailContent } from '../mail/layout.js';

/**
 * Every mail of the application goes through the job queue (docs/mail.md): {@link sendMail} adds a `mail`
 * job (api/jobs/mail.ts) whose id is the mail's idempotency key, and the job sends it with
 * {@link deliverMail}, retried with backoff when the SMTP server fails, sent once:
 * - adding the same key again while its job exists (until `jobs.keepCompletedMs` after it completed)
 *   adds nothing;
 * - once sent, the job's data is replaced by `{key, to, subject, queuedAt, sentAt, messageId}`: the body
 *   (which may hold a reset token) leaves the job store, and a run of the same job after that (a crash
 *   between the send and the job's completion) sends nothing;
 * - each message has a `Message-ID` made from its key and the time it was queued, the same in every
 *   attempt, so that the one case left — a crash between the SMTP server's acceptance and the record
 *   above — gives a copy that mail clients can recognise.
 */

/** A mail to queue: a template's content, its recipient, and its idempotency key. */
export interface OutgoingMail extends MailContent {
  /**
   * Names this mail once and for all (e.g. `alert-12-serious-5`): letters, digits, `_`, `-`, `.`, at most
   * 200. A mail with a key already queued or sent (while its job is kept) is not queued again.
   */
  key: string;
  /** One address. */
  to: string;
  /**
   * The body holds a secret (a reset token): when the job fails for good, its body is dropped from the
   * job store too (such a failed job cannot be retried; ask for a new mail instead).
   */
  secret?: boolean;
}

/** The data of a `mail` job, as stored. */
export interface MailJobData {
  key: string;
  to: string;
  subject: string;
  /** Dropped once sent, or once the job failed for good when `secret`. */
  text?: string;
  html?: string;
  secret?: boolean;
  /** When it was queued, ms since the epoch: part of the Message-ID. */
  queuedAt: number;
  /** Set once the SMTP server (or the `.eml` file) took the message: the job never sends it again. */
  sentAt?: string;
  messageId?: string;
  /** Set when the body was dropped after the last attempt failed. */
  droppedAt?: string;
}

/** What a `mail` job returns (its `result` in `GET /job/:id`). */
export interface MailJobResult {
  messageId: string;
  sentAt: string;
  /** True when this run found the mail already sent and sent nothing. */
  alreadySent?: boolean;
}

/** What {@link deliverMail} needs of a job's run (lib/jobs.ts `JobRun`). */
export interface MailRun {
  data: MailJobData;
  attempt: number;
  update(data: MailJobData): Promise<void>;
}

const mailKey = /^[A-Za-z0-9_.-]{1,200}$/;
/** Attempts of a `mail` job (api/jobs/mail.ts): with a 5 s backoff, the last one about 75 s after the first. */
export const MAIL_ATTEMPTS = 5;

/**
 * Queues `mail` for sending (a `mail` job with id `mail.key`).
 * @returns the job's public id (the existing job's when the key was queued before)
 * @throws Error for a key that is not `[A-Za-z0-9_.-]{1,200}` (a programming error); the job store's error
 *   when it cannot be reached.
 */
export async function sendMail(mail: OutgoingMail): Promise<{ id: string }> {
  if (!mailKey.test(mail.key)) throw new Error(`mail: invalid key "${mail.key}"`);
  const data: MailJobData = {
    key: mail.key,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    queuedAt: Date.now(),
  };
  if (mail.secret) data.secret = true;
  const { id } = await Flux.jobs.add('mail', data, { id: mail.key });
  return { id };
}

/**
 * One run of a `mail` job: sends the message unless a previous run did, then records it (dropping the
 * body). When the last attempt fails on a `secret` mail, drops its body before failing.
 * @param mailer the mailer to send with (default {@link mailer})
 * @throws the mailer's error (the attempt fails and is retried); Error when the body was dropped before
 *   the message was sent.
 */
export async function deliverMail(run: MailRun, mailer: Mailer = currentMailer()): Promise<MailJobResult> {
  const { data } = run;
  if (data.sentAt && data.messageId)
    return { messageId: data.messageId, sentAt: data.sentAt, alreadySent: true };
  if (data.text === undefined) throw new Error(`mail ${data.key}: its body was dropped, it cannot be sent`);
  let sent: { messageId: string };
  try {
    sent = await mailer.send({
      to: data.to,
      subject: data.subject,
      text: data.text,
      html: data.html,
      messageId: messageIdOf(data, mailer.domain),
    });
  } catch (err) {
    if (data.secret && run.attempt >= MAIL_ATTEMPTS) {
      await run.update({ ...withoutBody(data), droppedAt: new Date().toISOString() });
    }
    throw err;
  }
  const sentAt = new Date().toISOString();
  await run.update({ ...withoutBody(data), sentAt, messageId: sent.messageId });
  return { messageId: sent.messageId, sentAt };
}

/** The `Message-ID` of a queued mail: the same in every attempt, unique across deployments in practice. */
export function messageIdOf(data: Pick<MailJobData, 'key' | 'queuedAt'>, domain: string): string {
  return `<${data.key}.${data.queuedAt.toString(36)}@${domain}>`;
}

function withoutBody(data: MailJobData): MailJobData {
  const { text: _text, html: _html, ...rest } = data;
  return rest;
}

/** Mailers built here, by the config object they were built from (a new one after each start). */
const built = new WeakMap<object, Mailer>();

/**
 * The application's mailer: `Flux.mailer` when Flux built one at start, else one built from `Flux.config`
 * on first use (closed by `Flux.stop()`).
 */
export function currentMailer(): Mailer {
  if (Flux.mailer) return Flux.mailer;
  let mailer = built.get(Flux.config);
  if (!mailer) {
    const made = createMailer(Flux.config, Flux.rootdir, Flux.log, Flux.env);
    built.set(Flux.config, made);
    Flux.onStop(() => made.close());
    mailer = made;
  }
  return mailer;
}
