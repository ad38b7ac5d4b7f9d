/** Passwords (SPEC §9). */
export default {
  /** bcrypt cost factor (each +1 doubles the time of a login). */
  bcryptRounds: 12,
  /** Shortest accepted password. */
  minPasswordLength: 8,
};
