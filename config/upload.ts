import type { S3Config } from '../api/services/StorageService.js';

/** Uploads (docs/reference.md#uploads). */
export default {
  /** Where multer stores uploads (temporary files, avatars); outside any served folder. */
  dir: 'uploads',
  /** Largest file on a `file` route, bytes (413 above). */
  maxFileSize: 5 * 1024 * 1024,
  /** Files per request on a `file` route. */
  maxFiles: 1,
  /** Types accepted on `file` routes, checked on the file's content (magic bytes), not its name. */
  mimeTypes: ['image/png', 'image/jpeg', 'image/webp', 'image/gif'],
  /**
   * Largest image an avatar may declare, width × height in pixels; over it 400, read from the header
   * before any decoding. 4096×4096 lets a 12 or 16 MP phone photo through, while decoding one costs about
   * 70 MB and a fraction of a second of one libuv pool thread.
   */
  maxImagePixels: 4096 * 4096,
  /** Images resized at once; each holds one libuv pool thread (4 by default, shared with the database). */
  imageConcurrency: 1,
  /** Images that may wait for their turn; past it 503 `Busy` with `Retry-After`. */
  imageQueueLength: 8,
  /**
   * Direct uploads to S3 with pre-signed URLs (`POST /upload/presign`). Unset: those routes answer 404.
   * `endpoint` and `forcePathStyle` for S3-compatible stores; credentials default to the AWS chain.
   */
  s3: undefined as S3Config | undefined,
};
