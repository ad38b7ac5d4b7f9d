/**
 * Global rate limit (docs/reference.md#errors): requests per address and window, HTTP and socket virtual
 * requests alike. At an event many phones may share one address (a NAT): size it for the busiest such
 * address.
 */
export default {
  windowMs: 60_000,
  limit: 600,
};
