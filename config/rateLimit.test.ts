/** Tests send many requests from 127.0.0.1; the rate-limit test sets its own limits. */
export default { limit: 1_000_000 };
