/**
 * What every mail template shares: HTML escaping and the HTML frame around a body. Templates are plain
 * functions of their values returning {@link MailContent}: a subject, a plain-text part and an HTML part
 * saying the same (docs/mail.md "Adding a mail").
 */

/** A message's content, as a template gives it; the mail job adds the recipient. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

// C0 and C1 controls (line breaks included), DEL, and the two Unicode line terminators
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * `value` with the five characters that mean something in HTML text and attribute values (`& < > " '`)
 * written as entities: every value interpolated into an HTML part goes through it.
 * @example escapeHtml('<b>"Bar" & co</b>') // => '&lt;b&gt;&quot;Bar&quot; &amp; co&lt;/b&gt;'
 */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => entities[c]);
}

/**
 * A subject line from values that may hold anything: control characters (line breaks, which would start
 * a header of their own in a careless mailer) become spaces, runs of spaces one, and it is cut at
 * `max` characters with an ellipsis.
 */
export function subjectLine(value: string, max = 150): string {
  const clean = value.replace(controlCharacters, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A paragraph of the HTML part from plain text: escaped, its line breaks kept. */
export function htmlParagraph(text: string): string {
  return `<p>${escapeHtml(text).replace(/\r?\n/g, '<br>')}</p>`;
}

/**
 * The HTML document of a message: `title` (escaped) and `body`, which must already be HTML (built with
 * {@link escapeHtml} or {@link htmlParagraph}). Inline styles only: mail clients drop style sheets.
 */
export function htmlDocument(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.4; color: #222;">',
    body,
    '<p style="color: #777; font-size: 0.9em;">Flux</p>',
    '</body></html>',
  ].join('\n');
}
