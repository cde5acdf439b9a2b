/**
 * What a sweep does with a run's `.lock` before it starts or resumes the run (docs/sweeps.md):
 * another host's lock is removed (the queue gave the job to this worker, so that host lost it),
 * a dead process's lock on this host is left to `stitch train`'s stale check, and a live process's
 * lock on this host is waited for.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clearForeignLock, RUN_LOCK_FILE } from '../../src/sweep/jobs.js';
import { tempDir } from '../train/fixture.js';

function lockedRun(lock: Record<string, unknown>): string {
  const runDir = join(tempDir(), 'run');
  mkdirSync(runDir);
  writeFileSync(join(runDir, RUN_LOCK_FILE), JSON.stringify({ startedAt: new Date().toISOString(), ...lock }));
  return runDir;
}

describe('run locks met by a sweep job', () => {
  it("removes another host's lock, saying so", async () => {
    const runDir = lockedRun({ pid: process.pid, hostname: `${hostname()}-elsewhere` });
    const lines: string[] = [];
    await clearForeignLock(runDir, (line) => lines.push(line));
    assert.equal(existsSync(join(runDir, RUN_LOCK_FILE)), false);
    assert.match(lines.join('\n'), /removing the run lock of host .*-elsewhere/);
  });

  it("leaves a dead process's lock on this host to stitch train", async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.once('exit', resolve));
    const runDir = lockedRun({ pid: child.pid, hostname: hostname() });
    await clearForeignLock(runDir, () => {});
    assert.equal(existsSync(join(runDir, RUN_LOCK_FILE)), true);
  });

  it('waits while a live process on this host holds the lock', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600)']);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const runDir = lockedRun({ pid: child.pid, hostname: hostname() });
    let childExited = false;
    void exited.then(() => { childExited = true; });
    await clearForeignLock(runDir, () => {});
    assert.equal(childExited, true, 'returned while the holder was still alive');
  });
});
