/**
 * `RUN_DIR/provenance.json`: which Stitch wrote the run and how it was started, one entry per
 * session (the first start, then every --resume), so a result can be traced to its code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeBackend } from '../engine/backends/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { readRegularFile } from '../util/local-server.js';
import { PROVENANCE_FILE } from './run-files.js';

export interface SessionProvenance {
  /** `start` (a new run) or `resume` */
  kind: 'start' | 'resume';
  startedAt: string;
  /** the step the session started from */
  fromStep: number;
  stitchVersion: string;
  /** the commit of the Stitch checkout that ran, null when it is not a git checkout */
  gitCommit: string | null;
  /** the process's arguments after the node executable (the CLI's command line), or null from the API */
  commandLine: string[] | null;
  /** the backend that trained this session (`stitch info`'s line; absent in files written before it was recorded), e.g. `webgpu backend, ...` or `native backend, 2 thread(s), ...` */
  backend?: string;
}

/** the folder holding Stitch's package.json (from src/ under tsx or dist/src/ compiled) */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return null;
}

let cached: { stitchVersion: string; gitCommit: string | null } | null = null;

export function stitchBuild(): { stitchVersion: string; gitCommit: string | null } {
  if (cached !== null) return cached;
  const root = packageRoot();
  let stitchVersion = 'unknown';
  let gitCommit: string | null = null;
  if (root !== null) {
    try {
      const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
      if (typeof version === 'string') stitchVersion = version;
    } catch {
      // an unreadable package.json leaves 'unknown'
    }
    try {
      const commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
      if (/^[0-9a-f]{40,64}$/.test(commit)) gitCommit = commit;
    } catch {
      // no git, or not a checkout (an npm install): no commit to record
    }
  }
  cached = { stitchVersion, gitCommit };
  return cached;
}

/** the CLI's arguments when this process is the stitch command (this package's cli/main.js, or a link to it), else null */
export function cliCommandLine(): string[] | null {
  const script = process.argv[1];
  if (script === undefined) return null;
  try {
    const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    return realpathSync(script) === realpathSync(cli) ? ['stitch', ...process.argv.slice(2)] : null;
  } catch {
    return null;
  }
}

/** far above any real provenance.json (a few hundred bytes a session); a larger one is not read */
export const MAX_PROVENANCE_BYTES = 1 << 20;

/** Appends this session to the run's provenance (a missing or unreadable file starts a new list). */
export function recordSession(runDir: string, kind: SessionProvenance['kind'], fromStep: number): SessionProvenance {
  const path = join(runDir, PROVENANCE_FILE);
  let sessions: SessionProvenance[] = [];
  try {
    // bounded before it is read (the cap used to be checked after reading the whole file)
    const raw = JSON.parse(readRegularFile(path, MAX_PROVENANCE_BYTES).toString('utf8')) as { sessions?: unknown } | null;
    if (Array.isArray(raw?.sessions)) sessions = raw.sessions as SessionProvenance[];
  } catch {
    // missing (a new run), torn, not a regular file or too large: a new list
    sessions = [];
  }
  const session: SessionProvenance = {
    kind, startedAt: new Date().toISOString(), fromStep, ...stitchBuild(), commandLine: cliCommandLine(), backend: describeBackend({ training: true }),
  };
  writeFileAtomic(path, `${JSON.stringify({ format: 'stitch-provenance', formatVersion: 1, sessions: [...sessions, session] }, null, 2)}\n`);
  return session;
}
