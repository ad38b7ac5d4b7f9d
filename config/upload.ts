import type { S3Config } from '../api/services/StorageService.js';

/** Uploads (SPEC §14). */
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
   * Direct uploads to S3 with pre-signed URLs (`POST /upload/presign`). Unset: those routes answer 404.
   * `endpoint` and `forcePathStyle` for S3-compatible stores; credentials default to the AWS chain.
   */
  s3: undefined as S3Config | undefined,
};
