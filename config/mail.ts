/**
 * E-mail (docs/mail.md). Without `url`, outside production, every message is written as an `.eml` file
 * in `dir` instead of being sent; in production a missing `url` is an error at start.
 */
export default {
  /**
   * The SMTP server (env `FLUX_MAIL_URL`): `smtp://user:password@host:587` (STARTTLS when offered) or
   * `smtps://…:465` (TLS from the start); nodemailer options may follow as query parameters.
   */
  url: undefined as string | undefined,
  /** The sender (env `FLUX_MAIL_FROM`), `address` or `Name <address>`. */
  from: undefined as string | undefined,
  /** Without `url`: the folder of the `.eml` files, relative to the root dir. */
  dir: 'logs/mail',
};
