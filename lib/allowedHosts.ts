import type { RequestHandler } from 'express';
import { ForbiddenError } from './errors.js';

/**
 * `server.allowedHosts`: the host names this server answers to, checked against the `Host` header of every
 * HTTP request and socket handshake. A defence against DNS rebinding: a web page of another site whose name
 * was made to resolve to this server's address talks to it as if it were the same origin (CORS and the
 * socket's origin check do not see it), and could, from a kiosk's browser, call `POST /auth/ip` and read
 * the kiosk's token. The rebinding page's requests carry its own host name, which is not in the list.
 * Same idea as Vite's `server.allowedHosts` (https://vite.dev/config/server-options#server-allowedhosts).
 *
 * `true` (the default): any host. A list: names compared without the port and case-insensitively; a name
 * starting with a dot also matches its subdomains (`.flux.example.org`: `flux.example.org` and
 * `summerfest.flux.example.org`, the tenants' addresses); IP addresses as written in URLs (`127.0.0.1`,
 * `[::1]`).
 * @returns whether a `Host` header value is allowed (a missing one is not, once a list is set).
 */
export function hostChecker(allowed: true | string[]): (host: string | undefined) => boolean {
  if (allowed === true) return () => true;
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allowed.map((name) => name.toLowerCase())) {
    if (entry.startsWith('.')) {
      suffixes.push(entry);
      exact.add(entry.slice(1));
    } else exact.add(entry);
  }
  return (host) => {
    if (!host) return false;
    const name = hostName(host.toLowerCase());
    return exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
  };
}

/** `example.org:3000` → `example.org`; `[::1]:3000` → `[::1]`. */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Express middleware refusing HTTP requests whose `Host` is not allowed: 403 `Forbidden`. */
export function allowedHostsMiddleware(allowed: (host: string | undefined) => boolean): RequestHandler {
  return (req, _res, next) => {
    if (allowed(req.headers.host)) return next();
    next(new ForbiddenError('This host name is not served here (server.allowedHosts)'));
  };
}

/** What start-up says about `server.allowedHosts`: unset in production, any rebinding page is served. */
export function allowedHostsWarning(allowed: true | string[], env: string): string | undefined {
  if (env !== 'production' || allowed !== true) return undefined;
  return 'server.allowedHosts is not set: any Host is served; list the names clients use (DNS rebinding, docs/security.md)';
}
