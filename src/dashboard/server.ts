/**
 * `stitch dashboard`: a small hono server over a directory of runs. It lists the runs, pushes a
 * run's snapshot over server-sent events whenever one of its files changes (polling sizes and
 * modification times: unlike fs.watch this keeps working when a run directory is deleted,
 * recreated or written half-way), and serves files from inside the runs directory only.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { renderPage } from '../report/page.js';
import { readRunSnapshot, runSignature } from '../report/run-data.js';
import { CONFIG_FILE } from '../train/trainer.js';
import { mountSweepRoutes } from './sweeps.js';

export interface DashboardOptions {
  runsDir: string;
  /** default 127.0.0.1: runs hold paths and configs, so nothing is exposed unless asked */
  host?: string;
  /** 0 picks a free port */
  port?: number;
  /** how often a watched run's files are checked, in ms (default 500) */
  pollMs?: number;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

export interface RunListing {
  name: string;
  status: string;
  step: number;
  steps: number | null;
  algo: string | null;
  env: string | null;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.jsonl': 'application/x-ndjson',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** a run's directory when `name` is one plain entry of the runs directory */
function runDirectory(runsRoot: string, name: string): string | null {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) return null;
  return join(runsRoot, name);
}

function listRuns(runsRoot: string): RunListing[] {
  let names: string[];
  try {
    names = readdirSync(runsRoot).sort();
  } catch {
    return [];
  }
  const runs: RunListing[] = [];
  for (const name of names) {
    const dir = join(runsRoot, name);
    try {
      if (!statSync(dir).isDirectory() || !existsSync(join(dir, CONFIG_FILE))) continue;
    } catch {
      continue; // deleted between the listing and the stat
    }
    const snapshot = readRunSnapshot(dir);
    const config = snapshot.config;
    runs.push({
      name,
      status: snapshot.status,
      step: snapshot.metrics[snapshot.metrics.length - 1]?.step ?? 0,
      steps: typeof config?.steps === 'number' ? config.steps : null,
      algo: typeof config?.algo === 'string' ? config.algo : null,
      env: typeof config?.env === 'string' ? config.env : null,
    });
  }
  return runs;
}

/** longer than any path a run directory can need */
const MAX_URL_LENGTH = 4096;

export function createDashboardApp(runsDir: string, pollMs: number, closing: AbortSignal): Hono {
  const runsRoot = resolve(runsDir);
  const page = renderPage('Stitch dashboard', { mode: 'dashboard' });
  const app = new Hono();

  // read-only and small: a bound on what a client can make the server hold or parse
  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.text('the dashboard is read-only', 405);
    if (c.req.url.length > MAX_URL_LENGTH) return c.text('request URL too long', 414);
    const declared = c.req.header('content-length');
    if ((declared !== undefined && declared !== '0') || c.req.header('transfer-encoding') !== undefined) {
      return c.text('request bodies are not accepted', 413);
    }
    await next();
  });
  app.get('/', (c) => c.html(page));
  app.get('/api/runs', (c) => c.json(listRuns(runsRoot)));
  mountSweepRoutes(app, runsRoot);
  app.get('/api/runs/:name', (c) => {
    const dir = runDirectory(runsRoot, c.req.param('name'));
    if (dir === null || !existsSync(dir)) return c.json({ error: 'no such run' }, 404);
    return c.json(readRunSnapshot(dir));
  });
  app.get('/api/runs/:name/events', (c) => {
    const name = c.req.param('name');
    const dir = runDirectory(runsRoot, name);
    if (dir === null) return c.json({ error: 'no such run' }, 404);
    return streamSSE(c, async (stream) => {
      let previous: string | null = null;
      while (!stream.aborted && !stream.closed && !closing.aborted) {
        const signature = existsSync(dir) ? runSignature(dir) : 'gone';
        if (signature !== previous) {
          previous = signature;
          if (signature === 'gone') await stream.writeSSE({ event: 'gone', data: JSON.stringify({ name }) });
          else await stream.writeSSE({ event: 'snapshot', data: JSON.stringify(readRunSnapshot(dir)) });
        }
        await stream.sleep(pollMs);
      }
    });
  });
  app.get('/files/*', (c) => {
    const rawPath = new URL(c.req.url).pathname.slice('/files/'.length);
    let relative: string;
    try {
      relative = decodeURIComponent(rawPath);
    } catch {
      return c.text('bad path', 400);
    }
    if (relative.includes('\0')) return c.text('bad path', 400);
    const requested = resolve(runsRoot, relative);
    if (!isInside(runsRoot, requested)) return c.text('outside the runs directory', 403);
    let real: string;
    try {
      // a symbolic link inside the runs directory must not lead out of it either
      real = realpathSync(requested);
      if (!isInside(realpathSync(runsRoot), real)) return c.text('outside the runs directory', 403);
      if (!statSync(real).isFile()) return c.text('not a file', 404);
      const body = readFileSync(real);
      return c.body(body, 200, { 'content-type': CONTENT_TYPES[extname(real)] ?? 'application/octet-stream' });
    } catch {
      return c.text('no such file', 404);
    }
  });
  return app;
}

/** Starts the dashboard; resolves once it listens. */
export function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const closing = new AbortController();
  const app = createDashboardApp(options.runsDir, options.pollMs ?? 500, closing.signal);
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolvePromise, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, (info: AddressInfo) => {
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolvePromise({
        url: `http://${shownHost}:${info.port}`,
        close: () => new Promise<void>((done) => {
          closing.abort();
          const httpServer = server as Server;
          httpServer.close(() => done());
          // event streams stay open until their next poll; do not wait for them
          httpServer.closeAllConnections();
        }),
      });
    });
    server.once('error', reject);
  });
}
