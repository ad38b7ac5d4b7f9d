/**
 * JSON Web Tokens (HS256). `JWT_SECRET` overrides `secret`; with `NODE_ENV=production` the server refuses
 * to start unless `JWT_SECRET` is set to at least 32 characters.
 */
export default {
  secret: 'flux-development-secret-do-not-use-in-production',
  /** Token lifetime: seconds, or a string such as `'7d'`, `'12h'`. */
  expiresIn: '7d' as string | number,
};
