import { escapeHtml, htmlDocument, type MailContent, subjectLine } from './layout.js';

/** The values of the password reset mail. */
export interface ResetPasswordValues {
  /** How the user is greeted: their name, else their login. */
  name: string;
  login: string;
  /** The tenant's name (the event). */
  tenant: string;
  /** The one-time token, as `POST /auth/reset/confirm` takes it. */
  token: string;
  /** The page completing the reset with the token in it (`auth.resetUrl`), if configured. */
  link?: string;
  /** How long the token is valid, minutes. */
  validMinutes: number;
}

/**
 * The mail of `POST /auth/reset` (docs/mail.md): the token on a line of its own in the text part (and the
 * link when `auth.resetUrl` is set), how long it is valid, and what to do when the user did not ask.
 */
export function resetPassword(values: ResetPasswordValues): MailContent {
  const { name, login, tenant, token, link, validMinutes } = values;
  const subject = subjectLine(`Reset your password for ${tenant}`);
  const text = [
    `Hello ${name},`,
    '',
    `Someone asked to reset the password of the login "${login}" at ${tenant}.`,
    link
      ? 'Open this link to choose a new password:'
      : 'Give this reset code to the app to choose a new password:',
    '',
    link ?? token,
    '',
    ...(link ? ['Or give the app this reset code:', '', token, ''] : []),
    `It works once, within ${validMinutes} minutes. Choosing a new password logs you out everywhere.`,
    'If you did not ask for it, ignore this mail: your password stays as it is.',
  ].join('\n');
  const html = htmlDocument(
    subject,
    [
      `<p>Hello ${escapeHtml(name)},</p>`,
      `<p>Someone asked to reset the password of the login <b>${escapeHtml(login)}</b> at ${escapeHtml(tenant)}.</p>`,
      link
        ? `<p><a href="${escapeHtml(link)}">Choose a new password</a></p><p>Or give the app this reset code:</p>`
        : '<p>Give this reset code to the app to choose a new password:</p>',
      `<p style="font-family: monospace; font-size: 1.1em;">${escapeHtml(token)}</p>`,
      `<p>It works once, within ${escapeHtml(validMinutes)} minutes. Choosing a new password logs you out everywhere.</p>`,
      '<p>If you did not ask for it, ignore this mail: your password stays as it is.</p>',
    ].join('\n'),
  );
  return { subject, text, html };
}
