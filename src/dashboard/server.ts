/**
 * `stitch dashboard`: a small hono server over a directory of runs. It lists the runs, pushes a
 * run's snapshot over server-sent events whenever one of its files changes (polling sizes and
 * modification times: unlike fs.watch this keeps working when a run directory is deleted,
 * recreated or written half-way), and serves files from inside the runs directory only.
 *
 * The request rules (loopback Host names, a token off loopback, CSP, read-only) are the shared
 * ones of `util/local-server.ts`. Runs are read through one cached `RunReader` each, shared by
 * every client, so fifty event streams cost what one does; a run directory (or a link to one)
 * whose real path leaves the runs directory is not a run.
 */
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { pagePolicy, renderPage } from '../report/page.js';
import { RunReader } from '../report/run-data.js';
import { CONFIG_FILE } from '../train/run-files.js';
import {
  createAccessToken, FileReadRefused, headerPolicy, localServerGuard, needsToken, readRegularFile, SANDBOXED_FILE_POLICY,
} from '../util/local-server.js';
import { mountSweepRoutes, SweepsDirectory } from './sweeps.js';

export interface DashboardOptions {
  runsDir: string;
  /** default 127.0.0.1: runs hold paths and configs, so nothing is exposed unless asked */
  host?: string;
  /** 0 picks a free port */
  port?: number;
  /** how often a watched run's files are checked, in ms (default 500) */
  pollMs?: number;
  /** the access token a non-loopback host requires (default: a fresh random one); ignored on loopback */
  token?: string;
}

export interface Dashboard {
  /** the address to open, with `?token=` when one is required */
  url: string;
  /** the address without the token */
  origin: string;
  /** required on every request when the server is bound to a non-loopback address */
  token: string | null;
  /** what the user must know before using it (a non-loopback address), one line each */
  warnings: string[];
  /** log bytes parsed since the start, over all runs (an unchanged log is never parsed twice) */
  logBytesRead(): number;
  /** sweeps computed for /api/sweeps since the start (an unchanged sweep is served from its cache) */
  sweepComputations(): number;
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

/** a file served from a run directory at most (the policy and report-data files are far smaller) */
const MAX_SERVED_FILE_BYTES = 256 << 20;

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** the runs directory: its real path, and one shared reader per run */
export class RunsDirectory {
  private readonly readers = new Map<string, RunReader>();
  private retiredBytes = 0;

  constructor(private readonly root: string) {}

  private realRoot(): string | null {
    try {
      return realpathSync(this.root);
    } catch {
      return null;
    }
  }

  /**
   * the real path of run `name` when it is one plain entry of the runs directory, a directory,
   * and (after following links) still inside the runs directory; null otherwise
   */
  runPath(name: string): string | null {
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) return null;
    const realRoot = this.realRoot();
    if (realRoot === null) return null;
    try {
      const real = realpathSync(join(this.root, name));
      if (real === realRoot || !isInside(realRoot, real) || !lstatSync(real).isDirectory()) return null;
      return real;
    } catch {
      return null; // missing, or deleted while resolving
    }
  }

  reader(name: string): RunReader | null {
    const path = this.runPath(name);
    if (path === null) return null;
    const key = `${name}\0${path}`;
    let reader = this.readers.get(key);
    if (reader === undefined) {
      reader = new RunReader(path);
      this.readers.set(key, reader);
    }
    return reader;
  }

  list(): RunListing[] {
    let names: string[];
    try {
      names = readdirSync(this.root).sort();
    } catch {
      return [];
    }
    const runs: RunListing[] = [];
    const present = new Set<string>();
    for (const name of names) {
      const reader = this.reader(name);
      if (reader === null || !existsSync(join(reader.runDir, CONFIG_FILE))) continue;
      present.add(`${name}\0${reader.runDir}`);
      const snapshot = reader.snapshot();
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
    // forget runs that were deleted or renamed, so the cache stays as large as the directory
    for (const [key, reader] of this.readers) {
      if (!present.has(key) && this.runPath(key.slice(0, key.indexOf('\0'))) !== reader.runDir) {
        this.retiredBytes += reader.logBytesRead;
        this.readers.delete(key);
      }
    }
    return runs;
  }

  logBytesRead(): number {
    let total = this.retiredBytes;
    for (const reader of this.readers.values()) total += reader.logBytesRead;
    return total;
  }

  /** the real path of a file inside the runs directory, or a reason to refuse it */
  file(relative: string): { path: string } | { status: 403 | 404; message: string } {
    const realRoot = this.realRoot();
    const requested = resolve(this.root, relative);
    if (realRoot === null || !isInside(resolve(this.root), requested)) return { status: 403, message: 'outside the runs directory' };
    try {
      // a symbolic link inside the runs directory must not lead out of it either
      const real = realpathSync(requested);
      if (!isInside(realRoot, real)) return { status: 403, message: 'outside the runs directory' };
      return { path: real };
    } catch {
      return { status: 404, message: 'no such file' };
    }
  }
}

export interface DashboardApp {
  app: Hono;
  runs: RunsDirectory;
  sweeps: SweepsDirectory;
}

export function createDashboardApp(runsDir: string, pollMs: number, closing: AbortSignal, guard: { bindHost: string; token: string | null }): DashboardApp {
  const runs = new RunsDirectory(resolve(runsDir));
  const page = renderPage('Stitch dashboard', { mode: 'dashboard' });
  const pageHeaders = { 'Content-Security-Policy': headerPolicy(pagePolicy('dashboard')), 'Cache-Control': 'no-store' };
  const sweepsPage = renderPage('Stitch sweeps', { mode: 'sweeps' });
  const sweepsPageHeaders = { 'Content-Security-Policy': headerPolicy(pagePolicy('sweeps')), 'Cache-Control': 'no-store' };
  const app = new Hono();

  app.use('*', localServerGuard(guard));
  app.get('/', (c) => c.html(page, 200, pageHeaders));
  app.get('/sweeps', (c) => c.html(sweepsPage, 200, sweepsPageHeaders));
  // browsers ask for it whatever the page says; an empty answer instead of a 404 in every console
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/api/runs', (c) => c.json(runs.list()));
  const sweeps = new SweepsDirectory(resolve(runsDir));
  mountSweepRoutes(app, sweeps);
  app.get('/api/runs/:name', (c) => {
    const reader = runs.reader(c.req.param('name'));
    if (reader === null) return c.json({ error: 'no such run' }, 404);
    return c.body(reader.snapshotJson(), 200, { 'content-type': 'application/json' });
  });
  app.get('/api/runs/:name/events', (c) => {
    const name = c.req.param('name');
    if (runs.runPath(name) === null) return c.json({ error: 'no such run' }, 404);
    return streamSSE(c, async (stream) => {
      let previous: string | null = null;
      while (!stream.aborted && !stream.closed && !closing.aborted) {
        // resolved again on every poll: the run may be deleted, recreated or replaced by a link
        const reader = runs.reader(name);
        const data = reader === null ? 'gone' : reader.snapshotJson();
        if (data !== previous) {
          previous = data;
          if (reader === null) await stream.writeSSE({ event: 'gone', data: JSON.stringify({ name }) });
          else await stream.writeSSE({ event: 'snapshot', data });
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
    const found = runs.file(relative);
    if (!('path' in found)) return c.text(found.message, found.status);
    try {
      const body = readRegularFile(found.path, MAX_SERVED_FILE_BYTES);
      // a page from a run directory may have been crafted: it runs sandboxed, away from this origin
      return c.body(body, 200, { 'content-type': CONTENT_TYPES[extname(found.path)] ?? 'application/octet-stream', 'Content-Security-Policy': SANDBOXED_FILE_POLICY });
    } catch (error) {
      if (error instanceof FileReadRefused) return c.text(error.message.includes('not a regular file') ? 'not a file' : 'file too large', 404);
      return c.text('no such file', 404);
    }
  });
  return { app, runs, sweeps };
}

/** Starts the dashboard; resolves once it listens. */
export function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const closing = new AbortController();
  const host = options.host ?? '127.0.0.1';
  const token = needsToken(host) ? (options.token ?? createAccessToken()) : null;
  const { app, runs, sweeps } = createDashboardApp(options.runsDir, options.pollMs ?? 500, closing.signal, { bindHost: host, token });
  const warnings = token === null ? [] : [
    `warning: --host ${host} is reachable from other machines; anyone with the address below can read every run in ${options.runsDir}`,
  ];
  return new Promise((resolvePromise, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, (info: AddressInfo) => {
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      const origin = `http://${shownHost}:${info.port}`;
      resolvePromise({
        url: token === null ? origin : `${origin}/?token=${token}`,
        origin,
        token,
        warnings,
        logBytesRead: () => runs.logBytesRead(),
        sweepComputations: () => sweeps.computations,
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
