/**
 * `stitch play RUN_DIR`: serves the player page for one run on 127.0.0.1 only, under the
 * dashboard's rules (src/util/local-server.ts): GET and HEAD only with no request body, loopback Host names only (a
 * DNS-rebinding page reads nothing), a Content-Security-Policy on every response, and files read
 * only when regular and under a size cap. The page also gets the cross-origin isolation headers
 * (COOP/COEP), so MuJoCo's threaded WebAssembly build could run there.
 *
 * What it serves is fixed: the page's files, the run's policy file, and the player settings.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { FileReadRefused, localServerGuard, readRegularFile } from '../util/local-server.js';
import { pageAssets, type PageAsset } from './assets.js';
import { PAGE_CONTENT_POLICY } from './page-html.js';
import { PLAY_SETTINGS_FILE, POLICY_URL, type PlaySettings } from './settings.js';

/** larger than any policy Stitch trains (a few MB); a bigger "policy" is refused, not read */
export const MAX_POLICY_BYTES = 256 * 1024 * 1024;
/**
 * The cross-origin isolation headers (so MuJoCo's threaded WebAssembly build could run in the
 * page), after localServerGuard's request rules and security headers.
 */
function isolationHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Cross-Origin-Embedder-Policy', 'require-corp');
  };
}

export function createPlayApp(policyPath: string, settings: PlaySettings): Hono {
  const assets = new Map<string, PageAsset>(pageAssets().map((asset) => [asset.name, asset]));
  const app = new Hono();
  app.use('*', localServerGuard({ bindHost: '127.0.0.1', token: null }));
  app.use('*', isolationHeaders());
  const sendAsset = (asset: PageAsset, isPage: boolean): Response => new Response(asset.bytes, {
    headers: {
      'Content-Type': asset.contentType,
      'Cache-Control': 'no-store',
      ...(isPage ? { 'Content-Security-Policy': `${PAGE_CONTENT_POLICY}; frame-ancestors 'none'` } : {}),
    },
  });
  app.get('/', () => sendAsset(assets.get('index.html') as PageAsset, true));
  app.get(`/${POLICY_URL}`, (c) => {
    // read at every request: a run that is still training writes a newer policy
    try {
      return new Response(readRegularFile(policyPath, MAX_POLICY_BYTES), { headers: { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' } });
    } catch (error) {
      return c.text(error instanceof Error ? error.message : String(error), error instanceof FileReadRefused ? 403 : 404);
    }
  });
  app.get(`/${PLAY_SETTINGS_FILE}`, (c) => c.json(settings));
  app.get('/:name', (c) => {
    const asset = assets.get(c.req.param('name'));
    if (asset === undefined || asset.name === 'index.html') return c.text('not found', 404);
    return sendAsset(asset, false);
  });
  return app;
}

export interface PlayServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the player on 127.0.0.1 (port 0: any free port); resolves once it listens. */
export function startPlayServer(policyPath: string, settings: PlaySettings, port = 0): Promise<PlayServer> {
  const app = createPlayApp(policyPath, settings);
  return new Promise((resolvePromise, reject) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info: AddressInfo) => {
      resolvePromise({
        url: `http://127.0.0.1:${info.port}/`,
        close: () => new Promise<void>((done) => {
          const httpServer = server as Server;
          httpServer.close(() => done());
          httpServer.closeAllConnections();
        }),
      });
    });
    server.once('error', reject);
  });
}
