/** Uploads on `file` routes (SPEC §14). */
export default {
  /** Where multer stores files; outside any served folder. */
  dir: 'uploads/tmp',
  /** Largest file, in bytes. */
  maxFileSize: 5 * 1024 * 1024,
};
