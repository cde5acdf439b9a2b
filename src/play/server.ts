/**
 * `stitch play RUN_DIR`: serves the player page for one run on 127.0.0.1 only. The rules are the
 * dashboard's (developer "dash" moves them into one module, util/local-server.ts; `playGuard`
 * below is the one piece to swap for its `localServerGuard({ bindHost: '127.0.0.1', token: null })`
 * once that is merged): GET and HEAD only with no request body, loopback Host names only (a
 * DNS-rebinding page reads nothing), a Content-Security-Policy on every response, and files read
 * only when regular and under a size cap. The page also gets the cross-origin isolation headers
 * (COOP/COEP), so MuJoCo's threaded WebAssembly build could run there.
 *
 * What it serves is fixed: the page's files, the run's policy file, and the player settings.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { pageAssets, type PageAsset } from './assets.js';
import { PAGE_CONTENT_POLICY } from './page-html.js';
import { PLAY_SETTINGS_FILE, POLICY_URL, type PlaySettings } from './settings.js';

/** larger than any policy Stitch trains (a few MB); a bigger "policy" is refused, not read */
export const MAX_POLICY_BYTES = 256 * 1024 * 1024;
const MAX_URL_LENGTH = 4096;
/** for what is not our page (the policy file, JSON): no scripts at all */
const NO_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

export class PolicyReadRefused extends Error {}

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1 */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost') || name === '::1') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}

function hostNameOf(hostHeader: string): string | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/\s@]+)(?::\d{1,5})?$/.exec(hostHeader.trim());
  return match === null ? null : (match[1] as string);
}

/** the request rules, then the security headers on whatever the route answered */
export function playGuard(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.text('this server is read-only', 405);
    if (c.req.url.length > MAX_URL_LENGTH) return c.text('request URL too long', 414);
    const declared = c.req.header('content-length');
    if ((declared !== undefined && declared !== '0') || c.req.header('transfer-encoding') !== undefined) return c.text('request bodies are not accepted', 413);
    const hostName = hostNameOf(c.req.header('host') ?? '');
    if (hostName === null || !isLoopbackName(hostName)) return c.text('this server answers only to localhost / 127.0.0.1 / [::1]', 403);
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cross-Origin-Resource-Policy', 'same-origin');
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Cross-Origin-Embedder-Policy', 'require-corp');
    if (!c.res.headers.has('Content-Security-Policy')) c.header('Content-Security-Policy', NO_CONTENT_POLICY);
  };
}

/** the whole file when it is a regular file of at most maxBytes (a FIFO or device is never read) */
export function readPolicyFile(path: string, maxBytes = MAX_POLICY_BYTES): Uint8Array {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new PolicyReadRefused(`${path}: not a regular file`);
    if (stat.size > maxBytes) throw new PolicyReadRefused(`${path}: ${stat.size} bytes, more than the ${maxBytes} a policy may have`);
    const bytes = new Uint8Array(stat.size);
    let filled = 0;
    while (filled < bytes.length) {
      const read = readSync(fd, bytes, filled, bytes.length - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return bytes.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

export function createPlayApp(policyPath: string, settings: PlaySettings): Hono {
  const assets = new Map<string, PageAsset>(pageAssets().map((asset) => [asset.name, asset]));
  const app = new Hono();
  app.use('*', playGuard());
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
      return new Response(readPolicyFile(policyPath), { headers: { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' } });
    } catch (error) {
      return c.text(error instanceof Error ? error.message : String(error), error instanceof PolicyReadRefused ? 403 : 404);
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
