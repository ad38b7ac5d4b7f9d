/** socket.io transport (SPEC §8). */
export default {
  path: '/socket.io',
  /** A handshake `auth.token` is replayed to this route as `{jwt: token}`, which binds the socket. */
  handshakeAuth: { url: '/auth/jwt', tokenField: 'jwt' },
  /** Requests one socket may have unanswered at once; more are answered 429 at once. */
  maxInFlight: 32,
};
