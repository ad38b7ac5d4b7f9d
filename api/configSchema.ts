import { z } from 'zod';
import type { ConfigSchema } from '../lib/config.js';
import { mailConfigSchema } from '../lib/mail.js';

/**
 * The application's config keys, registered with the framework (lib/config.ts `ConfigSchema`): checked with
 * the framework's keys at start, before `listen()`; an invalid value stops the start naming the key.
 * Defaults are those of the shipped `config/auth.ts`, `config/upload.ts`, `config/import.ts` and
 * `config/bootstrap.ts`.
 */

const mimeType = /^[\w.+-]+\/[\w.+-]+$/;

const schema = z.object({
  /**
   * Passwords, sessions and login limits (docs/reference.md#authentication-and-sessions); defaults in
   * `config/auth.ts`.
   */
  auth: z
    .object({
      /** bcrypt cost factor: bcrypt accepts 4 to 31. */
      bcryptRounds: z.number().int().min(4).max(31).default(12),
      /** bcrypt operations at once per process (each holds a libuv pool thread for its whole cost). */
      hashConcurrency: z.number().int().min(1).max(64).default(2),
      /** bcrypt operations that may wait for their turn; past it 503 `Busy` with `Retry-After`. */
      hashQueueLength: z.number().int().min(0).default(200),
      /** bcrypt operations of one client address in the queue at once. */
      hashPerAddress: z.number().int().min(1).default(2),
      /** bcrypt operations of one address waiting behind its own; past it 429 with `Retry-After`. */
      hashPerAddressQueue: z.number().int().min(0).default(4),
      minPasswordLength: z.number().int().min(1).max(1024).default(8),
      sessionTouchMs: z.number().int().min(0).default(60_000),
      /** From login, ms; 0: no bound. */
      sessionMaxAgeMs: z
        .number()
        .int()
        .min(0)
        .default(30 * 24 * 3_600_000),
      /** Lifetime of a password reset token (`POST /auth/reset`), ms. */
      resetTtlMs: z
        .number()
        .int()
        .min(60_000)
        .max(7 * 24 * 3_600_000)
        .default(3_600_000),
      /**
       * The page that completes a password reset: the mail links to `<resetUrl>#token=<token>` (and
       * `&tenant=<slug>` outside the default tenant). Unset: the mail gives the token alone.
       */
      resetUrl: z.url({ protocol: /^https?$/ }).optional(),
      loginLimit: z
        .object({
          windowMs: z.number().int().positive().default(900_000),
          perAccount: z.number().int().positive().default(10),
          perAddress: z.number().int().positive().default(100),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Avatars and direct uploads (docs/reference.md#uploads), besides the framework's `upload` keys of `file`
   * routes.
   */
  upload: z
    .object({
      /** Largest image declared (width × height, pixels); over it 400 before decoding. */
      maxImagePixels: z
        .number()
        .int()
        .positive()
        .default(4096 * 4096),
      /** Images processed at once; each holds one libuv pool thread. */
      imageConcurrency: z.number().int().positive().default(1),
      /** Images waiting for their turn; past it 503 `Busy`. */
      imageQueueLength: z.number().int().min(0).default(8),
      /** Direct uploads with pre-signed URLs; unset: those routes answer 404. */
      s3: z
        .object({
          bucket: z.string().min(1),
          region: z.string().min(1),
          endpoint: z.url().optional(),
          forcePathStyle: z.boolean().optional(),
          accessKeyId: z.string().min(1).optional(),
          secretAccessKey: z.string().min(1).optional(),
          /** Largest object, bytes. */
          maxSize: z.number().int().positive().optional(),
          /** Lifetime of a pre-signed URL, seconds. */
          expiresIn: z.number().int().positive().max(604_800).optional(),
          contentTypes: z
            .array(z.string().regex(mimeType, 'a media type such as image/png'))
            .min(1)
            .optional(),
        })
        .optional(),
    })
    .prefault({}),
  /** Alerts (docs/escalation.md). */
  alerts: z
    .object({
      /**
       * A `warning` nobody acknowledged this long after it was raised becomes `serious`, ms; 0: alerts
       * never escalate.
       */
      escalateAfterMs: z.coerce.number().int().min(0).default(300_000),
    })
    .prefault({}),
  /**
   * Repeatable clean-up jobs (docs/escalation.md#housekeeping): each run deletes at most `batchSize` rows,
   * files or objects.
   */
  housekeeping: z
    .object({
      /** Sessions ended (revoked or expired) longer ago than this are deleted, ms. */
      sessionRetentionMs: z
        .number()
        .int()
        .min(0)
        .default(30 * 24 * 3_600_000),
      /**
       * Files of `<upload.dir>/tmp` older than this are removed, ms: left by a crash mid-upload (a request
       * removes its own). Longer than the slowest upload.
       */
      tempFileMaxAgeMs: z.number().int().min(60_000).default(3_600_000),
      /**
       * An object uploaded with a pre-signed URL and never confirmed is deleted this long after the URL
       * expired, ms: the time a client has to confirm its upload.
       */
      unconfirmedUploadGraceMs: z.number().int().min(0).default(3_600_000),
      /** Most rows, files or objects one run of a clean-up job deletes. */
      batchSize: z.number().int().min(1).max(10_000).default(500),
    })
    .prefault({}),
  /** The CSV import of users (`POST /import/users`, docs/import.md). */
  import: z
    .object({
      /**
       * Largest CSV file, bytes (413 above). The file's text travels in the job's data (any instance may
       * run the job), so this also bounds what one import stores in the job queue until it ends.
       */
      maxBytes: z
        .number()
        .int()
        .positive()
        .max(64 * 1024 * 1024)
        .default(5 * 1024 * 1024),
    })
    .prefault({}),
  /**
   * First start (docs/reference.md#running): the bootstrap admin's password; unset, a random one is printed
   * once.
   */
  bootstrap: z.object({ adminPassword: z.string().optional() }).prefault({}),
  /**
   * E-mail (docs/mail.md): the SMTP server and sender of lib/mail.ts; without a server, `.eml` files in
   * development and tests, nothing in production.
   */
  mail: mailConfigSchema,
});

export const configSchema = {
  schema,
  env: {
    FLUX_ADMIN_PASSWORD: ['bootstrap', 'adminPassword'],
    FLUX_MAIL_URL: ['mail', 'url'],
    FLUX_MAIL_FROM: ['mail', 'from'],
    /** E.g. a short delay to watch an escalation happen (README walkthrough). */
    FLUX_ESCALATE_AFTER_MS: ['alerts', 'escalateAfterMs'],
  },
} satisfies ConfigSchema;

/** The application's config keys, as validated. */
export type AppConfigKeys = z.infer<typeof schema>;

declare module '../lib/config.js' {
  interface RegisteredConfig extends AppConfigKeys {}
}
