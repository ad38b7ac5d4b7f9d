/**
 * Prometheus metrics. By default `GET /metrics` is served on the main port, over HTTP only. Set `port` to
 * serve it on its own listener instead (then the main port answers 404 there), e.g. a port that only the
 * monitoring network reaches; `host` defaults to `server.host`.
 */
export default {
  port: undefined as number | undefined,
  host: undefined as string | undefined,
};
