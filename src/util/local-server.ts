/**
 * The rules every HTTP server Stitch runs on a user's machine follows (the dashboard, `stitch
 * play`'s policy player), in one place so a new server cannot forget one:
 *
 * - read-only and small requests: GET and HEAD only, no request bodies, bounded URLs;
 * - a Host-header check: bound to a loopback address, only loopback host names are answered, so a
 *   DNS-rebinding page (evil.example resolving to 127.0.0.1) reads nothing;
 * - a non-loopback address needs an access token, printed at start and required on every request
 *   (query `?token=`, then an HttpOnly same-site cookie, or `Authorization: Bearer`);
 * - a Content-Security-Policy on every response (pages allow only their own hashed scripts);
 * - files are read only when they are regular files, never more than a cap, and long logs are
 *   read incrementally, so a FIFO, /dev/zero or a huge file cannot freeze or exhaust the server.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import type { MiddlewareHandler } from 'hono';

/** longer than any path a run directory can need */
export const MAX_URL_LENGTH = 4096;
const TOKEN_COOKIE = 'stitch-token';

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1, with or without IPv6 brackets */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === '::1' || name === '0:0:0:0:0:0:0:1' || name === '::ffff:127.0.0.1') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}

/** the host name of a Host header (`name:port`, `[v6]:port`), or null when it is malformed */
export function hostNameOf(hostHeader: string): string | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/\s@]+)(?::\d{1,5})?$/.exec(hostHeader.trim());
  return match === null ? null : (match[1] as string);
}

/** a fresh random access token (192 bits, URL-safe) */
export function createAccessToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

/** `'sha256-...'` of an inline script or style element's exact text, for a CSP source list */
export function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export interface PagePolicy {
  /** the inline scripts' hashes (`cspHash`) */
  scripts: readonly string[];
  /** the inline style elements' hashes */
  styles: readonly string[];
  /** fetch and event streams to the page's own origin (a served page; a file from disk gets none) */
  connectToSelf: boolean;
}

/**
 * A strict policy for a page: nothing loads from anywhere, only the listed inline scripts and
 * styles run. `frame-ancestors` is ignored in a <meta>
 * policy, so servers add it in the header (`headerPolicy`).
 */
export function contentSecurityPolicy(policy: PagePolicy): string {
  return [
    "default-src 'none'",
    `script-src ${policy.scripts.join(' ')}`,
    `style-src ${policy.styles.join(' ')}`,
    `connect-src ${policy.connectToSelf ? "'self'" : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** a page policy as a response header: the meta policy plus no framing by other sites */
export function headerPolicy(policy: PagePolicy): string {
  return `${contentSecurityPolicy(policy)}; frame-ancestors 'none'`;
}

/** for anything that is not one of our pages (JSON, files from the runs directory): no scripts at all */
export const NO_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * For HTML files served from a directory a user may have copied in (report.html): they keep
 * their inline scripts, but run in a sandbox with an opaque origin and no network, so a crafted
 * file cannot read the server's API.
 */
export const SANDBOXED_FILE_POLICY = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'none'; frame-ancestors 'none'";

export interface GuardOptions {
  /** the address the server binds to */
  bindHost: string;
  /** required on every request when not null */
  token: string | null;
}

/** the bind address needs a token: it is reachable from other machines */
export function needsToken(bindHost: string): boolean {
  return !isLoopbackName(bindHost);
}

/**
 * The request rules as hono middleware: method, size, Host header and token checks first, then
 * security headers on whatever the route answers (a route may set its own CSP).
 */
export function localServerGuard(options: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.text('this server is read-only', 405);
    if (c.req.url.length > MAX_URL_LENGTH) return c.text('request URL too long', 414);
    const declared = c.req.header('content-length');
    if ((declared !== undefined && declared !== '0') || c.req.header('transfer-encoding') !== undefined) {
      return c.text('request bodies are not accepted', 413);
    }
    const hostName = hostNameOf(c.req.header('host') ?? '');
    // with a token the token is the protection; without one only loopback names are answered
    if (options.token === null && (hostName === null || !isLoopbackName(hostName))) {
      return c.text('this server answers only to localhost / 127.0.0.1 / [::1]', 403);
    }
    let setCookie = false;
    if (options.token !== null) {
      const fromQuery = new URL(c.req.url).searchParams.get('token');
      const bearer = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1] ?? null;
      const given = fromQuery ?? bearer ?? cookieValue(c.req.header('cookie'), TOKEN_COOKIE);
      if (given === null || !sameSecret(given, options.token)) {
        return c.text('an access token is required: open the address with ?token= as printed at start', 401);
      }
      setCookie = fromQuery !== null;
    }
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Cross-Origin-Resource-Policy', 'same-origin');
    if (!c.res.headers.has('Content-Security-Policy')) c.header('Content-Security-Policy', NO_CONTENT_POLICY);
    if (setCookie && options.token !== null) {
      c.header('Set-Cookie', `${TOKEN_COOKIE}=${options.token}; Path=/; HttpOnly; SameSite=Strict`);
    }
  };
}

export class FileReadRefused extends Error {}

/**
 * Opens `path` for reading without blocking (a FIFO would otherwise wait for a writer) and
 * returns its descriptor and stats when it is a regular file; throws FileReadRefused otherwise.
 */
function openRegularFile(path: string): { fd: number; stat: Stats } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let stat: Stats;
  try {
    stat = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (!stat.isFile()) {
    closeSync(fd);
    throw new FileReadRefused(`${path}: not a regular file`);
  }
  return { fd, stat };
}

function readRange(fd: number, position: number, length: number): Buffer<ArrayBuffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const read = readSync(fd, buffer, filled, length - filled, position + filled);
    if (read === 0) break; // truncated while reading
    filled += read;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/**
 * A whole regular file of at most `maxBytes`. Throws FileReadRefused for a FIFO, device, socket
 * or directory and for a larger file, and the system error when it cannot be opened.
 */
export function readRegularFile(path: string, maxBytes: number): Buffer<ArrayBuffer> {
  const { fd, stat } = openRegularFile(path);
  try {
    if (stat.size > maxBytes) throw new FileReadRefused(`${path}: ${stat.size} bytes, more than the ${maxBytes} this reader accepts`);
    return readRange(fd, 0, stat.size);
  } finally {
    closeSync(fd);
  }
}

/** identity and size of a regular file, or null (missing, not regular, unreadable) */
export function regularFileStat(path: string): Stats | null {
  try {
    const { fd, stat } = openRegularFile(path);
    closeSync(fd);
    return stat;
  } catch {
    return null;
  }
}

export interface LineReaderLimits {
  /** a longer line is skipped (and counted), never held whole */
  maxLineBytes: number;
  /** bytes read per update at most; the rest is read by the next update */
  maxBytesPerUpdate: number;
}

/**
 * Reads an append-only text file (a JSON-lines log) incrementally: each `update` reads only
 * what was appended since the last one and hands complete lines to `onLine`. A file that shrank
 * or was replaced (another inode) is read again from the start after `onReset`. A torn last line
 * waits for its newline.
 */
export class IncrementalLineReader {
  private identity = '';
  private offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skippingLongLine = false;
  /** bytes read from disk over the reader's life (tests check that unchanged files are not reread) */
  bytesRead = 0;
  /** lines longer than maxLineBytes, skipped */
  longLines = 0;

  constructor(
    private readonly path: string,
    private readonly limits: LineReaderLimits,
    private readonly onLine: (line: string) => void,
    private readonly onReset: () => void,
  ) {}

  /**
   * reads what was appended: `missing` when there is no such file (or it cannot be opened),
   * `not regular` for a FIFO, device, socket or directory, which is never read
   */
  update(): 'read' | 'missing' | 'not regular' {
    let opened: { fd: number; stat: Stats };
    try {
      opened = openRegularFile(this.path);
    } catch (error) {
      if (this.identity !== '') this.reset('');
      return error instanceof FileReadRefused ? 'not regular' : 'missing';
    }
    const { fd, stat } = opened;
    try {
      const identity = `${stat.dev}:${stat.ino}`;
      if (identity !== this.identity || stat.size < this.offset) this.reset(identity);
      let remaining = Math.min(stat.size - this.offset, this.limits.maxBytesPerUpdate);
      while (remaining > 0) {
        const chunk = readRange(fd, this.offset, Math.min(remaining, 1 << 20));
        if (chunk.length === 0) break;
        this.offset += chunk.length;
        this.bytesRead += chunk.length;
        remaining -= chunk.length;
        this.consume(chunk);
      }
      return 'read';
    } finally {
      closeSync(fd);
    }
  }

  /** an unfinished last line (a torn write, or a writer mid-line) */
  hasPartialLine(): boolean {
    return this.skippingLongLine || this.pending.some((part) => part.toString('utf8').trim() !== '');
  }

  private reset(identity: string): void {
    this.identity = identity;
    this.offset = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.skippingLongLine = false;
    this.longLines = 0;
    this.onReset();
  }

  private consume(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline < 0) break;
      this.finishLine(chunk.subarray(start, newline));
      start = newline + 1;
    }
    this.hold(chunk.subarray(start));
  }

  private hold(part: Buffer): void {
    if (part.length === 0 || this.skippingLongLine) return;
    if (this.pendingBytes + part.length > this.limits.maxLineBytes) {
      this.skippingLongLine = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private finishLine(tail: Buffer): void {
    if (this.skippingLongLine || this.pendingBytes + tail.length > this.limits.maxLineBytes) {
      this.longLines += 1;
    } else {
      const line = this.pending.length === 0 ? tail.toString('utf8') : Buffer.concat([...this.pending, tail]).toString('utf8');
      this.onLine(line);
    }
    this.skippingLongLine = false;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
