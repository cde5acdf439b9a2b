/**
 * One writer per run directory: `RUN_DIR/.lock`, created exclusively (O_EXCL), holding the
 * writer's pid, hostname and start time. A second `stitch train` on the same directory is refused.
 * A lock whose process is gone on this host (a crash, a SIGKILL) is stale and is taken over; a
 * lock from another host cannot be checked from here and is never taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RunConfigError } from './config.js';
import { LOCK_FILE, processAlive } from './run-files.js';

export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
}

/** the run directory is being written by another live process (or one on another host) */
export class RunLockedError extends RunConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'RunLockedError';
  }
}

/** who holds the lock at `path`, or null (none, or a torn or foreign file) */
function readOwner(path: string): LockOwner | null {
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner> | null;
    if (raw === null || typeof raw.pid !== 'number' || typeof raw.hostname !== 'string') return null;
    return { pid: raw.pid, hostname: raw.hostname, startedAt: typeof raw.startedAt === 'string' ? raw.startedAt : '?' };
  } catch {
    return null;
  }
}

/** the holder of `runDir`'s lock, or null when there is none or it cannot be read */
export function readLockOwner(runDir: string): LockOwner | null {
  return readOwner(join(runDir, LOCK_FILE));
}

export interface RunLock {
  /** removes the lock file; safe to call twice */
  release(): void;
  /** set when a stale lock was taken over: what it said */
  replaced: LockOwner | null;
}

/**
 * Takes the lock of `runDir` (which must exist) or throws RunLockedError naming its holder. An
 * unreadable lock file (torn by a crash between create and write) counts as stale.
 */
export function acquireRunLock(runDir: string): RunLock {
  const path = join(runDir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  let replaced: LockOwner | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      const owner = readOwner(path);
      if (owner !== null && owner.hostname !== me.hostname) {
        throw new RunLockedError(`${runDir} is locked by process ${owner.pid} on host ${owner.hostname} (since ${owner.startedAt}); if no run is writing it, remove ${path}`);
      }
      if (owner !== null && processAlive(owner.pid)) {
        const who = owner.pid === me.pid ? 'this process (another run in it)' : `process ${owner.pid}`;
        throw new RunLockedError(`${runDir} is being written by ${who} since ${owner.startedAt}; wait for it to finish or stop it first`);
      }
      // stale: its process is gone (or the file is torn); take it over
      replaced = owner;
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, `${JSON.stringify(me)}\n`);
    closeSync(fd);
    let held = true;
    return {
      replaced,
      release: () => {
        if (!held) return;
        held = false;
        // only our own lock: never remove one another process took over
        if (readOwner(path)?.pid === me.pid) rmSync(path, { force: true });
      },
    };
  }
  throw new RunLockedError(`${runDir}: could not take ${LOCK_FILE} (another process keeps creating it)`);
}
