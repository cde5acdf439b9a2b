/**
 * A sweep job recorded as running whose training is gone counts as queued, with why: its process
 * is gone on this host, or its run's heartbeat (read by the trainer's own reader) is stale.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeJobState } from '../../src/sweep/jobs.js';
import type { JobIndex } from '../../src/sweep/prepare.js';
import { sweepStatus } from '../../src/sweep/status.js';
import { tempDir } from '../train/fixture.js';

function runningJob(sweepDir: string, runsDir: string, name: string, host: string, pid: number, heartbeatAgeSeconds: number | null): JobIndex['jobs'][number] {
  const runDir = join(runsDir, name);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.json'), '{}');
  if (heartbeatAgeSeconds !== null) {
    writeFileSync(join(runDir, 'heartbeat.json'), JSON.stringify({
      pid, hostname: host, updatedAt: new Date(Date.now() - heartbeatAgeSeconds * 1000).toISOString(), phase: 'train', step: 5, steps: 10, evaluation: null,
    }));
  }
  writeJobState(sweepDir, { name, status: 'running', failures: 0, error: null, host, pid, startedAt: new Date().toISOString(), finishedAt: null, mode: 'new' });
  return { name, dataset: 'd', algorithm: 'dt', algo: 'dt', seed: 0, point: {}, runDir, trainArgs: [] };
}

describe('sweep status of running jobs', () => {
  it('a live job is running; a dead process or a stale heartbeat puts it back in the queue, saying why', () => {
    const root = tempDir();
    const sweepDir = join(root, 'sweep');
    const runs = join(root, 'runs');
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const elsewhere = `${hostname()}-elsewhere`;
    const jobs = [
      runningJob(sweepDir, runs, 'live', elsewhere, 4242, 1),
      runningJob(sweepDir, runs, 'stale', elsewhere, 4242, 120),
      runningJob(sweepDir, runs, 'no-heartbeat', elsewhere, 4242, null),
      runningJob(sweepDir, runs, 'dead', hostname(), dead, 1),
    ];
    const index: JobIndex = { format: 'stitch-sweep-index', formatVersion: 1, name: 's', runsDirectory: runs, datasetFiles: {}, heldOut: null, jobs };
    const status = sweepStatus(sweepDir, index, () => null);
    const line = (name: string) => status.jobs.find((job) => job.name === name);
    assert.deepEqual([line('live')?.status, line('live')?.note], ['running', null]);
    assert.equal(line('stale')?.status, 'queued');
    assert.match(line('stale')?.note ?? '', /^stalled: no heartbeat for 12\d s$/);
    assert.deepEqual([line('no-heartbeat')?.status, line('no-heartbeat')?.note], ['running', null]);
    assert.equal(line('dead')?.status, 'queued');
    assert.match(line('dead')?.note ?? '', /^interrupted: its process is gone/);
    assert.deepEqual(status.counts, { queued: 2, running: 2, done: 0, failed: 0 });
  });
});
