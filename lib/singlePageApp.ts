import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler } from 'express';

/**
 * The Content-Security-Policy of a served front end: its own scripts only, connections to this origin
 * (HTTP and the socket: `'self'` covers ws: and wss: of the same host), images also from `blob:` (avatars
 * read with the token) and `data:`. Unlike helmet's default it does not upgrade http:// requests: a
 * console opened over plain HTTP (a venue's LAN) must still reach its server. Source: CSP Level 3,
 * https://www.w3.org/TR/CSP3/.
 */
export const SINGLE_PAGE_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/**
 * Serves a built single-page application (Vite's output: `index.html` and hashed `assets/`) under the
 * path it is mounted at: files as they are (`express.static`; hashed assets cached for a year, immutable),
 * and `index.html` for any other GET or HEAD address (the application's own routes), never cached so that
 * a new build is picked up at the next load. Without `index.html` in `dir` (not built) every address
 * answers 503 with the command that builds it.
 * @param dir the build folder (absolute).
 * @param buildCommand shown when `dir` holds no build, e.g. `npm run console:build`.
 */
export function singlePageApp(dir: string, buildCommand: string): RequestHandler[] {
  const index = path.join(dir, 'index.html');
  const files = express.static(dir, {
    index: false,
    redirect: false,
    fallthrough: true,
    setHeaders(res, file) {
      const asset = path.relative(dir, file).startsWith(`assets${path.sep}`);
      res.setHeader('Cache-Control', asset ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const policy: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', SINGLE_PAGE_APP_CSP);
    next();
  };
  const page: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!existsSync(index)) {
      res.status(503).type('text/plain').send(`Not built: run ${buildCommand}\n`);
      return;
    }
    // a missing file under assets/ is a 404, not the page (a stale tab asking for an old build's chunk)
    if (req.path.startsWith('/assets/')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  };
  return [policy, files, page];
}
