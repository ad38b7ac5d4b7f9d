/** socket.io transport (docs/reference.md#socket-protocol). */
export default {
  path: '/socket.io',
  /** A handshake `auth.token` is replayed to this route as `{jwt: token}`, which binds the socket. */
  handshakeAuth: { url: '/auth/jwt', tokenField: 'jwt' },
  /** Requests one socket may have unanswered at once; more are answered 429 at once. */
  maxInFlight: 32,
  /**
   * Connections one client address may hold at once on this instance (behind a trusted proxy, the
   * forwarded address); more are refused at the handshake with 429. Raise it when many devices share one
   * public address (a venue's Wi-Fi behind NAT); 0 removes the cap.
   */
  maxConnectionsPerAddress: 50,
};
