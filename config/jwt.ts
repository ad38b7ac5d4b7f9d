/**
 * JSON Web Tokens (HS256). `JWT_SECRET` sets `secret`; with `NODE_ENV=production` the server refuses to
 * start unless `JWT_SECRET` is set to at least 32 characters. Without it elsewhere, the server makes a
 * random secret on its first start and keeps it in `secretFile` (mode 0600): never a constant of the source.
 */
export default {
  /** Where the generated secret is kept when `JWT_SECRET` is not set, relative to the project. */
  secretFile: 'data/jwt-secret',
  /** Token lifetime: seconds, or a string such as `'7d'`, `'12h'`. */
  expiresIn: '7d' as string | number,
};
