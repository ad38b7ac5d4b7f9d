import { escapeHtml, htmlDocument, htmlParagraph, type MailContent, subjectLine } from './layout.js';

/** The values of the serious alert mail. */
export interface SeriousAlertValues {
  /** How the user is greeted: their name, else their login. */
  name: string;
  /** The tenant's name (the event). */
  tenant: string;
  alertId: number;
  title: string;
  message: string | null;
  /** The sender team's name, if any. */
  senderTeam: string | null;
  /** The receiver team's name: the recipient's team. */
  receiverTeam: string;
  /** When it was raised. */
  raisedAt: Date;
  /** True when it became serious by escalation (nobody acknowledged the warning in time). */
  escalated: boolean;
}

/**
 * The mail to each user of an alert's receiver team when the alert is, or becomes, `serious`
 * (docs/mail.md): what, from whom, when, and the message.
 */
export function seriousAlert(values: SeriousAlertValues): MailContent {
  const { name, tenant, alertId, title, message, senderTeam, receiverTeam, raisedAt, escalated } = values;
  const subject = subjectLine(`[${tenant}] Serious alert: ${title}`);
  const why = escalated
    ? `A warning for ${receiverTeam} was not acknowledged in time and is now serious.`
    : `A serious alert was raised for ${receiverTeam}.`;
  const text = [
    `Hello ${name},`,
    '',
    why,
    '',
    `Alert #${alertId}: ${title}`,
    `From: ${senderTeam ?? 'nobody in particular'}`,
    `Raised: ${raisedAt.toISOString()}`,
    ...(message ? ['', message] : []),
    '',
    'Open Flux to handle it.',
  ].join('\n');
  const html = htmlDocument(
    subject,
    [
      `<p>Hello ${escapeHtml(name)},</p>`,
      `<p>${escapeHtml(why)}</p>`,
      `<h2 style="color: #b00020;">Alert #${escapeHtml(alertId)}: ${escapeHtml(title)}</h2>`,
      '<table>',
      `<tr><td>From</td><td>${escapeHtml(senderTeam ?? 'nobody in particular')}</td></tr>`,
      `<tr><td>Raised</td><td>${escapeHtml(raisedAt.toISOString())}</td></tr>`,
      '</table>',
      message ? htmlParagraph(message) : '',
      '<p>Open Flux to handle it.</p>',
    ].join('\n'),
  );
  return { subject, text, html };
}
