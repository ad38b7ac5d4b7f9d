/**
 * Redis (docs/reference.md#running), needed as soon as more than one instance runs: the bus of model events
 * and revocations, the shared revocation list, rate-limit counts, the socket.io adapter. `REDIS_URL`
 * overrides `url`.
 */
export default {
  url: undefined as string | undefined,
  /** Prefix of every key and channel of this deployment (several deployments may share one Redis). */
  prefix: 'flux:',
};
