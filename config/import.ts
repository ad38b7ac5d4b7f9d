/** The CSV import of users (`POST /import/users`, docs/import.md). */
export default {
  /**
   * Largest CSV file, bytes (413 above): about 50,000 lines of `login,name,team,email`. The text travels in
   * the job's data until the import ends.
   */
  maxBytes: 5 * 1024 * 1024,
};
