import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The console's build (docs/console.md): `npm run console:build` writes `console/dist/`, which the server
 * serves at `/console`. `npm run console:dev` serves the sources with hot reload and sends every API
 * request and the socket to the Flux server of `FLUX_URL` (default http://127.0.0.1:3000).
 */
const target = process.env.FLUX_URL ?? 'http://127.0.0.1:3000';
const api = [
  '/auth',
  '/alert',
  '/alertbutton',
  '/message',
  '/session',
  '/team',
  '/tenant',
  '/upload',
  '/user',
];

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [preact()],
  // the client package's sources, as the rest of the repository imports them (docs/client.md)
  resolve: { alias: { '@flux/client': fileURLToPath(new URL('../client/src/index.ts', import.meta.url)) } },
  // no source maps: the build is served to anyone who can reach /console (debug with console:dev)
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
  server: {
    proxy: {
      ...Object.fromEntries(
        [...api, '/job', '/import', '/stats', '/events'].map((path) => [
          path,
          { target, changeOrigin: false },
        ]),
      ),
      '/socket.io': { target, ws: true },
    },
  },
});
