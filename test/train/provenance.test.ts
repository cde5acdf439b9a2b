/** provenance.json of a run copied in from elsewhere: bounded before it is read. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tempDir } from './fixture.js';

const PROVENANCE_MODULE = pathToFileURL(join(process.cwd(), 'dist/src/train/provenance.js')).href;

/** recordSession in a child process, so a read that blocks fails the test instead of hanging it */
function recordInChild(runDir: string): { status: number | null } {
  const script = `const { recordSession } = await import(${JSON.stringify(PROVENANCE_MODULE)}); recordSession(${JSON.stringify(runDir)}, 'resume', 7);`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
}

function sessions(runDir: string): Array<{ kind: string; fromStep: number }> {
  return (JSON.parse(readFileSync(join(runDir, 'provenance.json'), 'utf8')) as { sessions: Array<{ kind: string; fromStep: number }> }).sessions;
}

describe('provenance.json that cannot be read', () => {
  it('a FIFO or an oversized file starts a new list instead of blocking or being read whole', () => {
    const fifoRun = tempDir();
    assert.equal(spawnSync('mkfifo', [join(fifoRun, 'provenance.json')]).status, 0);
    assert.equal(recordInChild(fifoRun).status, 0, 'returns (a FIFO is not waited on)');
    assert.deepEqual(sessions(fifoRun).map((s) => [s.kind, s.fromStep]), [['resume', 7]]);

    const hugeRun = tempDir();
    writeFileSync(join(hugeRun, 'provenance.json'), '');
    truncateSync(join(hugeRun, 'provenance.json'), 2 << 20); // sparse: 2 MiB of zeros, over the 1 MiB cap
    assert.equal(recordInChild(hugeRun).status, 0);
    assert.deepEqual(sessions(hugeRun).map((s) => [s.kind, s.fromStep]), [['resume', 7]]);
  });
});
